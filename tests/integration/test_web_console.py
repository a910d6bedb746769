"""The RCON console on a server's page (issue 11), through the real
l4d2ctl and the fake srcds: a command and its whole answer (more than 100 KB,
many packets), the history replayed with its cap said, a timeout, a refused
password and a stopped server said inline, a restart between two commands
(the second works: the endpoint is resolved for every command), password
changes refused in every form, and nobody else's server."""
import html
import os
import re

import pytest

from test_web_servers import install, last_job, wait_job
from webutil import Panel, wait_for

ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789\n"
HX = {"HX-Request": "true"}


def fake_bytes(n):
    """What the fake's `fake_bytes N` answers: byte k = ALPHABET[k % len]."""
    reps = n // len(ALPHABET) + 1
    return (ALPHABET * reps)[:n].decode()


def traversable(path):
    """The game servers run as other uids: their tree must be reachable
    (conftest does this for tmp_path; this fixture lives per module)."""
    p = path
    while str(p).startswith("/tmp/") and p != p.parent:
        os.chmod(p, os.stat(p).st_mode | 0o011)
        p = p.parent
    return path


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Panel(traversable(tmp_path_factory.mktemp("console")), env={"LEFT4ME_RCON_TIMEOUT": "2"}).start()
    c = p.login("admin", p.admin_password)
    wait_job(p, install(p, c))
    b = c.create_blueprint("coop")
    s = c.create_server("Alpha", b)
    c.get("/servers/%d" % s)
    assert c.post("/servers/%d/start" % s).status == 303
    wait_job(p, last_job(p))
    wait_for(lambda: p.query("SELECT state FROM servers WHERE id = ?", s)[0][0] == "running", what="running")
    yield p, c, s
    p.cleanup()


def send(c, s, command, hx=True):
    return c.post("/servers/%d/console" % s, {"command": command}, headers=HX if hx else None)


def out_of(fragment):
    """The answer text of an entry, unescaped."""
    m = re.search(r'<pre class="rcon-out">(.*?)</pre>', fragment, re.S)
    return html.unescape(m.group(1)) if m else None


def test_round_trip_whole_answer_and_history(srv):
    p, c, s = srv
    page = c.get("/servers/%d" % s).text
    assert 'id="rcon-transcript"' in page and 'name="command"' in page
    r = send(c, s, "echo <b>hi</b> & 'bye'")
    assert r.status == 200
    assert 'class="rcon-entry rcon-ok"' in r.text and "<b>" not in r.text
    assert out_of(r.text) == "<b>hi</b> & 'bye'\n"

    # More than 100 KB, in many packets of uneven sizes: whole, in order.
    r = send(c, s, "fake_bytes 150000")
    assert r.status == 200 and out_of(r.text) == fake_bytes(150000)

    rows = p.query("SELECT username, command, outcome, length(response), response_len FROM console_history "
                   "ORDER BY id")
    assert rows[-2:] == [("admin", "echo <b>hi</b> & 'bye'", "ok", 18, 18),
                         ("admin", "fake_bytes 150000", "ok", 65536, 150000)]

    # Replayed when the page loads, the cap said where it cut.
    page = c.get("/servers/%d" % s).text
    entries = re.findall(r'<div class="rcon-entry rcon-\w+" data-command="([^"]*)"', page)
    assert entries[-2:] == ["echo &lt;b&gt;hi&lt;/b&gt; &amp; &#39;bye&#39;", "fake_bytes 150000"]
    assert "Showing the first 64 KiB of 146 KiB; the history keeps 64 KiB of each answer." in page
    kept = re.findall(r'<pre class="rcon-out">(.*?)</pre>', page, re.S)[-1]
    assert html.unescape(kept) == fake_bytes(65536)

    # Without JavaScript: the form posts, the page comes back with it.
    r = send(c, s, "echo no script", hx=False)
    assert r.status == 303 and r.header("Location") == "/servers/%d#rcon" % s
    assert "no script" in c.get("/servers/%d" % s).text


