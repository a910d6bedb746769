"""The fake game server against independent clients: Debian's rconclt
(python3-rcon) for RCON and npm's gamedig for A2S. If these agree with the
fake, the fake is a fair stand-in for srcds when it tests left4me's own
clients (test_proto_ctl.py).

rconclt (python3-rcon 2.3.9) reads each packet through a fresh buffered
file object, so when srcds' empty RESPONSE_VALUE and its AUTH_RESPONSE
arrive in one TCP segment (as they do from srcds and from the fake) it
throws the second away and hangs. The rconclt tests therefore run the fake
with FAKE_SRCDS_AUTH_EMPTY_RESPONSE=0, like a server that does not send the
empty packet, which the protocol allows.
"""
import json
import os
import pathlib
import select
import signal
import socket
import struct
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FAKE = ROOT / "tests" / "fakes" / "fake_srcds.py"
GAMEDIG = ROOT / "node_modules" / "gamedig" / "bin" / "gamedig.js"
PASSWORD = "s3cret pw"


def free_port():
    """A port free for both TCP and UDP on loopback."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


class Fake:
    def __init__(self, root, port, env, args):
        self.root, self.port = root, port
        e = dict(os.environ)
        e.update(env)
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(FAKE), "-game", "left4dead2", "-port", str(port), "+map", "c2m2_fairgrounds",
             "-maxplayers", "8", *args],
            cwd=root, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = []
        self.buf = b""

    def wait_line(self, needle, timeout=10):
        # Raw reads: a buffered readline() would hide lines from select().
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if needle in line:
                    return line
            if time.monotonic() >= deadline:
                break
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self.buf += chunk
                *done, self.buf = self.buf.split(b"\n")
                self.lines += [d.decode("utf-8", "replace") for d in done]
        raise AssertionError("fake never printed %r; got:\n%s" % (needle, "\n".join(self.lines)))

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rest, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, _ = self.proc.communicate()
        self.buf += rest
        self.lines += [d.decode("utf-8", "replace") for d in self.buf.split(b"\n") if d]
        self.buf = b""
        return self.proc.returncode


@pytest.fixture
def make_fake(tmp_path):
    fakes = []

    def make(env=None, args=(), cfg=None, addons=(), port=None):
        root = tmp_path / ("root%d" % len(fakes))
        (root / "left4dead2" / "cfg").mkdir(parents=True)
        (root / "left4dead2" / "addons").mkdir()
        for a in addons:
            (root / "left4dead2" / "addons" / a).write_text("x")
        (root / "left4dead2" / "cfg" / "server.cfg").write_text(cfg if cfg is not None else (
            '// test config\nhostname "Interop Host \u00e9"\nrcon_password "%s"\nsv_cheats 0 // trailing\n' % PASSWORD))
        f = Fake(root, port or free_port(), env or {}, list(args))
        fakes.append(f)
        return f

    yield make
    for f in fakes:
        f.stop()


def rconclt(port, *cmd, password=PASSWORD, timeout=10):
    return subprocess.run(["rconclt", "-t", "5", "%s@127.0.0.1:%d" % (password, port), *cmd],
                          capture_output=True, text=True, timeout=timeout)


def gamedig(port, *extra):
    p = subprocess.run(["node", str(GAMEDIG), "--type", "l4d2", "--host", "127.0.0.1", "--port", str(port), *extra],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


# ---- console, ports, signals ----

def test_startup_lines_cvars_addons(make_fake):
    f = make_fake(addons=["b.vpk", "a.vpk"], args=["-tickrate", "60", "+sv_lan", "1", "-nohltv", "-unknown"])
    f.wait_line("Server is hibernating")
    assert 'hostname = "Interop Host \u00e9"' in f.lines
    assert 'rcon_password = "(set)"' in f.lines  # read, but never echoed
    assert not any(PASSWORD in line for line in f.lines)
    assert 'sv_cheats = "0"' in f.lines
    assert 'sv_lan = "1"' in f.lines
    assert "Executing server.cfg" in f.lines
    mounts = [line for line in f.lines if line.startswith("Mounting addon:")]
    assert mounts == ["Mounting addon: left4dead2/addons/a.vpk", "Mounting addon: left4dead2/addons/b.vpk"]
    assert "Connection to Steam servers successful." in f.lines
    assert any("Network: IP 127.0.0.1," in line for line in f.lines)
    assert "Initializing map c2m2_fairgrounds (maxplayers 8, tickrate 60)" in f.lines
    assert f.stop() == 0
    assert f.lines[-1] == "Server shutting down (SIGTERM)"


def test_binds_loopback_only_by_default(make_fake):
    f = make_fake()
    f.wait_line("Server is hibernating")
    with open("/proc/net/tcp") as t:
        rows = [line.split() for line in t.read().splitlines()[1:]]
    mine = [r for r in rows if int(r[1].split(":")[1], 16) == f.port and r[3] == "0A"]  # LISTEN
    assert [r[1].split(":")[0] for r in mine] == ["0100007F"]


def test_port_taken_exits_1(make_fake):
    a = make_fake()
    a.wait_line("Server is hibernating")
    b = make_fake(port=a.port)
    assert b.proc.wait(timeout=10) == 1
    b.stop()
    assert any("is the port in use?" in line for line in b.lines)
    assert a.proc.poll() is None


def test_sigint_exits_0(make_fake):
    f = make_fake()
    f.wait_line("Server is hibernating")
    assert f.stop(signal.SIGINT) == 0
    assert f.lines[-1] == "Server shutting down (SIGINT)"


# ---- RCON with rconclt ----

def test_rconclt_commands(make_fake):
    f = make_fake(env={"FAKE_SRCDS_AUTH_EMPTY_RESPONSE": "0"})
    f.wait_line("Server is hibernating")
    p = rconclt(f.port, "echo", "hello", "world")
    assert (p.returncode, p.stdout) == (0, "hello world\n\n")
    p = rconclt(f.port, "status")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0] == "hostname: Interop Host \u00e9"
    assert "map     : c2m2_fairgrounds at ( 1621, 2786, 66 )" in lines
    assert "players : 3 humans, 2 bots (8 max) (not hibernating) (unreserved)" in lines
    assert '#  2 1 "Ellis "the" Mechanic" STEAM_1:0:12345 05:12 45 0 active 30000 127.0.0.1:27005' in lines
    assert '#  4 3 "Pending Player" STEAM_ID_PENDING 00:03 999 0 spawning 30000' in lines
    assert '#677 "Smoker" BOT active' in lines
    assert lines[-2:] == ["#end", ""] or lines[-1] == "#end"
    assert rconclt(f.port, "changelevel", "c3m1_plankcountry").returncode == 0
    assert rconclt(f.port, "status").stdout.count("c3m1_plankcountry at") == 1
    p = rconclt(f.port, "sv_cheats")
    assert p.stdout.strip() == '"sv_cheats" = "0"'
    p = rconclt(f.port, "nonsense_cmd")
    assert p.stdout.strip() == 'Unknown command "nonsense_cmd"'


def test_rconclt_wrong_password_then_ban(make_fake):
    f = make_fake(env={"FAKE_SRCDS_AUTH_EMPTY_RESPONSE": "0"}, args=["+sv_rcon_maxfailures", "3"])
    f.wait_line("Server is hibernating")
    for i in range(3):
        p = rconclt(f.port, "status", password="nope")
        assert p.returncode != 0
        assert "Wrong password" in p.stderr
    f.wait_line("Banning 127.0.0.1 for rcon hacking attempts")
    # Banned: even the right password gets a closed connection now.
    p = rconclt(f.port, "status")
    assert p.returncode != 0
    assert "Wrong password" not in p.stderr


def test_rconclt_misses_multi_packet_tail(make_fake):
    """The bug the issue names: a client that reads one packet per command
    gets only the first 4095 bytes of a long response."""
    f = make_fake(env={"FAKE_SRCDS_AUTH_EMPTY_RESPONSE": "0"})
    f.wait_line("Server is hibernating")
    p = rconclt(f.port, "fake_bytes", "10000")
    assert p.returncode == 0
    # Prints of 1000, 3000 and 7 bytes share the first packet (4007 bytes);
    # rconclt prints that one and a newline.
    assert len(p.stdout) == 4007 + 1


# ---- A2S with gamedig ----

@pytest.mark.parametrize("challenge", ["1", "0"])
def test_gamedig_info_and_players(make_fake, challenge):
    f = make_fake(env={"FAKE_SRCDS_A2S_CHALLENGE": challenge})
    f.wait_line("Server is hibernating")
    g = gamedig(f.port)
    assert g["name"] == "Interop Host \u00e9"
    assert g["map"] == "c2m2_fairgrounds"
    assert g["maxplayers"] == 8
    assert g["version"] == "2.2.2.6"
    assert g["raw"]["appId"] == 550
    assert g["raw"]["folder"] == "left4dead2"
    assert g["raw"]["numbots"] == 2
    names = [p["name"] for p in g["raw"]["players"]]
    assert names == ['Ellis "the" Mechanic', "Zo\u00eb \U0001F3AE #1", "Pending Player", "Smoker", "Coach"]
    assert sorted(b["name"] for b in g["bots"]) == ["Coach", "Smoker"]


@pytest.mark.parametrize("order", ["normal", "reverse", "duplicate"])
def test_gamedig_split_rules(make_fake, order):
    f = make_fake(env={"FAKE_SRCDS_A2S_SPLIT_ORDER": order})
    f.wait_line("Server is hibernating")
    g = gamedig(f.port, "--requestRules")
    rules = g["raw"]["rules"]
    assert rules["hostname"] == "Interop Host \u00e9"
    assert rules["sv_cheats"] == "0"
    assert "rcon_password" not in rules
    assert rules["fake_rule_119"] == "value number 119"
    assert len([k for k in rules if k.startswith("fake_rule_")]) == 120


# ---- RCON at the byte level (what no client library shows) ----

def rcon_packet(rid, ptype, body=b""):
    payload = body + b"\0\0"
    return struct.pack("<iii", 8 + len(payload), rid, ptype) + payload


class RawRcon:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def packet(self):
        """(id, type, payload after the type) or None at EOF."""
        while True:
            if len(self.buf) >= 4:
                (size,) = struct.unpack_from("<i", self.buf)
                if len(self.buf) >= 4 + size:
                    rid, ptype = struct.unpack_from("<ii", self.buf, 4)
                    payload = self.buf[12:4 + size]
                    self.buf = self.buf[4 + size:]
                    return rid, ptype, payload
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk


def test_fake_rcon_wire_behaviour(make_fake):
    f = make_fake()
    f.wait_line("Server is hibernating")
    c = RawRcon(f.port)
    # A command before auth: AUTH_RESPONSE with id -1, not run.
    c.send(rcon_packet(5, 2, b"echo early"))
    assert c.packet() == (-1, 2, b"\0\0")
    # Auth: the empty RESPONSE_VALUE first, then AUTH_RESPONSE with our id,
    # in one segment.
    c.send(rcon_packet(7, 3, PASSWORD.encode()))
    assert c.packet() == (7, 0, b"\0\0")
    assert c.packet() == (7, 2, b"\0\0")
    # A long response, then the mirror of our empty packet and its trailer.
    c.send(rcon_packet(8, 2, b"fake_bytes 20000") + rcon_packet(9, 0))
    bodies = []
    while True:
        rid, ptype, payload = c.packet()
        if rid == 9:
            break
        assert (rid, ptype) == (8, 0) and payload.endswith(b"\0\0")
        bodies.append(payload[:-2])
    assert payload == b"\0\0"  # the mirror: empty
    assert c.packet() == (9, 0, b"\0\1\0\0")  # the trailer
    sizes = [len(b) for b in bodies]
    assert max(sizes) <= 4095 and 4095 in sizes
    assert any(s < 4095 for s in sizes[:-1])  # a short packet that is not the last
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789\n"
    assert b"".join(bodies) == (alphabet * 600)[:20000]
    # A command longer than the console accepts: an empty answer, not run.
    c.send(rcon_packet(10, 2, b"echo " + b"x" * 600))
    assert c.packet() == (10, 0, b"\0\0")
    f.wait_line("overflows the tokenizer buffer")
    # A size field below 10 closes the connection.
    c.send(struct.pack("<iii", 9, 11, 2) + b"\0")
    assert c.packet() is None
    f.wait_line("RCON: bad packet size 9")
