"""Nothing a server starts survives stop: a child it detached with setsid
(its own session, out of the server's process group) used to keep running,
holding the mount, so stop and delete failed with 'busy'."""
import os
import socket

from containutil import hostile, procs_with, restarted, skip_without_limits, wait_for
from conftest import mounts_below


def test_setsid_child_dies_with_the_server(installed, tmp_path):
    ctl = installed
    ctl.initialize("evil", "", tmp_path)
    marker = "left4me-test-setsid-%d-%d" % (os.getpid(), ctl.port_min)
    hostile(ctl, "evil", {"setsid": marker})
    ctl.ok("start", "evil")
    ctl.wait_state("evil", "running")
    ctl.wait_log("evil", "HOSTILE started a setsid child")
    child = wait_for(lambda: procs_with(marker), "the setsid child runs")
    assert len(child) == 1
    ctl.ok("stop", "evil")
    assert procs_with(marker) == []
    st = ctl.status("evil")
    assert st["state"] == "stopped" and st["mounted"] is False
    assert mounts_below(ctl.state) == []
    # Its port is free again: nothing of it answers there.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", st["ports"]["game"]))
    s.close()
    ctl.ok("delete", "evil")


def test_setsid_child_dies_when_the_server_crashes(installed, tmp_path):
    # A crash ends the box too: the restarted server starts from nothing.
    ctl = installed
    ctl.initialize("evil", "", tmp_path)
    marker = "left4me-test-setsid2-%d-%d" % (os.getpid(), ctl.port_min)
    hostile(ctl, "evil", {"setsid": marker})
    ctl.ok("start", "evil")
    pid = ctl.wait_state("evil", "running")["pid"]
    first = wait_for(lambda: procs_with(marker), "the setsid child runs")
    os.kill(pid, 9)
    wait_for(lambda: restarted(ctl, "evil", pid), "restarted")
    second = wait_for(lambda: procs_with(marker), "the new run's child runs")
    assert set(first).isdisjoint(second) and len(second) == 1
    ctl.ok("delete", "evil")
    assert procs_with(marker) == []


def test_stop_ends_whatever_is_left_in_the_servers_cgroup(installed, tmp_path):
    # Something of the server that is not in its box's PID namespace (bwrap's
    # init orphaned before it could ask to die with its parent) is still in
    # the instance's cgroup: stop kills what is left there.
    import subprocess
    ctl = installed
    ctl.initialize("leak", "", tmp_path)
    ctl.ok("start", "leak")
    st = ctl.wait_state("leak", "running")
    pid = st["pid"]
    skip_without_limits(st)  # no cgroup of its own to leave anything in
    marker = "left4me-test-cgroup-%d-%d" % (os.getpid(), ctl.port_min)
    escapee = subprocess.Popen(["/usr/bin/python3", "-c", "import time; time.sleep(600)", marker],
                               start_new_session=True)
    try:
        for line in open("/proc/%d/cgroup" % pid):
            num, ctrls, path = line.rstrip("\n").split(":", 2)
            if "pids" in ctrls.split(",") or num == "0" and path.startswith("/left4me/"):
                for mnt in open("/proc/self/mounts"):
                    f = mnt.split()
                    if (f[2] == "cgroup" and "pids" in f[3].split(",")) or (f[2] == "cgroup2" and num == "0"):
                        with open(os.path.join(f[1], path.lstrip("/"), "cgroup.procs"), "w") as cg:
                            cg.write(str(escapee.pid))
                        break
                break
        ctl.ok("stop", "leak")
        assert escapee.wait(10) == -9
    finally:
        escapee.kill()