def test_timeout_is_an_entry_and_the_next_command_works(srv):
    p, c, s = srv
    r = send(c, s, "fake_sleep 5")
    assert r.status == 200 and 'rcon-entry rcon-timeout' in r.text
    assert "No answer within 2 s" in r.text
    r = send(c, s, "echo after the timeout")
    assert out_of(r.text) == "after the timeout\n"
    assert p.query("SELECT outcome FROM console_history WHERE command = 'fake_sleep 5'") == [("timeout",)]


def test_wrong_password_then_a_restart_between_two_commands(srv):
    p, c, s = srv
    inst = "s%d" % s
    assert send(c, s, "echo before").status == 200
    # The server's password changes behind l4d2ctl's back (a cfg, a plugin).
    assert p.ctl("rcon", inst, "rcon_password", "changed-elsewhere").returncode == 0
    r = send(c, s, "status")
    assert 'rcon-entry rcon-auth' in r.text and "refused the RCON password" in r.text
    # Restarted between two commands: the next one works, with the password
    # the new process read from server.cfg and the port as it is now.
    c.get("/servers/%d" % s)
    assert c.post("/servers/%d/restart" % s).status == 303
    wait_job(p, last_job(p))
    # The restart job ends once the new process is launched; the watch
    # reports the restart as one event once the server answers (until then
    # the page still shows the old process running): wait for the new one.
    wait_for(lambda: '"state":"running"' in p.ctl("status", inst, "--json").stdout.replace(" ", ""),
             what="the new process running")
    wait_for(lambda: p.query("SELECT state, health FROM servers WHERE id = ?", s)[0] == ("running", "ok"),
             what="running again")
    r = send(c, s, "echo after the restart")
    assert out_of(r.text) == "after the restart\n", r.text


def test_a_stopped_server_says_so(srv):
    p, c, s = srv
    c.get("/servers/%d" % s)
    assert c.post("/servers/%d/stop" % s).status == 303
    wait_job(p, last_job(p))
    r = send(c, s, "status")
    assert 'rcon-entry rcon-unreachable' in r.text and "is it running?" in r.text
    assert c.post("/servers/%d/start" % s).status == 303
    wait_job(p, last_job(p))
    wait_for(lambda: p.query("SELECT state, health FROM servers WHERE id = ?", s)[0] == ("running", "ok"),
             what="running again")


@pytest.mark.parametrize("command", ["rcon_password x", "RCON_PASSWORD x", '"rcon_password" x',
                                     'alias pw "rcon_password x"; pw', "echo hi; Rcon_Password x",
                                     "sm_cvar rcon_password x"])
def test_password_changes_are_refused(srv, command):
    p, c, s = srv
    r = send(c, s, command)
    assert 'rcon-entry rcon-refused' in r.text and "Refused:" in r.text
    # Not sent: the server's password is still the one l4d2ctl keeps.
    assert p.ctl("rcon", "s%d" % s, "echo", "still mine").stdout == "still mine\n"
    assert p.query("SELECT outcome FROM console_history ORDER BY id DESC LIMIT 1") == [("refused",)]


def test_empty_and_overlong_commands(srv):
    p, c, s = srv
    n = p.query("SELECT count(*) FROM console_history")[0][0]
    r = send(c, s, "   ")
    assert "Type a command." in r.text
    r = send(c, s, "echo " + "x" * 600)
    assert "longer than 511 bytes" in r.text
    # The empty one is not remembered, the long one is, shortened.
    assert p.query("SELECT count(*) FROM console_history")[0][0] == n + 1
    assert len(p.query("SELECT command FROM console_history ORDER BY id DESC LIMIT 1")[0][0]) == 511


def test_only_the_owner_and_admins(srv):
    p, c, s = srv
    p.create_user("mallory", "mallory-password")
    m = p.login("mallory", "mallory-password")
    assert m.post("/servers/%d/console" % s, {"command": "status"}, headers=HX).status == 404
    assert m.get("/servers/%d/players" % s).status == 404
    # No CSRF token: refused before anything runs.
    n = p.query("SELECT count(*) FROM console_history")[0][0]
    assert c.post("/servers/%d/console" % s, {"command": "status"}, csrf=False).status == 403
    assert p.query("SELECT count(*) FROM console_history")[0][0] == n
