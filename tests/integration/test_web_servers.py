"""Servers end to end through the real l4d2ctl (supervisor backend, fake
steamcmd and game server): install with progress, start, live logs, stop,
drift seen by the watch, blueprint changes at the next start, and jobs
recovered after the panel stops in the middle of one."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from webutil import Panel, admin, panel, sse_events, wait_for  # noqa: F401


def job_state(p, job):
    return p.query("SELECT state FROM jobs WHERE id = ?", job)[0][0]


def wait_job(p, job, want="succeeded", timeout=60):
    wait_for(lambda: job_state(p, job) in ("succeeded", "failed"), timeout, what="job %d" % job)
    st = job_state(p, job)
    assert st == want, (st, p.query("SELECT line FROM job_lines WHERE job_id = ?", job))


def last_job(p):
    return p.query("SELECT max(id) FROM jobs")[0][0]


def install(p, c):
    c.get("/admin/install")
    r = c.post("/admin/install")
    assert r.status == 303
    job = int(r.header("Location").rsplit("/", 1)[1])
    return job


def status(p, name):
    return json.loads(p.ctl("status", name, "--json").stdout)


@pytest.fixture
def running(panel, admin):
    """An installed host with one started server."""
    wait_job(panel, install(panel, admin))
    b = admin.create_blueprint("coop", cvars="sv_cheats 0\nmp_gamemode coop", server_cfg="sv_lan 1")
    s = admin.create_server("Alpha", b)
    admin.get("/servers/%d" % s)
    assert admin.post("/servers/%d/start" % s).status == 303
    wait_job(panel, last_job(panel))
    wait_for(lambda: panel.query("SELECT state FROM servers WHERE id = ?", s)[0][0] == "running", what="running")
    return panel, admin, b, s


SLOW_STEAMCMD = """#!/usr/bin/python3
# The fake steamcmd, its output slowed to a line every 0.15 s, so the panel's
# progress can be watched moving.
import subprocess, sys, time
p = subprocess.Popen([%r] + sys.argv[1:], stdout=subprocess.PIPE, text=True)
for line in p.stdout:
    sys.stdout.write(line)
    sys.stdout.flush()
    time.sleep(0.15)
