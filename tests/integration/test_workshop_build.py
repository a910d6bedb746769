"""Building workshop overlays against the fake Steam Web API: collections of
collections with a cycle, removed items and items of other games, reported by
ID; one copy on disk per item however many overlays hold it; IDs and URLs."""
import json
import os

from workshoputil import addon, cache_files, events, items, steam, wctl, workshop_overlay  # noqa: F401


def test_nested_collection_with_cycle_removed_item_and_other_game(wctl, steam):
    # 100 -> [1, 2, 101]; 101 -> [3 (CS:GO), 4 (removed), 100 (cycle), 102]
    # 102 -> [5, 999 (never existed)]
    steam.add_item(1, size=5000)
    steam.add_item(2, size=7000)
    steam.add_item(3, size=100, app=730)
    steam.add_item(4, removed=True)
    steam.add_item(5, size=3000)
    steam.add_collection(100, [1, 2, 101], title="Campaigns")
    steam.add_collection(101, [3, 4, 100, 102])
    steam.add_collection(102, [5, 999])
    workshop_overlay(wctl, "maps", "https://steamcommunity.com/sharedfiles/filedetails/?id=100")

    p = wctl.ok("overlay", "build", "maps", "--json")
    ev = events(p)
    assert ev[-1] == {"event": "done", "ok": True, "changed": True}
    # Each problem is named by ID, and none of them stopped the rest.
    problems = [e for e in ev if e["event"] == "problem"]
    assert len(problems) == 1 and "collection 101 includes collection 100" in problems[0]["line"]
    assert "cycle" in problems[0]["line"]
    by_id = {e["id"]: e for e in ev if e["event"] == "item"}
    assert by_id["3"]["state"] == "wrong-app" and "app 730" in by_id["3"]["line"]
    assert by_id["4"]["state"] == "missing" and by_id["999"]["state"] == "missing"
    assert {by_id[i]["state"] for i in ("1", "2", "5")} == {"downloaded"}

    # The overlay holds exactly the good items, with their content.
    addons = wctl.state / "overlays" / "maps" / "left4dead2" / "addons"
    assert sorted(os.listdir(addons)) == ["1.vpk", "2.vpk", "5.vpk"]
    for i in (1, 2, 5):
        assert addon(wctl, "maps", i).read_bytes() == steam.content(i)

    it = items(wctl, "maps")
    assert list(it) == ["1", "2", "3", "4", "5", "999"]  # collection order, depth first
    assert it["1"]["title"] == "Item 1" and it["1"]["size"] == 5000 and it["1"]["time_updated"] == 1700000000
    assert it["1"]["preview_url"].startswith("https://")
    assert it["3"]["state"] == "wrong-app" and it["4"]["state"] == "missing"
    listing = json.loads(wctl.ok("workshop", "maps", "items", "--json").stdout)
    assert listing["sources"] == [{"id": "100", "kind": "collection", "title": "Campaigns", "state": "ok",
                                   "message": ""}]
    assert [pr["id"] for pr in listing["problems"]] == ["100"]

    show = json.loads(wctl.ok("overlay", "show", "maps", "--json").stdout)
    assert show["state"] == "ready" and show["build"]["ok"] is True
    assert show["workshop"]["ok"] == 3 and show["workshop"]["missing"] == 2 and show["workshop"]["wrong_app"] == 1
    assert show["size"] >= 15000
    # The build log has one line per item.
    log = open(show["build"]["log"]).read()
    assert "item 2 'Item 2': downloaded" in log and "item 4 " in log


def test_progress_events_count_bytes_of_the_whole_build(wctl, steam):
    for i in range(1, 9):
        steam.add_item(i, size=300 * 1024 + i)
    steam.add_collection(50, list(range(1, 9)))
    workshop_overlay(wctl, "big", 50)
    ev = events(wctl.ok("overlay", "build", "big", "--json"))
    progress = [e for e in ev if e["event"] == "progress"]
    total = sum(300 * 1024 + i for i in range(1, 9))
    assert progress and all(e["total"] == total for e in progress)
    assert [e["done"] for e in progress] == sorted(e["done"] for e in progress)
    assert progress[-1]["done"] == total and progress[-1]["percent"] == 100.0
    assert progress[-1]["items_done"] == progress[-1]["items_total"] == 8
    # Built again: nothing to download, nothing changes.
    ev = events(wctl.ok("overlay", "build", "big", "--json"))
    assert ev[-1] == {"event": "done", "ok": True, "changed": False}
    assert {e["state"] for e in ev if e["event"] == "item"} == {"cached"}
    assert all(n == 1 for n in steam.downloads.values())


