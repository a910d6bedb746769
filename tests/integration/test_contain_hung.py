"""A hung server (SIGSTOP) is flagged 'unresponsive' after the configured
number of missed A2S probes, restarted by policy, and stop of a stopped
process is quick (SIGCONT with SIGTERM), not the 10 s kill timeout."""
import os
import signal

from containutil import host_env, restarted, wait_for


def test_sigstopped_server_is_flagged_within_3_probes_and_stops_gracefully(installed, tmp_path):
    ctl = installed
    host_env(ctl, "LEFT4ME_PROBE_INTERVAL=1\nLEFT4ME_PROBE_MISSES=3\nLEFT4ME_UNRESPONSIVE=report\n")
    ctl.initialize("hung", "", tmp_path)
    ctl.ok("start", "hung")
    pid = ctl.wait_state("hung", "running")["pid"]
    os.kill(pid, signal.SIGSTOP)
    st = ctl.wait_state("hung", "unresponsive")
    assert st["pid"] == pid and st["detail"] == "no answer to 3 A2S probes in a row"
    assert "left4me: the server is unresponsive: no answer to 3 A2S probes in a row" in ctl.log("hung")
    # The supervisor counted probes, not seconds: the first two misses did
    # not flag it.
    ctl.ok("stop", "hung")
    log = ctl.log("hung")
    # It got SIGCONT with the SIGTERM: it shut down on its own...
    assert "Server shutting down (SIGTERM)" in log
    # ... and was not killed after the stop timeout.
    assert "did not stop within" not in log
    assert ctl.status("hung")["state"] == "stopped"


def test_unresponsive_server_is_restarted_and_it_is_no_crash(installed, tmp_path):
    ctl = installed
    host_env(ctl, "LEFT4ME_PROBE_INTERVAL=1\nLEFT4ME_PROBE_MISSES=2\n")  # the default policy: restart
    ctl.initialize("hung", "", tmp_path)
    ctl.ok("start", "hung")
    pid = ctl.wait_state("hung", "running")["pid"]
    os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: restarted(ctl, "hung", pid), "restarted after missing its probes", timeout=30)
    log = ctl.log("hung")
    assert "left4me: the server is unresponsive: no answer to 2 A2S probes in a row; restarting it" in log
    assert "left4me: server exited (unresponsive, ended by left4me); restarting in 500 ms" in log
    assert ctl.status("hung")["restarts"] == 1
    ctl.ok("stop", "hung")


def test_only_crashes_count_toward_the_breaker(installed, tmp_path):
    # Five SIGKILLs from outside within a minute (an admin, the OOM killer)
    # are restarted every time; five crashes of its own stop it
    # (test_l4d2ctl_flow.py::test_crash_loop_breaker).
    ctl = installed
    ctl.initialize("killed", "", tmp_path)
    ctl.ok("start", "killed")
    for i in range(5):
        pid = ctl.wait_state("killed", "running")["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: restarted(ctl, "killed", pid), "restart %d" % (i + 1), timeout=30)
    st = ctl.status("killed")
    assert st["state"] == "running" and st["restarts"] == 5
    ctl.ok("stop", "killed")
