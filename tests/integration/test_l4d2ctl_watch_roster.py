"""`l4d2ctl watch --json`'s player roster (issue 11), end to end: a real
instance (supervisor backend, overlayfs, the sandboxed fake srcds) whose
roster the test scripts through a players file in an overlay (the fake
reads it again whenever it changes; the environment does not reach the
sandbox). watch reads `status` over one RCON connection it keeps open, and
writes a `roster` line only when someone joins or leaves or a player's name,
SteamID or state changes; a wrong password is tried once; a restart is a
new connection with a fresh password.

Timing: no durations are asserted, only "within several intervals"."""
import json
import os
import subprocess

import pytest

from conftest import L4D2CTL
from test_l4d2ctl_watch import Watch

INTERVAL = 0.3
BASE = 76561197960265728
HOSTILE = '<script>alert("x")</script> \u202eevil\' & "quoted" \U0001F3AE'


def sid(z, y=0):
    return str(BASE + 2 * z + y)


def player(userid, name, steam, connected=30, ping=50, state="active"):
    return {"userid": userid, "name": name, "steamid": steam, "connected": connected, "ping": ping, "loss": 0,
            "state": state, "adr": "127.0.0.1:27005"}


BOT = {"userid": 5, "name": "Smoker", "steamid": None, "state": "active"}


class Roster:
    """The players file the sandboxed fake reads, written in place (same
    inode: the overlay keeps serving it)."""

    def __init__(self, ctl):
        self.path = ctl.overlay("roster", {"left4dead2/fake_srcds_players.json": "[]"}) / \
            "left4dead2" / "fake_srcds_players.json"

    def set(self, players):
        with open(self.path, "r+") as f:
            f.seek(0)
            f.truncate()
            f.write(json.dumps(players))


@pytest.fixture
def alpha(installed, tmp_path):
    ctl = installed
    roster = Roster(ctl)
    ctl.initialize("alpha", "map: c2m1_highway\nmaxplayers: 8\noverlays: [roster]\n", tmp_path)
    ctl.ok("start", "alpha")
    ctl.wait_log("alpha", "Server is hibernating")
    ctl.wait_state("alpha", "running")
    return ctl, roster


@pytest.fixture
def watches(installed):
    ws = []

    def start(**kw):
        w = Watch(installed, interval=INTERVAL, roster=INTERVAL, **kw)
        ws.append(w)
        return w
    yield start
    for w in ws:
        w.close()


def rosters(events):
    return [e for e in events if e["event"] == "roster"]


def next_roster(w, pred=lambda e: True, what="a roster"):
    return w.until(lambda e: e["event"] == "roster" and pred(e), intervals=40, what=what)[-1]


def names(e):
    return [p["name"] for p in e["players"]]


def status_count(ctl):
    return int(ctl.ok("rcon", "alpha", "fake_status_count").stdout.strip())


