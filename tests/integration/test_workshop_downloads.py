"""Downloads that go wrong: truncated, longer than announced, cut off, or
failing a few times. The item is reported by ID, the others are not undone,
and the overlay keeps the version it had."""
import json
import os

from workshoputil import addon, cache_files, events, items, steam, wctl, workshop_overlay  # noqa: F401
from steam_api import content_of  # noqa: E402 (on the path through workshoputil)


def build_v1(wctl, steam):
    steam.add_item(1, size=50000)
    steam.add_item(2, size=60000)
    workshop_overlay(wctl, "maps", 1, 2)
    wctl.ok("overlay", "build", "maps")
    # Both items get a new version upstream.
    steam.items["1"]["time_updated"] = 1700000100
    steam.items["2"]["time_updated"] = 1700000100
    steam.reset_counters()
    return os.stat(addon(wctl, "maps", 1)).st_ino


def test_a_truncated_download_leaves_the_previous_file_in_place(wctl, steam):
    old_ino = build_v1(wctl, steam)
    steam.truncate = {"1": 1000}
    p = wctl.fail("overlay", "build", "maps", "--json")
    assert "error: overlay 'maps': 1 item failed" in p.stderr
    assert "1 (the download was truncated: 1000 of 50000 bytes)" in p.stderr
    ev = events(p)
    tries = [e for e in ev if e["event"] == "item" and e["id"] == "1"]
    assert [e["state"] for e in tries] == ["retrying", "retrying", "failed", "kept"]
    assert steam.downloads["1"] == 3  # LEFT4ME_WORKSHOP_ATTEMPTS defaults to 3
    # The previous version stays, the other item was updated all the same.
    assert os.stat(addon(wctl, "maps", 1)).st_ino == old_ino
    assert addon(wctl, "maps", 1).read_bytes() == content_of("1", 1700000000, 50000)
    assert addon(wctl, "maps", 2).read_bytes() == steam.content(2)
    # Nothing short ever reached the cache.
    assert "1-1700000100.vpk" not in cache_files(wctl)
    assert os.listdir(wctl.state / "workshop-cache" / ".tmp") == []
    it = items(wctl, "maps")["1"]
    assert it["state"] == "failed" and "truncated" in it["message"]
    show = json.loads(wctl.ok("overlay", "show", "maps", "--json").stdout)
    assert show["state"] == "failed" and show["workshop"]["failed"] == 1
    # Once the file host behaves, the next build gets it.
    steam.truncate = {}
    wctl.ok("overlay", "build", "maps")
    assert addon(wctl, "maps", 1).read_bytes() == steam.content(1)
    assert json.loads(wctl.ok("overlay", "show", "maps", "--json").stdout)["state"] == "ready"


def test_a_download_longer_than_announced_is_refused(wctl, steam):
    build_v1(wctl, steam)
    steam.lie = {"2": -100}  # the API announces 100 bytes fewer than the file has
    p = wctl.fail("overlay", "build", "maps")
    assert "2 (the download is larger than the 59900 bytes the Workshop announced)" in p.stderr
    assert addon(wctl, "maps", 2).read_bytes() == content_of("2", 1700000000, 60000)
    assert addon(wctl, "maps", 1).read_bytes() == steam.content(1)


def test_a_connection_cut_short_is_retried_and_then_reported(wctl, steam):
    build_v1(wctl, steam)
    steam.cut = {"2": 5000}
    p = wctl.fail("overlay", "build", "maps", env={"LEFT4ME_WORKSHOP_ATTEMPTS": "2"})
    assert "2 (the download failed: " in p.stderr and steam.downloads["2"] == 2
    assert addon(wctl, "maps", 2).read_bytes() == content_of("2", 1700000000, 60000)


def test_transient_failures_are_retried_with_backoff(wctl, steam):
    steam.add_item(5, size=12345)
    steam.fail_downloads = {"5": 2}
    workshop_overlay(wctl, "w", 5)
    p = wctl.ok("overlay", "build", "w")
    assert p.stdout.count("the file host answered HTTP 503; trying again") == 2
    assert "(attempt 3 of 3)" in p.stdout
    assert addon(wctl, "w", 5).read_bytes() == steam.content(5)
    assert steam.downloads["5"] == 3


def test_a_new_item_that_fails_is_absent_and_the_rest_is_published(wctl, steam):
    steam.add_item(1, size=100)
    steam.add_item(2, size=200)
    steam.truncate = {"2": 10}
    workshop_overlay(wctl, "w", 1, 2)
    p = wctl.fail("overlay", "build", "w")
    assert "1 item failed" in p.stderr and "2 (the download was truncated" in p.stderr
    assert addon(wctl, "w", 1).exists() and not addon(wctl, "w", 2).exists()
