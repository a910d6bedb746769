-- A script overlay's build script. The panel is its source of truth: the
-- host's copy (builds/NAME/script.sh) is handed over from here with
-- `l4d2ctl overlay script NAME set`, at every save and again before every
-- build (so a host that lost it, or was given another by hand, builds this
-- one). version counts the saves; host_version is the version the host was
-- last given: equal, the host has this script.
CREATE TABLE overlay_scripts (
        overlay_id INTEGER PRIMARY KEY REFERENCES overlays(id) ON DELETE CASCADE,
        script TEXT NOT NULL,                 -- UTF-8, no NUL, at most 1 MiB (l4d2ctl's limit)
        version INTEGER NOT NULL,
        host_version INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL,
        updated_by INTEGER REFERENCES users(id) ON DELETE SET NULL
);

-- The render cache's counter (0003). No cached page reads it yet (an
-- overlay's page is not cached), but every table counts its writes.
INSERT INTO generations (name) VALUES ('overlay_scripts');
CREATE TRIGGER overlay_scripts_gen_i AFTER INSERT ON overlay_scripts BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'overlay_scripts'; END;
CREATE TRIGGER overlay_scripts_gen_u AFTER UPDATE ON overlay_scripts BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'overlay_scripts'; END;
CREATE TRIGGER overlay_scripts_gen_d AFTER DELETE ON overlay_scripts BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'overlay_scripts'; END;
