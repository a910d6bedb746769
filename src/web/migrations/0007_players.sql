-- Players (issue 11): what `l4d2ctl watch` reports about each server's roster,
-- the RCON console's history and the Steam profiles the panel shows.

-- The roster run-length encoded: a row only when who is on the server, or a
-- player's name, SteamID or state, changed (players: a JSON array of
-- {"u": userid, "n": name, "s": "steamid64" | null, "b": bot, "st": state}),
-- or when the roster could not be read (error, players NULL). The player
-- count chart steps through these rows.
CREATE TABLE roster_snapshots (
        id INTEGER PRIMARY KEY,
        server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        humans INTEGER,
        bots INTEGER,
        players TEXT,
        error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX roster_snapshots_server ON roster_snapshots(server_id, at);

-- One row per stay of a player (a SteamID64) on a server: from joining to
-- leaving (left_at NULL while on). userid tells a new connection of the
-- same SteamID apart; it is never a key. Pings: min, max, and sum / count
-- for the average; loss the same.
CREATE TABLE player_sessions (
        id INTEGER PRIMARY KEY,
        server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
        steamid64 INTEGER NOT NULL,
        userid INTEGER NOT NULL,
        name TEXT NOT NULL,
        joined_at INTEGER NOT NULL,
        left_at INTEGER,
        ping_now INTEGER,
        loss_now INTEGER,
        ping_min INTEGER,
        ping_max INTEGER,
        ping_sum INTEGER NOT NULL DEFAULT 0,
        loss_max INTEGER,
        loss_sum INTEGER NOT NULL DEFAULT 0,
        samples INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX player_sessions_open ON player_sessions(server_id, left_at);
CREATE INDEX player_sessions_recent ON player_sessions(server_id, joined_at);
CREATE INDEX player_sessions_player ON player_sessions(steamid64);
CREATE INDEX player_sessions_left ON player_sessions(left_at);

-- GetPlayerSummaries' answer per SteamID64 (when an API key is set), and
-- the avatar's bytes (pages load nothing from elsewhere).
CREATE TABLE steam_profiles (
        steamid64 INTEGER PRIMARY KEY,
        persona TEXT NOT NULL DEFAULT '',
        profile_url TEXT NOT NULL DEFAULT '',
        avatar_url TEXT NOT NULL DEFAULT '',
        avatar BLOB,
        avatar_type TEXT NOT NULL DEFAULT '',
        fetched_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The RCON console: every command typed, by whom, when, how it went, and
-- its answer (cut at a cap; response_len is the whole answer's length).
CREATE TABLE console_history (
        id INTEGER PRIMARY KEY,
        server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
        user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
        username TEXT NOT NULL,
        at INTEGER NOT NULL,
        command TEXT NOT NULL,
        outcome TEXT NOT NULL,
        response TEXT NOT NULL,
        response_len INTEGER NOT NULL
);
CREATE INDEX console_history_server ON console_history(server_id, id);

INSERT INTO generations (name) VALUES ('players'), ('console');
CREATE TRIGGER roster_snapshots_gen_i AFTER INSERT ON roster_snapshots
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'players'; END;
CREATE TRIGGER roster_snapshots_gen_d AFTER DELETE ON roster_snapshots
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'players'; END;
CREATE TRIGGER player_sessions_gen_i AFTER INSERT ON player_sessions
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'players'; END;
CREATE TRIGGER player_sessions_gen_u AFTER UPDATE ON player_sessions
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'players'; END;
CREATE TRIGGER player_sessions_gen_d AFTER DELETE ON player_sessions
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'players'; END;
CREATE TRIGGER steam_profiles_gen_i AFTER INSERT ON steam_profiles
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'players'; END;
CREATE TRIGGER steam_profiles_gen_u AFTER UPDATE ON steam_profiles
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'players'; END;
CREATE TRIGGER steam_profiles_gen_d AFTER DELETE ON steam_profiles
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'players'; END;
CREATE TRIGGER console_history_gen_i AFTER INSERT ON console_history
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'console'; END;
CREATE TRIGGER console_history_gen_d AFTER DELETE ON console_history
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'console'; END;
