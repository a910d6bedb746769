-- A write counter per table, kept by triggers, so that the render cache
-- knows which tables changed, whoever wrote them (the panel, the admin
-- commands, sqlite3 by hand). A page is kept until a table it reads
-- changes: the watch writing server state does not throw away the
-- blueprint or job pages. `servers` has two counters: who owns a server and
-- what it is (servers), and what the host reports about it (server_state).
-- login_failures is read by no page; job_lines and server_events lose rows
-- only with their job or server, whose own counters move then.
CREATE TABLE generations (
        name TEXT PRIMARY KEY,
        gen INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO generations (name) VALUES ('users'), ('sessions'), ('blueprints'), ('servers'), ('server_state'),
        ('server_events'), ('jobs'), ('job_lines');

CREATE TRIGGER users_gen_i AFTER INSERT ON users BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'users'; END;
CREATE TRIGGER users_gen_u AFTER UPDATE ON users BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'users'; END;
CREATE TRIGGER users_gen_d AFTER DELETE ON users BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'users'; END;
CREATE TRIGGER sessions_gen_i AFTER INSERT ON sessions BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'sessions'; END;
CREATE TRIGGER sessions_gen_u AFTER UPDATE ON sessions BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'sessions'; END;
CREATE TRIGGER sessions_gen_d AFTER DELETE ON sessions BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'sessions'; END;
CREATE TRIGGER blueprints_gen_i AFTER INSERT ON blueprints BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'blueprints'; END;
CREATE TRIGGER blueprints_gen_u AFTER UPDATE ON blueprints BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'blueprints'; END;
CREATE TRIGGER blueprints_gen_d AFTER DELETE ON blueprints BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'blueprints'; END;
CREATE TRIGGER servers_gen_i AFTER INSERT ON servers BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'servers'; END;
CREATE TRIGGER servers_gen_u AFTER UPDATE OF user_id, blueprint_id, name, instance, desired, deleting, created_at ON servers
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'servers'; END;
CREATE TRIGGER servers_gen_d AFTER DELETE ON servers BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'servers'; END;
CREATE TRIGGER server_state_gen_u AFTER UPDATE OF state, game_port, tv_port, map, players, maxplayers, restarts, drift,
        detail, observed_at, health, state_since ON servers
        BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'server_state'; END;
CREATE TRIGGER server_events_gen_i AFTER INSERT ON server_events BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'server_events'; END;
CREATE TRIGGER jobs_gen_i AFTER INSERT ON jobs BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'jobs'; END;
CREATE TRIGGER jobs_gen_u AFTER UPDATE ON jobs BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'jobs'; END;
CREATE TRIGGER jobs_gen_d AFTER DELETE ON jobs BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'jobs'; END;
CREATE TRIGGER job_lines_gen_i AFTER INSERT ON job_lines BEGIN UPDATE generations SET gen = gen + 1 WHERE name = 'job_lines'; END;
