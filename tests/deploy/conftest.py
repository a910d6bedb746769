import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

# The unit templates' placeholders, as the Debian package fills them.
SUBST = {
    "@bindir@": "/usr/bin",
    "@sbindir@": "/usr/sbin",
    "@libexecdir@": "/usr/libexec/left4me",
    "@systemunitdir@": "/usr/lib/systemd/system",
}


def render_units(dest: pathlib.Path, with_dropins: bool = True, stub_bin: pathlib.Path | None = None) -> pathlib.Path:
    """Writes deploy/'s units (placeholders filled) into dest. With stub_bin,
    ExecStart paths point at stub executables there, so `systemd-analyze verify`
    can run on a host where left4me is not installed."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted(DEPLOY.iterdir()):
        if src.is_dir() and src.name.endswith(".d"):
            if with_dropins:
                shutil.copytree(src, dest / src.name, dirs_exist_ok=True)
            continue
        name = src.name[:-3] if src.name.endswith(".in") else src.name
        if not name.endswith((".service", ".target", ".slice", ".timer")):
            continue
        text = src.read_text()
        for k, v in SUBST.items():
            text = text.replace(k, v)
        if stub_bin is not None:
            stub_bin.mkdir(parents=True, exist_ok=True)
            for prog in ("l4d2ctl", "left4me", "left4me-overlay", "systemctl"):
                p = stub_bin / prog
                p.write_text("#!/bin/sh\nexit 0\n")
                p.chmod(0o755)
            for d in ("/usr/bin/", "/usr/sbin/", "/usr/libexec/left4me/"):
                text = text.replace(d, f"{stub_bin}/")
        (dest / name).write_text(text)
    # The build template, made as deploy/meson.build makes it.
    (dest / "left4me-build@.service").write_text(
        (DEPLOY / "left4me-build@.service.head").read_text() + (DEPLOY / "build-sandbox.conf").read_text())
    return dest


def systemd_version() -> int:
    out = subprocess.run(["systemd-analyze", "--version"], capture_output=True, text=True).stdout
    return int(out.split()[1]) if out else 0


def loopback_problem() -> str | None:
    """Why a container started from here would have no working loopback, or
    None. The end-to-end test boots a container with a private network, whose
    loopback its systemd must bring up: that takes CAP_NET_ADMIN, which a
    container (nspawn, docker) does not pass on by default. Without it the
    panel answers '000' and RCON 'Network is unreachable'; say why instead.
    Tried as the container would: a new network namespace, lo up, a TCP
    connection over it."""
    if os.geteuid() != 0:
        return None
    probe = ("import socket\n"
             "s = socket.create_server(('127.0.0.1', 0))\n"
             "socket.create_connection(s.getsockname(), timeout=5).close()\n")
    try:
        p = subprocess.run(["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec /usr/bin/python3 -c "$0"',
                            probe], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "no working loopback in a new network namespace: %s" % e
    if p.returncode == 0:
        return None
    err = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
    status = pathlib.Path("/proc/self/status").read_text()
    cap_eff = int(next(l.split()[1] for l in status.splitlines() if l.startswith("CapEff:")), 16)
    if not cap_eff & (1 << 12):  # CAP_NET_ADMIN
        return "no CAP_NET_ADMIN: running inside a container? (a nested container's loopback stays down: %s)" % err
    return "no working loopback in a new network namespace: %s" % err
# The Debian 13 container of the end-to-end modules (container.py), booted
# once for the session and shared by test_e2e*.py.
@pytest.fixture(scope="session")
def ct():
    import container
    problem = loopback_problem()
    if problem:
        pytest.skip(problem)
    yield from container.session_container()


@pytest.fixture(scope="session")
def game(ct):
    import container
    return container.install_game(ct)
