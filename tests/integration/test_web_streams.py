"""Live views are capped per user: one account cannot hold every event
stream (and with them the panel's connection threads)."""
from webutil import admin, panel  # noqa: F401

PER_USER = 16


def test_one_user_cannot_hold_every_stream(panel, admin):
    panel.create_user("lena", "lena-password-1")
    with panel.db() as db:
        # A job that stays open: marked running, no worker owns it.
        db.execute("INSERT INTO jobs (user_id, kind, target, state, created_at) "
                   "VALUES (1, 'install', '', 'running', 0)")
        job = db.execute("SELECT max(id) FROM jobs").fetchone()[0]
    streams = []
    try:
        for _ in range(PER_USER):
            conn, resp = admin.stream("/jobs/%d/events" % job)
            assert resp.status == 200
            streams.append(conn)
        conn, resp = admin.stream("/jobs/%d/events" % job)
        assert resp.status == 429 and b"too many live views" in resp.read()
        conn.close()
        # Someone else is not locked out by it.
        lena = panel.login("lena", "lena-password-1")
        with panel.db() as db:
            db.execute("UPDATE jobs SET user_id = (SELECT id FROM users WHERE username = 'lena') WHERE id = ?",
                       (job,))
        conn, resp = lena.stream("/jobs/%d/events" % job)
        assert resp.status == 200
        conn.close()
    finally:
        for c in streams:
            c.close()
    # Closed streams give their places back at once (the panel watches the
    # browser's socket; a reload must not wait for the 15 s keepalive).
    from webutil import wait_for
    with panel.db() as db:
        db.execute("UPDATE jobs SET user_id = 1 WHERE id = ?", (job,))

    def reopened():
        conn, resp = admin.stream("/jobs/%d/events" % job)
        conn.close()
        return resp.status == 200
    wait_for(reopened, timeout=3, what="a place freed")


def test_each_source_is_capped_across_users(panel, admin):
    # 64 job streams at most, whoever holds them; another source (a server's
    # console) has its own count. One admission check for both.
    with panel.db() as db:
        db.execute("INSERT INTO jobs (user_id, kind, target, state, created_at) "
                   "VALUES (1, 'install', '', 'running', 0)")
        job = db.execute("SELECT max(id) FROM jobs").fetchone()[0]
    users = []
    for i in range(5):
        panel.create_user("u%d" % i, "u%d-password-1" % i, admin=True)  # admins see every job
        users.append(panel.login("u%d" % i, "u%d-password-1" % i))
    streams = []
    try:
        for c in users[:4]:
            for _ in range(PER_USER):
                conn, resp = c.stream("/jobs/%d/events" % job)
                assert resp.status == 200
                streams.append(conn)
        conn, resp = users[4].stream("/jobs/%d/events" % job)
        assert resp.status == 503 and b"Too many live views are open on the panel" in resp.read()
        conn.close()
        s = users[4].create_server("console", users[4].create_blueprint("b"))
        with panel.db() as db:
            db.execute("UPDATE servers SET state = 'stopped' WHERE id = ?", (s,))
        conn, resp = users[4].stream("/servers/%d/logs" % s)
        assert resp.status == 200
        conn.close()
    finally:
        for c in streams:
            c.close()
