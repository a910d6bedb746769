-- Game builds (issue 14). What the host reports each server runs, and the
-- build its owner pinned it to ('' follows the newest build that passed the
-- canary). The host's builds and its last update check, as the fleet job
-- last read them (`l4d2ctl builds --json`, `update run --json`): the builds
-- page renders from here, never by asking the host.
ALTER TABLE servers ADD COLUMN build TEXT NOT NULL DEFAULT '';
-- A blueprint's update policy, the spec keys of the same names: '' follows
-- the newest passing build (else a build id that pins its servers), hold or
-- degrade when a canary fails, how long servers with players may stay on
-- an old build ('' none, else as typed: 6h).
ALTER TABLE blueprints ADD COLUMN update_build TEXT NOT NULL DEFAULT '';
ALTER TABLE blueprints ADD COLUMN on_canary_failure TEXT NOT NULL DEFAULT 'hold';
ALTER TABLE blueprints ADD COLUMN update_deadline TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN build_pin TEXT NOT NULL DEFAULT '';

CREATE TABLE builds (
        id TEXT PRIMARY KEY,           -- the buildid
        position INTEGER NOT NULL,     -- 0 = the newest
        data TEXT NOT NULL             -- one object of `l4d2ctl builds --json`
);

CREATE TABLE update_checks (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        at INTEGER NOT NULL,
        state TEXT NOT NULL,           -- available, current, unknown
        data TEXT NOT NULL             -- the check object
);

INSERT INTO generations (name) VALUES ('builds');
CREATE TRIGGER builds_gen_i AFTER INSERT ON builds BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'builds'; END;
CREATE TRIGGER builds_gen_u AFTER UPDATE ON builds BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'builds'; END;
CREATE TRIGGER builds_gen_d AFTER DELETE ON builds BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'builds'; END;
CREATE TRIGGER update_checks_gen_i AFTER INSERT ON update_checks BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'builds'; END;
CREATE TRIGGER update_checks_gen_u AFTER UPDATE ON update_checks BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'builds'; END;
-- The build a server runs is host state; its pin is the owner's wish.
CREATE TRIGGER server_build_gen_u AFTER UPDATE OF build ON servers
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'server_state'; END;
CREATE TRIGGER server_pin_gen_u AFTER UPDATE OF build_pin ON servers
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'servers'; END;
