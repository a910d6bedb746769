"""Canaries (issue 14): with 20 servers running on 3 overlay stacks, fetching
a new build and trying it costs them nothing (no restart; their merged trees
and lower layers hash the same before and after); one canary per stack,
hidden from `list`; a plugin the new build breaks is named in its stack's
verdict and no server of that stack moves; `degrade` moves without the
failing overlay; `hold` tries again when due and moves once it passes."""
import json
import subprocess
import threading

from buildutil import (HUMAN, builds, events, fetch, instances, layer_hashes, publish, roster, sourcemod_overlay,
                       start_fleet, tree_hash, wide_ports)
from conftest import L4D2CTL, mounts_below

BREAKS = {"left4dead2/fake_srcds_breaks.json": {"text": json.dumps({"plugins": ["l4d2_vomit_fix.smx"]})}}


def canary(ctl, *args):
    p = ctl.ok("update", "canary", "--json", *args, timeout=300)
    ev = events(p)
    assert ev[-1]["event"] == "done" and ev[-1]["ok"], p.stdout
    return {e["stack"]: e["report"] for e in ev if e["event"] == "canary" and e["state"] in ("done", "kept")}


def stack_of(reports, name):
    return [r for r in reports.values() if name in r["instances"]][0]


def test_twenty_servers_on_three_stacks_fetch_and_canary_cost_them_nothing(ctl, tmp_path):
    wide_ports(ctl, 20000)
    ctl.install()
    sourcemod_overlay(ctl, "sm", ["l4d2_vomit_fix.smx", "admin.smx"], ["l4dtoolz.ext.so"])
    ctl.overlay("maps", {"left4dead2/addons/campaign.vpk": "VPK"})
    specs = {}
    for i in range(8):
        specs["sm%d" % i] = "overlays: [sm, maps]\n"
    for i in range(6):
        specs["map%d" % i] = "overlays: [maps]\nmap: c2m1_highway\n"
    for i in range(6):
        specs["van%d" % i] = ""
    pids = start_fleet(ctl, tmp_path, specs)
    merged = {n: tree_hash(ctl.state / "runtime" / n / "merged") for n in specs}
    layers = {n: layer_hashes(ctl, n) for n in specs}

    # Steam publishes 101, which breaks a plugin of the sm stack.
    publish(ctl, tmp_path, 101, files=dict(BREAKS, **{"left4dead2/pak01_001.vpk": {"size": 4096}}))
    assert fetch(ctl)["created"]
    # The canaries never show in `list` (so never in the panel) while they run.
    seen, stop = set(), threading.Event()

    def poll_list():
        while not stop.is_set():
            seen.update(instances(ctl))
    t = threading.Thread(target=poll_list)
    t.start()
    try:
        reports = canary(ctl)
    finally:
        stop.set()
        t.join()
    assert seen == set(specs)

    # One canary per stack, each tried beside a baseline on build 100.
    assert len(reports) == 3
    assert all(r["baseline"] == "100" and r["new"]["version"] == "2.2.3.1" for r in reports.values())
    sm = stack_of(reports, "sm0")
    assert sorted(sm["instances"]) == sorted(n for n in specs if n.startswith("sm")) and sm["overlays"] == ["sm", "maps"]
    assert sm["verdict"] == "fail"
    assert {"check": "plugin", "name": "l4d2_vomit_fix.smx",
            "detail": "plugin 'l4d2_vomit_fix.smx' fails on build 101 only; it comes from overlay sm"} in sm["failures"]
    assert any(f["check"] == "error-log" and "Signature broken" in f["detail"] for f in sm["failures"])
    assert sm["new"]["sm"] and sm["new"]["meta"] and sm["baseline_checks"]["failed_plugins"] == []
    assert sm["failing_overlays"] == ["sm"] and sm["degradable"]
    assert stack_of(reports, "map0")["verdict"] == "pass" and stack_of(reports, "van0")["verdict"] == "pass"
    assert builds(ctl)["101"]["canary"][sm["stack"]]["verdict"] == "fail"

    # Nothing running was touched: same processes, no restart, the same
    # merged trees and lower layers. The canaries left nothing behind.
    now = instances(ctl)
    assert {n: now[n]["pid"] for n in specs} == pids and all(now[n]["restarts"] == 0 for n in specs)
    assert {n: tree_hash(ctl.state / "runtime" / n / "merged") for n in specs} == merged
    assert {n: layer_hashes(ctl, n) for n in specs} == layers
    assert not any(p.name.startswith("l4m-canary") for p in (ctl.state / "instances").iterdir())
    assert not any("l4m-canary" in m for m in mounts_below(ctl.state))

    # Migration: the passing stacks move; no server of the failing one does.
    p = ctl.ok("update", "migrate", "--json", "--wait", "30", timeout=120)
    moved = {e["name"] for e in events(p) if e["event"] == "migrated"}
    assert moved == {n for n in specs if not n.startswith("sm")}
    now = instances(ctl)
    assert all(now[n]["build"] == "100" and now[n]["pid"] == pids[n] for n in specs if n.startswith("sm"))
    assert all(now[n]["build"] == "101" for n in moved)


