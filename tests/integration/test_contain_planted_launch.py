"""A server cannot change what runs at its next start: the srcds_run (and
srcds_linux, bin/...) it writes into its tree land in its upper layer and
are removed before the next start, with a line in its log, on both
backends' launch paths."""
import json
import os
import subprocess

from conftest import L4D2CTL, OVERLAY_HELPER, mounts_below
from containutil import hostile, wait_for


def test_planted_srcds_run_never_runs(installed, tmp_path):
    ctl = installed
    ctl.initialize("evil", "", tmp_path)
    hostile(ctl, "evil", {"plant": True})
    ctl.ok("start", "evil")
    ctl.wait_state("evil", "running")
    log = ctl.wait_log("evil", "Server is hibernating")
    # The attack itself works: its tree is writable, the copies are in its
    # upper layer...
    assert "HOSTILE planted srcds_run" in log and "HOSTILE planted srcds_linux" in log
    assert "HOSTILE planted left4dead2/bin/server.so" in log
    # (bin/ itself belongs to the installation's owner: no way in there.)
    assert "HOSTILE cannot plant bin/evil.so: EACCES" in log
    upper = ctl.state / "runtime" / "evil" / "upper"
    assert (upper / "srcds_run").exists() and (upper / "left4dead2" / "bin" / "server.so").exists()
    ctl.ok("stop", "evil")
    # ... but the next start removes them before the overlay is mounted.
    # (The fake plants at every boot: stop it doing so this time, to see
    # what the merged tree shows afterwards.)
    (upper / "left4dead2" / "fake_srcds_hostile.json").unlink()
    ctl.ok("start", "evil")
    ctl.wait_state("evil", "running")
    log = ctl.wait_log("evil", "Server is hibernating")
    assert "left4me: removed a copy of 'srcds_run' from the upper layer" in log
    assert "left4me: removed a copy of 'srcds_linux' from the upper layer" in log
    assert "left4me: removed a folder 'left4dead2/bin' from the upper layer" in log
    assert "PLANTED-SRCDS-RUN-RAN" not in log
    assert not (ctl.state / "runtime" / "evil" / "merged" / "left4dead2" / "planted-ran").exists()
    # The installation's srcds_run is what the merged tree shows again.
    merged = ctl.state / "runtime" / "evil" / "merged"
    assert (merged / "srcds_run").read_text() == (ctl.state / "installations" / "100" / "srcds_run").read_text()


def test_a_restart_after_planting_is_refused_not_run(installed, tmp_path):
    # The supervisor restarts a crashed server under the same mount, where a
    # removed entry could still be served from the overlay's cache: it
    # removes the copies and refuses to restart; `l4d2ctl start` remounts.
    ctl = installed
    ctl.initialize("evil", "", tmp_path)
    hostile(ctl, "evil", {"plant": True})
    ctl.ok("start", "evil")
    pid = ctl.wait_state("evil", "running")["pid"]
    ctl.wait_log("evil", "HOSTILE planted srcds_run")
    os.kill(pid, 9)
    st = ctl.wait_state("evil", "crashed")
    assert st["detail"] == ("not restarted: the server planted launch files in its upper layer (removed); "
                            "start it again")
    log = ctl.log("evil")
    assert "PLANTED-SRCDS-RUN-RAN" not in log
    assert not (ctl.state / "runtime" / "evil" / "upper" / "srcds_run").exists()
    ctl.ok("start", "evil")
    ctl.wait_state("evil", "running")
    assert "PLANTED-SRCDS-RUN-RAN" not in ctl.wait_log("evil", "Server is hibernating")


def test_symlink_and_whiteout_shadows_are_removed_too(installed, tmp_path):
    ctl = installed
    ctl.initialize("evil", "", tmp_path)
    upper = ctl.state / "runtime" / "evil" / "upper"
    (upper / "left4dead2").mkdir(parents=True)
    os.symlink("/tmp/elsewhere", upper / "srcds_linux")
    os.mknod(upper / "srcds_run", 0o600 | 0o020000, os.makedev(0, 0))  # an overlayfs whiteout
    (upper / "left4dead2" / "bin").mkdir()
    (upper / "left4dead2" / "bin" / "server.so").write_text("planted")
    os.chmod(upper / "left4dead2" / "bin", 0)  # even a folder its owner cannot enter
    ctl.ok("start", "evil")
    ctl.wait_state("evil", "running")
    log = ctl.wait_log("evil", "Server is hibernating")
    assert "left4me: removed a whiteout 'srcds_run'" in log
    assert "left4me: removed a symlink 'srcds_linux'" in log
    assert "left4me: removed a folder 'left4dead2/bin'" in log
    assert not os.path.lexists(upper / "srcds_linux") and not (upper / "left4dead2" / "bin").exists()


def test_l4d2ctl_run_removes_and_fails_once(installed, tmp_path):
    # The systemd unit's ExecStart (`l4d2ctl run`) runs after its
    # ExecStartPre= mounted the overlay: it removes the copies and fails, so
    # that systemd restarts the unit with a fresh mount.
    ctl = installed
    ctl.initialize("unit", "", tmp_path)
    ctl.ok("start", "unit")  # writes launch.json and the overlay list
    ctl.wait_state("unit", "running")
    ctl.ok("stop", "unit")
    upper = ctl.state / "runtime" / "unit" / "upper"
    (upper / "srcds_run").write_text("#!/bin/sh\necho PLANTED-SRCDS-RUN-RAN\n")
    os.chmod(upper / "srcds_run", 0o755)
    env = dict(ctl.env, LEFT4ME_BACKEND="systemd")
    subprocess.run([str(OVERLAY_HELPER), "--state-dir", str(ctl.state), "mount", "unit"], check=True)
    try:
        p = subprocess.run([str(L4D2CTL), "run", "unit"], env=env, capture_output=True, text=True, timeout=30)
        assert p.returncode == 1
        assert "left4me: removed a copy of 'srcds_run' from the upper layer" in p.stdout
        assert "removed launch files the server had planted in its upper layer; restarting with a fresh mount" \
            in p.stderr
        assert "PLANTED-SRCDS-RUN-RAN" not in p.stdout
        assert not (upper / "srcds_run").exists()
    finally:
        subprocess.run([str(OVERLAY_HELPER), "--state-dir", str(ctl.state), "umount", "unit"], check=True)
    assert mounts_below(ctl.state) == []
