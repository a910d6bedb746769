"""The files view of a files overlay through the panel: what the file
manager (static/files.js) does, as HTTP. Uploads arrive byte for byte,
downloads come back the same, a folder comes back as a zip, folders are
made with their parents, moves and removals do what they say; the limits
answer with the host's message and write nothing; another user's overlay
answers like an unknown one; a global overlay is read-only to users."""
import io
import json
import re
import socket
import subprocess
import zipfile

from filesutil import Files, create_overlay, error_of, host_name
from webutil import Panel, panel  # noqa: F401  (fixture)


def work_tree(p, overlay_id):
    return p.state / "overlay-store" / "work" / host_name(p, overlay_id)


def files_overlay(p, name="cfg"):
    """admin's client, a new files overlay of theirs, its routes, its tree."""
    admin = p.login("admin", p.admin_password)
    o = create_overlay(admin, name, kind="files")
    return admin, o, Files(admin, o), work_tree(p, o)


def tidy(html, where):
    r = subprocess.run(["tidy", "-q", "-e", "--show-warnings", "yes", "-utf8"], input=html.encode(),
                       capture_output=True)
    assert r.returncode == 0, "%s:\n%s" % (where, r.stderr.decode())


def test_uploads_downloads_folders_moves_and_removals(panel):
    p = panel
    admin, o, f, work = files_overlay(p)
    blobs = {
        "left4dead2/cfg/server.cfg": b'hostname "x"\r\nsv_cheats 0\r\n',
        "left4dead2/addons/plugin.smx": bytes(range(256)) * 300 + b"\0\0\0",
        "empty.txt": b"",
        "ünï cødé/ärger & co.cfg": "café\n".encode("latin-1"),  # a name in UTF-8, content in Latin-1
    }
    for path, data in blobs.items():
        r = f.put(path, data)
        assert r.status == 200, (path, r.status, r.text)
        assert json.loads(r.text) == {"ok": True, "path": path, "size": len(data)}
        assert (work / path).read_bytes() == data  # the folders on the way were made
        g = f.get(path)
        assert g.status == 200 and g.body == data, path
        assert g.header("Content-Type") == "application/octet-stream"
        assert g.header("Content-Disposition").startswith("attachment;")
        assert g.header("X-Content-Type-Options") == "nosniff"
    # The file's name in the download header: an ASCII stand-in and the
    # real name, percent-encoded (nothing can end the header).
    cd = f.get("ünï cødé/ärger & co.cfg").header("Content-Disposition")
    assert cd == "attachment; filename=\"_rger _ co.cfg\"; filename*=UTF-8''%C3%A4rger%20%26%20co.cfg"

    # Listings: folders and files, sizes; a file's own facts.
    top = f.entries()
    assert set(top) == {"left4dead2", "empty.txt", "ünï cødé"} and top["left4dead2"]["type"] == "folder"
    assert f.entries("left4dead2/addons")["plugin.smx"]["size"] == len(blobs["left4dead2/addons/plugin.smx"])
    one = json.loads(f.ls("empty.txt").text)
    assert one["type"] == "file" and one["size"] == 0 and one["overlay"] == "cfg"

    # A put replaces a file whole.
    assert f.put("left4dead2/cfg/server.cfg", b"sv_cheats 1\n").status == 200
    assert (work / "left4dead2/cfg/server.cfg").read_bytes() == b"sv_cheats 1\n"

    # The whole overlay and one folder as zips, streamed: entries below the
    # folder's own name, contents unchanged.
    z = f.zip()
    assert z.status == 200 and z.header("Transfer-Encoding") == "chunked" and z.header("Content-Length") is None
    # (its one folder, and so the file, have the overlay's host name)
    top_name = host_name(p, o)
    assert z.header("Content-Disposition").startswith('attachment; filename="%s.zip"' % top_name)
    names = zipfile.ZipFile(io.BytesIO(z.body)).namelist()
    assert top_name + "/left4dead2/addons/plugin.smx" in names and top_name + "/ünï cødé/ärger & co.cfg" in names
    z = f.zip("left4dead2")
    with zipfile.ZipFile(io.BytesIO(z.body)) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == ["left4dead2/", "left4dead2/addons/", "left4dead2/addons/plugin.smx",
                                         "left4dead2/cfg/", "left4dead2/cfg/server.cfg"]
        assert zf.read("left4dead2/addons/plugin.smx") == blobs["left4dead2/addons/plugin.smx"]
    # A file is downloaded as it is, a folder as a zip: each says so.
    r = f.get("left4dead2")
    assert r.status == 422 and "download it as a zip" in r.text
    r = f.zip("empty.txt")
    assert r.status == 422 and "download it as it is" in r.text
    # Missing paths: 404 with the host's words; as JSON for the editor.
    r = f.c.get(f.base + "/get?path=nope.cfg", headers={"Accept": "application/json"})
    assert r.status == 404 and error_of(r) == "'nope.cfg' does not exist"

    # Folders with their parents; an existing one is no error.
    assert f.mkdir("maps/a/b/c").status == 200 and (work / "maps/a/b/c").is_dir()
    assert f.mkdir("maps/a").status == 200
    r = f.mkdir("empty.txt")
    assert r.status == 422 and "is a file, not a folder" in error_of(r)

    # Moves: a file, a folder; onto something that exists, into itself.
    assert f.mv("empty.txt", "maps/a/empty.txt").status == 200
    assert not (work / "empty.txt").exists() and (work / "maps/a/empty.txt").exists()
    assert f.mv("maps/a", "maps/z").status == 200 and (work / "maps/z/b/c").is_dir()
    r = f.mv("maps/z", "maps/z/b/inside")
    assert r.status == 422 and "into itself" in error_of(r)
    r = f.mv("left4dead2/cfg/server.cfg", "left4dead2/addons/plugin.smx")
    assert r.status == 409 and error_of(r) == "'left4dead2/addons/plugin.smx' already exists (remove it first)"
    assert (work / "left4dead2/addons/plugin.smx").read_bytes() == blobs["left4dead2/addons/plugin.smx"]
    r = f.mv("nope", "x")
    assert r.status == 404

    # Removals: a file; a full folder only when asked for all of it.
    assert f.rm("maps/z/empty.txt").status == 200 and not (work / "maps/z/empty.txt").exists()
    r = f.rm("maps")
    assert r.status == 422 and "is not empty" in error_of(r) and (work / "maps/z/b/c").is_dir()
    assert f.rm("maps", recursive=True).status == 200 and not (work / "maps").exists()
    assert f.rm("").status == 400  # no path: the form names none

    # The overlay's page: the edits are not on any server yet, and it says
    # when they will be; the plain listing (without JavaScript) is valid.
    page = admin.get(f.page)
    assert '<p class="notice" id="files-pending">' in page.text  # shown, not hidden
    assert "get these changes at their next start" in page.text
    tidy(page.text, "files page")
    sub = admin.get(f.page + "?dir=left4dead2%2Fcfg")
    assert 'href="/overlays/%d/files/get?path=left4dead2%%2Fcfg%%2Fserver.cfg" download>server.cfg</a>' % o in sub.text
    tidy(sub.text, "files page, a folder")
    bad = admin.get(f.page + "?dir=..%2Fetc")
    assert bad.status == 200 and "not allowed" in bad.text and 'id="files-list"' not in bad.text
    tidy(bad.text, "files page, a refused folder")
    # Building publishes the edits; then nothing is pending.
    admin.get(f.page)
    assert admin.post(f.page + "/build").status == 303
    from overlayutil import job_of, wait_job
    wait_job(p, job_of(p, o))
    assert '<p class="notice" id="files-pending" hidden>' in admin.get(f.page).text
    assert (p.state / "overlays" / host_name(p, o) / "left4dead2/cfg/server.cfg").read_bytes() == b"sv_cheats 1\n"


