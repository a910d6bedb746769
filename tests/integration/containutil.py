"""Helpers for the containment tests (tests/integration/test_contain_*.py)."""
import json
import os
import time


def hostile(ctl, name, modes):
    """Puts fake_srcds_hostile.json into the instance's upper layer, where the
    fake game server finds it at its next start (the sandbox gives it no
    environment of ours)."""
    d = ctl.state / "runtime" / name / "upper" / "left4dead2"
    d.mkdir(parents=True, exist_ok=True)
    (d / "fake_srcds_hostile.json").write_text(json.dumps(modes))
    os.chmod(d / "fake_srcds_hostile.json", 0o644)


def procs_with(marker):
    """Pids of every process on the host whose command line contains marker."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if marker.encode() in argv:
            found.append(int(p))
    return found


def wait_for(cond, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("never happened: %s" % what)


def alive(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return "State:\tZ" not in f.read()
    except OSError:
        return False


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def host_env(ctl, text):
    """Appends settings to the test's host.env."""
    with open(ctl.config / "host.env", "a") as f:
        f.write(text)


def restarted(ctl, name, old_pid):
    """The instance runs again, with another pid than old_pid (one status
    read, so state and pid belong together)."""
    st = ctl.status(name)
    return st if st["state"] == "running" and st["pid"] not in (None, old_pid) else None


NO_LIMITS = "no resource limits: this host has no cgroup memory, pids and cpu controllers l4d2ctl can use"


def skip_without_limits(st):
    """Where the host has no cgroup controllers l4d2ctl can use (a container
    without delegated ones, like scripts/fresh-check's nspawn), the server
    runs without limits and its status says so: the enforcement a test is
    about cannot happen here."""
    import pytest
    if NO_LIMITS in (st.get("containment") or ""):
        pytest.skip("no cgroup controllers here: %s" % st["containment"])
