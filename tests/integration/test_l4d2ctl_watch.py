"""`l4d2ctl watch --json` (issue 8): one process follows every instance and
writes one line per change. A start, a crash, a hung (SIGSTOPped) server
and a stop are each exactly one event, within about one interval; nothing is
written while nothing changes; a stopped server is never polled; deleted
instances are `removed`; watch ends when its reader goes away.

Timing: the only bound asserted is the contract's "within one interval",
with generous slack (several intervals), never a duration."""
import fcntl
import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import L4D2CTL

SPEC = "map: c2m1_highway\nmaxplayers: 6\n"
# Interval for most tests: short, but with an answer window (half of it)
# that a Python fake on a busy machine still meets.
INTERVAL = 0.5


class Watch:
    """`l4d2ctl watch --json` in the background; a thread turns its lines
    into events on a queue."""

    def __init__(self, ctl, interval=INTERVAL, misses=3, roster=0):
        # The player roster (its own tests: test_l4d2ctl_watch_roster.py)
        # is off here: these tests count instance events.
        self.interval = interval
        self.p = subprocess.Popen([str(L4D2CTL), "watch", "--json", "--interval", str(interval),
                                   "--misses", str(misses), "--roster-interval", str(roster)],
                                  env=ctl.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.q = queue.Queue()
        self.lines = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line)
            self.q.put(json.loads(line))
        self.q.put(None)

    def next(self, timeout):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return None

    def until(self, pred, intervals=20, what="an event"):
        """Events up to and including the first that matches pred."""
        got = []
        deadline = time.monotonic() + intervals * self.interval + 5
        while time.monotonic() < deadline:
            e = self.next(0.05)
            if e is None:
                assert self.p.poll() is None, "watch exited: %s" % self.p.stderr.read()
                continue
            got.append(e)
            if pred(e):
                return got
        raise AssertionError("no %s; got %s" % (what, got))

    def synced(self):
        """The startup snapshot: {name: event}."""
        evs = self.until(lambda e: e["event"] == "synced", what="synced")
        return {e["name"]: e for e in evs if e["event"] == "instance"}

    def quiet(self, intervals):
        """Everything written during that many intervals."""
        got = []
        end = time.monotonic() + intervals * self.interval
        while (left := end - time.monotonic()) > 0:
            e = self.next(left)
            if e is not None:
                got.append(e)
        return got

    def close(self):
        if self.p.stderr.closed:
            return
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p.stdout.close()
        self.p_stderr = self.p.stderr.read()
        self.p.stderr.close()


@pytest.fixture
def watch(installed):
    ws = []

    def start(**kw):
        w = Watch(installed, **kw)
        ws.append(w)
        return w
    yield start
    for w in ws:
        w.close()


def running(ctl, tmp_path, name="alpha"):
    ctl.initialize(name, SPEC, tmp_path)
    ctl.ok("start", name)
    ctl.wait_log(name, "Server is hibernating")
    return ctl.wait_state(name, "running")


def ok_running(e):
    return e["event"] == "instance" and e["state"] == "running" and e["health"] == "ok"


def test_snapshot_then_nothing_while_nothing_changes(installed, watch, tmp_path):
    ctl = installed
    st = running(ctl, tmp_path, "alpha")
    ctl.initialize("beta", SPEC, tmp_path)
    w = watch()
    snap = w.synced()
    assert sorted(snap) == ["alpha", "beta"]
    a, b = snap["alpha"], snap["beta"]
    # Every field of `status --json`, and what A2S said.
    for k in ("name", "pid", "ports", "uptime", "mounted", "overlays", "restarts", "backend", "detail"):
        assert k in a and k in b, k
    assert (a["state"], a["health"], a["pid"], a["ports"]) == ("running", "ok", st["pid"], st["ports"])
    # The fake's default roster: 3 people and 2 bots, counted together as
    # the engine does.
    assert (a["map"], a["players"], a["bots"], a["maxplayers"]) == ("c2m1_highway", 5, 2, 6)
    assert isinstance(a["time"], int) and a["since"] <= a["time"]
    assert (b["state"], b["health"], b["map"], b["players"], b["bots"], b["maxplayers"]) == \
        ("stopped", "none", None, None, None, None)
    # Nothing changes: nothing is written (uptime grows, but is not news).
    assert w.quiet(6) == []


def test_start_is_one_event(installed, watch, tmp_path):
    ctl = installed
    ctl.initialize("alpha", SPEC, tmp_path)
    # The contract: a start that answers within one interval is one event.
    # The fake boots in well under a second even on a busy machine, so
    # give it two.
    w = watch(interval=2)
    assert w.synced()["alpha"]["state"] == "stopped"
    ctl.ok("start", "alpha")
    evs = w.until(ok_running, intervals=3, what="running event")
    st = ctl.status("alpha")
    assert len(evs) == 1, evs
    assert evs[0]["name"] == "alpha" and evs[0]["pid"] == st["pid"] and evs[0]["map"] == "c2m1_highway"
    assert w.quiet(2) == []


