"""An install cannot wedge: a stalled steamcmd is stopped, a killed one is
reported as such, a line that is not UTF-8 is kept in --json (and the final
done event comes), and when l4d2ctl itself is killed (the panel restarted
mid-install) its steamcmd dies with it and the re-run installs; a re-run
that finds an earlier install still holding the lock waits for it."""
import fcntl
import json
import os
import signal
import subprocess
import threading
import time

from conftest import L4D2CTL
from containutil import alive, host_env, procs_with, wait_for


def test_stalled_steamcmd_is_stopped_with_its_children(ctl, tmp_path):
    host_env(ctl, "LEFT4ME_INSTALL_STALL_TIMEOUT=2\n")
    marker = "left4me-test-stall-%d-%d" % (os.getpid(), ctl.port_min)
    p = ctl.fail("install", env={"FAKE_STEAMCMD_STALL": "1", "FAKE_STEAMCMD_CHILD": marker})
    assert "error: steamcmd made no progress for 2 s (windows pass; LEFT4ME_INSTALL_STALL_TIMEOUT); stopped it" \
        in p.stderr
    # Its whole process group went, the child it started included.
    assert procs_with(marker) == []


def test_killed_steamcmd_is_reported_as_a_signal_death(ctl, tmp_path):
    pidfile = tmp_path / "steamcmd.pid"
    proc = subprocess.Popen([str(L4D2CTL), "install"], env=dict(ctl.env, FAKE_STEAMCMD_SLOW="1",
                            FAKE_STEAMCMD_PIDFILE=str(pidfile)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), "steamcmd started")
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1
    assert err.strip() == "error: steamcmd was killed by signal KILL during the windows pass"


def test_a_line_that_is_not_utf8_is_escaped_and_done_comes(ctl):
    p = subprocess.run([str(L4D2CTL), "install", "--json"], env=dict(ctl.env, FAKE_STEAMCMD_BAD_UTF8="1"),
                       capture_output=True, timeout=60)
    assert p.returncode == 1
    events = [json.loads(l) for l in p.stdout.decode("utf-8").splitlines()]  # all of it valid UTF-8
    bad = "ERROR! Failed to write 'C:\\Spiele\\L\\xf6ffel\\xff.vpk' (Disk write failure)"
    assert {"event": "line", "line": bad} in events
    assert events[-1] == {"event": "done", "ok": False, "error": "steamcmd failed (windows pass): " + bad}


def test_kill_9_of_l4d2ctl_takes_steamcmd_along_and_the_rerun_installs(ctl, tmp_path):
    # The panel's job runs `l4d2ctl install`; kill -9 of the panel kills it.
    pidfile = tmp_path / "steamcmd.pid"
    marker = "left4me-test-orphan-install-%d-%d" % (os.getpid(), ctl.port_min)
    proc = subprocess.Popen([str(L4D2CTL), "install", "--json"],
                            env=dict(ctl.env, FAKE_STEAMCMD_SLOW="1", FAKE_STEAMCMD_PIDFILE=str(pidfile),
                                     FAKE_STEAMCMD_CHILD=marker),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), "steamcmd started")
    steamcmd = int(pidfile.read_text())
    proc.kill()
    proc.wait(10)
    # steamcmd went with it (PR_SET_PDEATHSIG); the child it started in
    # its group still holds the install lock.
    wait_for(lambda: not alive(steamcmd), "steamcmd died with l4d2ctl", timeout=10)
    assert len(procs_with(marker)) == 1
    # The re-queued job simply runs install again: it ends what is left of
    # the dead steamcmd's group, installs, and reports the real outcome,
    # not "'.install' is busy".
    pidfile.unlink()
    p = ctl.run("install", "--json", timeout=120)
    events = [json.loads(l) for l in p.stdout.splitlines()]
    lines = [e["line"] for e in events if e["event"] == "line"]
    assert lines[0].startswith("left4me: the earlier install's steamcmd is gone; ending what is left of its "
                               "process group %d" % steamcmd)
    assert events[-1] == {"event": "done", "ok": True}, p.stdout + p.stderr
    assert os.access(ctl.state / "installations" / "100" / "srcds_run", os.X_OK)
    assert procs_with(marker) == []


def test_rerun_waits_for_an_install_that_still_holds_the_lock(ctl, tmp_path):
    # What is left of an earlier install (a steamcmd that escaped its group)
    # keeps the lock: the new install says it waits, then installs.
    (ctl.state / "locks").mkdir(parents=True, exist_ok=True)
    fd = os.open(ctl.state / "locks" / ".install.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    threading.Timer(1.5, lambda: os.close(fd)).start()
    p = ctl.run("install", "--json", timeout=120)
    events = [json.loads(l) for l in p.stdout.splitlines()]
    lines = [e["line"] for e in events if e["event"] == "line"]
    assert lines[0] == ("left4me: another install (an earlier l4d2ctl install or its steamcmd) is still running; "
                        "waiting for it")
    assert "left4me: the earlier install has ended; checking the installation" in lines
    assert events[-1] == {"event": "done", "ok": True}
