"""Many idle and slow connections do not deny the panel (issue 12): 1,000
idle connections from one address and 250 from each of four others, or the
same trickling request heads a line at a time, while a logged-in user's
pages still answer. The time those answers take is measured in
bench/panel-load (docs/benchmarks.md), not asserted here."""
import os
import time

from slowconn import SlowClients, panel_connections
from webutil import Panel, wait_for

FOUR = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
ONE = "127.0.0.6"


def run(tmp_path, mode):
    # No proxy configured: every one of these loopback addresses is a
    # client of its own, held to the per-address limit (256 by default).
    # Deadlines far off: this test is about holding places (their cut is
    # the last test's).
    p = Panel(tmp_path, env={"LEFT4ME_HEADER_TIMEOUT": "60", "LEFT4ME_IDLE_TIMEOUT": "60"}).start()
    load = None
    try:
        user = p.login("admin", p.admin_password)
        load = SlowClients(p.port, FOUR + [ONE], [250] * 4 + [1000], mode=mode, interval=1.0).start()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            for path in ("/servers", "/blueprints", "/profile"):
                r = user.get(path)
                assert r.status == 200, (path, r.status)
            time.sleep(0.3)
        # All of the four addresses' connections are held by the panel; of
        # the one address's thousand, its share (the rest were closed at
        # accept and kept coming back).
        for a in FOUR:
            # (A client that reconnected can have a closed socket still
            # counted for a moment: at least all 250, never past the limit.)
            assert 250 <= panel_connections(p.proc.pid, p.port, a) <= 256, a
        # Its clients reconnect all the time: one the event loops accepted
        # past the limit in a race between them is shut down at once, so a
        # look may catch a few more for a moment (at most one a loop: twice
        # as many loops as CPUs), and never for long. (Two runs once saw 257
        # in all five looks: /proc/net/tcp, read while connections churn,
        # lists a socket twice in a fifth of the reads; the count now goes
        # by socket.)
        seen = []
        for _ in range(5):
            seen.append(panel_connections(p.proc.pid, p.port, ONE))
            time.sleep(0.05)
        assert 0 < min(seen) <= 256 and max(seen) <= 256 + 2 * os.cpu_count(), seen
        assert load.closed_by_panel >= 1000 - 256
        # A new visitor from yet another address gets the login page.
        assert p.client().get("/login").status == 200
    finally:
        if load:
            load.stop()
        p.cleanup()


def test_idle_connections_do_not_deny_the_panel(tmp_path):
    run(tmp_path, "idle")


def test_trickled_request_heads_do_not_deny_the_panel(tmp_path):
    run(tmp_path, "trickle")


def test_slow_heads_are_cut_and_their_places_freed(tmp_path):
    p = Panel(tmp_path, env={"LEFT4ME_HEADER_TIMEOUT": "2"}).start()
    load = None
    try:
        load = SlowClients(p.port, ["127.0.0.7"], 100, mode="trickle", interval=0.5, reconnect=False).start()
        assert load.held() == 100
        wait_for(lambda: load.held() == 0, timeout=10, what="every trickled head cut at its deadline")
        assert p.client().get("/login").status == 200
    finally:
        if load:
            load.stop()
        p.cleanup()
