"""Live logs: one `l4d2ctl logs --follow` per server, however many people
watch it, fanned out to all of them; a cap per server, not per user. The
l4d2ctl here is the real one for everything but `logs`, for which a small
script stands in (a console that says one line a second), so that 20
servers need no game server each."""
import os
import subprocess

from webutil import L4D2CTL, Panel, sse_events, wait_for


def fake_ctl(tmp_path):
    fake = tmp_path / "l4d2ctl"
    fake.write_text(
        "#!/bin/sh\n"
        "for a; do\n"
        "  if [ \"$a\" = logs ]; then\n"
        "    n=0; echo \"console of $*\"\n"
        "    while :; do n=$((n+1)); sleep 1; echo \"tick $n\"; done\n"
        "  fi\n"
        "done\n"
        "exec %s \"$@\"\n" % L4D2CTL)
    fake.chmod(0o755)
    return fake


def logs_processes(p):
    """The panel's own `logs` children: the fake's shell, forking its `sleep`,
    has a copy of itself for a moment (the same command line, until the exec),
    whose parent is that shell, not the panel."""
    out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if " logs s" in l and str(p.state) in l and "--follow" in l
            and "sleep" not in l and int(l.split()[1]) == p.proc.pid]


def test_200_viewers_over_20_servers_cost_20_processes(tmp_path):
    p = Panel(tmp_path, env={"LEFT4ME_L4D2CTL": str(fake_ctl(tmp_path)),
                             "LEFT4ME_MAX_CONNECTIONS_PER_ADDRESS": "1000"}).start()
    streams = []
    try:
        admin = p.login("admin", p.admin_password)
        b = admin.create_blueprint("logs")
        servers = [admin.create_server("logs %d" % i, b) for i in range(20)]
        with p.db() as db:
            db.execute("UPDATE servers SET state = 'stopped'")
        # 13 accounts (a user may have 16 live views open), admins so that
        # every one may watch every server.
        users = [admin]
        for i in range(12):
            p.create_user("viewer%d" % i, "viewer-password-%d" % i, admin=True)
            users.append(p.login("viewer%d" % i, "viewer-password-%d" % i))
        for i in range(200):
            s = servers[i % 20]
            conn, resp = users[i // 16].stream("/servers/%d/logs" % s)
            assert resp.status == 200, (i, resp.status)
            streams.append((conn, resp, s))
        procs = wait_for(lambda: len(logs_processes(p)) == 20 and logs_processes(p), timeout=20,
                         what="one logs process per server")
        assert len(procs) == 20
        # Every viewer gets its server's console: the first line (kept for
        # those who joined later) and the lines that come now.
        for conn, resp, s in streams[::17]:
            ev = sse_events(conn, resp, lambda e: any(d.startswith("tick") for _, d in e), timeout=10)
            data = [d for _, d in ev]
            assert any(d.startswith("console of") and ("logs s%d " % s) in d for d in data), data
            assert any(d.startswith("tick") for d in data), data
        assert len(logs_processes(p)) == 20
    finally:
        for conn, _, _ in streams:
            conn.close()
    try:
        # The last viewer gone, the process goes.
        wait_for(lambda: not logs_processes(p), timeout=10, what="no logs process left")
    finally:
        p.cleanup()


def test_a_cap_per_server_not_per_user(tmp_path):
    p = Panel(tmp_path, env={"LEFT4ME_L4D2CTL": str(fake_ctl(tmp_path)),
                             "LEFT4ME_MAX_CONNECTIONS_PER_ADDRESS": "1000"}).start()
    streams = []
    try:
        admin = p.login("admin", p.admin_password)
        b = admin.create_blueprint("cap")
        one, two = admin.create_server("one", b), admin.create_server("two", b)
        with p.db() as db:
            db.execute("UPDATE servers SET state = 'stopped'")
        users = []
        for i in range(5):
            p.create_user("w%d" % i, "w-password-%d-x" % i, admin=True)
            users.append(p.login("w%d" % i, "w-password-%d-x" % i))
        # 64 viewers of one server, from four accounts.
        for i in range(64):
            conn, resp = users[i // 16].stream("/servers/%d/logs" % one)
            assert resp.status == 200, i
            streams.append(conn)
        conn, resp = users[4].stream("/servers/%d/logs" % one)
        assert resp.status == 503 and b"Too many live views" in resp.read()
        conn.close()
        # Another server is not touched by it.
        conn, resp = users[4].stream("/servers/%d/logs" % two)
        assert resp.status == 200
        streams.append(conn)
        assert len(logs_processes(p)) == 2
    finally:
        for c in streams:
            c.close()
        p.cleanup()