def test_roster_sequence(alpha, watches):
    ctl, roster = alpha
    w = watches()
    first = next_roster(w, what="the first roster")
    assert first["name"] == "alpha" and first["players"] == [] and first["left"] == []

    # A joins with a bot and a player still connecting (no SteamID yet).
    roster.set([player(2, "A", "STEAM_1:0:100", connected=30, ping=50), BOT,
                player(4, "C", "STEAM_ID_PENDING", connected=2, ping=999, state="spawning")])
    e = next_roster(w, lambda e: "A" in names(e), "A joining")
    a, bot, c = e["players"]
    assert (a["userid"], a["steamid64"], a["bot"], a["ping"], a["samples"]) == (2, sid(100), False, 50, 1)
    assert e["time"] - 32 <= a["joined"] <= e["time"] - 30  # as the server says
    assert (bot["bot"], bot["steamid64"], bot["joined"], bot["ping"]) == (True, None, None, None)
    assert (c["steamid64"], c["state"]) == (None, "spawning")
    assert (e["humans"], e["bots"], e["map"]) == (2, 1, "c2m1_highway")

    # Only A's ping moves: not news (pings alone at most once a minute).
    roster.set([player(2, "A", "STEAM_1:0:100", connected=30, ping=90), BOT,
                player(4, "C", "STEAM_ID_PENDING", connected=2, ping=999, state="spawning")])
    polls = status_count(ctl)
    assert rosters(w.quiet(10)) == []
    assert status_count(ctl) >= polls + 4  # it did poll meanwhile

    # C gets a SteamID; A leaves; B, with a hostile name, joins.
    roster.set([BOT, player(4, "C", "STEAM_1:1:7", connected=12, ping=40),
                player(6, HOSTILE, "STEAM_1:0:300", connected=3, ping=120)])
    e = next_roster(w, lambda e: any(p["name"] == HOSTILE for p in e["players"]), "B joining")
    assert [p["userid"] for p in e["left"]] == [2]
    gone = e["left"][0]
    assert gone["steamid64"] == sid(100) and gone["last_seen"] <= e["time"]
    # A's pings over the stay: 50, then 90 (however many polls saw each).
    assert (gone["ping_min"], gone["ping_max"]) == (50, 90) and gone["samples"] >= 2
    c = [p for p in e["players"] if p["userid"] == 4][0]
    assert c["steamid64"] == sid(7, 1)

    # A comes back: a new connection, a new userid.
    roster.set([BOT, player(4, "C", "STEAM_1:1:7", connected=22, ping=40),
                player(6, HOSTILE, "STEAM_1:0:300", connected=13, ping=120),
                player(9, "A", "STEAM_1:0:100", connected=4, ping=60)])
    e = next_roster(w, lambda e: any(p["userid"] == 9 for p in e["players"]), "A rejoining")
    assert e["left"] == []

    # Unchanged: many polls, not a line.
    polls = status_count(ctl)
    assert rosters(w.quiet(20)) == []
    assert status_count(ctl) >= polls + 10


def test_restart_reconnects_with_the_kept_password_and_a_wrong_one_is_tried_once(alpha, watches, tmp_path):
    ctl, roster = alpha
    roster.set([player(2, "A", "STEAM_1:0:100")])
    w = watches()
    next_roster(w, lambda e: names(e) == ["A"], "A")

    # The server's password is changed behind l4d2ctl's back: the running
    # watch's connection is already in; a new watch is refused, says so
    # once, and does not try again.
    ctl.ok("rcon", "alpha", "rcon_password", "changed-behind-its-back")
    w2 = watches()
    err = next_roster(w2, lambda e: "error" in e, "the error")
    assert "refused the RCON password" in err["error"] and "not trying again" in err["error"]
    later = w2.quiet(15)
    assert rosters(later) == []
    assert ctl.log("alpha").count("bad password") == 1

    # A restart: the server reads the kept password from server.cfg again.
    # The first watch sees everyone leave with the old process; both
    # connect anew and read the roster (the second's error is over).
    old = ctl.status("alpha")["pid"]
    ctl.ok("restart", "alpha")
    gone = next_roster(w, lambda e: e.get("players") == [], "everyone gone")
    assert [p["userid"] for p in gone["left"]] == [2]
    for x in (w, w2):
        back = next_roster(x, lambda e: names(e) == ["A"], "A after the restart")
        assert "error" not in back
    assert ctl.status("alpha")["pid"] != old
    assert ctl.log("alpha").count("bad password") == 1  # still only the one


def test_stopped_servers_are_not_asked_and_the_roster_ends_with_them(alpha, watches):
    ctl, roster = alpha
    roster.set([player(2, "A", "STEAM_1:0:100"), BOT])
    w = watches()
    next_roster(w, lambda e: "A" in names(e), "A")
    ctl.ok("stop", "alpha")
    e = next_roster(w, lambda e: e.get("players") == [], "the roster emptied")
    assert sorted(p["userid"] for p in e["left"]) == [2, 5]
    assert rosters(w.quiet(10)) == []


def test_roster_interval_option(installed):
    p = subprocess.run([str(L4D2CTL), "watch", "--roster-interval", "0.01"], env=installed.env,
                       capture_output=True, text=True)
    assert p.returncode == 2 and "--roster-interval" in p.stderr
    p = subprocess.run([str(L4D2CTL), "watch", "--help"], env=installed.env, capture_output=True, text=True)
    assert "--roster-interval" in p.stdout
