"""Ports another program holds: automatically allocated ports skip every port
anything on the host holds (TCP and UDP, game and SourceTV), a start that
finds its allocated port taken moves to a free pair and says so, and a port
the spec names stays an error that says who holds it."""
import json
import os
import subprocess
import sys

import pytest

from conftest import mounts_below

HOLDER = r"""
import socket, sys, time
socks = []
for spec in sys.argv[1:]:
    kind, port = spec.split(":")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(port)))
    if kind == "tcp":
        s.listen()
    socks.append(s)
print("ready", flush=True)
time.sleep(600)
"""


class Holder:
    """A foreign program (not left4me's) that holds ports."""

    def __init__(self, *specs):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, *specs], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def holders():
    started = []
    yield lambda *specs: started.append(Holder(*specs)) or started[-1]
    for h in started:
        h.stop()


def stored(ctl, name):
    return json.loads((ctl.state / "instances" / name / "instance.json").read_text())


def test_held_ports_are_skipped_and_a_taken_port_moves(installed, tmp_path, holders):
    ctl = installed
    lo = ctl.port_min
    # TCP on lo, UDP on lo+2 and lo+4: lo..lo+4 cannot be a game port,
    # either for the game (TCP or UDP) or for SourceTV (port+1, UDP).
    holders("tcp:%d" % lo, "udp:%d" % (lo + 2), "udp:%d" % (lo + 4))
    ctl.initialize("a", "", tmp_path)
    assert ctl.status("a")["ports"] == {"game": lo + 5, "sourcetv": lo + 6}
    assert stored(ctl, "a")["port_auto"] is True
    ctl.ok("start", "a")
    ctl.wait_state("a", "running")
    # While 'a' runs, its own server holds its ports: initialize (the
    # panel runs it before every start) keeps them.
    ctl.initialize("a", "hostname: again\n", tmp_path)
    assert ctl.status("a")["ports"]["game"] == lo + 5

    # Another program takes b's port between initialize and start: start
    # moves b to the next free pair and says so, naming the program.
    ctl.initialize("b", "", tmp_path)
    assert ctl.status("b")["ports"]["game"] == lo + 7
    h = holders("udp:%d" % (lo + 7))
    p = ctl.ok("start", "b", "--json")
    st = json.loads(p.stdout)
    assert st["ports"] == {"game": lo + 8, "sourcetv": lo + 9}
    assert "port %d was in use by another program ('python3', pid %d), so it moved from port %d to %d" \
        % (lo + 7, h.proc.pid, lo + 7, lo + 8) in st["note"], st
    ctl.wait_state("b", "running")
    assert stored(ctl, "b")["spec"]["port"] == lo + 8
    launch = json.loads((ctl.state / "instances" / "b" / "launch.json").read_text())["argv"]
    assert launch[launch.index("-port") + 1] == str(lo + 8)
    # Without --json the note is one line before the status.
    ctl.ok("stop", "b")
    holders("udp:%d" % (lo + 9))  # b's SourceTV port now
    p = ctl.ok("start", "b")
    assert p.stdout.startswith("note: instance 'b': SourceTV port %d was in use by another program" % (lo + 9))
    assert ctl.status("b")["ports"]["game"] == lo + 10


def test_a_named_port_that_is_held_stays_an_error_naming_the_holder(installed, tmp_path, holders):
    ctl = installed
    port = ctl.port_min + 4
    ctl.initialize("c", "port: %d\n" % port, tmp_path)
    assert stored(ctl, "c")["port_auto"] is False
    h = holders("tcp:%d" % port)
    p = ctl.fail("start", "c")
    assert "error: instance 'c': port %d is in use by another program ('python3', pid %d); stop that program, " \
        "or name another port in the spec" % (port, h.proc.pid) in p.stderr, p.stderr
    assert ctl.status("c")["ports"]["game"] == port
    assert ctl.status("c")["state"] == "stopped"
    assert mounts_below(ctl.state) == []


def test_no_free_pair_left_says_why(ctl, tmp_path, holders):
    (ctl.config / "host.env").write_text("LEFT4ME_PORT_RANGE_START=%d\nLEFT4ME_PORT_RANGE_END=%d\n"
                                         % (ctl.port_min, ctl.port_min + 3))
    holders("udp:%d" % (ctl.port_min + 1), "tcp:%d" % (ctl.port_min + 2))
    p = ctl.fail("initialize", "d", "-f", str(ctl.spec(tmp_path, "d", "")))
    assert "no free port pair left in %d-%d (the other instances and programs on this host hold them all)" \
        % (ctl.port_min, ctl.port_min + 3) in p.stderr
    assert not os.path.exists(ctl.state / "instances" / "d")
