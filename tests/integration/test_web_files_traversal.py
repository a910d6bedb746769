"""The path-traversal corpus (traversal_corpus.py) against every files
address of the panel, in every position a path takes: all refused (a 4xx,
never a body from outside), and nothing changed anywhere: the state dir
(the overlay's own tree included; the panel's database aside, which
sessions write), a decoy state dir and a victim folder outside it, /etc.

Each case goes in twice where it can: encoded once, as a browser sends it
(the panel decodes it back to the case's bytes and hands them to l4d2ctl),
and as it is, unencoded, in the URL (so `%2e%2e` arrives as `..` and
`%252e` as `%2e`: the double decoding a proxy might do). The NUL cases
reach only the panel: %00 in a query (libmicrohttpd decodes it and keeps
the length: refused), and in a form field (refused by the form decoder).
Then the URL-level tricks no corpus path carries: dot segments and escapes
in the address itself, an overlong request line, a multipart upload whose
filename is a traversal or overlong."""
import hashlib
import os
import socket
import urllib.parse

import pytest

from filesutil import Files, create_overlay, host_name
from traversal_corpus import CASES, LEGIT_FILE, etc_digest, plant, tree_digest
from webutil import panel  # noqa: F401  (fixture)

PANEL_DB = {"left4me.db", "left4me.db-wal", "left4me.db-shm", "left4me.lock"}


