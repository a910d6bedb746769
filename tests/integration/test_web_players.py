"""Players on a server's page (issue 11), end to end: the real l4d2ctl and
its watch, the sandboxed fake srcds with a roster the test scripts through
an overlay, the fake Steam Web API. Sessions by SteamID64 (join, leave,
rejoin with a new userid; no bot, no connecting player), names shown as
typed and escaped, the charts, Steam profiles and avatars, the server list's
count, an unresponsive server, a start that never becomes reachable, nothing
written while nothing changes; and, on a panel alone, profiles asked 100
SteamIDs a request and old player data pruned."""
import json
import re
import os
import pathlib
import signal
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "fakes"))
from steam_api import FakeSteam  # noqa: E402
from test_web_html import tidy  # noqa: E402
from test_web_servers import install, last_job, wait_job  # noqa: E402
from webutil import Panel, wait_for  # noqa: E402

BASE = 76561197960265728
HOSTILE = '<script>alert("x")</script> \u202eevil\' & "q" \U0001F3AE'


def sid(z, y=0):
    return BASE + 2 * z + y


def player(userid, name, steam, connected=30, ping=50, state="active"):
    return {"userid": userid, "name": name, "steamid": steam, "connected": connected, "ping": ping, "loss": 0,
            "state": state, "adr": "127.0.0.1:27005"}


BOT = {"userid": 5, "name": "Smoker", "steamid": None, "state": "active"}


def traversable(path):
    p = path
    while str(p).startswith("/tmp/") and p != p.parent:
        os.chmod(p, os.stat(p).st_mode | 0o011)
        p = p.parent
    return path


