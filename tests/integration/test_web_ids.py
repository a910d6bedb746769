"""Server and blueprint numbers are never given out again after a delete: a
bookmark of /servers/N must not open someone else's server one day. A
database made before the migration keeps every row and link."""
import sqlite3

from webutil import ROOT, Panel, wait_for


def test_deleted_numbers_are_not_reused(tmp_path):
    p = Panel(tmp_path / "p", env={"LEFT4ME_L4D2CTL": "/bin/true"}).start()
    try:
        alice = p.create_user("alice")
        a = p.login("alice", alice)
        b1 = a.create_blueprint("first")
        s1 = a.create_server("first", b1)
        a.get("/servers/%d" % s1)
        assert a.post("/servers/%d/delete" % s1).status == 303
        wait_for(lambda: p.query("SELECT count(*) FROM servers WHERE id = ?", s1)[0][0] == 0, what="delete")
        a.get("/blueprints/%d" % b1)
        assert a.post("/blueprints/%d/delete" % b1).status == 303
        # Another user's new blueprint and server: new numbers, and the old
        # addresses stay "not found" for alice.
        p.create_user("bob")
        b = p.login("bob", "pw-bob-123456")
        b2 = b.create_blueprint("second")
        s2 = b.create_server("second", b2)
        assert (b2, s2) == (b1 + 1, s1 + 1)
        assert p.query("SELECT instance FROM servers WHERE id = ?", s2) == [("s%d" % s2,)]
        assert a.get("/servers/%d" % s1).status == 404
        assert a.get("/blueprints/%d" % b1).status == 404
    finally:
        p.cleanup()


def test_an_older_database_keeps_its_rows_and_links(tmp_path):
    p = Panel(tmp_path / "p", env={"LEFT4ME_L4D2CTL": "/bin/true"})
    db = sqlite3.connect(str(p.state / "left4me.db"))
    for n in ("0001_init", "0002_watch", "0003_generations", "0004_list_order"):
        db.executescript((ROOT / "src" / "web" / "migrations" / (n + ".sql")).read_text())
    db.executescript("""
        PRAGMA user_version = 4;
        INSERT INTO users (id, username, pw_hash, password_changed_at, created_at) VALUES (7, 'old', 'x', 0, 0);
        INSERT INTO blueprints (id, user_id, name, map, maxplayers, tickrate, created_at, updated_at)
            VALUES (3, 7, 'bp', 'c1m1_hotel', 4, 30, 0, 0);
        INSERT INTO servers (id, user_id, blueprint_id, name, instance, created_at, health, state_since)
            VALUES (5, 7, 3, 'srv', 's5', 0, 'ok', 42);
        INSERT INTO server_events (server_id, at, kind, message) VALUES (5, 1, 'crash', 'kept');
        INSERT INTO jobs (user_id, server_id, kind, state, created_at) VALUES (7, 5, 'start', 'succeeded', 0);
    """)
    db.commit()
    db.close()
    p.start()
    try:
        assert p.query("PRAGMA user_version")[0][0] >= 5
        assert p.query("SELECT id, blueprint_id, instance, health, state_since FROM servers") == [(5, 3, "s5", "ok", 42)]
        assert p.query("SELECT server_id, message FROM server_events") == [(5, "kept")]
        assert p.query("SELECT server_id FROM jobs") == [(5,)]
        assert p.query("PRAGMA foreign_key_check") == []
        assert "AUTOINCREMENT" in p.query("SELECT sql FROM sqlite_master WHERE name = 'servers'")[0][0]
        # The counters still count: a server page shows a change at once.
        before = p.query("SELECT gen FROM generations WHERE name = 'server_state'")[0][0]
        with p.db() as c:
            c.execute("UPDATE servers SET players = 3 WHERE id = 5")
        assert p.query("SELECT gen FROM generations WHERE name = 'server_state'")[0][0] == before + 1
        # Deleting the newest server does not free its number.
        with p.db() as c:
            c.execute("PRAGMA foreign_keys = ON")
            c.execute("DELETE FROM jobs")
            c.execute("DELETE FROM servers WHERE id = 5")
            c.execute("INSERT INTO servers (user_id, blueprint_id, name, created_at) VALUES (7, 3, 'again', 0)")
        assert p.query("SELECT id FROM servers") == [(6,)]
    finally:
        p.cleanup()
