"""The main flow of issue 2 end to end, against real overlayfs mounts:
install (fake steamcmd) -> initialize -> start -> running -> logs -> the
server read its server.cfg and an overlay's file through the merged mount ->
stop -> delete."""
import json
import os
import pathlib
import signal
import subprocess
import time

from conftest import L4D2CTL, mounts_below
from containutil import procs_with, wait_for


def test_install_runs_windows_pass_then_linux_validate(ctl):
    p = ctl.ok("install")
    calls = (ctl.state.parent / "steamcmd.log").read_text().splitlines()
    assert len(calls) == 2
    assert "+@sSteamCmdForcePlatformType windows +app_update 222860 +quit" in calls[0]
    assert "+@sSteamCmdForcePlatformType linux +app_update 222860 validate +quit" in calls[1]
    # Into a staging tree beside the builds (build 100, the fake's), then
    # published as installations/100.
    assert "+force_install_dir %s/install-store/staging/fetch-" % ctl.state in calls[0]
    assert "progress: 18.34% downloading (windows pass)" in p.stdout
    assert os.access(ctl.state / "installations" / "100" / "srcds_run", os.X_OK)
    # steamcmd got its own HOME below the state dir.
    assert "Redirecting stderr to '%s/steam/Steam/logs" % ctl.state in p.stdout


def test_update_that_hits_invalid_platform_falls_back(ctl):
    # An installation without steamcmd's manifest (copied by hand): a plain
    # linux update fails with "Invalid platform" and exit code 0. (Builds
    # are never changed once published; this one is, to be that copy.)
    ctl.install()
    (ctl.state / "installations" / "100" / "steamapps" / "appmanifest_222860.acf").unlink()
    open(ctl.state.parent / "steamcmd.log", "w").close()
    p = ctl.ok("install")
    assert "ERROR! Failed to install app '222860' (Invalid platform)" in p.stdout
    calls = (ctl.state.parent / "steamcmd.log").read_text().splitlines()
    assert [("windows" in c, "validate" in c) for c in calls] == [(False, False), (True, False), (False, True)]


def test_install_json_progress_events(ctl):
    p = ctl.ok("install", "--json")
    events = [json.loads(line) for line in p.stdout.splitlines()]
    progress = [e for e in events if e["event"] == "progress"]
    assert progress[0]["phase"] == "windows" and progress[-1]["phase"] == "linux"
    assert progress[-1]["percent"] == 100.0 and progress[-1]["total"] == 2048000
    assert any(e["event"] == "line" and "Success! App '222860'" in e["line"] for e in events)
    assert events[-1] == {"event": "done", "ok": True}


def test_install_judges_by_result_not_exit_code(ctl):
    # steamcmd exits 0 but installed nothing.
    p = ctl.fail("install", env={"FAKE_STEAMCMD_FAIL": "silent"})
    assert "never reported \"Success! App '222860' fully installed\"" in p.stderr
    p = ctl.fail("install", env={"FAKE_STEAMCMD_FAIL": "network"})
    assert "error: steamcmd failed (windows pass): Error! App '222860' state is 0x202 after update job." in p.stderr
    p = ctl.fail("install", env={"LEFT4ME_STEAMCMD": "/nonexistent/steamcmd"})
    assert "steamcmd '/nonexistent/steamcmd' not found" in p.stderr