class Site:
    def __init__(self, tmp):
        self.steam = FakeSteam()
        url = self.steam.start()
        self.steam.players_key = "test-key"
        self.p = Panel(traversable(tmp), env={"LEFT4ME_ROSTER_INTERVAL": "0.3", "LEFT4ME_STEAM_API_KEY": "test-key",
                                              "LEFT4ME_STEAM_API_URL": url}).start()
        self.c = self.p.login("admin", self.p.admin_password)
        # The roster reaches the sandboxed fake through a (hand-made) overlay.
        d = self.p.state / "overlays" / "roster" / "left4dead2"
        d.mkdir(parents=True)
        self.roster = d / "fake_srcds_players.json"
        self.roster.write_text("[]")
        wait_job(self.p, install(self.p, self.c))

    def set_roster(self, players):
        # In place: the same inode, which the mounted overlay keeps serving.
        with open(self.roster, "r+") as f:
            f.seek(0)
            f.truncate()
            f.write(json.dumps(players))

    def start_server(self, name, **bp):
        b = self.c.create_blueprint(name.lower(), overlays="roster", maxplayers="8", **bp)
        s = self.c.create_server(name, b)
        self.c.get("/servers/%d" % s)
        assert self.c.post("/servers/%d/start" % s).status == 303
        return s

    def close(self):
        self.p.cleanup()
        self.steam.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("players"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def alpha(site):
    s = site.start_server("Alpha")
    wait_job(site.p, last_job(site.p))
    wait_for(lambda: site.p.query("SELECT state, health FROM servers WHERE id = ?", s)[0] == ("running", "ok"),
             what="running")
    return s


def sessions(p, s):
    return p.query("SELECT steamid64, userid, name, joined_at, left_at FROM player_sessions WHERE server_id = ? "
                   "ORDER BY id", s)


def test_sessions_names_charts_and_profiles(site, alpha):
    p, c, s = site.p, site.c, alpha
    site.set_roster([player(2, "A", "STEAM_1:0:100"), BOT,
                     player(4, "C", "STEAM_ID_PENDING", connected=2, ping=999, state="spawning")])
    wait_for(lambda: [r[0] for r in sessions(p, s)] == [sid(100)], what="A's session")
    site.set_roster([BOT, player(4, "C", "STEAM_1:1:7", connected=12),
                     player(6, HOSTILE, "STEAM_1:0:300", connected=3, ping=120)])
    wait_for(lambda: len(sessions(p, s)) == 3 and sessions(p, s)[0][4] is not None, what="A left, B and C on")
    site.set_roster([BOT, player(4, "C", "STEAM_1:1:7", connected=22),
                     player(6, HOSTILE, "STEAM_1:0:300", connected=13, ping=120),
                     player(9, "A", "STEAM_1:0:100", connected=0, ping=60)])
    wait_for(lambda: len(sessions(p, s)) == 4, what="A back")
    rows = sessions(p, s)
    assert [(r[0], r[1]) for r in rows] == [(sid(100), 2), (sid(7, 1), 4), (sid(300), 6), (sid(100), 9)]
    assert rows[2][2] == HOSTILE  # stored exactly as typed
    assert rows[0][4] is not None and rows[0][4] <= rows[3][3]  # left before the rejoin
    assert [r[4] for r in rows[1:]] == [None, None, None]

    # Names as text: escaped once, isolated (bdi), never markup.
    page = c.get("/servers/%d/players" % s).text
    esc = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; \u202eevil&#39; &amp; &quot;q&quot; \U0001F3AE'
    assert "<bdi>%s</bdi>" % esc in page
    assert "<script" not in page
    assert "Smoker" in page and "bot</span>" in page
    # The charts: an image with a title and a description, and the summary as text.
    assert 'aria-label="Players over the last 24 hours" aria-describedby="chart-24h-desc"' in page
    assert "<title>Players over the last 24 hours</title>" in page
    assert "<title>Players over the last 7 days</title>" in page
    assert "<desc id=\"chart-24h-desc\">Peak: 3 players" in page, re.findall(r"<desc.*?</desc>", page)
    assert "<figcaption>Players over the last 24 hours: Peak: 3 players" in page
    tidy("<!DOCTYPE html><html lang=\"en\"><head><title>f</title></head><body>%s</body></html>" % page, "players")
    tidy(c.get("/servers/%d" % s).text, "server page with players")

    # Steam profiles (100 IDs a request at most, the key sent), avatars
    # from the panel itself.
    wait_for(lambda: "(Steam: <bdi>Player %d</bdi>)" % sid(300) in c.get("/servers/%d/players" % s).text,
             timeout=30, what="Steam personas")
    wait_for(lambda: 'src="/players/avatar/%d"' % sid(300) in c.get("/servers/%d/players" % s).text,
             timeout=30, what="avatars")
    r = c.get("/players/avatar/%d" % sid(300))
    assert r.status == 200 and r.header("Content-Type") == "image/png" and r.body == FakeSteam.TINY_PNG
    assert all(0 < n <= 100 for n in site.steam.summaries_batches)
    assert c.get("/players/avatar/%d" % sid(12345)).status == 404
    # Someone else's players' avatars are not theirs to see.
    p.create_user("eve", "eve-password-1")
    assert p.login("eve", "eve-password-1").get("/players/avatar/%d" % sid(300)).status == 404

    # The server list's live count: humans (the A2S count less bots).
    wait_for(lambda: "3 / 8" in c.get("/servers/rows").text, what="the list's count")


def test_unchanged_roster_writes_nothing(site, alpha):
    p, s = site.p, alpha
    # What the previous test left to settle: profiles, avatars.
    wait_for(lambda: p.query("SELECT count(*) FROM steam_profiles WHERE avatar IS NULL")[0][0] == 0, timeout=30,
             what="avatars fetched")
    time.sleep(2)

    def status_count():
        return int(p.ctl("rcon", "s%d" % s, "fake_status_count").stdout.strip())

    def writes():
        return (p.query("SELECT sum(gen) FROM generations")[0][0],
                p.query("SELECT count(*) FROM roster_snapshots")[0][0])
    before, polls = writes(), status_count()
    wal = p.state / "left4me.db-wal"
    wal_before = (wal.stat().st_size, wal.stat().st_mtime_ns)
    time.sleep(6)
    assert status_count() >= polls + 10  # the roster was read all along
    assert writes() == before
    assert (wal.stat().st_size, wal.stat().st_mtime_ns) == wal_before


def test_unresponsive_server_says_since_when(site, alpha):
    p, c, s = site.p, site.c, alpha
    pid = json.loads(p.ctl("status", "s%d" % s, "--json").stdout)["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: p.query("SELECT state FROM servers WHERE id = ?", s)[0][0] == "unresponsive",
                 what="unresponsive")
        page = c.get("/servers/%d/players" % s).text
        assert 'id="unresponsive"' in page and "Not answering since" in page
        # A hung server keeps the roster it had.
        assert "On the server now: 3 players" in page
        assert "state-unresponsive" in c.get("/servers/rows").text
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: p.query("SELECT state FROM servers WHERE id = ?", s)[0][0] == "running", what="running")
    assert "Not answering since" not in c.get("/servers/%d/players" % s).text


