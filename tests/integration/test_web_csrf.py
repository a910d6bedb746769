"""CSRF: every state-changing request needs the session's token (form field
or X-CSRF-Token header); the login form needs its double-submit token."""
import pytest

from webutil import admin, panel  # noqa: F401

POSTS = [
    "/logout", "/profile/password", "/servers", "/servers/{s}/start", "/servers/{s}/stop",
    "/servers/{s}/restart", "/servers/{s}/delete", "/servers/{s}/blueprint", "/blueprints",
    "/blueprints/{b}", "/blueprints/{b}/delete", "/admin/users", "/admin/users/{u}/password",
    "/admin/users/{u}/disable", "/admin/users/{u}/enable", "/admin/install",
]


def test_every_post_refuses_a_missing_or_wrong_token(panel, admin):
    b = admin.create_blueprint("csrf")
    s = admin.create_server("csrf", b)
    panel.create_user("victim", "victim-password-1")
    u = panel.query("SELECT id FROM users WHERE username = 'victim'")[0][0]
    before = panel.query("SELECT count(*) FROM jobs")[0][0]
    for path in POSTS:
        p = path.format(s=s, b=b, u=u)
        r = admin.post(p, {"name": "x"}, csrf=False)
        assert r.status == 403, p
        assert "came from another site" in r.text
        r = admin.post(p, {"name": "x", "csrf": "0" * 64}, csrf=False)
        assert r.status == 403, p
    # Nothing happened: no jobs, the user is enabled, the server is there.
    assert panel.query("SELECT count(*) FROM jobs")[0][0] == before
    assert panel.query("SELECT disabled FROM users WHERE id = ?", u)[0][0] == 0
    assert panel.query("SELECT count(*) FROM servers")[0][0] == 1
    assert admin.get("/servers").status == 200  # still logged in


def test_htmx_header_token_is_accepted(panel, admin):
    b = admin.create_blueprint("hdr")
    s = admin.create_server("hdr", b)
    r = admin.request("POST", "/servers/%d/stop" % s, body="", headers={"X-CSRF-Token": admin.csrf})
    assert r.status == 303


def test_another_sessions_token_does_not_work(panel, admin):
    panel.create_user("mallory", "mallory-password")
    m = panel.login("mallory", "mallory-password")
    b = admin.create_blueprint("other")
    r = admin.post("/blueprints/%d/delete" % b, {"csrf": m.csrf}, csrf=False)
    assert r.status == 403


def test_login_needs_the_double_submit_token(panel):
    c = panel.client()
    r = c.post("/login", {"username": "admin", "password": panel.admin_password})
    assert r.status == 403
    c.get("/login")
    token = c.csrf
    c.cookies.pop("l4m_pre")
    r = c.post("/login", {"username": "admin", "password": panel.admin_password, "csrf": token}, csrf=False)
    assert r.status == 403
    assert "l4m_session" not in c.cookies
