"""Bad input: over-long fields, invalid names, duplicates, malformed and
oversized bodies. Every case answers a clear error, keeps what the user
typed, and saves nothing."""
import re
import time

import pytest

from webutil import Panel, wait_for, web  # noqa: F401  (fixture)


def counts(p):
    return [p.query("SELECT count(*) FROM %s" % t)[0][0] for t in ("blueprints", "servers", "jobs")]


GOOD = {"name": "coop", "map": "c1m1_hotel", "maxplayers": "8", "tickrate": "60", "overlays": "",
        "cvars": "", "server_cfg": "", "args": ""}


@pytest.mark.parametrize("field,value,message", [
    ("name", "x" * 65, "at most 64 characters"),
    ("name", "   ", "Enter a name."),
    ("name", "tab\there", "control characters"),
    ("map", "c1m1 hotel; quit", "is not a map name"),
    ("maxplayers", "99", "1 to 32"),
    ("maxplayers", "eight", "1 to 32"),
    ("tickrate", "1000", "10 to 128"),
    ("overlays", "good\n../etc", "&#39;../etc&#39; is not a valid name"),
    ("overlays", "a\nb\na", "&#39;a&#39; is listed twice"),
    ("cvars", 'sv_cheats "1"', "cannot contain"),
    ("cvars", "=bad value", "Write one cvar a line"),
    ("server_cfg", "x" * 300, "at most 256 characters"),
    ("args", "\n".join(["-a"] * 40), "at most 32 lines"),
    # What l4d2ctl would refuse at the start is refused here, at its field.
    ("args", "+sv_lan 1", "without spaces"),
    ("cvars", "hostname evil", "set by left4me"),
    ("cvars", "sv_tags " + "t" * 256, "at most 255 characters"),
    ("args", "-insecure;quit", "without spaces"),
    ("args", "-insecure\n-PORT", "set by left4me"),
])
def test_blueprint_field_errors_keep_input_and_save_nothing(web, field, value, message):
    p, c = web
    before = counts(p)
    c.get("/blueprints/new")
    data = dict(GOOD, **{field: value})
    data["name"] = data["name"] if field == "name" else "kept-name"
    r = c.post("/blueprints", data)
    assert r.status == 422
    assert message in r.text
    # The error sits at its field, and the rest of the form is as typed.
    assert 'id="e-%s"' % field in r.text
    assert 'aria-invalid="true"' in r.text
    if field != "name":
        assert 'value="kept-name"' in r.text
    assert counts(p) == before


def test_duplicate_names(web):
    p, c = web
    b = c.create_blueprint("dup")
    c.get("/blueprints/new")
    r = c.post("/blueprints", dict(GOOD, name="dup"))
    assert r.status == 422 and "already a blueprint with this name" in r.text
    s = c.create_server("one", b)
    c.get("/servers/new")
    r = c.post("/servers", {"name": "one", "blueprint": str(b)})
    assert r.status == 422 and "already have a server with this name" in r.text and 'value="one"' in r.text
    assert p.query("SELECT count(*) FROM servers")[0][0] == 1
    assert p.query("SELECT instance FROM servers WHERE id = ?", s)[0][0] == "s%d" % s


def test_server_name_and_blueprint_are_checked(web):
    p, c = web
    b = c.create_blueprint("bp")
    c.get("/servers/new")
    for data, msg in (({"name": "", "blueprint": str(b)}, "Enter a name."),
                      ({"name": "x\x01y", "blueprint": str(b)}, "control characters"),
                      ({"name": "ok", "blueprint": "abc"}, "Choose one of your blueprints."),
                      ({"name": "ok", "blueprint": "424242"}, "Choose one of your blueprints.")):
        r = c.post("/servers", data)
        assert r.status == 422 and msg in r.text, data
    assert p.query("SELECT count(*) FROM servers")[0][0] == 0


