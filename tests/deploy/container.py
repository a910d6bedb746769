"""The Debian 13 container of the deployment suite's end-to-end tests: a
debootstrapped tree booted with systemd-nspawn (see
../shared/reference/systemd-testing.md for why each flag), the Debian package
built inside that tree and installed in it. One container for the whole
session (conftest.py's `ct` and `game` fixtures), shared by every test_e2e*
module.

Root only. The tree (with build dependencies) is cached under
/var/cache/left4me-e2e (tests/deploy/make-root); each run copies it, so runs
never see each other's state, even when several run at once (LEFT4ME_E2E_KEEP=1
keeps the run's tree in /var/tmp/left4me-e2e-PID for debugging). Timings go to
RESULTS/e2e-timings.json.
"""
import json
import os
import pathlib
import shutil
import subprocess
import time

from conftest import REPO

HERE = pathlib.Path(__file__).resolve().parent
CACHE = pathlib.Path(os.environ.get("LEFT4ME_E2E_CACHE", "/var/cache/left4me-e2e"))
# Several `make test` runs may share this machine (one per engineer): every
# run has its own tree, machine name and cgroup.
RUN_ID = "left4me-e2e-%d" % os.getpid()
WORK = pathlib.Path(os.environ.get("LEFT4ME_E2E_WORK", "/var/tmp/" + RUN_ID))
MACHINE = RUN_ID
CG = RUN_ID
UNITDIR = "/usr/lib/systemd/system"
RESULTS = pathlib.Path(os.environ.get("LEFT4ME_RESULTS_DIR", "/tmp"))
TIMES = {}

def timed(key, t0):
    TIMES[key] = round(time.monotonic() - t0, 2)


def sh(cmd, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s -> %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout[-2000:], p.stderr[-3000:]))
    return p


def ensure_tools():
    need = [p for p, b in (("debootstrap", "debootstrap"), ("systemd-container", "systemd-nspawn"))
            if not shutil.which(b) and not os.path.exists("/usr/sbin/" + b)]
    if need:
        sh(["apt-get", "update", "-qq"])
        sh(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *need],
           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def copy_source(dest):
    """The working tree as it is (what `make test` tests), limited to what the
    package build reads; files that vanish while copying (other work in the
    tree) are skipped."""
    top = ["meson.build", "meson_options.txt", "src", "deploy", "debian", "man", "tests", "static",
           "examples", "package.json", "package-lock.json", "node_modules/htmx.org"]

    def ignore(d, names):
        rel = os.path.relpath(d, REPO)
        return {n for n in names if n == "__pycache__" or
                (rel == "debian" and n in {"build", "left4me", ".debhelper", "files"})}

    dest.mkdir(parents=True)
    for t in top:
        src = REPO / t
        try:
            if src.is_dir():
                shutil.copytree(src, dest / t, ignore=ignore, symlinks=True)
            elif src.is_file():
                shutil.copy2(src, dest / t)
        except shutil.Error as e:
            real = [x for x in e.args[0] if "No such file" not in str(x[2])]
            if real:
                raise


def cgroup_hierarchies():
    """Where the container's cgroup goes: the name=systemd and unified
    hierarchies on these hybrid hosts; the root on a pure cgroup v2 host."""
    hybrid = [h for h in ("systemd", "unified") if os.path.isdir("/sys/fs/cgroup/" + h)]
    return hybrid or ["."]


