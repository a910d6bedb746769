"""The render cache keeps a page until a table it reads changes. A page
served from the cache is found out by changing a table behind the panel's
back with its counting trigger dropped: the cached page still shows the old
value, a page rendered again shows the new one."""
import pytest

from webutil import Panel


@pytest.fixture
def web(tmp_path):
    p = Panel(tmp_path, env={"LEFT4ME_L4D2CTL": "/bin/true"}).start()
    c = p.login("admin", p.admin_password)
    b = c.create_blueprint("alpha")
    s = c.create_server("one", b)
    yield p, c, b, s
    p.cleanup()


def uncounted(p, sql, *params, trigger):
    """Runs sql with a generation trigger dropped: a change the cache cannot
    know of, used to tell a cached page from a rendered one."""
    with p.db() as db:
        ddl = db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (trigger,)).fetchone()[0]
        db.execute("DROP TRIGGER %s" % trigger)
        db.execute(sql, params)
        db.execute(ddl)


def test_server_state_writes_keep_the_blueprint_and_job_pages(web):
    p, c, b, s = web
    for path in ("/blueprints", "/blueprints/%d" % b, "/jobs"):
        assert c.get(path).status == 200
    uncounted(p, "UPDATE blueprints SET name = 'renamed' WHERE id = ?", b, trigger="blueprints_gen_u")
    # What the watch writes: server state, many times.
    for players in range(5):
        with p.db() as db:
            db.execute("UPDATE servers SET state = 'running', players = ?, maxplayers = 4 WHERE id = ?", (players, s))
    assert "alpha" in c.get("/blueprints").text and "renamed" not in c.get("/blueprints").text
    assert "renamed" not in c.get("/blueprints/%d" % b).text
    # The server list reads the state: it is rendered again.
    rows = c.get("/servers/rows").text
    assert "4 / 4" in rows and "state-running" in rows
    # A change to the servers themselves (a new name) is one the blueprint
    # pages read (their "servers using it").
    with p.db() as db:
        db.execute("UPDATE servers SET name = 'two' WHERE id = ?", (s,))
    t = c.get("/blueprints/%d" % b).text
    assert "renamed" in t and ">two</a>" in t


def test_a_cached_page_follows_its_own_tables(web):
    p, c, b, s = web
    assert "alpha" in c.get("/servers").text
    uncounted(p, "UPDATE blueprints SET name = 'renamed' WHERE id = ?", b, trigger="blueprints_gen_u")
    assert "renamed" not in c.get("/servers").text  # served from the cache
    with p.db() as db:  # another process's write, counted
        db.execute("UPDATE blueprints SET maxplayers = 7 WHERE id = ?", (b,))
    assert "renamed" in c.get("/servers").text
    # Jobs: a new job shows on the list at once.
    c.get("/servers/%d" % s)
    c.post("/servers/%d/stop" % s)
    assert "Stop one" in c.get("/jobs").text


def test_without_the_cache_every_page_is_rendered(tmp_path):
    p = Panel(tmp_path, env={"LEFT4ME_L4D2CTL": "/bin/true", "LEFT4ME_PAGE_CACHE": "0"}).start()
    try:
        c = p.login("admin", p.admin_password)
        b = c.create_blueprint("alpha")
        assert "alpha" in c.get("/blueprints").text
        uncounted(p, "UPDATE blueprints SET name = 'renamed' WHERE id = ?", b, trigger="blueprints_gen_u")
        assert "renamed" in c.get("/blueprints").text
    finally:
        p.cleanup()
