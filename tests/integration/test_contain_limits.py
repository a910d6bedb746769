"""Resource limits under the supervisor backend: memory, tasks and CPU per
server through cgroups (v1 on this hybrid host, v2 where the unified
hierarchy has the controllers), a disk limit for the upper layer, and a
status line saying what holds the server."""
import json
import os
import subprocess

from conftest import L4D2CTL, OVERLAY_HELPER
from containutil import host_env, hostile, skip_without_limits, wait_for


def cgroup_of(pid, controller):
    """The mount point and path of pid's cgroup for a v1 controller, or of its
    v2 group (controller None)."""
    for line in open("/proc/%d/cgroup" % pid):
        num, ctrls, path = line.rstrip("\n").split(":", 2)
        if (controller is None and num == "0") or (controller and controller in ctrls.split(",")):
            return path
    return None


def mount_of(controller):
    for line in open("/proc/self/mounts"):
        dev, mnt, fstype, opts = line.split()[:4]
        if controller is None and fstype == "cgroup2":
            return mnt
        if controller and fstype == "cgroup" and controller in opts.split(","):
            return mnt
    return None


def test_limits_are_applied_and_reported(installed, tmp_path):
    ctl = installed
    host_env(ctl, "LEFT4ME_SERVER_MEMORY_MAX=300M\nLEFT4ME_SERVER_TASKS_MAX=64\nLEFT4ME_SERVER_CPU_QUOTA=50\n")
    ctl.initialize("lim", "", tmp_path)
    hostile(ctl, "lim", {"hog_tasks": 100})
    ctl.ok("start", "lim")
    st = ctl.wait_state("lim", "running")
    pid = st["pid"]
    log = ctl.wait_log("lim", "Server is hibernating")
    skip_without_limits(st)
    v2 = mount_of(None)
    if v2 and "memory" in open(os.path.join(v2, "cgroup.controllers")).read().split():
        group = os.path.join(v2, cgroup_of(pid, None).lstrip("/"))
        assert open(os.path.join(group, "memory.max")).read().strip() == str(300 << 20)
        assert open(os.path.join(group, "pids.max")).read().strip() == "64"
        assert open(os.path.join(group, "cpu.max")).read().strip() == "50000 100000"
        assert "cgroup v2 limits: memory 300M, tasks 64, cpu 50%" in st["containment"]
    else:
        # This machine: the controllers are v1 hierarchies.
        mem = os.path.join(mount_of("memory"), cgroup_of(pid, "memory").lstrip("/"))
        pids = os.path.join(mount_of("pids"), cgroup_of(pid, "pids").lstrip("/"))
        cpu = os.path.join(mount_of("cpu"), cgroup_of(pid, "cpu").lstrip("/"))
        assert cgroup_of(pid, "memory").startswith("/left4me/lim-")
        assert open(os.path.join(mem, "memory.limit_in_bytes")).read().strip() == str(300 << 20)
        assert open(os.path.join(pids, "pids.max")).read().strip() == "64"
        assert open(os.path.join(cpu, "cpu.cfs_quota_us")).read().strip() == "50000"
        assert "cgroup v1 limits: memory 300M, tasks 64, cpu 50%" in st["containment"]
    # The task limit holds: the server could not start 100 processes.
    line = [l for l in log.splitlines() if l.startswith("HOG tasks:")][0]
    assert line.startswith("HOG tasks: fork failed after ") and int(line.split()[5].rstrip(":")) < 64, line
    assert st["containment"].startswith("sandbox: bwrap (own PID, mount, IPC, UTS, user namespaces); uid 8000")
    assert "left4me: " + st["containment"] in log
    ctl.ok("stop", "lim")
    assert "containment" not in ctl.status("lim")


def test_disk_watch_stops_a_server_that_fills_its_upper_layer(installed, tmp_path):
    # /tmp here has no project quotas: the supervisor's size watch does it.
    ctl = installed
    host_env(ctl, "LEFT4ME_SERVER_DISK_MAX=2M\nLEFT4ME_DISK_WATCH_INTERVAL=1\n")
    ctl.initialize("full", "", tmp_path)
    ctl.ok("start", "full")
    st = ctl.wait_state("full", "running")
    assert "disk: size watch every LEFT4ME_DISK_WATCH_INTERVAL, limit 2M" in st["containment"]
    # What the server writes into its tree lands in its upper layer.
    merged = ctl.state / "runtime" / "full" / "merged"
    with open(merged / "left4dead2" / "big.dat", "wb") as f:
        f.write(os.urandom(3 << 20))
    st = ctl.wait_state("full", "crashed", timeout=30)
    assert st["detail"].startswith("disk limit: the upper layer holds 3 MiB, over LEFT4ME_SERVER_DISK_MAX (2 MiB)")
    # A start is refused with the same reason until space is freed.
    p = ctl.fail("start", "full")
    assert "disk limit: the upper layer holds 3 MiB" in p.stderr
    os.unlink(ctl.state / "runtime" / "full" / "upper" / "left4dead2" / "big.dat")
    ctl.ok("start", "full")
    ctl.wait_state("full", "running")
    ctl.ok("stop", "full")


def test_overlay_helper_refuses_a_caller_that_is_not_root(ctl):
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(OVERLAY_HELPER),
                        "--state-dir", str(ctl.state), "mount", "x"], capture_output=True, text=True)
    assert p.returncode == 1
    assert p.stderr.startswith("error: left4me-overlay must be run by root (real uid 65534)")


def test_memory_hog_is_killed_by_the_oom_killer_and_it_is_no_crash(installed, tmp_path):
    ctl = installed
    host_env(ctl, "LEFT4ME_SERVER_MEMORY_MAX=160M\n")
    ctl.initialize("hog", "", tmp_path)
    hostile(ctl, "hog", {"hog_memory_mb": 400})
    ctl.ok("start", "hog")
    skip_without_limits(ctl.status("hog"))
    log = ctl.wait_log("hog", "killed by the OOM killer", timeout=60)
    assert "left4me: server exited (signal KILL: killed by the OOM killer: over LEFT4ME_SERVER_MEMORY_MAX " \
           "(160 MiB)); restarting in 500 ms" in log
    assert "HOG memory: 400 MiB held" not in log
    ctl.ok("stop", "hog")
