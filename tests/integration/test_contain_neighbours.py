"""One server can neither see, read, write nor signal another's processes
or files: from inside its box (the attack a compromised server makes), and
even as its uid outside the box (a sandbox escape), since each server has a
uid of its own. The victim keeps serving."""
import json
import os
import signal
import subprocess

from containutil import alive, hostile, uid_of


def as_uid(uid, *argv):
    return subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups", *argv],
                          capture_output=True, text=True, timeout=30)


def test_second_server_cannot_touch_the_first(installed, tmp_path):
    ctl = installed
    ctl.initialize("victim", "", tmp_path)
    ctl.initialize("evil", "", tmp_path)
    ctl.ok("start", "victim")
    victim_pid = ctl.wait_state("victim", "running")["pid"]
    vrt = ctl.state / "runtime" / "victim"
    cfg = vrt / "upper" / "left4dead2" / "cfg" / "server.cfg"
    hostile(ctl, "evil", {"attack": {
        "read": str(cfg),
        "list": str(vrt / "upper"),
        "write": str(vrt / "upper" / "left4dead2" / "addons" / "owned.vpk"),
        "kill": victim_pid,
    }})
    ctl.ok("start", "evil")
    evil_pid = ctl.wait_state("evil", "running")["pid"]
    log = ctl.wait_log("evil", "Server is hibernating")
    # Inside its box the other instance does not exist at all.
    assert "ATTACK read %s: ENOENT" % cfg in log
    assert "ATTACK list %s: ENOENT" % (vrt / "upper") in log
    assert "ATTACK write %s: ENOENT" % (vrt / "upper" / "left4dead2" / "addons" / "owned.vpk") in log
    assert "ATTACK kill %d: ESRCH" % victim_pid in log
    assert "ATTACK" in log and ": OK" not in log

    # Outside the box, as its uid (what an escape would give it): its own
    # uid, not the victim's, so the victim's runtime dir is closed to it
    # and its process cannot be signalled.
    evil_uid, victim_uid = uid_of(evil_pid), uid_of(victim_pid)
    assert evil_uid != victim_uid and 0 not in (evil_uid, victim_uid)
    p = as_uid(evil_uid, "cat", str(cfg))
    assert p.returncode != 0 and "Permission denied" in p.stderr
    p = as_uid(evil_uid, "ls", str(vrt / "upper"))
    assert p.returncode != 0 and "Permission denied" in p.stderr
    p = as_uid(evil_uid, "touch", str(vrt / "upper" / "owned"))
    assert p.returncode != 0 and "Permission denied" in p.stderr
    p = as_uid(evil_uid, "kill", "-STOP", str(victim_pid))
    assert p.returncode != 0 and "Operation not permitted" in p.stderr

    # The victim is untouched and still answers.
    assert not (vrt / "upper" / "owned").exists()
    assert not (vrt / "upper" / "left4dead2" / "addons" / "owned.vpk").exists()
    assert alive(victim_pid)
    assert "State:\tS" in open("/proc/%d/status" % victim_pid).read() or \
        "State:\tR" in open("/proc/%d/status" % victim_pid).read()
    q = ctl.ok("query", "victim", "--json")
    assert json.loads(q.stdout)["info"]["map"] == "c1m1_hotel"


def test_the_box_shows_only_its_own_tree_and_a_clean_environment(installed, tmp_path):
    ctl = installed
    ctl.initialize("peek", "", tmp_path)
    hostile(ctl, "peek", {"attack": {
        "read": "/etc/shadow",
        "list": str(ctl.state / "instances"),
        "write": "/usr/bin/owned",
    }})
    ctl.ok("start", "peek", env={"SECRET_OF_THE_CALLER": "do-not-leak"})
    pid = ctl.wait_state("peek", "running")["pid"]
    log = ctl.wait_log("peek", "Server is hibernating")
    assert "ATTACK read /etc/shadow: ENOENT" in log
    assert "ATTACK list %s: ENOENT" % (ctl.state / "instances") in log
    assert "ATTACK write /usr/bin/owned: EROFS" in log
    env = open("/proc/%d/environ" % pid, "rb").read().split(b"\0")
    names = sorted(e.split(b"=")[0].decode() for e in env if e)
    assert names == ["HOME", "LANG", "PATH", "PWD"], names
    # Its own PID namespace: it is not PID 1 of the host's, and sees few.
    status = open("/proc/%d/status" % pid).read()
    nspid = [l for l in status.splitlines() if l.startswith("NSpid:")][0].split()
    mine = [l for l in open("/proc/self/status").read().splitlines() if l.startswith("NSpid:")][0].split()
    # One PID namespace deeper than ours, where it has a small pid.
    assert len(nspid) == len(mine) + 1 and int(nspid[-1]) < 10
    ctl.ok("stop", "peek")
