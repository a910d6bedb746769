"""Game updates in the panel (issue 14), through the real l4d2ctl: the fleet
job finds, fetches and tries a new build and moves an empty server onto it;
the builds page shows the builds and the canary's verdict; the server's
page shows its build and each update, verdict and migration as an event;
pinning it rolls it back, with the warning about updated clients."""
import json
import re

import pytest

from test_web_html import tidy
from webutil import Panel, wait_for


def wait_job(p, job, timeout=60):
    wait_for(lambda: p.query("SELECT state FROM jobs WHERE id = ?", job)[0][0] in ("succeeded", "failed"), timeout,
             what="job %d" % job)
    assert p.query("SELECT state FROM jobs WHERE id = ?", job)[0][0] == "succeeded", \
        p.query("SELECT line FROM job_lines WHERE job_id = ?", job)


def last_job(p):
    return p.query("SELECT max(id) FROM jobs")[0][0]


@pytest.fixture
def fleet(tmp_path):
    build = tmp_path / "steam-build.json"  # what the fake steamcmd's Steam publishes
    build.write_text(json.dumps({"buildid": 100}))
    p = Panel(tmp_path / "p", env={"LEFT4ME_UPDATE_INTERVAL_MS": "1500", "LEFT4ME_UPDATE_MIGRATE_MS": "300",
                                   "FAKE_STEAMCMD_BUILD": str(build),
                                   "LEFT4ME_STEAM_API_URL": "http://127.0.0.1:9", "LEFT4ME_STEAM_API_TIMEOUT": "1"})
    with open(p.etc / "host.env", "a") as f:
        f.write("LEFT4ME_CANARY_ALIVE=1\nLEFT4ME_CANARY_A2S_TIMEOUT=20\nLEFT4ME_MIGRATE_EMPTY=1\n")
    p.start()
    yield p, build
    p.cleanup()


def test_the_fleet_job_updates_an_empty_server_and_pin_rolls_it_back(fleet):
    p, build = fleet
    c = p.login("admin", p.admin_password)
    c.get("/admin/install")
    r = c.post("/admin/install")
    wait_job(p, int(r.header("Location").rsplit("/", 1)[1]))
    b = c.create_blueprint("coop")
    s = c.create_server("Alpha", b)
    c.get("/servers/%d" % s)
    assert c.post("/servers/%d/start" % s).status == 303
    wait_job(p, last_job(p))
    inst = p.query("SELECT instance FROM servers WHERE id = ?", s)[0][0]
    wait_for(lambda: p.query("SELECT build FROM servers WHERE id = ?", s)[0][0] == "100", what="build 100 reported")
    page = c.get("/servers/%d" % s).text
    assert "Runs build <strong>100</strong>" in page and "it follows the newest build" in page

    # Nobody plays on it; Steam publishes build 101.
    merged = p.state / "runtime" / inst / "merged" / "left4dead2" / "fake_srcds_players.json"
    merged.write_text("[]")
    build.write_text(json.dumps({"buildid": 101, "patch_version": "2.2.3.1",
                                 "files": {"left4dead2/pak01_001.vpk": {"text": "new"}}}))
    wait_for(lambda: p.query("SELECT build FROM servers WHERE id = ?", s)[0][0] == "101", timeout=90,
             what="the server moved to build 101")
    # The watch sees the new build as soon as the server runs it; the
    # migration's own line comes when `update migrate` has reported.
    def events():
        return [m for (m,) in p.query("SELECT message FROM server_events WHERE server_id = ? ORDER BY id", s)]
    wait_for(lambda: "Restarted onto game build 101 (from 100): nobody was playing." in events(),
             what="the migration's event")
    assert "Game build 101 passed its trial run with this server's overlays." in events()

    page = c.get("/admin/builds").text
    tidy(page, "the builds page")
    assert re.search(r"<strong>101</strong>.*?passed", page, re.S) and "trusted: the first build" in page
    assert "an update is out" in page or "up to date" in page
    r = c.post("/admin/builds/check")
    assert r.header("Location") == "/admin/builds?notice=checking"
    assert "Checking Steam for a new game build now" in c.get(r.header("Location")).text
    page = c.get("/servers/%d" % s).text
    tidy(page, "the server page")
    assert "Runs build <strong>101</strong>" in page
    assert "Players whose game already updated may be refused" in page

    # Roll back: pinned to 100, it restarts onto it.
    assert c.post("/servers/%d/pin" % s, {"build": "100"}).status == 303
    wait_job(p, last_job(p))
    wait_for(lambda: p.query("SELECT build FROM servers WHERE id = ?", s)[0][0] == "100", what="rolled back")
    assert json.loads(p.ctl("status", inst, "--json").stdout)["build_pin"] == "100"
    assert "pinned to build <strong>100</strong>" in c.get("/servers/%d" % s).text
    assert c.post("/servers/%d/pin" % s, {"build": "../1"}).status == 422
    # The canaries were never one of the panel's servers.
    assert [n for (n,) in p.query("SELECT instance FROM servers")] == [inst]


def test_a_blueprint_carries_the_update_policy_into_the_spec(tmp_path):
    p = Panel(tmp_path / "p").start()
    try:
        c = p.login("admin", p.admin_password)
        c.get("/blueprints/new")
        r = c.post("/blueprints", {"name": "bad", "map": "c1m1_hotel", "maxplayers": "4", "tickrate": "30",
                                   "update_build": "latest", "on_canary_failure": "ignore",
                                   "update_deadline": "40d"})
        assert r.status == 422
        for msg in ("Game build: &#39;latest&#39; is not", "When a trial run fails: &#39;ignore&#39; is not",
                    "Update deadline: &#39;40d&#39; is not a duration"):
            assert msg in r.text, msg
        tidy(r.text, "the blueprint form with update errors")
        b = c.create_blueprint("pinned", update_build="100", on_canary_failure="degrade", update_deadline="6h")
        page = c.get("/blueprints/%d" % b).text
        assert 'name="update_build" type="text" value="100"' in page and '<option value="degrade" selected>' in page
        s = c.create_server("Alpha", b)
        c.get("/servers/%d" % s)
        # A start initializes the instance from the blueprint (then fails:
        # there is no game here; the spec is what this test is about).
        c.post("/servers/%d/start" % s)
        inst = p.query("SELECT instance FROM servers WHERE id = ?", s)[0][0]
        wait_for(lambda: (p.state / "instances" / inst / "instance.json").exists(), what="initialized")
        spec = json.loads((p.state / "instances" / inst / "instance.json").read_text())["spec"]
        assert (spec["build"], spec["on_canary_failure"], spec["update_deadline"]) == ("100", "degrade", 21600)
        # The server's own pin wins over its blueprint's. The failed start
        # left the server stopped (issue 13), so the pin waits for its next
        # start, which initializes it again.
        wait_for(lambda: p.query("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")[0][0] == 0,
                 what="the start job")
        assert p.query("SELECT desired FROM servers WHERE id = ?", s) == [("stopped",)]
        c.post("/servers/%d/pin" % s, {"build": "101"})
        assert p.query("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")[0][0] == 0
        c.post("/servers/%d/start" % s)
        wait_for(lambda: json.loads((p.state / "instances" / inst / "instance.json").read_text())["spec"]["build"]
                 == "101", what="the server's pin")
    finally:
        p.cleanup()
