-- Server and blueprint numbers are never given out again after a delete: a
-- bookmark of /servers/5 must not open someone else's server one day, nor a
-- new server get the instance name s5 of one deleted. A plain INTEGER
-- PRIMARY KEY takes the largest id + 1, so deleting the newest row freed its
-- number; AUTOINCREMENT never goes below the largest id ever used
-- (sqlite_sequence). No ALTER TABLE adds it: both tables are built again,
-- with their indexes and counting triggers, as SQLite's "other kinds of
-- table schema changes" describe (db_migrate runs migrations with foreign
-- keys off and checks them before the commit). Numbers used before this
-- step cannot be known any more; from here on none is reused.
CREATE TABLE blueprints_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id),
        name TEXT NOT NULL,
        map TEXT NOT NULL,
        maxplayers INTEGER NOT NULL,
        tickrate INTEGER NOT NULL,
        overlays TEXT NOT NULL DEFAULT '',   -- one name a line, first = highest precedence
        server_cfg TEXT NOT NULL DEFAULT '', -- lines of server.cfg
        cvars TEXT NOT NULL DEFAULT '',      -- "name value" a line
        args TEXT NOT NULL DEFAULT '',       -- one launch argument a line
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        update_build TEXT NOT NULL DEFAULT '',          -- 0005_builds
        on_canary_failure TEXT NOT NULL DEFAULT 'hold',
        update_deadline TEXT NOT NULL DEFAULT '',
        UNIQUE (user_id, name)
);
-- SELECT *: a column another step added to the old table makes this fail
-- loudly rather than lose it.
INSERT INTO blueprints_new SELECT * FROM blueprints;
DROP TABLE blueprints;
ALTER TABLE blueprints_new RENAME TO blueprints;
CREATE INDEX blueprints_by_name ON blueprints(name, id);
CREATE TRIGGER blueprints_gen_i AFTER INSERT ON blueprints BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'blueprints'; END;
CREATE TRIGGER blueprints_gen_u AFTER UPDATE ON blueprints BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'blueprints'; END;
CREATE TRIGGER blueprints_gen_d AFTER DELETE ON blueprints BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'blueprints'; END;

CREATE TABLE servers_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id),
        blueprint_id INTEGER NOT NULL REFERENCES blueprints(id),
        name TEXT NOT NULL,
        instance TEXT UNIQUE,                  -- 's<id>', the l4d2ctl name
        desired TEXT NOT NULL DEFAULT 'stopped', -- what the owner asked for
        state TEXT NOT NULL DEFAULT 'new',     -- what the watch last saw
        game_port INTEGER,
        tv_port INTEGER,
        map TEXT NOT NULL DEFAULT '',
        players INTEGER,
        maxplayers INTEGER,
        restarts INTEGER NOT NULL DEFAULT 0,
        drift TEXT NOT NULL DEFAULT '',        -- the current disagreement, shown on the page
        detail TEXT NOT NULL DEFAULT '',
        observed_at INTEGER,
        deleting INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        health TEXT NOT NULL DEFAULT '',
        state_since INTEGER,
        build TEXT NOT NULL DEFAULT '',        -- 0005_builds
        build_pin TEXT NOT NULL DEFAULT '',
        UNIQUE (user_id, name)
);
INSERT INTO servers_new SELECT * FROM servers;
DROP TABLE servers;
ALTER TABLE servers_new RENAME TO servers;
CREATE INDEX servers_blueprint ON servers(blueprint_id);
CREATE INDEX servers_by_name ON servers(name, id);
CREATE TRIGGER servers_gen_i AFTER INSERT ON servers BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'servers'; END;
CREATE TRIGGER servers_gen_u AFTER UPDATE OF user_id, blueprint_id, name, instance, desired, deleting, created_at ON servers
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'servers'; END;
CREATE TRIGGER servers_gen_d AFTER DELETE ON servers BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'servers'; END;
CREATE TRIGGER server_state_gen_u AFTER UPDATE OF state, game_port, tv_port, map, players, maxplayers, restarts, drift,
        detail, observed_at, health, state_since ON servers
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'server_state'; END;
CREATE TRIGGER server_build_gen_u AFTER UPDATE OF build ON servers
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'server_state'; END;
CREATE TRIGGER server_pin_gen_u AFTER UPDATE OF build_pin ON servers
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'servers'; END;
UPDATE generations SET gen = gen + 1 WHERE name IN ('blueprints', 'servers', 'server_state');
