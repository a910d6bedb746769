"""Nothing a server starts survives stop: a child it detached with setsid
(its own session, out of the server's process group) used to keep running,
holding the mount, so stop and delete failed with 'busy'."""
import os
import socket

from containutil import hostile, procs_with, restarted, wait_for
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