def test_full_flow(installed, tmp_path):
    ctl = installed
    ctl.overlay("maps", {"left4dead2/addons/mymap.vpk": "VPK", "left4dead2/motd.txt": "maps motd"})
    ctl.overlay("base", {"left4dead2/motd.txt": "base motd", "left4dead2/base.txt": "base only"})
    port = ctl.port_min + 2
    ctl.initialize("alpha", """
port: %d
map: c2m1_highway
maxplayers: 4
hostname: "Flow Test"
overlays: [maps, base]
cvars:
  sv_gametypes: coop
server_cfg: |
  // extra line
  sv_allow_lobby_connect_only 0
""" % port, tmp_path)

    st = ctl.status("alpha")
    assert st["state"] == "stopped" and st["mounted"] is False and st["pid"] is None
    assert st["ports"] == {"game": port, "sourcetv": port + 1}
    assert st["overlays"] == ["maps", "base"]

    ctl.ok("start", "alpha")
    st = ctl.wait_state("alpha", "running")
    assert st["mounted"] is True and st["pid"] > 0 and st["uptime"] >= 0 and st["backend"] == "supervisor"

    merged = ctl.state / "runtime" / "alpha" / "merged"
    assert str(merged) in mounts_below(ctl.state)
    # Overlay order: the first overlay wins, lower ones still show through.
    assert (merged / "left4dead2" / "motd.txt").read_text() == "maps motd"
    assert (merged / "left4dead2" / "base.txt").read_text() == "base only"
    assert (merged / "left4dead2" / "gameinfo.txt").exists()

    log = ctl.wait_log("alpha", "Server is hibernating")
    # The server read the staged server.cfg and the overlay's addon through
    # the merged tree.
    assert "Mounting addon: left4dead2/addons/mymap.vpk" in log
    assert 'hostname = "Flow Test"' in log
    assert 'sv_gametypes = "coop"' in log
    assert "Initializing map c2m1_highway (maxplayers 4" in log
    cfg = (ctl.state / "runtime" / "alpha" / "upper" / "left4dead2" / "cfg" / "server.cfg").read_text()
    assert "sv_allow_lobby_connect_only 0\n" in cfg and 'rcon_password "' in cfg

    # Writes in the merged tree land in the instance's upper layer only.
    (merged / "left4dead2" / "written.txt").write_text("x")
    assert (ctl.state / "runtime" / "alpha" / "upper" / "left4dead2" / "written.txt").exists()
    assert not (ctl.state / "installations" / "100" / "left4dead2" / "written.txt").exists()

    # The game port is really bound by the server.
    out = subprocess.run(["ss", "-lnu"], capture_output=True, text=True).stdout
    assert ":%d " % port in out

    ctl.ok("stop", "alpha")
    st = ctl.status("alpha")
    assert st["state"] == "stopped" and st["mounted"] is False
    assert mounts_below(ctl.state) == []
    assert "left4me: server stopped" in ctl.log("alpha")

    ctl.ok("delete", "alpha")
    assert not (ctl.state / "instances" / "alpha").exists()
    assert not (ctl.state / "runtime" / "alpha").exists()
    p = ctl.fail("status", "alpha")
    assert "unknown instance 'alpha'" in p.stderr
    ctl.ok("delete", "alpha")  # again: a no-op


def test_start_twice_and_stop_twice_are_no_ops(installed, tmp_path):
    ctl = installed
    ctl.initialize("a", "", tmp_path)
    ctl.ok("start", "a")
    pid = ctl.wait_state("a", "running")["pid"]
    ctl.ok("start", "a")
    assert ctl.status("a")["pid"] == pid
    ctl.ok("stop", "a")
    ctl.ok("stop", "a")
    assert ctl.status("a")["state"] == "stopped"


def test_delete_running_instance(installed, tmp_path):
    ctl = installed
    ctl.initialize("gone", "", tmp_path)
    ctl.ok("start", "gone")
    pid = ctl.wait_state("gone", "running")["pid"]
    ctl.ok("delete", "gone")
    assert mounts_below(ctl.state) == []
    assert not (ctl.state / "runtime" / "gone").exists()
    time.sleep(0.2)
    assert not os.path.exists("/proc/%d" % pid) or "zombie" in open("/proc/%d/status" % pid).read().lower() \
        or open("/proc/%d/status" % pid).read().find("State:\tZ") >= 0


