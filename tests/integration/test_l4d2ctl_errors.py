"""Bad input: one line naming the problem, a non-zero exit, nothing
half-created."""
import json
import os
import socket
import subprocess

import pytest

from conftest import L4D2CTL, OVERLAY_HELPER, mounts_below


def instances(ctl):
    d = ctl.state / "instances"
    return sorted(os.listdir(d)) if d.exists() else []


@pytest.mark.parametrize("name", ["a/b", "..", "a b", "x" * 33, "_under", "caf\u00e9", "", "a\nb"])
def test_invalid_names(ctl, tmp_path, name):
    spec = ctl.spec(tmp_path, "s", "")
    p = ctl.fail("initialize", name, "-f", str(spec))
    assert "is not a valid instance name" in p.stderr
    assert p.returncode == 1
    assert instances(ctl) == []
    for cmd in ("start", "stop", "status", "delete"):
        p = ctl.fail(cmd, name)


@pytest.mark.parametrize("spec,message", [
    ("port: 80\n", "s.yaml:1: 'port': 80 is outside the port range 28"),
    ("map: c1m1_hotel\nport: [1]\n", "s.yaml:2: 'port' must be a whole number"),
    ("hostname: x\nfoo: 1\n", "s.yaml:2: unknown key 'foo'"),
    ("map: 'unterminated\n", "s.yaml:2: malformed YAML"),
    ("overlays: [nope]\n", "overlay 'nope' does not exist"),
    ("cvars: [1, 2]\n", "s.yaml:1: 'cvars' must be a mapping"),
])
def test_bad_specs_change_nothing(ctl, tmp_path, spec, message):
    p = ctl.fail("initialize", "alpha", "-f", str(ctl.spec(tmp_path, "s", spec)))
    assert message in p.stderr, p.stderr
    assert instances(ctl) == []


def test_bad_update_keeps_the_old_spec(ctl, tmp_path):
    ctl.initialize("alpha", "hostname: first\n", tmp_path)
    before = (ctl.state / "instances" / "alpha" / "instance.json").read_text()
    ctl.fail("initialize", "alpha", "-f", str(ctl.spec(tmp_path, "s", "hostname: second\nmaxplayers: 99\n")))
    assert (ctl.state / "instances" / "alpha" / "instance.json").read_text() == before
    assert [f for f in os.listdir(ctl.state / "instances" / "alpha")] == ["instance.json"]


def test_reinitialize_updates_and_keeps_generated_password(ctl, tmp_path):
    ctl.initialize("alpha", "hostname: first\n", tmp_path)
    j1 = json.loads((ctl.state / "instances" / "alpha" / "instance.json").read_text())
    pw = j1["spec"]["rcon_password"]
    assert len(pw) == 24 and pw.isalnum()
    ctl.initialize("alpha", "hostname: second\n", tmp_path)
    j2 = json.loads((ctl.state / "instances" / "alpha" / "instance.json").read_text())
    assert j2["spec"]["hostname"] == "second"
    assert j2["spec"]["rcon_password"] == pw
    assert j2["spec"]["port"] == j1["spec"]["port"]
    # The file holds a secret.
    assert os.stat(ctl.state / "instances" / "alpha" / "instance.json").st_mode & 0o777 == 0o600


def test_ports_are_allocated_and_never_overlap(ctl, tmp_path):
    ctl.initialize("a", "", tmp_path)
    ctl.initialize("b", "", tmp_path)
    ctl.initialize("c", "port: %d\n" % (ctl.port_min + 5), tmp_path)
    ports = [ctl.status(n)["ports"]["game"] for n in ("a", "b", "c")]
    assert ports == [ctl.port_min, ctl.port_min + 2, ctl.port_min + 5]
    # port+1 (SourceTV) of 'b' is taken too.
    p = ctl.fail("initialize", "d", "-f", str(ctl.spec(tmp_path, "d", "port: %d\n" % (ctl.port_min + 3))))
    assert "error: instance 'd': port %d is already used by 'b'" % (ctl.port_min + 3) in p.stderr
    # The last port of the range cannot host its SourceTV port.
    p = ctl.fail("initialize", "d", "-f", str(ctl.spec(tmp_path, "d", "port: %d\n" % ctl.port_max)))
    assert "the SourceTV port %d must fit too" % (ctl.port_max + 1) in p.stderr
    assert instances(ctl) == ["a", "b", "c"]


