"""kill -9 of a supervisor: its server dies with it (--die-with-parent), and
status says the supervisor died, not that the game server exited on its
own; stop and delete then work at once."""
import os
import signal
import socket

from containutil import alive, hostile, procs_with, wait_for
from conftest import mounts_below


def test_kill_9_of_the_supervisor_takes_the_server_along(installed, tmp_path):
    ctl = installed
    ctl.initialize("orphan", "", tmp_path)
    marker = "left4me-test-orphan-%d-%d" % (os.getpid(), ctl.port_min)
    hostile(ctl, "orphan", {"setsid": marker})
    ctl.ok("start", "orphan")
    pid = ctl.wait_state("orphan", "running")["pid"]
    wait_for(lambda: procs_with(marker), "the setsid child runs")
    sup = int((ctl.state / "runtime" / "orphan" / "supervisor.pid").read_text())
    os.kill(sup, signal.SIGKILL)  # e.g. the OOM killer, or an admin
    wait_for(lambda: not alive(pid), "the server died with its supervisor", timeout=10)
    wait_for(lambda: procs_with(marker) == [], "and everything it started", timeout=10)
    st = ctl.status("orphan")
    assert st["state"] == "crashed" and st["pid"] is None
    assert st["detail"] == "the supervisor died (killed from outside?) and its server with it; start it again"
    ctl.ok("stop", "orphan")
    st = ctl.status("orphan")
    assert st["state"] == "stopped" and st["mounted"] is False
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", st["ports"]["game"]))
    s.close()
    ctl.ok("start", "orphan")
    ctl.wait_state("orphan", "running")
    ctl.ok("delete", "orphan")
    assert mounts_below(ctl.state) == []
