"""A running server and the overlays it stacks: it sees a workshop overlay's
items through its merged tree; a rebuild while it runs does not change what
it sees until it is restarted; retired trees and cache files go only when no
mounted instance uses them; a used overlay cannot be deleted."""
import json
import os
import time

from workshoputil import addon, cache_files, steam, wctl, workshop_overlay  # noqa: F401
from steam_api import content_of  # noqa: E402 (on the path through workshoputil)


def show(ctl, name):
    return json.loads(ctl.ok("overlay", "show", name, "--json").stdout)


def start_alpha(ctl, tmp_path, overlays):
    ctl.install()
    ctl.initialize("alpha", "port: %d\noverlays: [%s]\n" % (ctl.port_min + 2, ", ".join(overlays)), tmp_path)
    ctl.ok("start", "alpha")
    ctl.wait_state("alpha", "running")
    return ctl.state / "runtime" / "alpha" / "merged" / "left4dead2" / "addons"


def test_a_server_sees_its_workshop_items_and_a_rebuild_waits_for_its_restart(wctl, steam, tmp_path):
    steam.add_item(11, size=40000, title="Dead Before Dawn")
    steam.add_item(12, size=30000)
    steam.add_collection(10, [11, 12])
    workshop_overlay(wctl, "maps", "https://steamcommunity.com/sharedfiles/filedetails/?id=10")
    wctl.ok("overlay", "build", "maps")
    merged = start_alpha(wctl, tmp_path, ["maps"])

    assert (merged / "11.vpk").read_bytes() == steam.content(11)
    assert "Mounting addon: left4dead2/addons/11.vpk" in wctl.wait_log("alpha", "Server is hibernating")
    assert show(wctl, "maps")["running"] == [{"instance": "alpha", "outdated": False}]

    # A new version of 11 upstream; 12 is removed from the collection.
    steam.items["11"]["time_updated"] = 1700000777
    steam.add_collection(10, [11])
    wctl.ok("overlay", "build", "maps")
    assert addon(wctl, "maps", 11).read_bytes() == steam.content(11)
    assert not addon(wctl, "maps", 12).exists()
    # The running server still sees exactly what it started with.
    old11 = content_of("11", 1700000000, 40000)
    assert (merged / "11.vpk").read_bytes() == old11
    assert (merged / "12.vpk").read_bytes() == steam.content(12)
    m = show(wctl, "maps")
    assert m["running"] == [{"instance": "alpha", "outdated": True}] and m["retired"] >= 1
    # A used overlay cannot be deleted.
    p = wctl.fail("overlay", "delete", "maps")
    assert "overlay 'maps' is used by running instances: alpha (stop them first)" in p.stderr
    # Its retired tree and the old cache files outlive any GC while it runs.
    time.sleep(2.2)
    wctl.ok("overlay", "build", "maps")  # nothing changed; collects garbage
    assert show(wctl, "maps")["retired"] == 1
    assert "11-1700000000.vpk" in cache_files(wctl) and "12-1700000000.vpk" in cache_files(wctl)
    assert (merged / "11.vpk").read_bytes() == old11

    # After a restart it sees the new content...
    wctl.ok("restart", "alpha")
    wctl.wait_state("alpha", "running")
    assert (merged / "11.vpk").read_bytes() == steam.content(11)
    assert not (merged / "12.vpk").exists()
    assert show(wctl, "maps")["running"] == [{"instance": "alpha", "outdated": False}]
    # ...and the next GC frees what nobody mounts any more.
    wctl.ok("overlay", "build", "maps")
    assert show(wctl, "maps")["retired"] == 0
    assert cache_files(wctl) == ["11-1700000777.vpk"]


def test_without_an_exact_record_every_retired_tree_of_a_used_overlay_is_kept(wctl, steam, tmp_path):
    # A mount nobody recorded (systemd restarting the unit, a boot): the
    # instance lists the overlay, so none of its retired trees may go.
    steam.add_item(21, size=1000)
    workshop_overlay(wctl, "w", 21)
    wctl.ok("overlay", "build", "w")
    merged = start_alpha(wctl, tmp_path, ["w"])
    record = wctl.state / "instances" / "alpha" / "mounted"
    assert json.loads(record.read_text())["lowers"][0]["overlay"] == "w"
    record.unlink()
    steam.items["21"]["time_updated"] = 1700000001
    wctl.ok("overlay", "build", "w")
    time.sleep(2.2)
    steam.items["21"]["time_updated"] = 1700000002
    wctl.ok("overlay", "build", "w")
    time.sleep(2.2)
    wctl.ok("overlay", "build", "w")
    # The empty tree of create, the one alpha mounts and the one in between.
    assert show(wctl, "w")["retired"] == 3
    assert show(wctl, "w")["running"] == [{"instance": "alpha", "outdated": None}]
    assert (merged / "21.vpk").read_bytes() == content_of("21", 1700000000, 1000)
    wctl.ok("stop", "alpha")
    wctl.ok("overlay", "build", "w")
    assert show(wctl, "w")["retired"] == 0
    assert cache_files(wctl) == ["21-1700000002.vpk"]


def test_a_hand_made_overlay_and_a_deleted_one(wctl, steam, tmp_path):
    wctl.overlay("base", {"left4dead2/motd.txt": "base motd"})
    wctl.ok("overlay", "create", "extra", "--kind", "files")
    merged = start_alpha(wctl, tmp_path, ["extra", "base"])
    assert (merged.parent / "motd.txt").read_text() == "base motd"
    assert "used by running instances: alpha" in wctl.fail("overlay", "delete", "base").stderr
    wctl.ok("stop", "alpha")
    wctl.ok("overlay", "delete", "extra")
    p = wctl.fail("start", "alpha")
    assert "overlay 'extra' does not exist" in p.stderr