def test_two_overlays_share_one_copy(wctl, steam):
    steam.add_item(7, size=200000)
    steam.add_item(8, size=1000)
    workshop_overlay(wctl, "a", 7, 8)
    workshop_overlay(wctl, "b", "https://steamcommunity.com/sharedfiles/filedetails/?id=7&searchtext=")
    wctl.ok("overlay", "build", "a")
    wctl.ok("overlay", "build", "b")
    sa, sb = os.stat(addon(wctl, "a", 7)), os.stat(addon(wctl, "b", 7))
    cache = os.stat(wctl.state / "workshop-cache" / "7-1700000000.vpk")
    assert (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino) == (cache.st_dev, cache.st_ino)
    assert cache.st_nlink >= 3 and not os.path.islink(addon(wctl, "b", 7))
    assert steam.downloads["7"] == 1  # the second overlay found it in the cache
    assert cache_files(wctl) == ["7-1700000000.vpk", "8-1700000000.vpk"]


def test_item_without_file_url_comes_from_steamcmd(wctl, steam):
    steam.add_item(40, size=777, file_url=False)
    (wctl.steamcmd_files / "40").write_bytes(steam.content(40))
    workshop_overlay(wctl, "legacy", 40)
    p = wctl.ok("overlay", "build", "legacy")
    assert "item 40 'Item 40': downloaded" in p.stdout and "steamcmd" in p.stdout
    assert addon(wctl, "legacy", 40).read_bytes() == steam.content(40)
    calls = (wctl.state.parent / "steamcmd.log").read_text()
    assert "+workshop_download_item 550 40" in calls and "+login anonymous" in calls


def test_ids_and_urls(wctl, steam):
    workshop_overlay(wctl, "w")
    # Not a Workshop URL: refused, and nothing of the command is added.
    for bad in ("https://example.com/sharedfiles/filedetails/?id=5", "steamcommunity.com/id/someone",
                "https://steamcommunity.com/sharedfiles/filedetails/?id=abc", "0", "3.5", "12 13",
                "99999999999999999999999", "ftp://steamcommunity.com/sharedfiles/filedetails/?id=5"):
        p = wctl.fail("workshop", "w", "add", "12", bad)
        assert "is not a Steam Workshop item" in p.stderr, bad
    assert json.loads(wctl.ok("workshop", "w", "items", "--json").stdout)["sources"] == []
    wctl.ok("workshop", "w", "add", "0012", "steamcommunity.com/sharedfiles/filedetails/?id=13",
            "https://www.steamcommunity.com/workshop/filedetails/?l=english&id=14", "12")
    srcs = [s["id"] for s in json.loads(wctl.ok("workshop", "w", "items", "--json").stdout)["sources"]]
    assert srcs == ["12", "13", "14"]
    assert all(s == "unknown" for s in (x["kind"] for x in json.loads(
        wctl.ok("workshop", "w", "items", "--json").stdout)["sources"]))
    p = wctl.fail("workshop", "w", "remove", "15")
    assert "overlay 'w' has no item or collection 15" in p.stderr
    wctl.ok("workshop", "w", "remove", "13")
    srcs = [s["id"] for s in json.loads(wctl.ok("workshop", "w", "items", "--json").stdout)["sources"]]
    assert srcs == ["12", "14"]
    # Only workshop overlays have workshop verbs.
    wctl.ok("overlay", "create", "f", "--kind", "files")
    assert "not a workshop overlay" in wctl.fail("workshop", "f", "add", "1").stderr
    assert "unknown workshop overlay 'nope'" in wctl.fail("workshop", "nope", "items").stderr


def test_removing_a_source_drops_its_items_at_the_next_build(wctl, steam):
    steam.add_item(1, size=10)
    steam.add_item(2, size=20)
    steam.add_collection(30, [2])
    workshop_overlay(wctl, "m", 1, 30)
    wctl.ok("overlay", "build", "m")
    assert addon(wctl, "m", 2).exists()
    p = wctl.fail("workshop", "m", "remove", "2")
    assert "comes with one of its collections" in p.stderr
    wctl.ok("workshop", "m", "remove", "30")
    show = json.loads(wctl.ok("overlay", "show", "m", "--json").stdout)
    assert show["workshop"]["needs_build"] is True
    assert addon(wctl, "m", 2).exists()  # until the next build
    wctl.ok("overlay", "build", "m")
    assert not addon(wctl, "m", 2).exists() and addon(wctl, "m", 1).exists()
    assert json.loads(wctl.ok("overlay", "show", "m", "--json").stdout)["workshop"]["needs_build"] is False
