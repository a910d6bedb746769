"""The authorization matrix: every object route x owner / other user /
admin / anonymous. Owners and admins may act; another user gets exactly the
404 an unknown id gets; anonymous visitors are sent to log in (GET) or
refused (POST)."""
import re

import pytest

from webutil import Panel, sse_events

# (method, path template, data) for every route that takes an object id.
# {s} server, {b} blueprint, {j} job, {u} user.
OBJECT_ROUTES = [
    ("GET", "/servers/{s}", None),
    ("GET", "/servers/{s}/status", None),
    ("GET", "/servers/{s}/logs", None),
    ("POST", "/servers/{s}/start", {}),
    ("POST", "/servers/{s}/stop", {}),
    ("POST", "/servers/{s}/restart", {}),
    ("POST", "/servers/{s}/blueprint", {"blueprint": "{b}"}),
    ("POST", "/servers/{s}/pin", {"build": ""}),
    ("POST", "/servers/{s}/delete", {}),
    ("GET", "/blueprints/{b}", None),
    ("POST", "/blueprints/{b}", {"name": "renamed-{b}", "map": "c2m1_highway", "maxplayers": "8", "tickrate": "60"}),
    ("POST", "/blueprints/{b}/delete", {}),
    ("GET", "/jobs/{j}", None),
    ("GET", "/jobs/{j}/events", None),
]
ADMIN_ROUTES = [
    ("GET", "/admin/users", None),
    ("POST", "/admin/users/{u}/password", {}),
    ("GET", "/admin/users/{u}/password", None),
    ("POST", "/admin/users/{u}/disable", {}),
    ("POST", "/admin/users/{u}/enable", {}),
    ("GET", "/admin/install", None),
    ("GET", "/admin/builds", None),
    ("POST", "/admin/builds/check", {}),
]
ROLES = ["owner", "other", "admin", "anonymous"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    # A panel whose ctl is /bin/true: this test is about who may do what,
    # not about what the jobs do (and nothing is queued twice per server).
    p = Panel(tmp_path_factory.mktemp("authz"), env={"LEFT4ME_L4D2CTL": "/bin/true"}).start()
    p.create_user("owner", "owner-password-1")
    p.create_user("other", "other-password-1")
    p.create_user("target", "target-password-1")
    clients = {
        "owner": p.login("owner", "owner-password-1"),
        "other": p.login("other", "other-password-1"),
        "admin": p.login("admin", p.admin_password),
        "anonymous": p.client(),
    }
    clients["anonymous"].get("/login")
    # The other user owns objects too, so "foreign" ids are real ids.
    ob = clients["other"].create_blueprint("others")
    os_ = clients["other"].create_server("others", ob)
    clients["other"].get("/servers/%d" % os_)
    clients["other"].post("/servers/%d/stop" % os_)
    yield p, clients
    p.cleanup()


def fresh_objects(p, owner):
    """A new blueprint, server and job of owner's, so destructive routes
    always act on an object that exists."""
    n = p.query("SELECT count(*) FROM blueprints")[0][0]
    b = owner.create_blueprint("bp%d" % n)
    s = owner.create_server("srv%d" % n, b)
    owner.get("/servers/%d" % s)
    owner.post("/servers/%d/stop" % s)
    j = p.query("SELECT max(id) FROM jobs")[0][0]
    u = p.query("SELECT id FROM users WHERE username = 'target'")[0][0]
    return {"s": s, "b": b, "j": j, "u": u}


def call(client, method, path, data, ids):
    url = path.format(**ids)
    if method == "GET":
        if url.endswith("/logs") or url.endswith("/events"):
            conn, resp = client.stream(url)
            status, ctype, body = resp.status, resp.getheader("Content-Type"), b""
            if status != 200:
                body = resp.read()
            conn.close()
            return status, ctype, body.decode(), resp.getheader("Location")
        r = client.get(url)
    else:
        client.get("/servers")  # refresh the CSRF token the way a page load would
        r = client.post(url, {k: v.format(**ids) for k, v in (data or {}).items()})
    return r.status, r.header("Content-Type"), r.text, r.header("Location")


def normalized(text):
    return re.sub(r'[0-9a-f]{64}', "T", text)


@pytest.mark.parametrize("method,path,data", OBJECT_ROUTES, ids=[m + " " + p for m, p, _ in OBJECT_ROUTES])
@pytest.mark.parametrize("role", ROLES)
def test_object_route(world, role, method, path, data):
    p, clients = world
    ids = fresh_objects(p, clients["owner"])
    status, ctype, text, location = call(clients[role], method, path, data, ids)
    if role in ("owner", "admin"):
        if path.endswith("/blueprints/{b}/delete"):
            # Allowed, and refused for a reason only the owner may see: a
            # server still links to it (the page names it).
            assert status == 409 and 'id="linked"' in text, (status, text[:300])
        else:
            assert status in (200, 303), (status, text[:300])
        if status == 303:
            assert not location.startswith("/login")
        if path.endswith("/logs") or path.endswith("/events"):
            assert ctype.startswith("text/event-stream")
    elif role == "other":
        assert status == 404, (status, text[:300])
        # Byte for byte what an unknown id answers.
        unknown = {k: 999999 for k in ids}
        s2, _, t2, _ = call(clients[role], method, path, data, unknown)
        assert s2 == 404 and normalized(t2) == normalized(text)
    else:
        if method == "GET" and not (path.endswith("/logs") or path.endswith("/events")):
            assert status == 303 and location == "/login"
        elif method == "GET":
            assert status == 401
        else:
            assert status == 403
    # A refused request changed nothing.
    if role in ("other", "anonymous"):
        assert p.query("SELECT count(*) FROM servers WHERE id = ?", ids["s"])[0][0] == 1
        assert p.query("SELECT name FROM blueprints WHERE id = ?", ids["b"])[0][0].startswith("renamed") is False


@pytest.mark.parametrize("method,path,data", ADMIN_ROUTES, ids=[m + " " + p for m, p, _ in ADMIN_ROUTES])
@pytest.mark.parametrize("role", ROLES)
def test_admin_route(world, role, method, path, data):
    p, clients = world
    u = p.query("SELECT id FROM users WHERE username = 'target'")[0][0]
    status, _, text, location = call(clients[role], method, path, data, {"u": u})
    if role == "admin":
        assert status in (200, 303), (status, text[:300])
    elif role in ("owner", "other"):
        assert status == 404
    elif method == "GET":
        assert status == 303 and location == "/login"
    else:
        assert status == 403


def test_lists_show_only_own_objects(world):
    p, clients = world
    ids = fresh_objects(p, clients["owner"])
    for path in ("/servers", "/blueprints", "/jobs"):
        mine = clients["owner"].get(path).text
        theirs = clients["other"].get(path).text
        everything = clients["admin"].get(path).text
        assert "others" not in mine and "others" in theirs and "others" in everything, path
    assert "srv" not in clients["other"].get("/servers").text
    assert 'href="/servers/%d"' % ids["s"] in clients["admin"].get("/servers").text
    # A user cannot create a server from someone else's blueprint.
    ob = p.query("SELECT id FROM blueprints WHERE name = 'others'")[0][0]
    clients["owner"].get("/servers/new")
    r = clients["owner"].post("/servers", {"name": "sneaky", "blueprint": str(ob)})
    assert r.status == 422 and "Choose one of your blueprints." in r.text
    # Nor switch a server to it.
    r = clients["owner"].post("/servers/%d/blueprint" % ids["s"], {"blueprint": str(ob)})
    assert r.status == 422
    assert p.query("SELECT blueprint_id FROM servers WHERE id = ?", ids["s"])[0][0] == ids["b"]