def test_oversized_malformed_and_foreign_bodies(web):
    p, c = web
    before = counts(p)
    c.get("/blueprints/new")
    big = "csrf=%s&name=big&server_cfg=%s" % (c.csrf, "x" * (70 * 1024))
    r = c.request("POST", "/blueprints", body=big)
    assert r.status == 413 and "too large" in r.text
    r = c.request("POST", "/blueprints", body="csrf=%s&name=%%zz" % c.csrf)
    assert r.status == 400 and "malformed" in r.text
    r = c.request("POST", "/blueprints", body="csrf=%s&name=%%C3%%28" % c.csrf)  # invalid UTF-8
    assert r.status == 400
    r = c.request("POST", "/blueprints", body="&".join(["a=1"] * 100) + "&csrf=" + c.csrf)
    assert r.status == 400
    r = c.request("POST", "/blueprints", body="--x\r\n", headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert r.status == 415
    r = c.request("PUT", "/blueprints", body="")
    assert r.status == 405
    assert counts(p) == before
    assert c.get("/servers").status == 200  # the panel is fine


def test_values_are_escaped_for_their_context(web):
    p, c = web
    evil = '<script>alert(1)</script>"\'&'
    b = c.create_blueprint(evil)
    s = c.create_server(evil, b)
    for path in ("/blueprints", "/blueprints/%d" % b, "/servers", "/servers/%d" % s, "/jobs"):
        t = c.get(path).text
        assert "<script>alert" not in t, path
    t = c.get("/servers/%d" % s).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;" in t
    # In an attribute (the form's value) too.
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"' in c.get("/blueprints/%d" % b).text


def test_edit_keeps_values_and_delete_is_blocked_while_servers_link(web):
    p, c = web
    b = c.create_blueprint("linked", overlays="sourcemod\nmaps", cvars="sv_cheats 0", args="-insecure")
    t = c.get("/blueprints/%d" % b).text
    # The overlays in the picker, in order (one hidden input each).
    assert re.findall(r'name="overlays" value="([^"]*)"', t) == ["sourcemod", "maps"]
    assert "sv_cheats 0</textarea>" in t
    s1 = c.create_server("alpha", b)
    s2 = c.create_server("beta", b)
    c.get("/blueprints/%d" % b)
    r = c.post("/blueprints/%d/delete" % b)
    assert r.status == 409
    assert "cannot be deleted while" in r.text
    assert re.search(r'<a href="/servers/%d">alpha</a>' % s1, r.text)
    assert re.search(r'<a href="/servers/%d">beta</a>' % s2, r.text)
    assert p.query("SELECT count(*) FROM blueprints WHERE id = ?", b)[0][0] == 1

    # A server can switch to another blueprint at any time; once none link,
    # the blueprint can go.
    other = c.create_blueprint("other")
    c.get("/servers/%d" % s1)
    assert c.post("/servers/%d/blueprint" % s1, {"blueprint": str(other)}).status == 303
    c.get("/servers/%d" % s2)
    assert c.post("/servers/%d/delete" % s2).status == 303
    wait_for(lambda: p.query("SELECT count(*) FROM servers WHERE id = ?", s2)[0][0] == 0, what="server deleted")
    c.get("/blueprints/%d" % b)
    r = c.post("/blueprints/%d/delete" % b)
    assert r.status == 303 and r.header("Location") == "/blueprints?notice=deleted"
    assert p.query("SELECT count(*) FROM blueprints WHERE id = ?", b)[0][0] == 0


def test_unknown_pages_and_ids(web):
    p, c = web
    for path in ("/nope", "/servers/0", "/servers/abc", "/servers/1/../1", "/servers/99999999999999999999",
                 "/static/../../etc/passwd", "/static/nope.js"):
        assert c.get(path).status == 404, path


def test_queued_jobs_per_user_are_capped(tmp_path):
    # A ctl that never finishes keeps the one job running and the rest queued.
    slow = tmp_path / "l4d2ctl"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    p = Panel(tmp_path / "p", env={"LEFT4ME_L4D2CTL": str(slow), "LEFT4ME_WORKERS": "1"}).start()
    try:
        c = p.login("admin", p.admin_password)
        b = c.create_blueprint("cap")
        s = c.create_server("cap", b)
        statuses = []
        for _ in range(23):
            c.get("/servers/%d" % s)
            statuses.append(c.post("/servers/%d/stop" % s).status)
        assert statuses.count(303) >= 20 and statuses[-1] == 429, statuses
        assert p.query("SELECT count(*) FROM jobs WHERE state = 'queued'")[0][0] == 20
    finally:
        p.proc.kill()
        p.proc.wait()
        p.proc = None
        p.cleanup()


def test_finished_jobs_per_user_are_capped(tmp_path):
    # Start and stop in a loop must not fill the disk: a user keeps the
    # newest 200 finished jobs; another user's are not touched.
    p = Panel(tmp_path / "p", env={"LEFT4ME_L4D2CTL": "/bin/true"}).start()
    try:
        p.create_user("other", "other-password-1")
        now = int(time.time())
        with p.db() as db:
            other = db.execute("SELECT id FROM users WHERE username = 'other'").fetchone()[0]
            for uid in (1, other):
                db.executemany("INSERT INTO jobs (user_id, kind, state, created_at, finished_at) "
                               "VALUES (?, 'stop', 'succeeded', ?, ?)", [(uid, now, now) for _ in range(300)])
        c = p.login("admin", p.admin_password)
        c.get("/admin/install")
        job = int(c.post("/admin/install").header("Location").rsplit("/", 1)[1])
        wait_for(lambda: p.query("SELECT state FROM jobs WHERE id = ?", job)[0][0] in ("succeeded", "failed"),
                 what="the job")
        assert p.query("SELECT count(*) FROM jobs WHERE user_id = 1")[0][0] == 200
        assert p.query("SELECT count(*) FROM jobs WHERE id = ?", job)[0][0] == 1
        assert p.query("SELECT count(*) FROM jobs WHERE user_id = ?", other)[0][0] == 300
    finally:
        p.cleanup()


def test_an_endless_body_is_cut_off(web):
    # Past the form limit the rest is read and dropped, for the 413 page;
    # a body that goes on and on is not read for ever: the panel hangs up.
    import socket
    p, c = web
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              b"Content-Length: 100000000000\r\n\r\n")
    chunk = b"a" * 65536
    closed = False
    try:
        for _ in range(400):  # 25 MiB
            s.sendall(chunk)
    except OSError:
        closed = True
    if not closed:
        s.settimeout(5)
        try:
            closed = s.recv(1) == b""
        except socket.timeout:
            closed = False
        except OSError:
            closed = True
    s.close()
    assert closed
