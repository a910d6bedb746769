"""Routes with a streamed body that answer JSON (/api/blueprints): the body
goes to a temp file as it arrives, capped per route (a clear 413, and a
hang-up far past the cap), the answers and the errors are JSON, the rules
are the blueprint form's, and the CSRF token and the owner check apply."""
import json
import socket

from webutil import web  # noqa: F401  (fixture)


def post(c, body, content_type="application/json", csrf=True):
    h = {"Content-Type": content_type}
    if csrf:
        h["X-CSRF-Token"] = c.csrf
    return c.request("POST", "/api/blueprints", body=body, headers=h)


GOOD = {"name": "api", "map": "c1m1_hotel", "maxplayers": 8, "tickrate": "30", "cvars": "sv_cheats 0"}


def test_a_blueprint_from_json(web):
    p, c = web
    r = post(c, json.dumps(GOOD))
    assert r.status == 201 and r.header("Content-Type") == "application/json"
    a = json.loads(r.body)
    assert a["url"] == "/blueprints/%d" % a["id"]
    assert p.query("SELECT name, maxplayers, cvars FROM blueprints WHERE id = ?", a["id"]) == [("api", 8, "sv_cheats 0")]
    assert "api" in c.get("/blueprints").text


def test_errors_are_json_and_by_field(web):
    p, c = web
    r = post(c, json.dumps(dict(GOOD, map="c1m1.hotel", maxplayers=99, args=["not", "text"])))
    assert r.status == 422
    errors = json.loads(r.body)["errors"]
    assert list(errors) == ["args"]  # a wrong type first
    r = post(c, json.dumps(dict(GOOD, map="c1m1.hotel", maxplayers=99)))
    errors = json.loads(r.body)["errors"]
    assert set(errors) == {"map", "maxplayers"} and "is not a map name" in errors["map"]
    r = post(c, json.dumps(GOOD))
    r = post(c, json.dumps(GOOD))
    assert r.status == 422 and "already a blueprint" in json.loads(r.body)["errors"]["name"]
    for body in (b"[1, 2]", b"{\"name\": ", b"{\"name\": \"a\", \"name\": \"b\"}"):
        r = post(c, body)
        assert r.status == 400 and "not a JSON object" in json.loads(r.body)["error"], body
    r = post(c, json.dumps(GOOD), content_type="application/x-www-form-urlencoded")
    assert r.status == 415 and json.loads(r.body)["error"]
    assert p.query("SELECT count(*) FROM blueprints")[0][0] == 1


def test_csrf_and_login_apply(web):
    p, c = web
    r = post(c, json.dumps(dict(GOOD, name="x")), csrf=False)
    assert r.status == 403 and json.loads(r.body)["error"]
    anon = p.client()
    r = anon.request("POST", "/api/blueprints", body=json.dumps(GOOD), headers={"Content-Type": "application/json"})
    assert r.status == 403 and json.loads(r.body)["error"] == "Log in first."
    assert p.query("SELECT count(*) FROM blueprints")[0][0] == 0


def test_the_route_caps_its_body_with_a_clear_413(web):
    p, c = web
    big = json.dumps(dict(GOOD, server_cfg="x" * (70 * 1024)))
    r = post(c, big)
    assert r.status == 413
    assert json.loads(r.body)["error"] == "The body is too large: this address takes at most 64 KiB."
    # Without a Content-Length (chunked), the cap holds as the bytes come.
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    cookie = "; ".join("%s=%s" % kv for kv in c.cookies.items())
    s.sendall(("POST /api/blueprints HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "X-CSRF-Token: %s\r\nCookie: %s\r\nTransfer-Encoding: chunked\r\n\r\n" % (c.csrf, cookie)).encode())
    chunk = b"x" * 8192
    for _ in range(10):
        s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    s.sendall(b"0\r\n\r\n")
    head = s.recv(4096).decode("latin-1")
    s.close()
    assert head.startswith("HTTP/1.1 413"), head
    assert p.query("SELECT count(*) FROM blueprints")[0][0] == 0
    assert post(c, json.dumps(GOOD)).status == 201  # and the panel is fine


def test_far_past_the_cap_the_connection_is_closed(web):
    p, c = web
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    cookie = "; ".join("%s=%s" % kv for kv in c.cookies.items())
    s.sendall(("POST /api/blueprints HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "X-CSRF-Token: %s\r\nCookie: %s\r\nContent-Length: 100000000000\r\n\r\n" % (c.csrf, cookie)).encode())
    closed = False
    try:
        for _ in range(400):  # 25 MiB
            s.sendall(b"a" * 65536)
    except OSError:
        closed = True
    if not closed:
        s.settimeout(5)
        try:
            data = s.recv(65536)
            closed = data == b"" or data.startswith(b"HTTP/1.1 413")
        except OSError:
            closed = True
    s.close()
    assert closed


def test_the_body_goes_to_a_temp_file_as_it_arrives(web):
    import os
    import time
    p, c = web
    body = json.dumps(dict(GOOD, name="streamed", server_cfg="\n".join(["sv_alltalk 1 // %024d" % i for i in range(350)]),
                           cvars="\n".join("c%d %s" % (i, "v" * 90) for i in range(100)))).encode()
    assert len(body) > 20000
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    cookie = "; ".join("%s=%s" % kv for kv in c.cookies.items())
    s.sendall(("POST /api/blueprints HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "X-CSRF-Token: %s\r\nCookie: %s\r\nContent-Length: %d\r\n\r\n" % (c.csrf, cookie, len(body))).encode())
    s.sendall(body[:20000])

    def temp_file_size():
        for fd in os.listdir("/proc/%d/fd" % p.proc.pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (p.proc.pid, fd))
            except OSError:
                continue
            if target.startswith(str(p.state) + "/") and target.endswith("(deleted)"):
                return os.stat("/proc/%d/fd/%s" % (p.proc.pid, fd)).st_size
        return None
    deadline = time.monotonic() + 5
    while temp_file_size() != 20000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert temp_file_size() == 20000  # an unnamed file in the state dir, filled as the bytes came
    s.sendall(body[20000:])
    head = s.recv(4096).decode("latin-1")
    s.close()
    assert head.startswith("HTTP/1.1 201"), head
    time.sleep(0.2)
    assert temp_file_size() is None  # gone with the request