def test_port_range_exhausted(ctl, tmp_path):
    (ctl.config / "host.env").write_text("LEFT4ME_PORT_RANGE_START=%d\nLEFT4ME_PORT_RANGE_END=%d\n"
                                         % (ctl.port_min, ctl.port_min + 3))
    ctl.initialize("a", "", tmp_path)
    ctl.initialize("b", "", tmp_path)
    p = ctl.fail("initialize", "c", "-f", str(ctl.spec(tmp_path, "c", "")))
    assert "no free port pair left in %d-%d" % (ctl.port_min, ctl.port_min + 3) in p.stderr


def test_start_needs_installation_and_overlays(ctl, tmp_path):
    ctl.overlay("maps", {"x": "y"})
    ctl.initialize("alpha", "overlays: [maps]\n", tmp_path)
    p = ctl.fail("start", "alpha")
    assert "instance 'alpha': no game installation in '%s/installations': run 'l4d2ctl install' first" % ctl.state \
        in p.stderr
    ctl.install()
    (ctl.state / "overlays" / "maps" / "x").unlink()
    (ctl.state / "overlays" / "maps").rmdir()
    p = ctl.fail("start", "alpha")
    assert "overlay 'maps' does not exist" in p.stderr
    assert mounts_below(ctl.state) == []


def test_start_refuses_a_named_port_another_program_holds(installed, tmp_path):
    # A port the spec names is refused; an allocated one moves
    # (test_l4d2ctl_ports.py).
    ctl = installed
    ctl.initialize("alpha", "port: %d\n" % ctl.port_min, tmp_path)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", ctl.port_min))
    try:
        p = ctl.fail("start", "alpha")
        assert "port %d is in use by another program" % ctl.port_min in p.stderr
    finally:
        s.close()
    assert ctl.status("alpha")["state"] == "stopped"
    assert mounts_below(ctl.state) == []


def test_unknown_instance(ctl):
    for cmd in ("start", "stop", "restart", "status", "logs"):
        p = ctl.fail(cmd, "ghost")
        assert "unknown instance 'ghost'" in p.stderr
    ctl.ok("delete", "ghost")


def test_usage_errors_exit_2(ctl):
    for args in (["frobnicate"], ["start"], ["initialize", "a"], ["logs", "a", "--lines", "x"], ["--bogus"]):
        p = ctl.run(*args)
        assert p.returncode == 2, args
        assert p.stderr.startswith("error: "), args


