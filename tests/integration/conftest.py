"""Fixtures for the l4d2ctl integration tests: the real binaries from the
build dir, a temporary state dir, the fake steamcmd, real overlayfs mounts.

Every test gets its own state and config dir and port range; at teardown every
instance it started is stopped and anything still mounted below its state dir
is unmounted, so one failing test cannot leak into the next.
"""
import json
import os
import pathlib
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("LEFT4ME_BUILD_DIR", ROOT / "build-test"))
L4D2CTL = BUILD / "src" / "ctl" / "l4d2ctl"
OVERLAY_HELPER = BUILD / "src" / "helpers" / "left4me-overlay"
FAKES = ROOT / "tests" / "fakes"
STEAMCMD = FAKES / "steamcmd"


def mounts_below(path):
    path = os.path.realpath(path)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mnt = line.split()[4].encode().decode("unicode_escape")
            if mnt == path or mnt.startswith(path + "/"):
                out.append(mnt)
    return out


class Ctl:
    """Runs l4d2ctl against one state dir."""

    def __init__(self, state, config, port_min, port_max):
        self.state = pathlib.Path(state)
        self.config = pathlib.Path(config)
        self.config.mkdir(parents=True, exist_ok=True)
        (self.config / "host.env").write_text(
            "# test host\nLEFT4ME_PORT_RANGE_START=%d\nLEFT4ME_PORT_RANGE_END=%d\n" % (port_min, port_max))
        self.port_min, self.port_max = port_min, port_max
        self.env = dict(os.environ)
        self.env.update({
            "LEFT4ME_STATE_DIR": str(self.state),
            "LEFT4ME_CONFIG_DIR": str(self.config),
            "LEFT4ME_STEAMCMD": str(STEAMCMD),
            "LEFT4ME_BACKEND": "supervisor",
            # The fake game is a few MiB: the 4 GiB a real fetch wants free
            # would fail every install on a small /tmp (a container's tmpfs).
            "LEFT4ME_UPDATE_FREE_MIN": "256M",
            "FAKE_STEAMCMD_LOG": str(self.state.parent / "steamcmd.log"),
        })
        self.env.pop("LEFT4ME_OVERLAY_HELPER", None)

    def run(self, *args, check=None, input=None, env=None, timeout=60):
        e = dict(self.env)
        if env:
            e.update(env)
        p = subprocess.run([str(L4D2CTL), *args], env=e, input=input, capture_output=True, text=True,
                           timeout=timeout)
        if check is True and p.returncode != 0:
            raise AssertionError("l4d2ctl %s failed (%d): %s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        if check is False and p.returncode == 0:
            raise AssertionError("l4d2ctl %s unexpectedly succeeded: %s" % (" ".join(args), p.stdout))
        return p

    def ok(self, *args, **kw):
        return self.run(*args, check=True, **kw)

    def fail(self, *args, **kw):
        p = self.run(*args, check=False, **kw)
        lines = p.stderr.strip().splitlines()
        # Bad input gets exactly one line, "error: ...".
        assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
        return p

    def status(self, name):
        return json.loads(self.ok("status", name, "--json").stdout)

    def wait_state(self, name, want, timeout=20):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.status(name)
            if st["state"] == want:
                return st
            time.sleep(0.1)
        raise AssertionError("instance %s never became %s: %s" % (name, want, st))

    def install(self, **env):
        return self.ok("install", env=env)

    def overlay(self, name, files):
        d = self.state / "overlays" / name
        for rel, text in files.items():
            p = d / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def spec(self, tmp, name, text):
        p = pathlib.Path(tmp) / ("%s.yaml" % name)
        p.write_text(text)
        return p

    def initialize(self, name, text, tmp):
        return self.ok("initialize", name, "-f", str(self.spec(tmp, name, text)))

    def log(self, name):
        return self.ok("logs", name, "--lines", "1000").stdout

    def wait_log(self, name, needle, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log(name)
            if needle in text:
                return text
            time.sleep(0.1)
        raise AssertionError("log of %s never showed %r:\n%s" % (name, needle, self.log(name)))

    def cleanup(self):
        p = self.run("list", "--json")
        if p.returncode == 0:
            for inst in json.loads(p.stdout)["instances"]:
                self.run("stop", inst["name"])
        for m in reversed(mounts_below(self.state)):
            subprocess.run(["umount", "-l", m], check=False)


_port_block = [28000]


@pytest.fixture(autouse=True)
def traversable_tmp(tmp_path):
    """l4d2ctl, running as root, runs game servers as an unprivileged user
    (nobody here), which must be able to reach its tree below the state dir:
    pytest makes its temporary dirs 0700, so open them for traversal (o+x,
    not reading) up to /tmp."""
    p = tmp_path
    while str(p).startswith("/tmp/") and p != p.parent:
        os.chmod(p, os.stat(p).st_mode | 0o011)
        p = p.parent


@pytest.fixture
def ctl(tmp_path):
    # A fresh block of ports per test: a server that is slow to release its
    # port cannot break the next test.
    # The blocks go round within 28000-32759, below the kernel's ephemeral
    # ports (32768 and up), which any program's outgoing connection may hold
    # (l4d2ctl refuses a port another program holds).
    lo = 28000 + (_port_block[0] - 28000) % 4760
    _port_block[0] += 20
    c = Ctl(tmp_path / "state", tmp_path / "etc", lo, lo + 19)
    c.state.mkdir()
    yield c
    c.cleanup()


@pytest.fixture
def installed(ctl):
    ctl.install()
    return ctl
