"""left4me-generator on its own (no systemd needed): it runs as root and reads
what the service user wrote, so every value is checked before it becomes a
unit setting. The state and config dirs are moved into tmp_path with the
environment variables the generator accepts for tests."""
import os
import pathlib
import subprocess

import pytest

BUILD = pathlib.Path(os.environ.get("LEFT4ME_BUILD_DIR", "build-test"))
GENERATOR = BUILD / "src" / "helpers" / "left4me-generator"

pytestmark = pytest.mark.skipif(not GENERATOR.exists(), reason="left4me-generator is not built")


class Tree:
    def __init__(self, root: pathlib.Path):
        self.root = root
        self.state, self.config, self.journald, self.out = (root / d for d in ("state", "etc", "journald", "out"))
        for d in (self.state / "instances", self.state / "autostart", self.config, self.journald, self.out):
            d.mkdir(parents=True)

    def instance(self, name, text):
        d = self.state / "instances" / name
        d.mkdir()
        if text is not None:
            (d / "systemd.env").write_text(text)
        return d

    def run(self):
        env = {"LEFT4ME_STATE_DIR": str(self.state), "LEFT4ME_CONFIG_DIR": str(self.config),
               "LEFT4ME_JOURNALD_CONF_DIR": str(self.journald), "PATH": "/usr/bin:/bin"}
        p = subprocess.run([str(GENERATOR), str(self.out), str(self.out), str(self.out)], env=env,
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return p.stderr

    def dropin(self, name):
        f = self.out / ("left4me-server@%s.service.d" % name) / "50-left4me-instance.conf"
        return f.read_text() if f.exists() else None


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path)


def test_instance_gets_its_user_ports_limits_and_journal(tree):
    (tree.config / "host.env").write_text("LEFT4ME_SERVER_MEMORY_MAX=512M\nLEFT4ME_SERVER_TASKS_MAX=128\n"
                                          "LEFT4ME_SERVER_CPU_QUOTA=150\nLEFT4ME_SERVER_DISK_MAX=2G\n"
                                          "LEFT4ME_SERVER_LOG_MAX=32M\n")
    tree.instance("alpha", "# a comment\nPORT=27015\nPROJECT=800001\n")
    assert tree.run() == ""
    d = tree.dropin("alpha")
    for line in ("User=l4m-alpha", "SocketBindAllow=udp:27015-27016", "SocketBindAllow=tcp:27015",
                 "MemoryMax=%d" % (512 << 20), "TasksMax=128", "LimitNPROC=128", "CPUQuota=150%",
                 "Environment=LEFT4ME_DISK_MAX=%d LEFT4ME_PROJECT=800001" % (2 << 30),
                 "Wants=left4me-diskwatch@alpha.timer"):
        assert line in d.splitlines(), (line, d)
    assert "SystemMaxUse=%d" % (32 << 20) in (tree.journald / "journald@left4me-alpha.conf").read_text()
    assert "systemd-tmpfiles --create left4me-journal.conf" in (
        tree.out / "systemd-journald@left4me-alpha.service.d" / "50-left4me.conf").read_text()
    assert "StartLimitIntervalSec=0" in (
        tree.out / "systemd-journald-sync@left4me-alpha.service.d" / "50-left4me.conf").read_text()
    assert "Environment=LEFT4ME_DISK_MAX" in (
        tree.out / "left4me-diskwatch@alpha.service.d" / "50-left4me-instance.conf").read_text()


def test_defaults_without_host_env(tree):
    tree.instance("alpha", "PORT=27015\nPROJECT=0\n")
    tree.run()
    d = tree.dropin("alpha")
    # A few hundred MB, a few hundred tasks, one core: never infinity.
    for line in ("MemoryMax=%d" % (768 << 20), "TasksMax=256", "CPUQuota=100%"):
        assert line in d.splitlines(), (line, d)
    timer = (tree.out / "left4me-diskwatch@.timer.d" / "50-left4me.conf").read_text()
    # The empty assignment resets every trigger: it must come first.
    assert timer.index("OnActiveSec=\n") < timer.index("OnActiveSec=30s") < timer.index("OnUnitActiveSec=30s")


def test_refuses_what_it_cannot_trust(tree):
    tree.instance("outside", "PORT=40000\nPROJECT=0\n")     # outside the port range
    tree.instance("project", "PORT=27021\nPROJECT=5\n")     # outside the uid range
    tree.instance("extra", "PORT=27023\nUSER=root\n")        # a key it does not know
    tree.instance("twice", "PORT=27025\nPORT=27027\n")       # a key twice
    tree.instance("notnum", "PORT=27029x\n")
    d = tree.instance("link", None)
    (d / "systemd.env").symlink_to("/etc/passwd")
    d = tree.instance("fifo", None)
    os.mkfifo(d / "systemd.env")                            # must not block the boot
    tree.instance("Bad.Name", "PORT=27031\n")                 # not an instance name
    err = tree.run()
    for name in ("outside", "project", "extra", "twice", "notnum", "link", "fifo", "Bad.Name"):
        assert tree.dropin(name) is None, name
    assert "not a plain file" in err and "outside 27000-27999" in err


def test_shared_port_or_project_gives_neither_instance_settings(tree):
    tree.instance("a", "PORT=27015\nPROJECT=800001\n")
    tree.instance("b", "PORT=27016\nPROJECT=800002\n")       # overlaps a's SourceTV port
    tree.instance("c", "PORT=27031\nPROJECT=800003\n")
    tree.instance("d", "PORT=27041\nPROJECT=800003\n")       # c's project id
    tree.instance("e", "PORT=27051\nPROJECT=800005\n")
    err = tree.run()
    assert [n for n in "abcde" if tree.dropin(n)] == ["e"], err


def test_long_names_get_short_distinct_users(tree):
    a, b = "a" * 32, "a" * 31 + "b"
    tree.instance(a, "PORT=27015\nPROJECT=0\n")
    tree.instance(b, "PORT=27017\nPROJECT=0\n")
    tree.run()
    ua = [l for l in tree.dropin(a).splitlines() if l.startswith("User=")][0][5:]
    ub = [l for l in tree.dropin(b).splitlines() if l.startswith("User=")][0][5:]
    assert ua != ub and len(ua) <= 31 and len(ub) <= 31 and ua.startswith("l4m-aaaa"), (ua, ub)


def test_autostart_and_stale_journal_configs(tree):
    tree.instance("alpha", "PORT=27015\nPROJECT=0\n")
    (tree.state / "autostart" / "alpha").touch()
    (tree.journald / "journald@left4me-gone.conf").write_text("[Journal]\n")
    (tree.journald / "journald@other.conf").write_text("[Journal]\n")
    tree.run()
    assert (tree.out / "left4me-servers.target.wants" / "left4me-server@alpha.service").is_symlink()
    assert not (tree.journald / "journald@left4me-gone.conf").exists()
    assert (tree.journald / "journald@other.conf").exists()
    assert (tree.journald / "journald@left4me-alpha.conf").exists()
