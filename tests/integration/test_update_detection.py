"""Detecting a new game build (issue 14): a build Steam published is
`available` at the first check; an empty, unparseable, stale or timed-out
answer is `unknown`, never `available` (100 runs); MasterRequestRestart in a
server's console, seen by `l4d2ctl watch`, is a signal of its own."""
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from buildutil import fetch, publish
from conftest import L4D2CTL
from containutil import wait_for
from workshoputil import steam  # noqa: F401 (fixture)


def check(ctl, *sources, env=None):
    args = ["update", "check", "--json"]
    for s in sources:
        args += ["--source", s]
    return json.loads(ctl.ok(*args, env=env).stdout)


def by_source(res):
    return {s["source"]: s for s in res["sources"]}


def test_a_published_build_is_available_at_the_first_check(ctl, steam, tmp_path):
    ctl.env.update({"LEFT4ME_STEAM_API_URL": steam.url, "LEFT4ME_STEAM_API_TIMEOUT": "2"})
    ctl.install()
    res = check(ctl)
    assert res["state"] == "current" and res["installed"] == {"build": "100", "patch_version": "2.2.2.6"}
    s = by_source(res)
    assert s["api"]["state"] == "current" and s["steamcmd"]["state"] == "current"
    assert s["console"]["state"] == "none"

    # Steam publishes build 101 (PatchVersion 2.2.3.1).
    patch = publish(ctl, tmp_path, 101, files={"left4dead2/pak01_001.vpk": {"size": 1000}})
    steam.required_version = patch
    res = check(ctl)
    assert res["state"] == "available"
    s = by_source(res)
    assert s["steamcmd"]["state"] == "available" and s["steamcmd"]["build"] == "101"
    assert s["api"]["state"] == "available" and s["api"]["required_version"] == patch.replace(".", "")
    assert steam.check_requests == 2

    fetch(ctl)
    res = check(ctl)
    assert res["state"] == "current" and res["installed"]["build"] == "101"


def test_a_cached_appinfo_cannot_hide_an_update(ctl, tmp_path):
    ctl.install()
    # A check made while 100 was the newest left Steam's answer cached...
    check(ctl, "steamcmd")
    cache = ctl.state / "steam-check" / "Steam" / "appcache" / "appinfo.vdf"
    assert cache.read_text().strip() == "100"
    # ...and Steam publishes 101: the cache goes before every check.
    publish(ctl, tmp_path, 101)
    s = by_source(check(ctl, "steamcmd"))["steamcmd"]
    assert s["state"] == "available" and s["build"] == "101"


def test_empty_stale_unparseable_or_late_answers_are_unknown_never_available(ctl, steam, tmp_path):
    ctl.env.update({"LEFT4ME_STEAM_API_URL": steam.url, "LEFT4ME_STEAM_API_TIMEOUT": "1"})
    ctl.install()
    steam.check_delay = 3
    faults = {  # source: (environment, fake API mode), 100 runs in all
        "steamcmd-empty": ("steamcmd", {"FAKE_STEAMCMD_APPINFO": "empty"}, None),
        "steamcmd-noinfo": ("steamcmd", {"FAKE_STEAMCMD_APPINFO": "noinfo"}, None),
        "steamcmd-stale": ("steamcmd", {"FAKE_STEAMCMD_APPINFO": "stale"}, None),
        "steamcmd-timeout": ("steamcmd", {"FAKE_STEAMCMD_APPINFO": "hang", "LEFT4ME_UPDATE_CHECK_TIMEOUT": "0.5"}, None),
        "api-timeout": ("api", {}, "timeout"),
        "api-empty": ("api", {}, "empty"),
        "api-garbage": ("api", {}, "garbage"),
        "api-http500": ("api", {}, "http500"),
        "api-nosuccess": ("api", {}, "nosuccess"),
    }
    runs = {name: 12 for name in faults}
    runs["api-timeout"] = 4  # 100 in all
    assert sum(runs.values()) == 100

    def one(name):
        source, env, mode = faults[name]
        p = subprocess.run([str(L4D2CTL), "update", "check", "--json", "--source", source],
                           env=dict(ctl.env, **env), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return name, json.loads(p.stdout)

    results = []
    for mode in (None, "timeout", "empty", "garbage", "http500", "nosuccess"):
        steam.check_mode = mode
        names = [n for n in faults if faults[n][2] == mode for _ in range(runs[n])]
        with ThreadPoolExecutor(8) as pool:
            results += list(pool.map(one, names))
    assert len(results) == 100
    for name, res in results:
        assert res["state"] == "unknown", (name, res)
        assert [s["state"] for s in res["sources"]] == ["unknown"], (name, res)
    details = {name: res["sources"][0]["detail"] for name, res in results}
    assert "printed no app info for 222860" in details["steamcmd-empty"]
    assert "No app info" in details["steamcmd-noinfo"]
    assert "older than the installed 100: a stale answer" in details["steamcmd-stale"]
    assert "did not finish within 0.5 s" in details["steamcmd-timeout"]
    assert "did not answer within 1 s" in details["api-timeout"]
    assert "HTTP 500" in details["api-http500"]


def test_watch_reports_master_request_restart_and_check_counts_it(ctl, tmp_path):
    ctl.install()
    ctl.initialize("alpha", "port: %d\n" % (ctl.port_min + 2), tmp_path)
    ctl.ok("start", "alpha")
    ctl.wait_state("alpha", "running")
    watch = subprocess.Popen([str(L4D2CTL), "watch", "--json", "--interval", "0.3"], env=ctl.env,
                             stdout=subprocess.PIPE, text=True)
    try:
        events = []
        while not any(e["event"] == "synced" for e in events):
            events.append(json.loads(watch.stdout.readline()))
        # Sightings and builds are dated to the second, and a sighting in
        # the second its build was made is taken as older: let one pass.
        time.sleep(1.1)
        ctl.ok("rcon", "alpha", "fake_master_request_restart")
        deadline = time.monotonic() + 20
        update = None
        while update is None and time.monotonic() < deadline:
            e = json.loads(watch.stdout.readline())
            if e["event"] == "update":
                update = e
    finally:
        watch.terminate()
        watch.wait(10)
    assert update and update["name"] == "alpha" and update["signal"] == "MasterRequestRestart"
    s = by_source(check(ctl, "console"))["console"]
    assert s["state"] == "available" and s["instance"] == "alpha"
    # A build fetched after the request answers it.
    publish(ctl, tmp_path, 101)
    time.sleep(1.1)
    fetch(ctl)
    wait_for(lambda: by_source(check(ctl, "console"))["console"]["state"] == "none", "the signal is answered")
