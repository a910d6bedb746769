-- The overlays the panel manages, and who owns them. The overlay itself (its
-- kind's data, its content, its builds) lives on the host and is reached
-- through l4d2ctl; the panel keeps only what the host cannot know: whose it
-- is, and the name its owner gave it. An overlay belongs to one user, or to
-- nobody (user_id NULL): a global overlay, which admins manage and every user
-- may stack in a blueprint.
--
-- host_name is the l4d2ctl name, made by the panel, never taken from a
-- browser: 'u<user id>-<name>' for a user's overlay, 'g-<name>' for a global
-- one, so that two users' overlays of one name never meet on the host. It is
-- unique because the host has one namespace of overlay names.
CREATE TABLE overlays (
        id INTEGER PRIMARY KEY,
        user_id INTEGER REFERENCES users(id),
        name TEXT NOT NULL,
        host_name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,                    -- workshop, files, script: what it was created as
        deleting INTEGER NOT NULL DEFAULT 0,   -- being deleted on the host: no blueprint may pick it
        created_at INTEGER NOT NULL
);
CREATE INDEX overlays_by_owner ON overlays(user_id, name);

-- Which build job built which overlay (an overlay's page shows its build's
-- progress and log). The row goes with its job when old jobs are pruned,
-- and with its overlay.
CREATE TABLE overlay_jobs (
        job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
        overlay_id INTEGER NOT NULL REFERENCES overlays(id) ON DELETE CASCADE
);
CREATE INDEX overlay_jobs_overlay ON overlay_jobs(overlay_id, job_id);

-- The render cache's counter (0003): the blueprint pages show the overlay
-- picker. overlay_jobs changes only together with a jobs row.
INSERT INTO generations (name) VALUES ('overlays');
CREATE TRIGGER overlays_gen_i AFTER INSERT ON overlays BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'overlays'; END;
CREATE TRIGGER overlays_gen_u AFTER UPDATE ON overlays BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'overlays'; END;
CREATE TRIGGER overlays_gen_d AFTER DELETE ON overlays BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'overlays'; END;