def state_digest(state):
    """tree_digest of the state dir without the panel's own database, which
    every request's session may write."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(state)):
        if name in PANEL_DB:
            continue
        p = os.path.join(state, name)
        h.update(os.fsencode(name) + b"\0")
        if os.path.islink(p):
            h.update(os.fsencode(os.readlink(p)))
        elif os.path.isdir(p):
            h.update(tree_digest(p).encode())
        elif os.path.isfile(p):
            with open(p, "rb") as fp:
                h.update(fp.read())
    return h.hexdigest()


def encoded(path):
    return urllib.parse.quote(path, safe="")


def raw_ok(path):
    """Whether sending path as it is differs from sending it encoded (it
    holds an escape the panel will decode), and a URL can carry it:
    printable ASCII, nothing that ends a query value or the request line."""
    return (b"%" in path and all(0x21 <= b < 0x7f for b in path) and
            not any(c in path for c in b"&#+? "))


# Every position a path takes: (name, a function of (Files, the path as it
# goes in the query: already encoded or raw), (Files, the path's bytes as a
# form value)).
def query_forms(f, qp):
    return [
        ("ls", lambda: f.ls(query="path=" + qp)),
        ("get", lambda: f.get(query="path=" + qp)),
        ("zip", lambda: f.zip(query="path=" + qp)),
        ("put", lambda: f.put(None, b"evil\n", query="path=" + qp + "&size=5")),
        ("dir-view", lambda: f.c.get(f.page + "?dir=" + qp)),
    ]


def form_forms(f, value, raw=False):
    def body(*pairs):
        parts = []
        for k, v in pairs:
            parts.append(k + "=" + (v.decode("latin-1") if raw else urllib.parse.quote_plus(v)))
        return "&".join(parts)
    legit = LEGIT_FILE.encode()
    return [
        ("mkdir", lambda: f.form("mkdir", body=body(("path", value)))),
        ("rm", lambda: f.form("rm", body=body(("path", value)))),
        ("rm-recursive", lambda: f.form("rm", body=body(("path", value), ("recursive", b"1")))),
        ("mv-from", lambda: f.form("mv", body=body(("from", value), ("to", b"real/moved.txt")))),
        ("mv-to", lambda: f.form("mv", body=body(("from", legit), ("to", value)))),
    ]


def refused(verb, r, outside_marks):
    """A refusal: a 4xx (the dir view: its page, with the error and no
    listing), and no byte of what lies outside."""
    if any(m in r.body for m in outside_marks):
        return False
    if verb == "dir-view":
        return r.status == 200 and b'id="files-list"' not in r.body and b'role="alert"' in r.body
    return 400 <= r.status < 500


def test_every_files_address_refuses_the_corpus_and_nothing_changes(panel, tmp_path):
    p = panel
    assert len(CASES) >= 60
    admin = p.login("admin", p.admin_password)
    o = create_overlay(admin, "cfg", kind="files")
    f = Files(admin, o)
    # One legitimate edit first: its lock file and upload folder exist
    # before the digest.
    assert f.put(LEGIT_FILE, b"legit\n").status == 200
    work = p.state / "overlay-store" / "work" / host_name(p, o)
    decoy, outside = tmp_path / "decoy-state", tmp_path / "outside"
    decoy.mkdir()
    plant(work, decoy, outside)
    # What a leak would show: the victim's and the decoy database's bytes,
    # /etc/passwd's first line.
    marks = [b"do not touch", b"a fake database with secrets", open("/etc/passwd", "rb").readline().strip()]
    before = (state_digest(p.state), tree_digest(decoy), tree_digest(outside), etc_digest())
    users_before = p.query("SELECT * FROM overlays")

    accepted = []
    tried = 0
    for case in CASES:
        path = case.render(decoy, outside)
        # Encoded once, as a browser sends it.
        forms = query_forms(f, encoded(path)) + form_forms(f, path)
        # As it is, where a URL can carry it.
        if raw_ok(path):
            forms += [(v + "/raw", fn) for v, fn in query_forms(f, path.decode())]
            forms += [(v + "/raw", fn) for v, fn in form_forms(f, path, raw=True)]
        for verb, call in forms:
            r = call()
            tried += 1
            if not refused(verb.split("/")[0], r, marks):
                accepted.append((case.id, verb, r.status, r.body[:120]))
    assert accepted == [], "\n".join(map(repr, accepted))
    assert tried > 800
    assert (state_digest(p.state), tree_digest(decoy), tree_digest(outside), etc_digest()) == before
    assert p.query("SELECT * FROM overlays") == users_before
    # The legitimate file is where it was and still works through the panel.
    assert (work / "real" / "ok.txt").read_bytes() == b"legit\n"
    assert f.get(LEGIT_FILE).body == b"legit\n"


def test_nul_bytes_are_refused_where_the_panel_decodes(panel):
    p = panel
    admin = p.login("admin", p.admin_password)
    o = create_overlay(admin, "cfg", kind="files")
    f = Files(admin, o)
    assert f.put("ok.txt", b"ok\n").status == 200
    assert f.put("ok.txt.png", b"png\n").status == 200
    work = p.state / "overlay-store" / "work" / host_name(p, o)
    before = tree_digest(work)
    nul = [c for c in CASES if not c.argv] + [c for c in CASES if c.id.startswith("pct-nul")]
    assert len(nul) == 6
    for case in nul:
        value = case.path if not case.argv else urllib.parse.unquote_to_bytes(case.path)
        assert b"\0" in value
        for verb, call in query_forms(f, encoded(value)):
            r = call()
            if verb == "dir-view":
                assert r.status == 200 and "NUL byte" in r.text and 'id="files-list"' not in r.text, case.id
            else:
                assert r.status == 400 and "NUL byte" in r.text, (case.id, verb, r.status, r.text[:200])
        for verb, call in form_forms(f, value):
            r = call()
            assert r.status == 400 and "malformed" in r.text, (case.id, verb, r.status)
    # "ok.txt%00.png" did not become "ok.txt" (nor "ok.txt.png"): untouched.
    assert tree_digest(work) == before
    assert f.get("ok.txt").body == b"ok\n"


@pytest.mark.parametrize("target", [
    "/overlays/{o}/files/../../../etc/passwd",
    "/overlays/{o}/files/%2e%2e/%2e%2e/etc/passwd",
    "/overlays/{o}/files/get/../../../../etc/passwd",
    "/overlays/{o}/files/get%3fpath=..%2f..%2fetc%2fpasswd",
    "/overlays/{o}/files/%67et?path=real/ok.txt",
    "/overlays/{o}%2ffiles%2fget?path=real/ok.txt",
    "/overlays/{o}/files/get?path=%%32%65%%32%65/etc/passwd",
    "/overlays/{o}/files/get?path=real%2fok.txt%2f..%2f..%2f..%2fetc%2fpasswd",
    "/overlays/{o}/files/get?path=..%c0%af..%c0%afetc%c0%afpasswd",
    "/overlays/{o}/files/get?path=%2e%2e%5c%2e%2e%5cetc%5cpasswd",
    "/overlays/{o}/files/get?path=real/ok.txt&path=../../../etc/passwd",
])
def test_url_level_tricks_reach_nothing(panel, target):
    p = panel
    admin = p.login("admin", p.admin_password)
    o = create_overlay(admin, "cfg", kind="files")
    f = Files(admin, o)
    assert f.put("real/ok.txt", b"legit\n").status == 200
    before = tree_digest(p.state / "overlay-store")
    r = admin.get(target.format(o=o))
    line = open("/etc/passwd", "rb").readline().strip()
    assert line not in r.body
    # The two that name the legitimate file in another spelling may find it;
    # every other one is refused.
    if r.status == 200:
        assert r.body == b"legit\n", (target, r.body[:200])
    else:
        assert 400 <= r.status < 500, (target, r.status)
    assert tree_digest(p.state / "overlay-store") == before


def test_overlong_requests_and_multipart_filenames(panel):
    p = panel
    admin = p.login("admin", p.admin_password)
    o = create_overlay(admin, "cfg", kind="files")
    f = Files(admin, o)
    work = p.state / "overlay-store" / "work" / host_name(p, o)
    before = tree_digest(p.state / "overlay-store")
    # A path past PATH_MAX in the query: the panel's bound, before l4d2ctl.
    r = f.put(None, b"x", query="path=" + "a%2f" * 2100 + "x&size=1")
    assert r.status == 400 and "longer than 4095 bytes" in r.text
    # A request line of 200 KiB, a header of 100 KiB: libmicrohttpd refuses
    # them, or hangs up.
    for request in (b"GET " + f.base.encode() + b"/get?path=" + b"a" * 200000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET " + f.base.encode() + b"/ls HTTP/1.1\r\nHost: x\r\nX-File-Name: " + b"../" * 40000 +
                    b"\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", p.port))
        s.settimeout(10)
        try:
            s.sendall(request)
            answer = s.recv(100)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            answer = b""
        s.close()
        assert answer == b"" or answer.split(b" ")[1][:1] == b"4", answer
    # multipart/form-data whose filename is a traversal, or overlong: the
    # panel takes no name from a body, and refuses the framing.
    for name in (b"../../../etc/passwd", b"a" * 70000, b"..%2f..%2fetc%2fpasswd", b"x\0.png"):
        body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name +
                b"\"\r\nContent-Type: application/octet-stream\r\n\r\nevil\r\n--b--\r\n")
        r = f.put(None, body, query="path=real%%2Fup.txt&size=%d" % len(body),
                  headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert r.status == 415, (name[:20], r.status)
    assert tree_digest(p.state / "overlay-store") == before
    assert not (work / "real" / "up.txt").exists()