class Container:
    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.nspawn = None
        self.init = None

    def boot(self, share):
        for h in cgroup_hierarchies():
            os.makedirs("/sys/fs/cgroup/%s/%s" % (h, CG), exist_ok=True)
        env = dict(os.environ, SYSTEMD_SECCOMP="0", SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
        log = open(str(self.root) + ".boot.log", "w")

        def own_cgroup():
            # Our own cgroup on both hierarchies of this hybrid host, so
            # nspawn's cgroups do not land in the root cgroup.
            for h in cgroup_hierarchies():
                with open("/sys/fs/cgroup/%s/%s/cgroup.procs" % (h, CG), "w") as f:
                    f.write(str(os.getpid()))
            os.setsid()

        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "--register=no", "--keep-unit", "-M", MACHINE, "-D", str(self.root),
             "--private-network", "--bind-ro=%s:/mnt/share" % share, "--console=pipe", "-b"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=own_cgroup)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.init:
            p = sh(["pgrep", "-P", str(self.nspawn.pid), "-x", "systemd"], check=False)
            self.init = p.stdout.split()[0] if p.stdout.split() else None
            time.sleep(0.05)
        assert self.init, "the container's systemd never started: " + pathlib.Path(str(self.root) + ".boot.log").read_text()[-2000:]
        state = ""
        while time.monotonic() < deadline:
            state = self.run("systemctl", "is-system-running", "--wait", check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.1)
        return state

    def run(self, *cmd, check=True, input=None, timeout=120, env=None):
        e = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"]
        for k, v in (env or {}).items():
            e.append("%s=%s" % (k, v))
        p = subprocess.run(["nsenter", "-t", self.init, "-a", *e, *cmd], capture_output=True, text=True,
                           input=input, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("in container: %s -> %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
        return p

    def sh(self, script, **kw):
        return self.run("/bin/sh", "-c", script, **kw)

    def as_left4me(self, *cmd, **kw):
        return self.run("setpriv", "--reuid=left4me", "--regid=left4me", "--init-groups", "--", *cmd, **kw)

    def ctl(self, *args, check=True, **kw):
        """l4d2ctl as the service user, the way the panel runs it."""
        return self.as_left4me("/usr/bin/l4d2ctl", *args, check=check, **kw)

    def status(self, name):
        return json.loads(self.ctl("status", name, "--json").stdout)

    def show(self, unit, prop):
        return self.run("systemctl", "show", "-P", prop, unit).stdout.strip()

    def poweroff(self):
        if self.nspawn is None:
            return
        if self.init:
            self.run("systemctl", "poweroff", check=False, timeout=30)
        try:
            self.nspawn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with open("/sys/fs/cgroup/%s/%s/cgroup.kill" % (cgroup_hierarchies()[-1], CG), "w") as f:
                f.write("1")
            self.nspawn.wait(timeout=30)
        for h in cgroup_hierarchies():
            for d in sorted(pathlib.Path("/sys/fs/cgroup/%s/%s" % (h, CG)).glob("**/"), key=lambda p: -len(p.parts)):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


def _nspawn_roots():
    """The -D directories of the systemd-nspawn processes running now."""
    roots = []
    for p in pathlib.Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = p.read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"systemd-nspawn") and b"-D" in argv:
            i = argv.index(b"-D")
            if i + 1 < len(argv):
                roots.append(argv[i + 1].decode(errors="replace"))
    return roots


def stable_main_pid(ct, name):
    """The server unit's main PID once it is the init itself: right after a
    start, systemd 257 may briefly report PrivatePIDs' intermediate process."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid = ct.show("left4me-server@%s.service" % name, "MainPID")
        comm = ct.run("cat", "/proc/%s/comm" % pid, check=False).stdout.strip()
        if pid != "0" and comm == "l4d2ctl" and ct.run("pgrep", "-P", pid, check=False).stdout.strip():
            return int(pid)
        time.sleep(0.1)
    raise AssertionError("%s never got a stable main process" % name)


def properties(dropin, instance=None):
    """The [Service] lines of a drop-in, for `systemd-run -p`."""
    out = []
    for line in pathlib.Path(dropin).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        if instance:
            line = line.replace("%i", instance)
        out += ["-p", line]
    return out


def session_container():
    ensure_tools()
    t0 = time.monotonic()
    p = sh([str(HERE / "make-root"), str(CACHE)])
    root_cache = p.stdout.strip().splitlines()[-1]
    timed("root_tree_%s" % ("built" if "debootstrap" in p.stderr else "cached"), t0)

    t0 = time.monotonic()
    # Trees of earlier runs that died without cleaning up (their pid is gone).
    for old in [*pathlib.Path("/var/tmp").glob("left4me-e2e-*"), pathlib.Path("/var/tmp/left4me-e2e")]:
        if old.name == "left4me-e2e":  # the shared dir of earlier versions of this test
            if old.exists() and not any(p.endswith("/left4me-e2e/root") for p in _nspawn_roots()):
                subprocess.run(["rm", "-rf", "--one-file-system", str(old)], check=False)
            continue
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not os.path.exists("/proc/" + pid):
            subprocess.run(["rm", "-rf", "--one-file-system", str(old)], check=False)
    run_root = WORK / "root"
    if WORK.exists():
        sh(["rm", "-rf", "--one-file-system", str(WORK)])
    WORK.mkdir(parents=True)
    sh(["cp", "-a", "--reflink=auto", root_cache, str(run_root)])
    timed("copy_tree", t0)

    # Build the package inside the Debian 13 tree, so it links Debian 13's
    # libraries, exactly as a package for that release would.
    t0 = time.monotonic()
    copy_source(run_root / "build" / "left4me")
    mounts = []
    try:
        for m in ("proc", "dev", "sys"):
            target = run_root / m
            sh(["mount", "--rbind", "/" + m, str(target)])
            sh(["mount", "--make-rslave", str(target)])
            mounts.append(target)
        p = sh(["chroot", str(run_root), "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
                "DEB_BUILD_OPTIONS=nocheck parallel=2", "LANG=C.UTF-8",
                "sh", "-c", "cd /build/left4me && dpkg-buildpackage -us -uc -b"], check=False)
        (WORK / "dpkg-buildpackage.log").write_text(p.stdout + p.stderr)
        assert p.returncode == 0, "dpkg-buildpackage in the Debian 13 tree failed:\n" + (p.stdout + p.stderr)[-3000:]
    finally:
        for m in reversed(mounts):
            subprocess.run(["umount", "-R", str(m)], check=False)
    debs = sorted((run_root / "build").glob("left4me_*_amd64.deb"))
    assert debs, "no package was built"
    timed("package_build", t0)

    share = WORK / "share"
    share.mkdir()
    for f in ("probe.py", "build-script.sh", "panel_flow.py"):
        shutil.copy(HERE / "e2e" / f, share / f)
    shutil.copy(REPO / "tests" / "integration" / "webutil.py", share / "webutil.py")
    fakes = share / "fakes"
    fakes.mkdir()
    for f in ("steamcmd", "fake_srcds.py", "hostile_srcds.py"):
        shutil.copy(REPO / "tests" / "fakes" / f, fakes / f)

    c = Container(run_root)
    try:
        t0 = time.monotonic()
        state = c.boot(share)
        timed("boot", t0)
        assert state in ("running", "degraded"), "boot ended in state %r" % state
        TIMES["systemd"] = c.run("systemctl", "--version").stdout.split()[1]
        t0 = time.monotonic()
        c.run("dpkg", "-i", "/build/" + debs[-1].name)
        timed("package_install", t0)
        yield c
    finally:
        t0 = time.monotonic()
        c.poweroff()
        timed("poweroff", t0)
        # The run's tree is ~1 GB: gone unless asked to keep it for debugging.
        if not os.environ.get("LEFT4ME_E2E_KEEP"):
            subprocess.run(["rm", "-rf", "--one-file-system", str(WORK)], check=False)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "e2e-timings.json").write_text(json.dumps(TIMES, indent=1, sort_keys=True) + "\n")
        print("e2e timings:", json.dumps(TIMES, sort_keys=True))


def install_game(ct):
    """The fake game installed as the service user, an overlay, and three
    instances: alpha and beta (servers) and probe (the attacker)."""
    t0 = time.monotonic()
    if ct.run("test", "-x", "/usr/sbin/left4me", check=False).returncode == 0:
        # The panel creates its database on first start: let it, before the
        # checks below look for it.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and ct.run("test", "-s", "/var/lib/left4me/left4me.db",
                                                     check=False).returncode != 0:
            time.sleep(0.1)
    ct.sh("install -d -o left4me -g left4me /var/lib/left4me/overlays/maps/left4dead2 /var/lib/left4me/overlays/other"
          " && echo marker > /var/lib/left4me/overlays/maps/left4dead2/overlay-marker.txt"
          " && chown -R left4me:left4me /var/lib/left4me/overlays"
          # The database a game server must never see: the panel's own, or a
          # stand-in when the panel is not built.
          " && { test -e /var/lib/left4me/left4me.db || { echo SECRET-DB > /var/lib/left4me/left4me.db"
          " && chown left4me:left4me /var/lib/left4me/left4me.db && chmod 0600 /var/lib/left4me/left4me.db; }; }")
    p = ct.ctl("install", env={"LEFT4ME_STEAMCMD": "/mnt/share/fakes/steamcmd"}, timeout=120)
    for name, port in (("alpha", 27015), ("beta", 27017), ("probe", 27019)):
        ct.ctl("initialize", name, "-f", "-", input="port: %d\nmap: c1m1_hotel\noverlays: [maps]\n" % port)
    timed("game_install_and_initialize", t0)
    return p