def test_degrade_leaves_out_the_failing_overlay_and_hold_tries_again(ctl, tmp_path):
    wide_ports(ctl, 20200)
    ctl.install()
    sm = sourcemod_overlay(ctl, "sm", ["l4d2_vomit_fix.smx"])
    pids = start_fleet(ctl, tmp_path, {"held": "overlays: [sm]\n",
                                       "degraded": "overlays: [sm]\non_canary_failure: degrade\n"})
    publish(ctl, tmp_path, 101, files=BREAKS)
    fetch(ctl)
    assert stack_of(canary(ctl), "held")["verdict"] == "fail"
    p = ctl.ok("update", "migrate", "--json", "--wait", "10", timeout=60)
    ev = [e for e in events(p) if e["event"] == "migrated"]
    assert ev == [{"event": "migrated", "name": "degraded", "from": "100", "to": "101", "reason": "empty",
                   "dropped": ["sm"]}]
    st = ctl.status("degraded")
    assert st["build"] == "101"
    merged = ctl.state / "runtime" / "degraded" / "merged" / "left4dead2"
    assert not (merged / "addons" / "sourcemod").exists()  # it runs without the sm overlay
    assert ctl.status("held")["build"] == "100" and ctl.status("held")["pid"] == pids["held"]

    # Hold: the canary is tried again when due; SourceMod's updater fixed
    # the plugin in the meantime (here: the overlay no longer has it).
    (sm / "left4dead2" / "addons" / "sourcemod" / "plugins" / "l4d2_vomit_fix.smx").unlink()
    assert stack_of(canary(ctl, "--retry"), "held")["verdict"] == "fail"  # not due yet (30 min)
    ctl.env["LEFT4ME_CANARY_RETRY"] = "0"
    assert stack_of(canary(ctl, "--retry"), "held")["verdict"] == "pass"
    p = ctl.ok("update", "migrate", "--json", "--wait", "10", timeout=60)
    moved = {e["name"]: e for e in events(p) if e["event"] == "migrated"}
    # Both move: "held" onto 101, "degraded" back to its whole stack.
    assert moved["held"]["to"] == "101" and moved["degraded"]["dropped"] == []
    assert (merged / "addons" / "sourcemod").exists()


def test_a_fleet_with_players_never_restarts_for_a_canary(ctl, tmp_path):
    # The canary's clones have ports, passwords and names of their own: a
    # server with players is not disturbed, and its console shows nothing.
    wide_ports(ctl, 20400)
    ctl.install()
    pids = start_fleet(ctl, tmp_path, {"busy": ""})
    roster(ctl, "busy", HUMAN)
    publish(ctl, tmp_path, 101)
    fetch(ctl)
    r = stack_of(canary(ctl), "busy")
    assert r["verdict"] == "pass" and r["new"]["instance"] != "busy"
    assert ctl.status("busy")["pid"] == pids["busy"]
    p = subprocess.run([str(L4D2CTL), "update", "migrate", "--json"], env=ctl.env, capture_output=True, text=True)
    assert [e["event"] for e in events(p)] == ["pending", "done"]
    assert events(p)[0]["humans"] == 1
    assert ctl.status("busy")["pid"] == pids["busy"]
