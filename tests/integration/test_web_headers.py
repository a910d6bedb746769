"""The same security headers on every response the panel makes: pages,
error pages of every kind, event streams, static files and cached pages."""
from webutil import web  # noqa: F401

WANT = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def check(resp, what):
    for k, v in WANT.items():
        got = resp.header(k)
        assert got and got.startswith(v), (what, k, got)


def test_every_kind_of_response_has_the_security_headers(web):
    p, c = web
    b = c.create_blueprint("hdr")
    s = c.create_server("hdr", b)
    anon = p.client()
    check(anon.get("/login"), "a page")
    check(anon.get("/servers/%d" % s, headers={"HX-Request": "true"}), "401 to htmx")
    check(c.get("/servers/999999"), "404")
    check(c.post("/servers", {"name": "x"}, csrf=False), "403 (CSRF)")
    check(c.request("DELETE", "/servers"), "405")
    check(c.post("/login", {"x": "1"}, headers={"Content-Type": "text/plain"}, csrf=False), "415")
    check(c.get("/static/style.css"), "a static file")
    check(c.get("/static/nothing.css"), "404 of a static file")
    c.get("/servers")
    check(c.get("/servers"), "a cached page")
    # Event streams: a server that never started says so in a stream.
    conn, resp = c.stream("/servers/%d/logs" % s)
    from webutil import Resp
    check(Resp(resp.status, resp.getheaders(), b""), "an event stream (message)")
    conn.close()
    with p.db() as db:
        db.execute("INSERT INTO jobs (user_id, kind, target, state, created_at) VALUES (1, 'install', '', "
                   "'running', 0)")
        job = db.execute("SELECT max(id) FROM jobs").fetchone()[0]
    conn, resp = c.stream("/jobs/%d/events" % job)
    assert resp.status == 200
    check(Resp(resp.status, resp.getheaders(), b""), "an event stream (job)")
    conn.close()
