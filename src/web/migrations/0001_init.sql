-- The first schema of the panel. Times are Unix seconds.
CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        pw_hash TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        password_changed_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
);

-- Session tokens are stored hashed: a leaked database does not log anyone in.
CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash BLOB NOT NULL UNIQUE,
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Failed logins by key ('u:<name>' or 'ip:<addr>'), for throttling.
CREATE TABLE login_failures (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        at INTEGER NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(key, at);

CREATE TABLE blueprints (
        id INTEGER PRIMARY KEY,
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
        UNIQUE (user_id, name)
);

-- A server links to its blueprint; the foreign key (no ON DELETE) is what
-- blocks deleting a blueprint that servers still use.
CREATE TABLE servers (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        blueprint_id INTEGER NOT NULL REFERENCES blueprints(id),
        name TEXT NOT NULL,
        instance TEXT UNIQUE,                  -- 's<id>', the l4d2ctl name
        desired TEXT NOT NULL DEFAULT 'stopped', -- what the owner asked for
        state TEXT NOT NULL DEFAULT 'new',     -- what the poller last saw
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
        UNIQUE (user_id, name)
);
CREATE INDEX servers_blueprint ON servers(blueprint_id);

CREATE TABLE server_events (
        id INTEGER PRIMARY KEY,
        server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL
);
CREATE INDEX server_events_server ON server_events(server_id, id);

-- The durable job queue. state: queued, running, succeeded, failed.
CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        server_id INTEGER REFERENCES servers(id) ON DELETE SET NULL,
        kind TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'queued',
        progress REAL,
        progress_label TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        result TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER
);
CREATE INDEX jobs_state ON jobs(state, id);
CREATE INDEX jobs_server ON jobs(server_id);

CREATE TABLE job_lines (
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        at INTEGER NOT NULL,
        line TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