def test_crash_is_one_event_and_the_restart_one_more(installed, watch, tmp_path):
    ctl = installed
    st = running(ctl, tmp_path)
    w = watch()
    assert w.synced()["alpha"]["state"] == "running"
    os.kill(st["pid"], signal.SIGKILL)  # the supervisor restarts it after 0.5 s
    crash = w.until(lambda e: True, intervals=3, what="crash event")
    assert len(crash) == 1
    c = crash[0]
    assert (c["name"], c["state"], c["pid"], c["health"]) == ("alpha", "starting", None, "none")
    assert "KILL" in c["detail"]
    back = w.until(ok_running, what="restart event")
    assert len(back) == 1, back
    assert back[0]["restarts"] == 1 and back[0]["pid"] not in (None, st["pid"])
    assert w.quiet(4) == []


def test_hung_server_is_one_event_and_so_is_its_recovery(installed, watch, tmp_path):
    ctl = installed
    st = running(ctl, tmp_path)
    w = watch(misses=3)
    assert w.synced()["alpha"]["health"] == "ok"
    os.kill(st["pid"], signal.SIGSTOP)
    try:
        evs = w.until(lambda e: True, intervals=3 + 3, what="unresponsive event")
        assert len(evs) == 1
        e = evs[0]
        assert (e["state"], e["health"], e["pid"]) == ("unresponsive", "no-answer", st["pid"])
        # The last answer still stands for map and players.
        assert e["map"] == "c2m1_highway"
        # Still hung: not repeated.
        assert w.quiet(4) == []
    finally:
        os.kill(st["pid"], signal.SIGCONT)
    back = w.until(lambda e: True, intervals=3, what="recovery event")
    assert len(back) == 1 and ok_running(back[0]) and back[0]["pid"] == st["pid"]
    assert w.quiet(3) == []


def test_stop_is_one_event(installed, watch, tmp_path):
    ctl = installed
    running(ctl, tmp_path)
    w = watch()
    assert w.synced()["alpha"]["state"] == "running"
    ctl.ok("stop", "alpha")
    evs = w.until(lambda e: True, intervals=3, what="stop event")
    assert len(evs) == 1
    assert (evs[0]["state"], evs[0]["health"], evs[0]["pid"], evs[0]["map"]) == ("stopped", "none", None, None)
    assert w.quiet(4) == []