def test_job_page_says_whether_a_start_became_reachable(site, alpha):
    p, c = site.p, site.c
    ok_job = p.query("SELECT max(id) FROM jobs WHERE server_id = ? AND kind = 'start'", alpha)[0][0]
    page = c.get("/jobs/%d" % ok_job).text
    assert 'data-hx-get="/jobs/%d/reach" data-hx-trigger="load"' % ok_job in page  # a fragment it loads
    tidy(page, "job page")
    line = c.get("/jobs/%d/reach" % ok_job).text
    assert 'id="job-reach" class="reach-ok"' in line and "Reachable: the server answers queries" in line

    # A server whose process runs but never answers A2S.
    s = site.start_server("Mute", server_cfg="fake_srcds_a2s_silent 1")
    job = last_job(p)
    wait_job(p, job)
    wait_for(lambda: "Not reachable" in c.get("/jobs/%d/reach" % job).text, timeout=30, what="not reachable")
    line = c.get("/jobs/%d/reach" % job).text
    assert 'class="reach-bad"' in line and "data-hx-trigger" not in line  # decided: no more polling
    assert "has not answered queries (A2S) since" in line
    tidy("<!DOCTYPE html><html lang=\"en\"><head><title>f</title></head><body>%s</body></html>" % line,
         "not reachable")
    c.get("/servers/%d" % s)
    assert c.post("/servers/%d/stop" % s).status == 303
    wait_job(p, last_job(p))


# ---- a panel alone (its l4d2ctl does nothing) ----

def alone(tmp_path, **env):
    p = Panel(tmp_path, env=dict({"LEFT4ME_L4D2CTL": "/bin/true"}, **env)).start()
    c = p.login("admin", p.admin_password)
    b = c.create_blueprint("coop")
    s = c.create_server("Alpha", b)
    return p, c, s