sys.exit(p.wait())
"""


def test_install_reports_progress_and_finishes(tmp_path):
    import webutil
    slow = tmp_path / "steamcmd"
    slow.write_text(SLOW_STEAMCMD % str(webutil.STEAMCMD))
    slow.chmod(0o755)
    panel = Panel(tmp_path / "p", env={"LEFT4ME_STEAMCMD": str(slow)}).start()
    try:
        check_install(panel, panel.login("admin", panel.admin_password))
    finally:
        panel.cleanup()


def check_install(panel, admin):
    job = install(panel, admin)
    conn, resp = admin.stream("/jobs/%d/events" % job)
    events = sse_events(conn, resp, lambda ev: ev[-1][0] == "done", timeout=60)
    conn.close()
    kinds = [e for e, _ in events]
    progress = [json.loads(d)["percent"] for e, d in events if e == "progress"]
    assert kinds[-1] == "done" and json.loads(events[-1][1])["state"] == "succeeded"
    assert len(progress) >= 2 and progress[-1] == 100
    # One bar for the whole install: the two steamcmd passes are two parts
    # of it, never 100 % and then 0 % again.
    assert progress == sorted(progress) and any(40 <= p <= 60 for p in progress), progress
    assert any("fully installed" in d for e, d in events if e == "line")
    page = admin.get("/jobs/%d" % job).text
    assert '<progress id="job-progress" max="100" value="100.00">' in page
    assert "succeeded" in page and "The game is installed: build 100." in page


def test_start_shows_state_ports_and_live_log_then_stop(running):
    p, c, b, s = running
    st = status(p, "s%d" % s)
    # The player count comes from the game server itself (A2S_INFO, asked by
    # l4d2ctl watch).
    players = wait_for(lambda: p.query("SELECT players FROM servers WHERE id = ?", s)[0][0] is not None
                       and p.query("SELECT players FROM servers WHERE id = ?", s)[0][0] + 1, what="player count") - 1
    rows = c.get("/servers/rows").text
    assert "%d / 4" % players in rows
    assert "state-running" in rows and "c1m1_hotel" in rows
    assert str(st["ports"]["game"]) in rows and "/ 4" in rows
    page = c.get("/servers/%d" % s).text
    assert 'data-sse-log="/servers/%d/logs"' % s in page

    conn, resp = c.stream("/servers/%d/logs" % s)
    events = sse_events(conn, resp, lambda ev: any("server.cfg" in d for _, d in ev), timeout=20)
    assert any("server.cfg" in d for _, d in events), events
    # A line written now arrives on the open stream.
    log = p.state / "runtime" / ("s%d" % s) / "console.log"
    if log.exists():
        with open(log, "a") as f:
            f.write("hello from the test %d\n" % s)
        more = sse_events(conn, resp, lambda ev: any("hello from the test" in d for _, d in ev), timeout=20)
        assert any("hello from the test" in d for _, d in more)
    conn.close()

    c.get("/servers/%d" % s)
    assert c.post("/servers/%d/stop" % s).status == 303
    wait_job(p, last_job(p))
    wait_for(lambda: p.query("SELECT state, drift FROM servers WHERE id = ?", s)[0] == ("stopped", ""),
             what="stopped without drift")


def test_blueprint_changes_apply_at_next_start(running):
    p, c, b, s = running
    c.get("/blueprints/%d" % b)
    r = c.post("/blueprints/%d" % b, {"name": "coop", "map": "c2m1_highway", "maxplayers": "8", "tickrate": "60",
                                      "overlays": "", "cvars": "", "server_cfg": "", "args": ""})
    assert r.status == 303
    # Live-linked, not copied: the running server is unchanged until restarted.
    assert status(p, "s%d" % s)["map"] == "c1m1_hotel"
    c.get("/servers/%d" % s)
    assert c.post("/servers/%d/restart" % s).status == 303
    wait_job(p, last_job(p))
    wait_for(lambda: status(p, "s%d" % s)["map"] == "c2m1_highway", what="new map")
    wait_for(lambda: p.query("SELECT map, maxplayers FROM servers WHERE id = ?", s)[0] == ("c2m1_highway", 8),
             what="panel shows the new map")


def test_manual_stop_is_drift(running):
    p, c, b, s = running
    assert p.ctl("stop", "s%d" % s).returncode == 0
    wait_for(lambda: "Stopped outside the panel" in p.query("SELECT drift FROM servers WHERE id = ?", s)[0][0],
             what="drift")
    page = c.get("/servers/%d" % s).text
    assert "Stopped outside the panel" in page and 'class="badge drift"' in page
    assert "Stopped outside the panel" in c.get("/servers/%d/status" % s).text
    # Starting it again through the panel clears the drift.
    c.get("/servers/%d" % s)
    c.post("/servers/%d/start" % s)
    wait_job(p, last_job(p))
    wait_for(lambda: p.query("SELECT state, drift FROM servers WHERE id = ?", s)[0] == ("running", ""),
             what="drift cleared")


def test_crashes_and_a_crash_loop_show_on_the_page(running):
    p, c, b, s = running
    name = "s%d" % s
    killed = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = status(p, name)
        if st["state"] == "crashed":
            break
        if st["state"] == "running" and st["pid"] and st["pid"] not in killed:
            killed.add(st["pid"])
            # A crash of its own (SIGSEGV): a SIGKILL from outside (an admin,
            # the OOM killer) is restarted without counting toward the loop.
            os.kill(st["pid"], signal.SIGSEGV)
        time.sleep(0.1)
    assert status(p, name)["state"] == "crashed"
    wait_for(lambda: "Crash loop" in p.query("SELECT drift FROM servers WHERE id = ?", s)[0][0], what="crash loop")
    page = c.get("/servers/%d" % s).text
    assert "Crash loop" in page
    assert "crashed and was restarted" in page or "Crash loop" in page
    events = [m for (m,) in p.query("SELECT message FROM server_events WHERE server_id = ?", s)]
    assert any("Crash loop" in m for m in events), events


def test_interrupted_jobs_are_requeued_or_failed_with_a_reason(running):
    p, c, b, s = running
    p.stop()
    with p.db() as db:
        db.execute("INSERT INTO jobs (user_id, server_id, kind, target, state, attempts, created_at) "
                   "VALUES (1, ?, 'stop', 'Alpha', 'running', 1, 0)", (s,))
        again = db.execute("SELECT max(id) FROM jobs").fetchone()[0]
        db.execute("INSERT INTO jobs (user_id, server_id, kind, target, state, attempts, created_at) "
                   "VALUES (1, ?, 'start', 'Alpha', 'running', 3, 0)", (s,))
        gave_up = db.execute("SELECT max(id) FROM jobs").fetchone()[0]
    p.start()
    assert any("recovered interrupted jobs: 1 re-queued, 1 failed" in l for l in p.output)
    wait_job(p, again)
    lines = [l for (l,) in p.query("SELECT line FROM job_lines WHERE job_id = ? ORDER BY seq", again)]
    assert lines[0].startswith("interrupted: the panel stopped while this job ran; re-queued")
    assert job_state(p, gave_up) == "failed"
    assert "gave up" in p.query("SELECT result FROM jobs WHERE id = ?", gave_up)[0][0]
    c2 = p.login("admin", p.admin_password)
    assert "gave up" in c2.get("/jobs/%d" % gave_up).text


def test_job_stream_resumes_after_last_event_id(running):
    p, c, b, s = running
    job = last_job(p)
    n = p.query("SELECT count(*) FROM job_lines WHERE job_id = ?", job)[0][0]
    assert n >= 3
    conn, resp = c.stream("/jobs/%d/events" % job, headers={"Last-Event-ID": str(n - 1)})
    events = sse_events(conn, resp, lambda ev: ev[-1][0] == "done", timeout=10)
    conn.close()
    assert [e for e, _ in events] == ["line", "done"]


def test_failed_start_says_why(panel, admin):
    # No installation: l4d2ctl refuses, and the job and the server's page say
    # so in words, not as l4d2ctl's error line with a host path.
    b = admin.create_blueprint("x")
    s = admin.create_server("x", b)
    admin.get("/servers/%d" % s)
    admin.post("/servers/%d/start" % s)
    job = last_job(panel)
    wait_job(panel, job, want="failed")
    result = panel.query("SELECT result FROM jobs WHERE id = ?", job)[0][0]
    assert result == "The game is not installed yet.", result
    assert result in admin.get("/jobs/%d" % job).text
    # l4d2ctl's own line stays in the job's log.
    lines = [l for (l,) in panel.query("SELECT line FROM job_lines WHERE job_id = ?", job)]
    assert any(l.startswith("error: instance 's%d': no game installation" % s) for l in lines), lines
    # Not a drift: the server is stopped because its start failed, and the
    # page says that, with the way to the Install page (an admin).
    wait_for(lambda: "Start failed" in admin.get("/servers/%d/status" % s).text, what="the failure on the page")
    page = admin.get("/servers/%d" % s).text
    assert "Start failed: The game is not installed yet." in page and 'href="/admin/install"' in page
    assert str(panel.state) not in page and "l4d2ctl install" not in page
    time.sleep(2)  # the watch and the reconciliation have had their turn
    assert panel.query("SELECT desired, drift FROM servers WHERE id = ?", s) == [("stopped", "")]
    assert "Start failed: The game is not installed yet." in \
        [m for (m,) in panel.query("SELECT message FROM server_events WHERE server_id = ?", s)]


def test_a_job_cut_off_by_a_panel_crash_is_recovered(tmp_path):
    # A real crash: SIGKILL while the install job runs (slowed steamcmd).
    import webutil
    slow = tmp_path / "steamcmd"
    slow.write_text(SLOW_STEAMCMD % str(webutil.STEAMCMD))
    slow.chmod(0o755)
    p = Panel(tmp_path / "p", env={"LEFT4ME_STEAMCMD": str(slow)}).start()
    try:
        c = p.login("admin", p.admin_password)
        job = install(p, c)
        wait_for(lambda: p.query("SELECT count(*) FROM job_lines WHERE job_id = ?", job)[0][0] >= 3,
                 what="install under way")
        assert job_state(p, job) == "running"
        p.stop(signal.SIGKILL)
        p.start()
        assert any("recovered interrupted jobs: 1 re-queued, 0 failed" in l for l in p.output)
        wait_job(p, job)
        lines = [l for (l,) in p.query("SELECT line FROM job_lines WHERE job_id = ? ORDER BY seq", job)]
        assert any(l.startswith("interrupted: the panel stopped while this job ran; re-queued") for l in lines)
        assert p.query("SELECT attempts FROM jobs WHERE id = ?", job)[0][0] == 2
    finally:
        p.cleanup()


def test_shutdown_ends_open_streams_at_once(running):
    p, c, b, s = running
    conn, resp = c.stream("/servers/%d/logs" % s)
    assert resp.status == 200
    job_conn, job_resp = c.stream("/jobs/%d/events" % last_job(p), headers={"Last-Event-ID": "0"})
    started = time.monotonic()
    p.stop()  # SIGTERM; also fails on any sanitizer report
    assert time.monotonic() - started < 5
    conn.close()
    job_conn.close()
    # No l4d2ctl logs process is left behind.
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [l for l in out.splitlines() if "logs s%d" % s in l and str(p.state) in l]


def test_a_job_line_cannot_forge_stream_events(tmp_path):
    # l4d2ctl's JSON line events may carry any text, newlines included.
    fake = tmp_path / "l4d2ctl"
    fake.write_text('#!/bin/sh\n'
                    'echo \'{"event":"line","line":"a\\nevent: done\\ndata: {\\"state\\":\\"succeeded\\"}"}\'\n'
                    'sleep 1\necho \'{"event":"done","ok":false}\'\nexit 1\n')
    fake.chmod(0o755)
    p = Panel(tmp_path / "p", env={"LEFT4ME_L4D2CTL": str(fake)}).start()
    try:
        c = p.login("admin", p.admin_password)
        job = install(p, c)
        conn, resp = c.stream("/jobs/%d/events" % job)
        events = sse_events(conn, resp, lambda ev: ev[-1][0] == "done", timeout=20)
        conn.close()
        dones = [json.loads(d) for e, d in events if e == "done"]
        assert dones == [dones[-1]] and dones[-1]["state"] == "failed", events
        assert any(e == "line" and "event: done" in d for e, d in events)
    finally:
        p.cleanup()


def test_delete_stops_and_removes_the_instance(running):
    p, c, b, s = running
    c.get("/servers/%d" % s)
    # A running server's Delete is greyed out (stop it first); the route
    # still takes it, and the job stops it first.
    assert re.search(r'<button type="submit" class="danger" data-confirm="Delete the server &quot;Alpha&quot;\? '
                     r'[^"]*" disabled title="Stop it first.">Delete</button>', c.get("/servers/%d" % s).text)
    r = c.post("/servers/%d/delete" % s)
    job = last_job(p)
    assert r.status == 303 and r.header("Location") == "/servers?notice=deleting&job=%d" % job
    assert "state-deleting" in c.get("/servers").text or not p.query("SELECT 1 FROM servers WHERE id = ?", s)
    wait_job(p, job)
    # The notice on the list follows the job: done now.
    assert "Deleted Alpha." in c.get(r.header("Location")).text
    assert p.query("SELECT count(*) FROM servers WHERE id = ?", s)[0][0] == 0
    assert not (p.state / "instances" / ("s%d" % s)).exists()
    assert c.get("/servers/%d" % s).status == 404
    # The job outlives the server, for the record.
    assert "Deleted." in c.get("/jobs/%d" % job).text


def test_a_delete_given_up_at_recovery_leaves_the_server_usable(panel, admin):
    # As a failed delete does: the server is shown again, with its buttons,
    # so the owner can try once more; it does not stay "deleting" for good.
    b = admin.create_blueprint("x")
    s = admin.create_server("Doomed", b)
    panel.stop()
    with panel.db() as db:
        db.execute("UPDATE servers SET deleting = 1 WHERE id = ?", (s,))
        db.execute("INSERT INTO jobs (user_id, server_id, kind, target, state, attempts, created_at) "
                   "VALUES (1, ?, 'delete', 'Doomed', 'running', 3, 0)", (s,))
    panel.start()
    assert any("recovered interrupted jobs: 0 re-queued, 1 failed" in l for l in panel.output)
    assert panel.query("SELECT deleting FROM servers WHERE id = ?", s) == [(0,)]
    c = panel.login("admin", panel.admin_password)
    assert "/servers/%d/delete" % s in c.get("/servers/%d" % s).text


DELAYED_WATCH_L4D2CTL = """#!/bin/sh
# l4d2ctl whose watch stream reaches the panel 1.5 s late: the panel's own
# jobs change the servers before it reads what the watch saw.
for a in "$@"; do
        if [ "$a" = watch ]; then
                %s "$@" | /usr/bin/python3 -u -c '
