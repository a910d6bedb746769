"""Helpers for the panel's integration tests (test_web_*.py): a running
`left4me serve` on a private state dir and port, and a small HTTP client that
keeps cookies and the CSRF token the way a browser form would.

Kept apart from conftest.py (the l4d2ctl tests' fixtures) on purpose; test
files import what they need from here.
"""
import http.client
import json
import os
import pathlib
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("LEFT4ME_BUILD_DIR", ROOT / "build-test"))
LEFT4ME = BUILD / "src" / "web" / "left4me"
L4D2CTL = BUILD / "src" / "ctl" / "l4d2ctl"
STEAMCMD = ROOT / "tests" / "fakes" / "steamcmd"

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_game_ports = [24000]  # below the ephemeral range; the l4d2ctl tests use 28000 and up


class Panel:
    """One `left4me serve`. The state dir is shared with l4d2ctl, as in
    production; the game port range is private to this panel."""

    def __init__(self, tmp, env=None, listen="127.0.0.1"):
        self.tmp = pathlib.Path(tmp)
        self.state = self.tmp / "state"
        self.etc = self.tmp / "etc"
        self.state.mkdir(parents=True, exist_ok=True)
        self.etc.mkdir(parents=True, exist_ok=True)
        lo = 24000 + (_game_ports[0] - 24000) % 4000  # round within 24000-27999
        _game_ports[0] += 40
        (self.etc / "host.env").write_text(
            "LEFT4ME_PORT_RANGE_START=%d\nLEFT4ME_PORT_RANGE_END=%d\n" % (lo, lo + 39))
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "LEFT4ME_CONFIG_DIR": str(self.etc),
            "LEFT4ME_STEAMCMD": str(STEAMCMD),
            "LEFT4ME_BACKEND": "supervisor",
            "LEFT4ME_UPDATE_FREE_MIN": "256M",  # the fake game is a few MiB (conftest.py)
            "LEFT4ME_L4D2CTL": str(L4D2CTL),
            "LEFT4ME_POLL_INTERVAL_MS": "500",
            "LEFT4ME_UPDATE_INTERVAL_MS": "0",  # the fleet's update runs: off unless a test wants them
            "LEFT4ME_ROSTER_INTERVAL": "1",
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
        })
        self.env.pop("LEFT4ME_STATE_DIR", None)
        if env:
            self.env.update(env)
        self.listen = listen
        self.proc = None
        self.admin_password = None
        self.output = []

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.proc = subprocess.Popen(
            [str(LEFT4ME), "serve", "--state-dir", str(self.state), "--listen", "%s:%d" % (self.listen, self.port)],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            m = re.search(r"created the administrator 'admin' with password (\S+)", line)
            if m:
                self.admin_password = m.group(1)
            if "listening on" in line:
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        raise AssertionError("left4me serve did not start:\n" + "".join(self.output))

    def _drain(self):
        for line in self.proc.stdout:
            self.output.append(line)

    def stop(self, sig=signal.SIGTERM):
        if not self.proc:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        time.sleep(0.1)
        text = "".join(self.output)
        self.proc = None
        if sig == signal.SIGTERM:
            assert not any(m in text for m in SANITIZER_MARKS), text

    def left4me(self, *args, input=None):
        return subprocess.run([str(LEFT4ME), "--state-dir", str(self.state), *args], env=self.env,
                              input=input, capture_output=True, text=True, timeout=60)

    def ctl(self, *args, input=None):
        return subprocess.run([str(L4D2CTL), "--state-dir", str(self.state), *args], env=self.env,
                              input=input, capture_output=True, text=True, timeout=60)

    def db(self):
        return sqlite3.connect(str(self.state / "left4me.db"), timeout=10)

    def query(self, sql, *params):
        with self.db() as c:
            return c.execute(sql, params).fetchall()

    def create_user(self, name, password=None, admin=False):
        password = password or ("pw-" + name + "-123456")
        args = ["admin", "create", name, "--password-stdin"] + (["--admin"] if admin else [])
        p = self.left4me(*args, input=password + "\n")
        assert p.returncode == 0, p.stderr
        return password

    def client(self):
        return Client(self)

    def login(self, name, password):
        c = Client(self)
        r = c.login(name, password)
        assert r.status == 303, (r.status, r.text[:500])
        return c

    def cleanup(self):
        self.stop()
        p = self.ctl("list", "--json")
        if p.returncode == 0:
            for inst in json.loads(p.stdout).get("instances", []):
                self.ctl("stop", inst["name"])
        path = os.path.realpath(self.state)
        with open("/proc/self/mountinfo") as f:
            mounts = [l.split()[4] for l in f]
        for m in reversed([m for m in mounts if m.startswith(path + "/")]):
            subprocess.run(["umount", "-l", m], check=False)


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8", "replace")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def cookies(self):
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


class Client:
    """A browser stand-in: cookies, the CSRF token of the last form page."""

    def __init__(self, panel):
        self.panel = panel
        self.cookies = {}
        self.csrf = None

    def request(self, method, path, body=None, headers=None, read=True):
        conn = http.client.HTTPConnection("127.0.0.1", self.panel.port, timeout=30)
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if body is not None and "Content-Type" not in h:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        if not read:
            return conn, r
        data = r.read()
        conn.close()
        resp = Resp(r.status, r.getheaders(), data)
        for c in resp.cookies():
            name, _, rest = c.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in c:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        m = re.search(r'name="csrf" value="([0-9a-f]{64})"', resp.text)
        if m:
            self.csrf = m.group(1)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, data=None, csrf=True, **kw):
        fields = list((data or {}).items())
        if csrf and self.csrf:
            fields.append(("csrf", self.csrf))
        return self.request("POST", path, body=urllib.parse.urlencode(fields), **kw)

    def login(self, name, password):
        self.get("/login")
        r = self.post("/login", {"username": name, "password": password})
        if r.status == 303:
            self.get("/profile")  # picks up the session's CSRF token, as a browser would
        return r

    def stream(self, path, headers=None):
        """Opens an SSE stream; returns (conn, response) to read from."""
        return self.request("GET", path, headers=dict(headers or {}, Accept="text/event-stream"), read=False)

    # Shortcuts that create objects through the pages, as a person would.
    def create_blueprint(self, name="coop", **fields):
        self.get("/blueprints/new")
        data = {"name": name, "map": "c1m1_hotel", "maxplayers": "4", "tickrate": "30",
                "overlays": "", "cvars": "", "server_cfg": "", "args": ""}
        data.update(fields)
        r = self.post("/blueprints", data)
        assert r.status == 303, (r.status, r.text[:2000])
        return int(re.search(r"/blueprints/(\d+)", r.header("Location")).group(1))

    def create_server(self, name, blueprint_id):
        self.get("/servers/new")
        r = self.post("/servers", {"name": name, "blueprint": str(blueprint_id)})
        assert r.status == 303, (r.status, r.text[:2000])
        return int(re.search(r"/servers/(\d+)", r.header("Location")).group(1))


def wait_for(fn, timeout=30, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def sse_events(conn, resp, until, timeout=30):
    """Reads SSE events (event, data) from an open stream until until(events)
    is true, the stream ends, or timeout passes."""
    events = []
    event, data = "message", []
    deadline = time.monotonic() + timeout
    conn.sock.settimeout(timeout)
    while time.monotonic() < deadline:
        try:
            line = resp.readline()
        except (socket.timeout, TimeoutError):
            break
        if not line:
            break
        line = line.decode("utf-8", "replace").rstrip("\r\n")
        if line == "":
            if data:
                events.append((event, "\n".join(data)))
                if until(events):
                    return events
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
    return events


@pytest.fixture
def panel(tmp_path):
    p = Panel(tmp_path).start()
    yield p
    p.cleanup()


@pytest.fixture
def admin(panel):
    return panel.login("admin", panel.admin_password)


@pytest.fixture
def web(tmp_path):
    """A panel whose l4d2ctl does nothing (/bin/true), and its admin logged
    in: for tests of the panel alone."""
    p = Panel(tmp_path, env={"LEFT4ME_L4D2CTL": "/bin/true"}).start()
    c = p.login("admin", p.admin_password)
    yield p, c
    p.cleanup()
