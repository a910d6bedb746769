"""Migration and rollback (issue 14): once a build passed its canary, empty
servers move onto it; servers with players stay until they are empty (no
restart while anyone plays), or until their update_deadline; a stopped
server starts on it; `l4d2ctl pin` rolls one back at once, and gc never
removes what a server runs or pins."""
import json

from buildutil import BOT, HUMAN, builds, events, fetch, instances, publish, roster, start_fleet, wide_ports


def passing_build(ctl, tmp_path):
    publish(ctl, tmp_path, 101, files={"left4dead2/pak01_001.vpk": {"size": 4096}})
    fetch(ctl)
    p = ctl.ok("update", "canary", "--json", timeout=300)
    assert [e["report"]["verdict"] for e in events(p) if e["event"] == "canary" and e["state"] == "done"] == ["pass"]


def migrate(ctl, wait):
    p = ctl.ok("update", "migrate", "--json", "--wait", str(wait), timeout=wait + 120)
    ev = events(p)
    assert ev[-1]["event"] == "done" and ev[-1]["ok"], p.stdout
    return ev


def test_empty_servers_move_occupied_ones_wait_until_empty(ctl, tmp_path):
    wide_ports(ctl, 20600)
    ctl.install()
    specs = {"empty%d" % i: "" for i in range(10)}
    specs.update({"busy%d" % i: "" for i in range(10)})
    pids = start_fleet(ctl, tmp_path, specs)
    for i in range(10):
        # Humans, or humans and bots: bots alone do not count (see empty0).
        roster(ctl, "busy%d" % i, HUMAN + (BOT if i % 2 else []))
    roster(ctl, "empty0", BOT)
    passing_build(ctl, tmp_path)

    ev = migrate(ctl, 20)
    moved = {e["name"] for e in ev if e["event"] == "migrated"}
    assert moved == {"empty%d" % i for i in range(10)}
    assert all(e["reason"] == "empty" and e["from"] == "100" and e["to"] == "101"
               for e in ev if e["event"] == "migrated")
    # Nobody with players was restarted: same process, same build.
    now = instances(ctl)
    for i in range(10):
        b = now["busy%d" % i]
        assert b["pid"] == pids["busy%d" % i] and b["restarts"] == 0 and b["build"] == "100"
        assert now["empty%d" % i]["build"] == "101"
    assert ev[-1]["pending"] == 10
    assert {e["name"]: e["humans"] for e in ev if e["event"] == "pending"}["busy0"] == 1

    # The players leave: those servers move too.
    for i in range(10):
        roster(ctl, "busy%d" % i, [])
    ev = migrate(ctl, 20)
    assert {e["name"] for e in ev if e["event"] == "migrated"} == {"busy%d" % i for i in range(10)}
    assert ev[-1]["pending"] == 0
    assert all(i["build"] == "101" for i in instances(ctl).values())


def test_a_deadline_moves_a_server_with_players_a_stopped_one_moves_at_start(ctl, tmp_path):
    wide_ports(ctl, 20800)
    ctl.install()
    pids = start_fleet(ctl, tmp_path, {"late": "update_deadline: 2s\n", "never": "", "stopped": ""})
    roster(ctl, "late", HUMAN)
    roster(ctl, "never", HUMAN)
    ctl.ok("stop", "stopped")
    passing_build(ctl, tmp_path)
    ev = migrate(ctl, 0)  # one pass: both wait
    assert {e["name"] for e in ev if e["event"] == "pending"} == {"late", "never"}
    ev = migrate(ctl, 8)
    assert [(e["name"], e["reason"]) for e in ev if e["event"] == "migrated"] == [("late", "deadline")]
    assert ctl.status("late")["build"] == "101"
    assert ctl.status("never")["pid"] == pids["never"] and ctl.status("never")["build"] == "100"
    ctl.ok("start", "stopped")
    assert ctl.wait_state("stopped", "running")["build"] == "101"
    # A stack no canary tried yet (a new blueprint) starts on the newest
    # build that passed everywhere it was tried, not on the first build.
    ctl.overlay("extra", {"left4dead2/motd.txt": "extra"})
    ctl.initialize("fresh", "overlays: [extra]\n", tmp_path)
    ctl.ok("start", "fresh")
    assert ctl.wait_state("fresh", "running")["build"] == "101"


def test_pin_rolls_one_server_back_and_gc_keeps_what_is_used(ctl, tmp_path):
    wide_ports(ctl, 21000)
    ctl.install()
    start_fleet(ctl, tmp_path, {"a": "", "b": ""})
    passing_build(ctl, tmp_path)
    migrate(ctl, 20)
    assert ctl.status("a")["build"] == "101"
    st = json.loads(ctl.ok("pin", "a", "100", "--json").stdout)
    assert st["build"] == "100" and st["build_pin"] == "100" and st["state"] in ("starting", "running")
    assert json.loads((ctl.state / "instances" / "a" / "instance.json").read_text())["spec"]["build"] == "100"
    # A pinned server is not migrated; b stays on 101.
    ev = migrate(ctl, 0)
    assert [e for e in ev if e["event"] in ("migrated", "pending")] == []
    # gc: 100 is pinned and mounted by a, 101 is the newest passing.
    assert json.loads(ctl.ok("build", "gc", "--json").stdout) == {"removed": []}
    b = builds(ctl)
    assert b["100"]["pinned"] == ["a"] and b["100"]["refcount"] >= 1 and b["101"]["instances"] == ["b"]
    # Back to following: it moves at its next migration pass.
    ctl.ok("pin", "a", "follow", "--no-restart")
    assert ctl.status("a")["build"] == "100"
    ev = migrate(ctl, 20)
    assert [(e["name"], e["to"]) for e in ev if e["event"] == "migrated"] == [("a", "101")]
    p = ctl.fail("pin", "a", "999")
    assert "build '999' is not installed (see 'l4d2ctl builds')" in p.stderr
