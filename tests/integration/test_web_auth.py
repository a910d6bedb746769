"""The panel's accounts and sessions: login, logout, cookie flags, hashed
tokens, password change, admin commands, disabling."""
import hashlib
import re

from webutil import LEFT4ME, Panel, admin, free_port, panel, wait_for  # noqa: F401  (fixtures)


def test_login_sets_a_safe_cookie_and_logout_ends_the_session(panel):
    panel.create_user("alice", "alice-password-1")
    c = panel.client()
    r = c.login("alice", "alice-password-1")
    assert r.status == 303 and r.header("Location") == "/servers"
    cookie = [x for x in r.cookies() if x.startswith("l4m_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # only with LEFT4ME_COOKIE_SECURE=1 (behind TLS)
    assert "alice" in c.get("/servers").text

    # The database holds only a hash of the token.
    token = c.cookies["l4m_session"]
    rows = panel.query("SELECT token_hash FROM sessions")
    assert len(rows) == 1 and token.encode() not in rows[0][0] and bytes.fromhex(token) != rows[0][0]

    old = dict(c.cookies)
    r = c.post("/logout")
    assert r.status == 303 and r.header("Location").startswith("/login")
    assert panel.query("SELECT count(*) FROM sessions")[0][0] == 0
    # The old cookie no longer works.
    c.cookies = old
    assert c.get("/servers").status == 303


def test_wrong_password_unknown_user_and_disabled_account_look_the_same(panel):
    panel.create_user("bob", "bob-password-12")
    texts = []
    for user, pw in (("bob", "wrong-password"), ("nobody", "whatever-123"),):
        c = panel.client()
        r = c.login(user, pw)
        assert r.status == 401
        assert "l4m_session" not in c.cookies
        texts.append(re.sub(r'value="[0-9a-f]{64}"', "", r.text).replace(user, "X"))
    assert texts[0] == texts[1]
    # The typed username is kept, the password is not echoed.
    assert 'value="bob"' in panel.client().login("bob", "wrong-password").text


def test_anonymous_is_sent_to_login(panel):
    c = panel.client()
    for path in ("/servers", "/blueprints", "/jobs", "/profile", "/admin/users"):
        r = c.get(path)
        assert r.status == 303 and r.header("Location") == "/login", path


def test_password_change_keeps_this_session_and_ends_the_others(panel):
    panel.create_user("carol", "carol-password-1")
    here = panel.login("carol", "carol-password-1")
    there = panel.login("carol", "carol-password-1")
    assert panel.query("SELECT count(*) FROM sessions")[0][0] == 2

    here.get("/profile")
    r = here.post("/profile/password", {"current": "nope-nope-nope", "new": "carol-password-2",
                                        "confirm": "carol-password-2"})
    assert r.status == 422 and "This is not your current password." in r.text
    r = here.post("/profile/password", {"current": "carol-password-1", "new": "short", "confirm": "short"})
    assert r.status == 422 and "at least 10 characters" in r.text
    r = here.post("/profile/password", {"current": "carol-password-1", "new": "carol-password-2",
                                        "confirm": "carol-password-X"})
    assert r.status == 422 and "differ" in r.text

    old_cookie = here.cookies["l4m_session"]
    r = here.post("/profile/password", {"current": "carol-password-1", "new": "carol-password-2",
                                        "confirm": "carol-password-2"})
    assert r.status == 303 and r.header("Location") == "/profile?notice=password"
    assert here.get("/servers").status == 200
    # This browser goes on under a new token: a stolen copy of the old
    # cookie is logged out with the old password.
    assert here.cookies["l4m_session"] != old_cookie
    stolen = panel.client()
    stolen.cookies["l4m_session"] = old_cookie
    assert stolen.get("/servers").status == 303
    assert "Password changed" in here.get("/profile?notice=password").text
    assert there.get("/servers").status == 303
    assert panel.client().login("carol", "carol-password-1").status == 401
    assert panel.client().login("carol", "carol-password-2").status == 303


def test_disabling_a_user_ends_their_sessions_at_once(panel, admin):
    panel.create_user("dave", "dave-password-1")
    dave = panel.login("dave", "dave-password-1")
    assert dave.get("/servers").status == 200
    uid = panel.query("SELECT id FROM users WHERE username = 'dave'")[0][0]
    admin.get("/admin/users")
    r = admin.post("/admin/users/%d/disable" % uid)
    assert r.status == 303
    assert "Disabled dave: they were logged out and cannot log in until you enable the account again." in \
        admin.get(r.header("Location")).text
    assert dave.get("/servers").status == 303
    assert panel.client().login("dave", "dave-password-1").status == 401
    admin.get("/admin/users")
    r = admin.post("/admin/users/%d/enable" % uid)
    assert r.status == 303 and "Enabled dave: they can log in again." in admin.get(r.header("Location")).text
    assert panel.client().login("dave", "dave-password-1").status == 303


def shown_password(client, location):
    """The page a new password is shown on (reached by a redirect)."""
    r = client.get(location)
    assert r.status == 200 and r.header("Cache-Control") == "no-store"
    return re.search(r'<code id="new-password">([A-Za-z0-9]+)</code>', r.text).group(1)


def test_admin_creates_users_and_resets_passwords_in_the_panel(panel, admin):
    admin.get("/admin/users")
    r = admin.post("/admin/users", {"username": "erin"})
    uid = panel.query("SELECT id FROM users WHERE username = 'erin'")[0][0]
    assert r.status == 303 and r.header("Location") == "/admin/users/%d/password" % uid
    pw = shown_password(admin, r.header("Location"))
    erin = panel.login("erin", pw)
    assert erin.get("/admin/users").status == 404  # not an admin

    admin.get("/admin/users")
    r = admin.post("/admin/users/%d/password" % uid)
    assert r.status == 303 and r.header("Location") == "/admin/users/%d/password" % uid
    # What was done to whom, said once.
    assert "Reset the password of erin: they were logged out everywhere." in admin.get(r.header("Location")).text
    new = shown_password(admin, r.header("Location"))
    assert new != pw
    assert erin.get("/servers").status == 303  # the reset ended erin's session
    # A reload shows the same password again and resets nothing.
    assert shown_password(admin, r.header("Location")) == new
    assert panel.client().login("erin", new).status == 303
    # Nobody else sees it: not another admin session, not another user's page.
    other = panel.login("admin", panel.admin_password)
    assert "new-password" not in other.get(r.header("Location")).text
    assert "Reset the password of erin:" not in admin.get("/admin/users").text

    # Field errors keep what was typed.
    admin.get("/admin/users")
    r = admin.post("/admin/users", {"username": "bad name!", "password": "x"})
    assert r.status == 422
    assert 'value="bad name!"' in r.text and "may contain only" in r.text and "at least 10" in r.text
    admin.get("/admin/users")
    r = admin.post("/admin/users", {"username": "ERIN", "password": "some-password-1"})
    assert r.status == 422 and "taken" in r.text


def test_an_admin_resets_no_password_of_their_own_on_the_users_page(panel, admin):
    # One's own password goes through the profile page (which asks for the
    # current one and keeps this session): the users page offers no reset
    # on one's own row, and the route refuses it, changing nothing.
    elsewhere = panel.login("admin", panel.admin_password)
    page = admin.get("/admin/users").text
    assert 'action="/admin/users/1/password"' not in page and 'href="/profile"' in page
    r = admin.post("/admin/users/1/password")
    assert r.status == 409 and "profile page" in r.text
    assert elsewhere.get("/servers").status == 200
    assert panel.client().login("admin", panel.admin_password).status == 303


def test_admin_commands(panel):
    p = panel.left4me("admin", "create", "frank")
    assert p.returncode == 0
    pw = re.search(r"password for 'frank': (\S+)", p.stdout).group(1)
    assert panel.client().login("frank", pw).status == 303
    assert panel.left4me("admin", "create", "frank").returncode == 1
    p = panel.left4me("admin", "passwd", "frank", "--password-stdin", input="frank-password-9\n")
    assert p.returncode == 0 and p.stdout == ""
    assert panel.client().login("frank", "frank-password-9").status == 303
    p = panel.left4me("admin", "list")
    assert re.search(r"^admin\s+admin\s+active$", p.stdout, re.M)
    assert re.search(r"^frank\s+user\s+active$", p.stdout, re.M)
    assert panel.left4me("admin", "disable", "frank").returncode == 0
    assert re.search(r"^frank\s+user\s+disabled$", panel.left4me("admin", "list").stdout, re.M)
    p = panel.left4me("admin", "disable", "ghost")
    assert p.returncode == 1 and p.stderr.startswith("error: user 'ghost'") and len(p.stderr.splitlines()) == 1
    p = panel.left4me("db", "migrate")
    assert p.returncode == 0 and "0 steps applied" in p.stdout


def test_sessions_expire_when_idle(panel):
    panel.create_user("gina", "gina-password-1")
    c = panel.login("gina", "gina-password-1")
    with panel.db() as db:
        db.execute("UPDATE sessions SET last_seen = last_seen - 13 * 3600")
    assert c.get("/servers").status == 303


def test_changes_from_the_admin_commands_apply_at_once(panel):
    # Pages and sessions are cached until the database changes; a change
    # made by another process (the admin command) counts too.
    panel.create_user("kim", "kim-password-12")
    kim = panel.login("kim", "kim-password-12")
    for _ in range(3):
        assert kim.get("/servers").status == 200
    assert panel.left4me("admin", "disable", "kim").returncode == 0
    assert kim.get("/servers").status == 303
    admin = panel.login("admin", panel.admin_password)
    page = admin.get("/admin/users").text
    assert "disabled" in page
    assert panel.left4me("admin", "enable", "kim").returncode == 0
    assert "disabled" not in admin.get("/admin/users").text.split("kim", 1)[1].split("</tr>", 1)[0]


def test_web_env_turns_on_secure_cookies(tmp_path):
    from webutil import Panel
    p = Panel(tmp_path)
    (p.etc / "web.env").write_text("# behind TLS\nLEFT4ME_COOKIE_SECURE=1\n")
    p.start()
    try:
        c = p.client()
        r = c.login("admin", p.admin_password)
        cookie = [x for x in r.cookies() if x.startswith("l4m_session=")][0]
        assert cookie.endswith("; Secure")
    finally:
        p.cleanup()


def test_the_database_is_not_readable_by_others(panel):
    # It holds password hashes; the state dir may be traversable by the
    # game servers' users.
    import os
    panel.login("admin", panel.admin_password)
    for name in ("left4me.db", "left4me.db-wal"):
        mode = os.stat(panel.state / name).st_mode
        assert mode & 0o007 == 0, (name, oct(mode))


def test_a_second_panel_on_the_same_state_dir_is_refused(tmp_path):
    # It would re-queue the first one's running jobs and run them twice.
    import subprocess
    import time
    slow = tmp_path / "l4d2ctl"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    first = Panel(tmp_path / "p", env={"LEFT4ME_L4D2CTL": str(slow)}).start()
    try:
        c = first.login("admin", first.admin_password)
        c.get("/admin/install")
        job = int(c.post("/admin/install").header("Location").rsplit("/", 1)[1])
        wait_for(lambda: first.query("SELECT state FROM jobs WHERE id = ?", job)[0][0] == "running", what="running")
        started = time.monotonic()
        p = subprocess.run([str(LEFT4ME), "serve", "--state-dir", str(first.state), "--listen",
                            "127.0.0.1:%d" % free_port()], env=first.env, capture_output=True, text=True, timeout=30)
        assert time.monotonic() - started < 10
        assert p.returncode == 1
        assert p.stderr == ("error: state dir '%s' is in use by another 'left4me serve' (pid %d); stop it first "
                            "or pass another --state-dir\n" % (first.state, first.proc.pid)), p.stderr
        # The first panel's job was left alone.
        assert first.query("SELECT state, attempts FROM jobs WHERE id = ?", job) == [("running", 1)]
        assert not [l for (l,) in first.query("SELECT line FROM job_lines WHERE job_id = ?", job)
                    if l.startswith("interrupted")]
    finally:
        first.proc.kill()
        first.proc.wait()
        first.proc = None
        first.cleanup()
    # Once it is gone, the state dir is free again.
    again = Panel(tmp_path / "p").start()
    again.cleanup()