def test_concurrent_initialize_never_corrupts(ctl, tmp_path):
    # Many l4d2ctl processes race on one instance and on one port.
    specs = [ctl.spec(tmp_path, "s%d" % i, "hostname: writer%d\nport: %d\n" % (i, ctl.port_min + 10))
             for i in range(8)]
    procs = [subprocess.Popen([str(L4D2CTL), "initialize", "same", "-f", str(s)], env=ctl.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for s in specs]
    assert all(p.wait(60) == 0 for p in procs)
    j = json.loads((ctl.state / "instances" / "same" / "instance.json").read_text())
    assert j["spec"]["hostname"] in ["writer%d" % i for i in range(8)]
    # Eight different instances want the same port: exactly one gets it.
    procs = [subprocess.Popen([str(L4D2CTL), "initialize", "p%d" % i, "-f",
                               str(ctl.spec(tmp_path, "p%d" % i, "port: %d\n" % (ctl.port_min + 2)))],
                              env=ctl.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(8)]
    codes = [p.wait(60) for p in procs]
    assert codes.count(0) == 1
    assert len(instances(ctl)) == 2


def test_overlay_helper_refuses_escapes(installed, tmp_path):
    ctl = installed
    env = dict(ctl.env)

    def helper(*args):
        return subprocess.run([str(OVERLAY_HELPER), "--state-dir", str(ctl.state), *args], capture_output=True,
                              text=True, env=env)

    p = helper("mount", "../etc")
    assert p.returncode == 1 and "'../etc' is not a valid instance name" in p.stderr
    p = subprocess.run([str(OVERLAY_HELPER), "--state-dir", "relative", "mount", "a"], capture_output=True, text=True)
    assert p.returncode == 1 and "absolute path" in p.stderr

    # An overlay that is a symlink to a directory outside the state dir.
    outside = tmp_path / "outside"
    (outside / "left4dead2").mkdir(parents=True)
    ctl.overlay("good", {"f": "x"})
    ctl.initialize("alpha", "overlays: [good]\n", tmp_path)
    (ctl.state / "overlays" / "good" / "f").unlink()
    (ctl.state / "overlays" / "good").rmdir()
    os.symlink(outside, ctl.state / "overlays" / "good")
    p = ctl.fail("start", "alpha")
    assert "overlay 'good' does not exist" in p.stderr  # l4d2ctl refuses the symlink too
    # And the helper alone, given a hand-written overlay list naming it.
    rt = ctl.state / "runtime" / "alpha"
    lst = ctl.state / "instances" / "alpha" / "overlays"
    for d in ("upper", "work", "merged"):
        (rt / d).mkdir(parents=True, exist_ok=True)
    lst.write_text("good\n")
    p = helper("mount", "alpha")
    assert p.returncode == 1 and "escapes the state dir" in p.stderr
    lst.write_text("../../etc\n")
    p = helper("mount", "alpha")
    assert p.returncode == 1 and "invalid overlay name '../../etc'" in p.stderr
    # The mount point itself swapped for a symlink.
    lst.write_text("")
    (rt / "merged").rmdir()
    os.symlink(outside, rt / "merged")
    p = helper("mount", "alpha")
    assert p.returncode == 1 and "escapes the state dir" in p.stderr
    assert mounts_below(ctl.state) == [] and mounts_below(outside) == []


def test_server_cfg_staging_does_not_follow_symlinks_in_upper(installed, tmp_path):
    # The game server owns its upper layer; a symlink it plants there must
    # not redirect the (privileged) staging of server.cfg.
    ctl = installed
    ctl.initialize("alpha", "", tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    upper = ctl.state / "runtime" / "alpha" / "upper" / "left4dead2"
    upper.mkdir(parents=True)
    os.symlink(victim, upper / "cfg")
    p = ctl.fail("start", "alpha")
    assert "cannot prepare the upper layer" in p.stderr or "cannot open the upper layer" in p.stderr
    assert os.listdir(victim) == []


def test_logs_escape_control_characters_on_a_terminal(ctl, tmp_path):
    # The console is the (possibly compromised) server's output: on a
    # terminal, an escape sequence is shown, not obeyed; into a pipe, the
    # bytes pass unchanged.
    ctl.initialize("esc", "", tmp_path)
    rt = ctl.state / "runtime" / "esc"
    rt.mkdir(parents=True)
    (rt / "console.log").write_bytes(b"plain\tline\n\x1b]0;owned\x07title\n\x1b[2Jclear\n")
    piped = ctl.ok("logs", "esc").stdout
    assert "\x1b]0;owned\x07title" in piped
    cmd = "%s logs esc" % L4D2CTL
    tty = subprocess.run(["script", "-qec", cmd, "/dev/null"], env=ctl.env, capture_output=True, text=True,
                         timeout=30).stdout
    assert "\\x1b]0;owned\\x07title" in tty
    assert "\\x1b[2Jclear" in tty
    assert "plain\tline" in tty
    assert "\x1b" not in tty and "\x07" not in tty


def test_status_escapes_the_detail(ctl, tmp_path):
    # The detail can quote what the backend saw of the server; on a terminal
    # it is shown escaped, and the status stays one line.
    ctl.initialize("esc", "", tmp_path)
    rt = ctl.state / "runtime" / "esc"
    rt.mkdir(parents=True)
    # A crashed run keeps its state.json after the supervisor is gone.
    (rt / "state.json").write_text(json.dumps({"state": "crashed", "pid": 0, "restarts": 5,
                                               "detail": "gave up\x1b]0;owned\x07\nsecond line"}))
    assert ctl.status("esc")["detail"] == "gave up\x1b]0;owned\x07\nsecond line"
    tty = subprocess.run(["script", "-qec", "%s status esc" % L4D2CTL, "/dev/null"], env=ctl.env,
                         capture_output=True, text=True, timeout=30).stdout
    assert "esc: crashed" in tty and "(gave up\\x1b]0;owned\\x07\\x0asecond line)" in tty, tty
    assert "\x1b" not in tty and "\x07" not in tty and tty.count("\n") == 1