def test_profiles_are_asked_100_at_a_time(tmp_path):
    steam = FakeSteam()
    url = steam.start()
    steam.players_key = "k"
    steam.unknown_players = {str(sid(1000 + 249))}
    p, c, s = alone(tmp_path, LEFT4ME_STEAM_API_KEY="k", LEFT4ME_STEAM_API_URL=url)
    try:
        now = int(time.time())
        with p.db() as db:
            db.executemany("INSERT INTO player_sessions (server_id, steamid64, userid, name, joined_at, left_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           [(s, sid(1000 + i), i + 2, "p%d" % i, now - 600, now - 60) for i in range(250)])
        wait_for(lambda: p.query("SELECT count(*) FROM steam_profiles")[0][0] == 250, timeout=30, what="profiles")
        assert sorted(steam.summaries_batches) == [50, 100, 100]
        # An account Steam does not know: kept (not asked again), no persona.
        assert p.query("SELECT persona FROM steam_profiles WHERE steamid64 = ?", sid(1249)) == [("",)]
    finally:
        p.cleanup()
        steam.stop()


def test_a_wrong_key_is_said_once_and_names_stay(tmp_path):
    steam = FakeSteam()
    url = steam.start()
    steam.players_key = "right"
    p, c, s = alone(tmp_path, LEFT4ME_STEAM_API_KEY="sekrit-4711", LEFT4ME_STEAM_API_URL=url)
    try:
        now = int(time.time())
        with p.db() as db:
            db.execute("INSERT INTO player_sessions (server_id, steamid64, userid, name, joined_at, left_at) "
                       "VALUES (?, ?, 2, 'In-game', ?, ?)", (s, sid(5), now - 600, now - 60))
        wait_for(lambda: any("LEFT4ME_STEAM_API_KEY" in l for l in p.output), timeout=30, what="the error")
        assert sum("Steam profiles" in l for l in p.output) == 1
        assert not any("sekrit-4711" in l for l in p.output), p.output  # never the key
        assert p.query("SELECT count(*) FROM steam_profiles")[0][0] == 0
        page = c.get("/servers/%d/players" % s).text
        assert "<bdi>In-game</bdi>" in page and "(Steam:" not in page
    finally:
        p.cleanup()
        steam.stop()


def test_old_player_data_is_pruned(tmp_path):
    p, c, s = alone(tmp_path, LEFT4ME_PLAYER_RETENTION_DAYS="90")
    p.stop()
    now = int(time.time())
    old, recent = now - 100 * 86400, now - 86400
    with p.db() as db:
        db.executemany("INSERT INTO player_sessions (server_id, steamid64, userid, name, joined_at, left_at) "
                       "VALUES (?, ?, ?, 'x', ?, ?)",
                       [(s, sid(1), 2, old - 60, old), (s, sid(2), 3, recent - 60, recent), (s, sid(3), 4, old, None)])
        db.executemany("INSERT INTO roster_snapshots (server_id, at, humans, bots, players) VALUES (?, ?, ?, 0, '[]')",
                       [(s, old - 10, 1), (s, old, 0), (s, recent, 2)])
        db.executemany("INSERT INTO steam_profiles (steamid64, fetched_at) VALUES (?, ?)",
                       [(sid(1), old), (sid(2), recent)])
    p.start()
    try:
        wait_for(lambda: p.query("SELECT count(*) FROM player_sessions")[0][0] == 2, timeout=20, what="pruning")
        # Gone: the stay that ended 100 days ago and its profile; kept: the
        # recent one, a stay still open, the snapshot that held at the cut.
        assert sorted(r[0] for r in p.query("SELECT steamid64 FROM player_sessions")) == [sid(2), sid(3)]
        assert [r[0] for r in p.query("SELECT at FROM roster_snapshots ORDER BY at")] == [old, recent]
        assert [r[0] for r in p.query("SELECT steamid64 FROM steam_profiles")] == [sid(2)]
        assert any("pruned 3 rows of player data older than 90 days" in l for l in p.output)
    finally:
        p.cleanup()


def test_chart_steps_gaps_and_summary(tmp_path):
    p, c, s = alone(tmp_path)
    try:
        now = int(time.time())
        with p.db() as db:
            # 2 players from 20 h ago, not known from 10 h ago (the roster
            # could not be read), 5 from 5 h ago, 0 from 1 h ago; and a row
            # 3 days ago that only the week's chart covers.
            db.executemany("INSERT INTO roster_snapshots (server_id, at, humans, bots, players, error) "
                           "VALUES (?, ?, ?, 0, ?, ?)",
                           [(s, now - 3 * 86400, 7, "[]", ""), (s, now - 20 * 3600, 2, "[]", ""),
                            (s, now - 10 * 3600, None, None, "no answer over RCON in time"),
                            (s, now - 5 * 3600, 5, "[]", ""), (s, now - 3600, 0, "[]", "")])
        page = c.get("/servers/%d/players" % s).text
        day = page[page.index('id="chart-24h"'):page.index('id="chart-7d"')]
        d = re.search(r'class="chart-line" d="([^"]*)"', day).group(1)
        assert d.count("M") == 2 and d.count("V") == 2  # two runs: the unknown stretch breaks the line
        assert "Peak: 7 players" in day  # what held when the day began counts
        week = page[page.index('id="chart-7d"'):]
        assert "Peak: 7 players" in week
        assert "Now: 0." in day
    finally:
        p.cleanup()