def test_while_an_l4d2ctl_works_on_it_its_steps_are_not_news(installed, watch, tmp_path):
    """A restart (the panel's, or a migration's to a new game build) stops
    and starts the server under the instance's lock: the watch reports where
    it ends, not a stopped server in between."""
    ctl = installed
    st = running(ctl, tmp_path)
    w = watch()
    assert w.synced()["alpha"]["state"] == "running"
    # Hold the lock as an l4d2ctl at work would, and take the server down
    # under it (its supervisor brings it back after 0.5 s).
    fd = os.open(ctl.state / "locks" / "alpha.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.kill(st["pid"], signal.SIGKILL)
        assert w.quiet(4) == []
    finally:
        os.close(fd)
    back = w.until(ok_running, intervals=6, what="the server running again")
    assert all(e["state"] != "stopped" for e in back), back
    assert back[-1]["restarts"] == 1 and back[-1]["pid"] != st["pid"]
    # A real restart: never reported as stopped either.
    pid = back[-1]["pid"]
    ctl.ok("restart", "alpha")
    evs = w.until(lambda e: ok_running(e) and e["pid"] != pid, intervals=6, what="the restarted server")
    assert all(e["state"] != "stopped" for e in evs), evs


def test_a_stopped_server_is_never_polled(installed, watch, tmp_path):
    ctl = installed
    running(ctl, tmp_path, "alpha")
    ctl.initialize("beta", SPEC, tmp_path)
    beta_port = ctl.status("beta")["ports"]["game"]
    # Stand where beta's server would answer, and count what arrives.
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", beta_port))
    sock.settimeout(0)
    try:
        before = int(ctl.ok("rcon", "alpha", "fake_a2s_requests").stdout)
        t0 = time.monotonic()
        w = watch(interval=0.3)
        w.synced()
        assert w.quiet(8) == []
        after = int(ctl.ok("rcon", "alpha", "fake_a2s_requests").stdout)
        rounds = (time.monotonic() - t0) / 0.3 + 1
        got = []
        while True:
            try:
                got.append(sock.recv(4096))
            except BlockingIOError:
                break
    finally:
        sock.close()
    assert got == []
    # The running one was polled meanwhile: once a round (the first query
    # also takes a challenge), not in a loop.
    assert 3 <= after - before <= rounds + 2
    # Once beta runs, watch asks it on that very port.
    ctl.ok("start", "beta")
    w.until(lambda e: ok_running(e) and e["name"] == "beta", what="beta running")


def test_new_instances_appear_and_deleted_ones_are_removed(installed, watch, tmp_path):
    ctl = installed
    w = watch()
    assert w.synced() == {}
    ctl.initialize("gamma", SPEC, tmp_path)
    evs = w.until(lambda e: True, intervals=3, what="new instance")
    assert len(evs) == 1 and evs[0]["name"] == "gamma" and evs[0]["state"] == "stopped"
    ctl.ok("delete", "gamma")
    evs = w.until(lambda e: True, intervals=3, what="removed")
    assert len(evs) == 1 and evs[0]["event"] == "removed" and evs[0]["name"] == "gamma"
    assert set(evs[0]) == {"event", "time", "name"}
    assert w.quiet(3) == []


def test_a_damaged_instance_does_not_hide_the_others(installed, watch, tmp_path):
    ctl = installed
    ctl.initialize("alpha", SPEC, tmp_path)
    ctl.initialize("beta", SPEC, tmp_path)
    spec = ctl.state / "instances" / "beta" / "instance.json"
    good = spec.read_text()
    spec.write_text("{ damaged")
    w = watch(interval=0.3)
    assert sorted(w.synced()) == ["alpha"]
    assert w.quiet(5) == []
    spec.write_text(good)
    evs = w.until(lambda e: True, intervals=3, what="beta readable again")
    assert len(evs) == 1 and evs[0]["name"] == "beta" and evs[0]["state"] == "stopped"
    w.close()
    # Said once, not every round; and once that it is over.
    lines = w.p_stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("warning: instance 'beta': ") and "is damaged" in lines[0]
    assert lines[1] == "warning: instance 'beta' can be read again"


def test_ends_when_its_reader_goes_away_and_on_sigterm(installed):
    ctl = installed
    p = subprocess.Popen([str(L4D2CTL), "watch", "--json", "--interval", "60"], env=ctl.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert json.loads(p.stdout.readline())["event"] == "synced"
    # Nothing will be written for a minute: watch must notice the pipe
    # closing by itself, not at its next write.
    p.stdout.close()
    assert p.wait(timeout=10) == 0
    assert p.stderr.read() == b""
    p.stderr.close()

    p = subprocess.Popen([str(L4D2CTL), "watch", "--json", "--interval", "60"], env=ctl.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert json.loads(p.stdout.readline())["event"] == "synced"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 0
    p.stdout.close()
    p.stderr.close()


def test_sigterm_ends_it_even_while_its_reader_does_not_read(installed):
    ctl = installed
    ctl.initialize("alpha", SPEC, ctl.state.parent)
    # A pipe that is already full and that nobody reads: watch's first line
    # blocks in write().
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        while True:
            os.write(w, b"x" * 4096)
    except BlockingIOError:
        pass
    os.set_blocking(w, True)
    p = subprocess.Popen([str(L4D2CTL), "watch", "--json", "--interval", "0.3"], env=ctl.env, stdout=w,
                         stderr=subprocess.PIPE)
    os.close(w)
    try:
        time.sleep(1)
        assert p.poll() is None  # blocked, as it should be
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
        assert p.stderr.read() == b""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()
        os.close(r)


def test_human_lines_and_usage_errors(installed, tmp_path):
    ctl = installed
    running(ctl, tmp_path, "alpha")
    p = subprocess.Popen([str(L4D2CTL), "watch", "--interval", "0.3"], env=ctl.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline()
        second = p.stdout.readline()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(10)
        p.stdout.close()
        p.stderr.close()
    assert "alpha: running, map c2m1_highway, 5/6 players (2 bots), pid " in first
    assert second.split(" ", 1)[1] == "synced: following 1 instance\n"

    for args, msg in ((["--interval", "0"], "--interval needs seconds from 0.1 to 3600, not '0'"),
                      (["--interval=abc"], "--interval needs seconds"),
                      (["--misses", "0"], "--misses needs a number from 1 to 1000"),
                      (["--misses"], "--misses needs a value"),
                      (["alpha"], "unexpected argument 'alpha'")):
        r = ctl.run("watch", *args)
        assert r.returncode == 2 and r.stdout == "", args
        assert r.stderr.startswith("error: ") and msg in r.stderr, r.stderr
