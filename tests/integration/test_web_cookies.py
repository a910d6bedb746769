"""Cookies the panel sets and takes back: the pre-login token is the
panel's own (a MAC of its secret), so one planted by someone else is
replaced, never adopted; cookies are Secure whenever the request came over
TLS through the trusted proxy."""
import re

from webutil import Panel, panel  # noqa: F401


def test_a_planted_prelogin_cookie_is_refused_and_replaced(panel):
    # An attacker who can set a cookie for the panel's domain (a sibling
    # subdomain, a script on another port) picks the token in advance.
    planted = "ab" * 32
    c = panel.client()
    c.cookies["l4m_pre"] = planted
    r = c.get("/login")
    token = re.search(r'name="csrf" value="([0-9a-f]{64})"', r.text).group(1)
    assert token != planted
    assert any(v.startswith("l4m_pre=%s;" % token) for v in r.cookies())
    # A login form carrying the planted token, with the planted cookie, is
    # refused: the double submit only holds for tokens the panel made.
    evil = panel.client()
    evil.cookies["l4m_pre"] = planted
    r = evil.post("/login", {"username": "admin", "password": panel.admin_password, "csrf": planted},
                  csrf=False)
    assert r.status == 403 and "came from another site" in r.text
    assert "l4m_session" not in evil.cookies
    # The panel's own token works.
    assert panel.client().login("admin", panel.admin_password).status == 303


def test_a_token_with_a_changed_mac_or_time_is_refused(panel):
    c = panel.client()
    c.get("/login")
    good = c.cookies["l4m_pre"]
    for bad in (good[:-1] + ("0" if good[-1] != "0" else "1"),   # the MAC
                ("%08x" % (int(good[:8], 16) + 1)) + good[8:]):  # the time it was made
        e = panel.client()
        e.cookies["l4m_pre"] = bad
        r = e.post("/login", {"username": "admin", "password": panel.admin_password, "csrf": bad}, csrf=False)
        assert r.status == 403


def test_the_key_survives_a_restart(tmp_path):
    p = Panel(tmp_path).start()
    try:
        c = p.client()
        c.get("/login")
        key = (p.state / "panel.key").stat()
        assert oct(key.st_mode & 0o777) == "0o600" and key.st_size == 32
        p.stop()
        p.start()
        r = c.post("/login", {"username": "admin", "password": p.admin_password})
        assert r.status == 303
    finally:
        p.cleanup()


def secure_flags(resp):
    return {v.split("=", 1)[0]: "; Secure" in v for v in resp.cookies()}


def test_cookies_are_secure_when_the_proxy_says_tls(tmp_path):
    p = Panel(tmp_path, env={"LEFT4ME_TRUST_PROXY": "1"}).start()
    try:
        tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.20"}
        c = p.client()
        assert secure_flags(c.get("/login", headers=tls)) == {"l4m_pre": True}
        r = c.post("/login", {"username": "admin", "password": p.admin_password}, headers=tls)
        assert r.status == 303
        assert secure_flags(r) == {"l4m_session": True, "l4m_device": True}
        # Plain HTTP through the proxy: not Secure (the browser would drop it).
        assert secure_flags(p.client().get("/login", headers={"X-Forwarded-Proto": "http"})) == {"l4m_pre": False}
    finally:
        p.cleanup()


def test_only_the_trusted_proxy_can_say_tls(tmp_path):
    # No proxy configured: a client's own X-Forwarded-Proto says nothing.
    p = Panel(tmp_path).start()
    try:
        r = p.client().get("/login", headers={"X-Forwarded-Proto": "https"})
        assert secure_flags(r) == {"l4m_pre": False}
    finally:
        p.cleanup()


def test_cookie_secure_settings_override(tmp_path):
    for value, want in (("1", True), ("0", False)):
        p = Panel(tmp_path / value, env={"LEFT4ME_COOKIE_SECURE": value, "LEFT4ME_TRUST_PROXY": "1"}).start()
        try:
            r = p.client().get("/login", headers={"X-Forwarded-Proto": "https"})
            assert secure_flags(r) == {"l4m_pre": want}, value
        finally:
            p.cleanup()