def test_an_upload_is_the_body_as_it_is_and_a_short_one_writes_nothing(panel):
    p = panel
    admin, o, f, work = files_overlay(p)
    # multipart/form-data is refused (its framing would become the file).
    body = (b"--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../../" + b"a" * 5000 +
            b"\"\r\n\r\nevil\r\n--x--\r\n")
    r = f.put("up.txt", body, headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert r.status == 415 and "not as multipart" in error_of(r)
    # A body shorter than the size the browser read: nothing is written.
    r = f.put("short.txt", b"12345", size=10)
    assert r.status == 400 and "cut short: 5 of 10 bytes" in error_of(r)
    # A client that goes away midway: no request reaches the host at all.
    s = socket.create_connection(("127.0.0.1", p.port))
    head = ("POST %s/put?path=gone.bin&size=1048576 HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nX-CSRF-Token: %s\r\n"
            "Content-Length: 1048576\r\n\r\n" % (f.base, "; ".join("%s=%s" % kv for kv in admin.cookies.items()),
                                                  admin.csrf)).encode()
    s.sendall(head + b"x" * 100000)
    s.close()
    # Without a size, the body's own length is the size.
    assert f.put("nosize.txt", b"abc", size=False).status == 200
    assert sorted(x.name for x in work.iterdir()) == ["nosize.txt"]
    assert list((p.state / "overlay-store" / "uploads").iterdir()) == []
    # No upload without the CSRF header.
    r = admin.request("POST", f.base + "/put?path=x.txt", body=b"x", headers={"Content-Type": "text/plain"})
    assert r.status == 403 and not (work / "x.txt").exists()


def test_size_limits_answer_with_the_hosts_message_and_write_nothing(tmp_path):
    p = Panel(tmp_path, env={"LEFT4ME_FILES_MAX_FILE_SIZE": "1K", "LEFT4ME_FILES_MAX_OVERLAY_SIZE": "3K"}).start()
    try:
        admin, o, f, work = files_overlay(p)
        page = admin.get(f.page).text
        assert 'data-max-file="1024"' in page and 'data-max-size="3072"' in page
        assert "Up to 1.0 KiB a file, 3.0 KiB in all" in page
        r = f.put("big.bin", b"x" * 1025)
        assert r.status == 413
        assert error_of(r) == ("'big.bin' is larger than the limit of 1.0 KiB a file (LEFT4ME_FILES_MAX_FILE_SIZE); "
                               "nothing was written")
        for i in range(3):
            assert f.put("f%d.bin" % i, b"y" * 1000).status == 200
        r = f.put("f3.bin", b"z" * 1000)
        assert r.status == 413 and "does not fit" in error_of(r) and "LEFT4ME_FILES_MAX_OVERLAY_SIZE" in error_of(r)
        assert sorted(x.name for x in work.iterdir()) == ["f0.bin", "f1.bin", "f2.bin"]
    finally:
        p.cleanup()


# Every files address, and what a request to it looks like.
def every_route(f):
    return [
        ("ls", lambda: f.ls("x")), ("get", lambda: f.get("x")), ("zip", lambda: f.zip()),
        ("put", lambda: f.put("x", b"x")), ("mkdir", lambda: f.mkdir("x")), ("mv", lambda: f.mv("x", "y")),
        ("rm", lambda: f.rm("x")),
    ]


def test_owners_global_overlays_and_other_kinds(panel):
    p = panel
    p.create_user("alice", "alice-password")
    p.create_user("bob", "bob-password")
    alice, bob = p.login("alice", "alice-password"), p.login("bob", "bob-password")
    admin = p.login("admin", p.admin_password)
    mine = create_overlay(alice, "cfg", kind="files")
    Files(alice, mine).put("x", b"alice's\n")
    # bob: alice's overlay, an unknown id, and an overlay of another kind
    # all answer one 404, with one body, on every files address.
    ws = create_overlay(bob, "maps", kind="workshop")
    unknown = 424242
    for verb, _ in every_route(Files(bob, mine)):
        answers = []
        for oid in (mine, unknown, ws):
            f = Files(bob, oid)
            r = dict(every_route(f))[verb]()
            answers.append((r.status, r.body))
        assert answers[0][0] == 404 and answers[0] == answers[1] == answers[2], (verb, answers)
    assert (work_tree(p, mine) / "x").read_bytes() == b"alice's\n"
    assert not (work_tree(p, mine) / "y").exists()

    # A global files overlay: every user reads it; only admins change it.
    g = create_overlay(admin, "optimized", kind="files", glob=True)
    assert Files(admin, g).put("cfg/server.cfg", b"fps_max 0\n").status == 200
    fa = Files(alice, g)
    assert fa.get("cfg/server.cfg").body == b"fps_max 0\n"
    assert "cfg" in fa.entries()
    assert zipfile.ZipFile(io.BytesIO(fa.zip().body)).read("g-optimized/cfg/server.cfg") == b"fps_max 0\n"
    for verb, call in [("put", lambda: fa.put("cfg/server.cfg", b"evil")), ("mkdir", lambda: fa.mkdir("d")),
                       ("mv", lambda: fa.mv("cfg", "c2")), ("rm", lambda: fa.rm("cfg", recursive=True))]:
        r = call()
        assert r.status == 403, (verb, r.status)
    assert (work_tree(p, g) / "cfg/server.cfg").read_bytes() == b"fps_max 0\n"
    assert sorted(x.name for x in work_tree(p, g).iterdir()) == ["cfg"]
    page = alice.get("/overlays/%d" % g).text
    assert 'data-writable="0"' in page
    tidy(page, "a global files overlay, as a user")
    # An admin may change a user's overlay.
    assert Files(admin, mine).put("by-admin", b"1").status == 200
    # Logged out: nothing at all.
    anon = p.client()
    r = anon.request("POST", "/overlays/%d/files/put?path=z" % mine, body=b"z",
                     headers={"Content-Type": "application/octet-stream"})
    assert r.status == 403 and not (work_tree(p, mine) / "z").exists()
    assert anon.get("/overlays/%d/files/get?path=x" % mine).status in (303, 401)


def test_an_upload_without_a_session_is_not_stored_at_all(panel):
    """An upload may be gigabytes: a request without a live session and its
    CSRF token is refused from its headers, before a byte of its body is
    stored (the panel hangs up once it has read a little of it), so nobody
    fills the disk without logging in."""
    p = panel
    admin, o, f, _ = files_overlay(p)
    size = 64 << 20

    def send(headers):
        s = socket.create_connection(("127.0.0.1", p.port))
        s.settimeout(30)
        head = "POST %s/put?path=big.bin&size=%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n" % (
            f.base, size, size, "".join("%s: %s\r\n" % kv for kv in headers.items()))
        s.sendall(head.encode())
        sent, chunk = 0, b"\0" * 65536
        try:
            while sent < size:
                s.sendall(chunk)
                sent += len(chunk)
            answer = s.recv(200)
        except (BrokenPipeError, ConnectionResetError):
            answer = b""
        s.close()
        return sent, answer

    cookie = "; ".join("%s=%s" % kv for kv in admin.cookies.items())
    for headers in ({}, {"Cookie": cookie}, {"X-CSRF-Token": admin.csrf},
                    {"Cookie": "l4m_session=" + "0" * 64, "X-CSRF-Token": admin.csrf},
                    {"Cookie": cookie, "X-CSRF-Token": "0" * 64}):
        sent, answer = send(headers)
        # Cut off after a little (1 MiB read and dropped, plus what the
        # sockets hold), or answered 403 at the end: never stored.
        assert sent < size or answer.startswith(b"HTTP/1.1 403"), (headers.keys(), sent, answer)
        assert sent < 24 << 20, (headers.keys(), sent)
    assert not (work_tree(p, o) / "big.bin").exists()
    # With both, the same upload goes through.
    sent, answer = send({"Cookie": cookie, "X-CSRF-Token": admin.csrf})
    assert sent == size and answer.startswith(b"HTTP/1.1 200"), answer
    assert (work_tree(p, o) / "big.bin").stat().st_size == size
