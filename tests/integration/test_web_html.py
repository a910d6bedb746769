"""Every page the panel renders passes Debian's tidy without a warning:
as an admin, as a plain user, with field errors, and the error pages."""
import subprocess

import pytest

from webutil import Panel


def tidy(html, where):
    p = subprocess.run(["tidy", "-q", "-e", "--show-warnings", "yes", "-utf8"], input=html.encode(),
                       capture_output=True)
    assert p.returncode == 0, "%s:\n%s" % (where, p.stderr.decode())


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    p = Panel(tmp_path_factory.mktemp("html"), env={"LEFT4ME_L4D2CTL": "/bin/true"}).start()
    a = p.login("admin", p.admin_password)
    b = a.create_blueprint("Coop <&> \"quoted\"", overlays="sourcemod", cvars="sv_cheats 0",
                           server_cfg="sv_lan 1", args="-insecure")
    s = a.create_server("Alpha's <server>", b)
    a.get("/servers/%d" % s)
    a.post("/servers/%d/stop" % s)
    with p.db() as db:
        db.execute("UPDATE servers SET drift = 'Crash loop: <b>x</b>', state = 'crashed' WHERE id = ?", (s,))
        db.execute("INSERT INTO server_events (server_id, at, kind, message) VALUES (?, 0, 'drift', 'x < y')",
                   (s,))
    a.get("/admin/install")
    a.post("/admin/install")  # job 2: an install, whose page has a progress bar
    p.create_user("user1", "user1-password")
    u = p.login("user1", "user1-password")
    p.create_user("user2", "user2-password")
    u2 = p.query("SELECT id FROM users WHERE username = 'user2'")[0][0]
    a.get("/admin/users")
    a.post("/admin/users/%d/password" % u2)  # its new password is shown on a page of its own
    yield p, a, u, b, s
    p.cleanup()


PAGES = ["/login", "/servers", "/servers/new", "/servers/{s}", "/servers/{s}/status?fragment",
         "/blueprints", "/blueprints/new", "/blueprints/{b}", "/jobs", "/jobs/1", "/jobs/2", "/profile",
         "/admin/users", "/admin/install", "/admin/builds", "/nope", "/servers/424242",
         "/servers?notice=deleting&job=1", "/login?notice=ended", "/admin/users/{u2}/password"]


@pytest.mark.parametrize("path", PAGES)
def test_admin_pages_are_valid(site, path):
    p, a, u, b, s = site
    client = p.client() if path.startswith("/login") else a
    u2 = p.query("SELECT id FROM users WHERE username = 'user2'")[0][0]
    r = client.get(path.format(s=s, b=b, u2=u2))
    assert r.status in (200, 404), (path, r.status)
    if "fragment" in path:
        # A fragment htmx swaps in: wrap it in a minimal page to check it.
        r.text = "<!DOCTYPE html><html lang=\"en\"><head><title>f</title></head><body>%s</body></html>" % r.text
    tidy(r.text, path)


@pytest.mark.parametrize("path", ["/servers", "/servers/new", "/blueprints", "/jobs", "/profile"])
def test_user_pages_are_valid(site, path):
    p, a, u, b, s = site
    tidy(u.get(path).text, path)


def test_pages_with_errors_are_valid(site):
    p, a, u, b, s = site
    a.get("/blueprints/new")
    r = a.post("/blueprints", {"name": "", "map": "bad map", "maxplayers": "0", "tickrate": "x",
                               "overlays": "../x", "cvars": "\"", "server_cfg": "", "args": ""})
    assert r.status == 422
    tidy(r.text, "blueprint errors")
    a.get("/servers/new")
    tidy(a.post("/servers", {"name": "", "blueprint": "0"}).text, "server errors")
    a.get("/blueprints/%d" % b)
    r = a.post("/blueprints/%d/delete" % b)
    assert r.status == 409
    tidy(r.text, "delete blocked")
    a.get("/profile")
    tidy(a.post("/profile/password", {"current": "x", "new": "y", "confirm": "z"}).text, "password errors")
    tidy(a.post("/admin/users", {"username": "bad name"}).text, "user errors")
    c = p.client()
    tidy(c.login("admin", "wrong-password").text, "login error")
    tidy(a.post("/servers", {"x": "1"}, csrf=False).text, "csrf error")
