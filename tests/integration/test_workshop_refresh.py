"""workshop refresh: one metadata pass over every workshop overlay (the fake
counts the requests), downloads only what changed, and an API that times
out or answers garbage changes nothing."""
import hashlib
import json
import os

from workshoputil import addon, cache_files, events, items, steam, wctl, workshop_overlay  # noqa: F401
from steam_api import content_of  # noqa: E402 (on the path through workshoputil)

GPFD = "/ISteamRemoteStorage/GetPublishedFileDetails/v1/"
GCD = "/ISteamRemoteStorage/GetCollectionDetails/v1/"


def tree_state(ctl):
    """Every file of the published overlays (path -> inode, sha1) and each
    overlay's Workshop metadata (what it resolved, not its last build)."""
    out = {}
    for root, _, files in os.walk(ctl.state / "overlays"):
        for f in files:
            p = os.path.join(root, f)
            out[p] = (os.stat(p).st_ino, hashlib.sha1(open(p, "rb").read()).hexdigest())
    for m in (ctl.state / "overlay-store" / "meta").iterdir():
        out[m.name] = json.loads(m.read_text())["workshop"]
    return out


def setup_two_overlays(wctl, steam, n=150):
    for i in range(1, n + 1):
        steam.add_item(i, size=1000 + i)
    steam.add_collection(5000, list(range(1, n + 1)))
    steam.add_item(9001, size=4000)
    workshop_overlay(wctl, "coll", 5000)
    workshop_overlay(wctl, "solo", 9001, 7)  # 7 is also in the collection
    wctl.ok("overlay", "build", "coll")
    wctl.ok("overlay", "build", "solo")
    steam.reset_counters()


def test_refresh_with_nothing_changed_asks_once_per_100_items_and_downloads_nothing(wctl, steam):
    setup_two_overlays(wctl, steam)
    before = tree_state(wctl)
    p = wctl.ok("workshop", "refresh", "--json")
    ev = events(p)
    # 151 distinct items (7 is shared) and one collection: two requests,
    # no collection expanded again, nothing downloaded.
    assert steam.requests[GPFD] == 2 and steam.requests[GCD] == 0
    assert sum(steam.downloads.values()) == 0
    assert {(e["name"], e["changed"]) for e in ev if e["event"] == "overlay"} == {("coll", False), ("solo", False)}
    assert ev[-1]["event"] == "done" and ev[-1]["ok"] is True
    assert tree_state(wctl) == before


def test_refresh_downloads_only_the_items_that_changed(wctl, steam):
    setup_two_overlays(wctl, steam)
    steam.items["7"]["time_updated"] = 1700000500  # in both overlays
    steam.items["42"]["time_updated"] = 1700000600
    old7 = os.stat(addon(wctl, "coll", 7))
    untouched = os.stat(addon(wctl, "coll", 8))
    p = wctl.ok("workshop", "refresh")
    assert dict(steam.downloads) == {"7": 1, "42": 1}  # once each, for both overlays
    assert "overlay 'coll': updated" in p.stdout and "overlay 'solo': updated" in p.stdout
    for o in ("coll", "solo"):
        assert addon(wctl, o, 7).read_bytes() == steam.content(7)
    assert os.stat(addon(wctl, "coll", 7)).st_ino == os.stat(addon(wctl, "solo", 7)).st_ino != old7.st_ino
    assert addon(wctl, "coll", 42).read_bytes() == steam.content(42)
    assert os.stat(addon(wctl, "coll", 8)).st_ino == untouched.st_ino
    assert items(wctl, "coll")["7"]["time_updated"] == 1700000500
    # The refresh left a build record with its log.
    show = json.loads(wctl.ok("overlay", "show", "coll", "--json").stdout)
    assert show["build"]["ok"] and "item 42 " in open(show["build"]["log"]).read()
    # The old version of 7 goes once nothing links it (after the grace time).
    assert "7-1700000000.vpk" not in cache_files(wctl) or os.stat(
        wctl.state / "workshop-cache" / "7-1700000000.vpk").st_nlink > 1


def test_refresh_picks_up_a_collection_that_changed(wctl, steam):
    steam.add_item(1, size=10)
    steam.add_item(2, size=20)
    steam.add_collection(60, [1])
    workshop_overlay(wctl, "c", 60)
    wctl.ok("overlay", "build", "c")
    steam.add_collection(60, [1, 2], time_updated=1700009999)
    steam.reset_counters()
    wctl.ok("workshop", "refresh")
    assert steam.requests[GCD] == 1
    assert addon(wctl, "c", 2).read_bytes() == steam.content(2)


def test_refresh_builds_what_was_added_but_never_built(wctl, steam):
    steam.add_item(1, size=10)
    steam.add_item(2, size=20)
    steam.add_collection(70, [1, 2])
    workshop_overlay(wctl, "late", 70)
    p = wctl.ok("workshop", "refresh")
    assert "overlay 'late': updated" in p.stdout
    assert addon(wctl, "late", 1).read_bytes() == steam.content(1)
    assert addon(wctl, "late", 2).read_bytes() == steam.content(2)
    assert json.loads(wctl.ok("workshop", "late", "items", "--json").stdout)["sources"][0]["kind"] == "collection"


def test_an_api_that_fails_changes_nothing(wctl, steam):
    setup_two_overlays(wctl, steam, n=20)
    steam.items["3"]["time_updated"] = 1800000000  # would be downloaded
    before = tree_state(wctl)
    cases = {
        "garbage": "with something that is not JSON",
        "http500": "with HTTP 500",
        "incomplete": "without a valid entry for",
        "alien": "about an ID it was not asked about",
        "timeout": "within 2 s",
    }
    steam.api_delay = 3
    for mode, msg in cases.items():
        steam.api_mode = mode
        p = wctl.fail("workshop", "refresh")
        assert msg in p.stderr and p.stderr.rstrip().endswith("; nothing changed"), (mode, p.stderr)
        assert "the Steam Web API" in p.stderr and "GetPublishedFileDetails" in p.stderr
        assert tree_state(wctl) == before, mode
        assert sum(steam.downloads.values()) == 0
        p = wctl.fail("overlay", "build", "coll", "--json")
        assert "error: overlay 'coll': " in p.stderr and msg in p.stderr
        done = events(p)[-1]
        assert done["event"] == "done" and done["ok"] is False and msg in done["error"]
        # A failed build says so, and keeps its content.
        show = json.loads(wctl.ok("overlay", "show", "coll", "--json").stdout)
        assert show["state"] == "failed" and msg in show["build"]["error"]
        assert addon(wctl, "coll", 3).read_bytes() == content_of("3", 1700000000, 1003)
    steam.api_mode = None
    wctl.ok("workshop", "refresh")
    assert addon(wctl, "coll", 3).read_bytes() == steam.content(3)
    assert json.loads(wctl.ok("overlay", "show", "coll", "--json").stdout)["state"] == "ready"


def test_refresh_skips_an_overlay_being_built(wctl, steam):
    import fcntl
    setup_two_overlays(wctl, steam, n=5)
    with open(wctl.state / "locks" / ".overlay-solo.build.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        p = wctl.ok("workshop", "refresh")
        assert "overlay 'solo' is being built" in p.stdout and "skipped" in p.stdout
        show = json.loads(wctl.ok("overlay", "show", "solo", "--json").stdout)
        assert show["building"] is True
        assert "is being built" in wctl.fail("overlay", "build", "solo").stderr
    assert "overlay 'coll': up to date" in p.stdout