import queue, sys, threading, time
q = queue.Queue()
def late():
    while True:
        t, line = q.get()
        time.sleep(max(0, t + 1.5 - time.monotonic()))
        sys.stdout.write(line)
        sys.stdout.flush()
threading.Thread(target=late, daemon=True).start()
for line in sys.stdin:
    q.put((time.monotonic(), line))
time.sleep(2)
'
                exit 0
        fi
done
exec %s "$@"
"""


def test_news_older_than_a_job_is_not_drift(tmp_path):
    import webutil
    fake = tmp_path / "l4d2ctl"
    fake.write_text(DELAYED_WATCH_L4D2CTL % (webutil.L4D2CTL, webutil.L4D2CTL))
    fake.chmod(0o755)
    p = Panel(tmp_path / "p", env={"LEFT4ME_L4D2CTL": str(fake)}).start()
    try:
        c = p.login("admin", p.admin_password)
        wait_job(p, install(p, c))
        s = c.create_server("Alpha", c.create_blueprint("coop"))
        for action in ("start", "stop", "start", "stop"):
            c.get("/servers/%d" % s)
            assert c.post("/servers/%d/%s" % (s, action)).status == 303
            wait_job(p, last_job(p))
            time.sleep(2.5)  # a whole late round after the job
        events = p.query("SELECT message FROM server_events WHERE server_id = ? AND kind = 'drift'", s)
        assert events == [], events
    finally:
        p.cleanup()


def test_nothing_is_written_while_nothing_changes(running):
    # The watch reports changes only, and the panel stores what changed:
    # with a server running and no one asking, the database stands still.
    p, c, b, s = running
    wait_for(lambda: p.query("SELECT players FROM servers WHERE id = ?", s)[0][0] is not None, what="first report")
    wait_for(lambda: p.query("SELECT count(*) FROM roster_snapshots WHERE server_id = ?", s)[0][0] > 0,
             what="first roster")
    time.sleep(2)  # what the start left to settle (ports, the first answers)

    def writes():
        return p.query("SELECT sum(gen) FROM generations")[0][0], p.query("SELECT count(*) FROM server_events")[0][0]
    before = writes()
    wal = p.state / "left4me.db-wal"
    wal_before = (wal.stat().st_size, wal.stat().st_mtime_ns)
    time.sleep(5)  # ten rounds of the watch (LEFT4ME_POLL_INTERVAL_MS=500)
    assert writes() == before
    assert (wal.stat().st_size, wal.stat().st_mtime_ns) == wal_before
