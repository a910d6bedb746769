"""Fixtures for the overlay and Workshop tests: the fake Steam Web API (in
this process, on 127.0.0.1) and an l4d2ctl pointed at it with short retry
delays and timeouts."""
import json
import os
import sys

import pytest

from conftest import FAKES

sys.path.insert(0, str(FAKES))
from steam_api import FakeSteam  # noqa: E402


@pytest.fixture
def steam():
    fake = FakeSteam()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def wctl(ctl, steam, tmp_path):
    """ctl, talking to the fake API; items without a file_url come from a
    fake steamcmd that copies them from tmp/steamcmd-files/ID."""
    files = tmp_path / "steamcmd-files"
    files.mkdir()
    ctl.env.update({
        "LEFT4ME_STEAM_API_URL": steam.url,
        "LEFT4ME_STEAM_API_TIMEOUT": "2",
        "LEFT4ME_WORKSHOP_RETRY_MS": "10",
        "FAKE_STEAMCMD_WORKSHOP_DIR": str(files),
    })
    ctl.steamcmd_files = files
    return ctl


def events(p):
    """The JSON lines of a --json run."""
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def items(ctl, name):
    return {i["id"]: i for i in json.loads(ctl.ok("workshop", name, "items", "--json").stdout)["items"]}


def addon(ctl, overlay, item_id):
    return ctl.state / "overlays" / overlay / "left4dead2" / "addons" / ("%s.vpk" % item_id)


def cache_files(ctl):
    d = ctl.state / "workshop-cache"
    return sorted(p.name for p in d.iterdir() if not p.name.startswith(".")) if d.exists() else []


def workshop_overlay(ctl, name, *refs):
    ctl.ok("overlay", "create", name, "--kind", "workshop")
    if refs:
        ctl.ok("workshop", name, "add", *[str(r) for r in refs])