def test_crashed_server_is_restarted(installed, tmp_path):
    ctl = installed
    ctl.initialize("crashy", "", tmp_path)
    ctl.ok("start", "crashy")
    pid = ctl.wait_state("crashy", "running")["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        st = ctl.status("crashy")
        if st["state"] == "running" and st["pid"] != pid:
            break
        time.sleep(0.1)
    assert st["state"] == "running" and st["pid"] != pid and st["restarts"] == 1
    assert "left4me: server exited (signal KILL); restarting in 500 ms" in ctl.log("crashy")


def test_a_server_gone_before_its_supervisor_says_so_is_not_running(installed, tmp_path):
    """The window between a server's death and its supervisor's next word,
    held open by stopping the supervisor: status must not say "running"
    (without a pid, as it once did), but that a start is coming."""
    ctl = installed
    ctl.initialize("window", "", tmp_path)
    ctl.ok("start", "window")
    pid = ctl.wait_state("window", "running")["pid"]
    sup = int((ctl.state / "runtime" / "window" / "supervisor.pid").read_text())
    os.kill(sup, signal.SIGSTOP)
    try:
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists("/proc/%d" % pid), "the killed server was not reaped"
        st = ctl.status("window")
        assert (st["state"], st["pid"]) == ("starting", None)
    finally:
        os.kill(sup, signal.SIGCONT)
    st = ctl.wait_state("window", "running")
    assert st["pid"] != pid and st["restarts"] == 1
    ctl.ok("stop", "window")


def test_crash_loop_breaker(installed, tmp_path):
    ctl = installed
    # The server's environment is not ours (it runs in a clean one): the
    # fake's knobs come through server.cfg.
    ctl.initialize("loop", "cvars:\n  fake_srcds_exit_after: 0\n  fake_srcds_exit_code: 3\n", tmp_path)
    ctl.ok("start", "loop")
    st = ctl.wait_state("loop", "crashed", timeout=30)
    assert st["detail"] == "crash loop: 5 exits within 60 s, last with exit status 3"
    assert st["restarts"] == 4 and st["pid"] is None
    assert "not restarting" in ctl.log("loop")
    # stop clears the crashed state and unmounts.
    assert st["mounted"] is True
    ctl.ok("stop", "loop")
    st = ctl.status("loop")
    assert st["state"] == "stopped" and st["mounted"] is False


def test_logs_follow_streams_new_lines(installed, tmp_path):
    ctl = installed
    ctl.initialize("follow", "", tmp_path)
    ctl.ok("start", "follow")
    pid = ctl.wait_state("follow", "running")["pid"]
    ctl.wait_log("follow", "Server is hibernating")
    f = subprocess.Popen([str(L4D2CTL), "logs", "follow", "--lines", "0", "--follow"],
                         env=ctl.env, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        os.kill(pid, signal.SIGKILL)  # the supervisor notes it and restarts
        got = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = f.stdout.readline()
            got.append(line)
            if "Server is hibernating" in line:
                break
        text = "".join(got)
        assert "left4me: server exited (signal KILL)" in text
        assert "Server is hibernating" in text
    finally:
        f.terminate()
        f.wait(5)
    # --lines N --no-follow prints exactly the last N lines.
    out = ctl.ok("logs", "follow", "--lines", "3", "--no-follow").stdout
    assert len(out.splitlines()) == 3 and out.splitlines() == ctl.log("follow").splitlines()[-3:]


def test_restart_survives_a_daemonized_child_holding_the_console(installed, tmp_path):
    # An overlay's srcds_run (overlays sit above the installation) leaves a
    # process in its own session that keeps the console pipe open. The
    # supervisor must still notice the server's death and restart it, and
    # the daemon goes with the server's box.
    ctl = installed
    marker = "left4me-daemon-%d-%d" % (os.getpid(), ctl.port_min)
    ctl.overlay("daemon", {"srcds_run": "#!/bin/sh\n"
                           "setsid /usr/bin/python3 -c 'import time; time.sleep(300)' %s &\n"
                           'exec /usr/bin/python3 "$(dirname "$0")/bin/fake_srcds.py" "$@"\n' % marker})
    os.chmod(ctl.state / "overlays" / "daemon" / "srcds_run", 0o755)
    ctl.initialize("d", "overlays: [daemon]\n", tmp_path)
    ctl.ok("start", "d")
    pid = ctl.wait_state("d", "running")["pid"]
    first = wait_for(lambda: procs_with(marker), "the daemon runs")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        st = ctl.status("d")
        if st["state"] == "running" and st["pid"] not in (None, pid):
            break
        time.sleep(0.1)
    assert st["state"] == "running" and st["restarts"] == 1, st
    second = wait_for(lambda: procs_with(marker), "the new run's daemon runs")
    assert set(first).isdisjoint(second)
    ctl.ok("stop", "d")
    assert ctl.status("d")["mounted"] is False
    assert procs_with(marker) == []


def test_server_gets_sourcetv_port_and_no_srcds_restarts(installed, tmp_path):
    ctl = installed
    ctl.initialize("tv", "port: %d\n" % (ctl.port_min + 4), tmp_path)
    ctl.ok("start", "tv")
    ctl.wait_state("tv", "running")
    launch = json.loads((ctl.state / "instances" / "tv" / "launch.json").read_text())
    argv = launch["argv"]
    assert argv[argv.index("+tv_port") + 1] == str(ctl.port_min + 5)
    assert "-norestart" in argv
    assert launch["cwd"] == str(ctl.state / "runtime" / "tv" / "merged")


def test_root_runs_each_server_as_its_own_unprivileged_uid(installed, tmp_path):
    # l4d2ctl runs as root here; the internet-facing server must not, and
    # two servers never share a uid.
    ctl = installed
    ctl.initialize("unpriv", "", tmp_path)
    ctl.initialize("other", "", tmp_path)
    uids = [json.loads((ctl.state / "instances" / n / "instance.json").read_text())["uid"] for n in ("unpriv", "other")]
    assert uids == [800000, 800001]  # the default LEFT4ME_SERVER_UID_RANGE, fixed at initialize
    ctl.ok("start", "unpriv")
    pid = ctl.wait_state("unpriv", "running")["pid"]
    status = open("/proc/%d/status" % pid).read()
    uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0].split()
    assert uid_line[1:] == [str(uids[0])] * 4  # real, effective, saved, fs
    assert [l for l in status.splitlines() if l.startswith("Groups:")][0].split() == ["Groups:"]
    assert [l for l in status.splitlines() if l.startswith("NoNewPrivs:")][0].split()[1] == "1"
    assert [l for l in status.splitlines() if l.startswith("CapEff:")][0].split()[1] == "0" * 16
    # The supervisor keeps no privilege either: it became the same uid.
    sup = int((ctl.state / "runtime" / "unpriv" / "supervisor.pid").read_text())
    sup_status = open("/proc/%d/status" % sup).read()
    assert [l for l in sup_status.splitlines() if l.startswith("Uid:")][0].split()[1:] == [str(uids[0])] * 4
    assert [l for l in sup_status.splitlines() if l.startswith("CapEff:")][0].split()[1] == "0" * 16
    rt = ctl.state / "runtime" / "unpriv"
    assert os.stat(rt).st_uid == uids[0] and os.stat(rt).st_mode & 0o777 == 0o700
    upper = rt / "upper"
    assert os.stat(upper).st_uid == uids[0]
    cfg = upper / "left4dead2" / "cfg" / "server.cfg"
    assert os.stat(cfg).st_uid == uids[0] and os.stat(cfg).st_mode & 0o777 == 0o640
    # It cannot read the spec (with its password) or write the installation.
    assert os.stat(ctl.state / "instances" / "unpriv").st_mode & 0o007 == 0
    # Restarting keeps the uid.
    ctl.ok("restart", "unpriv")
    pid = ctl.wait_state("unpriv", "running")["pid"]
    assert open("/proc/%d/status" % pid).read().count("\t%d\t" % uids[0]) >= 1
    ctl.ok("stop", "unpriv")
    # LEFT4ME_SERVER_USER names one user for every server instead; an
    # unknown one is one clear error.
    p = ctl.fail("start", "unpriv", env={"LEFT4ME_SERVER_USER": "no-such-user"})
    assert "LEFT4ME_SERVER_USER='no-such-user': no such user" in p.stderr
