"""Files overlays through l4d2ctl: put/get keep bytes exactly, uploads that
fail or are cut short leave nothing, limits, mkdir/mv/rm, zip, and how edits
reach a server (at its next start, never while it runs)."""
import io
import json
import os
import signal
import subprocess
import time
import zipfile

from conftest import L4D2CTL


def put(ctl, path, data, *extra, name="cfg", check=True):
    p = subprocess.run([str(L4D2CTL), "overlay", "put", name, path, *extra], env=ctl.env, input=data,
                       capture_output=True, timeout=60)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def get(ctl, path, name="cfg"):
    p = subprocess.run([str(L4D2CTL), "overlay", "get", name, path], env=ctl.env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def ls(ctl, path="", name="cfg"):
    return json.loads(ctl.ok("overlay", "ls", name, path, "--json").stdout)


def names(ctl, path=""):
    return [(e["name"], e["type"]) for e in ls(ctl, path)["entries"]]


def uploads(ctl):
    return os.listdir(ctl.state / "overlay-store" / "uploads")


def show(ctl, name="cfg"):
    return json.loads(ctl.ok("overlay", "show", name, "--json").stdout)


def test_put_and_get_keep_every_byte(ctl):
    ctl.ok("overlay", "create", "cfg", "--kind", "files")
    blobs = {
        "left4dead2/cfg/server.cfg": b'hostname "caf\xc3\xa9"\r\nsv_cheats 0\r\n',     # UTF-8, CRLF
        "left4dead2/cfg/latin1.cfg": b'hostname "caf\xe9"\n',                          # Latin-1
        "left4dead2/cfg/utf16.txt": "\ufeffmotd ☃\n".encode("utf-16-le"),             # UTF-16 with BOM
        "left4dead2/addons/all-bytes.bin": bytes(range(256)) * 300,
        "empty.txt": b"",
        "dir with spaces/ünïcödé ☃.cfg": b"x",
    }
    for path, data in blobs.items():
        put(ctl, path, data)
    for path, data in blobs.items():
        assert get(ctl, path) == data
        assert (ctl.state / "overlay-store" / "work" / "cfg" / path).read_bytes() == data
    assert names(ctl) == [("dir with spaces", "folder"), ("empty.txt", "file"), ("left4dead2", "folder")]
    listing = ls(ctl, "left4dead2/cfg")
    assert listing["type"] == "folder" and listing["path"] == "left4dead2/cfg"
    assert [(e["name"], e["size"]) for e in listing["entries"]] == [
        ("latin1.cfg", len(blobs["left4dead2/cfg/latin1.cfg"])), ("server.cfg", len(blobs["left4dead2/cfg/server.cfg"])),
        ("utf16.txt", len(blobs["left4dead2/cfg/utf16.txt"]))]
    one = ls(ctl, "empty.txt")
    assert one["type"] == "file" and one["size"] == 0 and one["entries"] == []
    # Files are world-readable (servers run as other users), folders 0755.
    work = ctl.state / "overlay-store" / "work" / "cfg"
    assert os.stat(work / "empty.txt").st_mode & 0o777 == 0o644
    assert os.stat(work / "dir with spaces").st_mode & 0o777 == 0o755
    assert uploads(ctl) == []
    assert ctl.ok("overlay", "put", "cfg", "x.cfg", "--json", input="abc").stdout.strip() == \
        '{"overlay":"cfg","path":"x.cfg","size":3}'


def test_a_put_replaces_by_rename_so_the_published_snapshot_keeps_its_version(ctl):
    ctl.ok("overlay", "create", "cfg", "--kind", "files")
    put(ctl, "server.cfg", b"old\n")
    ctl.ok("overlay", "build", "cfg")
    pub = ctl.state / "overlays" / "cfg" / "server.cfg"
    assert pub.read_bytes() == b"old\n"
    put(ctl, "server.cfg", b"new\n")
    assert pub.read_bytes() == b"old\n"  # not written in place
    assert get(ctl, "server.cfg") == b"new\n"
    assert show(ctl)["files"]["pending"] is True
    ctl.ok("overlay", "build", "cfg")
    assert pub.read_bytes() == b"new\n" and show(ctl)["files"]["pending"] is False


def test_limits_refuse_with_one_line_and_leave_nothing(ctl):
    with open(ctl.config / "host.env", "a") as f:
        f.write("LEFT4ME_FILES_MAX_FILE_SIZE=64K\nLEFT4ME_FILES_MAX_OVERLAY_SIZE=100K\n")
    ctl.ok("overlay", "create", "cfg", "--kind", "files")
    p = put(ctl, "big.bin", b"b" * 70000, check=False)
    assert p.returncode == 1 and p.stderr.decode().count("\n") == 1
    assert "larger than the limit of 64.0 KiB a file (LEFT4ME_FILES_MAX_FILE_SIZE); nothing was written" in \
        p.stderr.decode()
    put(ctl, "a.bin", b"a" * 60000)
    p = put(ctl, "b.bin", b"b" * 50000, check=False)
    assert p.returncode == 1 and "does not fit: the overlay holds 58.6 KiB of its limit of 100.0 KiB" in \
        p.stderr.decode()
    # --size refuses before reading a byte.
    p = put(ctl, "c.bin", b"", "--size", "1000000", check=False)
    assert "larger than the limit" in p.stderr.decode()
    # Replacing a file counts the new size instead of the old one.
    put(ctl, "a.bin", b"c" * 64000)
    assert names(ctl) == [("a.bin", "file")]
    assert get(ctl, "a.bin") == b"c" * 64000
    assert uploads(ctl) == []
    assert show(ctl)["files"]["size"] == 64000 and show(ctl)["files"]["max_size"] == 100 * 1024
    p = ctl.fail("overlay", "put", "cfg", "d.bin", input="x", env={"LEFT4ME_FILES_MAX_FILE_SIZE": "lots"})
    assert "LEFT4ME_FILES_MAX_FILE_SIZE='lots' is not a size" in p.stderr


def test_an_upload_cut_short_or_killed_leaves_nothing(ctl):
    ctl.ok("overlay", "create", "cfg", "--kind", "files")
    put(ctl, "keep.cfg", b"version 1\n")
    # Shorter than announced: the client went away.
    p = put(ctl, "keep.cfg", b"version 2, but cut", "--size", "1000", check=False)
    assert p.returncode == 1 and "the upload was cut short (18 of 1000 bytes); nothing was written" in \
        p.stderr.decode()
    # Killed in the middle of a large upload (the panel cancels by killing).
    for sig in (signal.SIGKILL, signal.SIGTERM):
        proc = subprocess.Popen([str(L4D2CTL), "overlay", "put", "cfg", "keep.cfg"], env=ctl.env,
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc.stdin.write(b"z" * (4 << 20))
        proc.stdin.flush()
        time.sleep(0.2)
        proc.send_signal(sig)
        proc.wait(timeout=10)
        proc.stdin.close()
        assert get(ctl, "keep.cfg") == b"version 1\n"
        assert names(ctl) == [("keep.cfg", "file")]
        assert uploads(ctl) == []
    # A failed put into a missing folder makes no folder either.
    p = put(ctl, "new/folder/big.cfg", b"x" * 10, "--size", "20", check=False)
    assert p.returncode == 1 and names(ctl) == [("keep.cfg", "file")]


def test_three_uploads_at_once_into_one_overlay(ctl):
    ctl.ok("overlay", "create", "cfg", "--kind", "files")
    procs = []
    for i in range(3):
        p = subprocess.Popen([str(L4D2CTL), "overlay", "put", "cfg", "up/f%d.bin" % i], env=ctl.env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(p)
    for i, p in enumerate(procs):
        p.stdin.write(bytes([i]) * (1 << 20))
    for p in procs:
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
    assert [n for n, _ in names(ctl, "up")] == ["f0.bin", "f1.bin", "f2.bin"]
    assert get(ctl, "up/f2.bin") == b"\x02" * (1 << 20)


def test_mkdir_mv_rm(ctl):
    ctl.ok("overlay", "create", "cfg", "--kind", "files")
    ctl.ok("overlay", "mkdir", "cfg", "a/b/c")
    ctl.ok("overlay", "mkdir", "cfg", "a/b/c")  # exists: fine
    put(ctl, "a/b/c/f.txt", b"f")
    p = ctl.fail("overlay", "mkdir", "cfg", "a/b/c/f.txt")
    assert "'a/b/c/f.txt' is a file, not a folder" in p.stderr
    # Moves and renames; a folder never into itself; never over something.
    p = ctl.fail("overlay", "mv", "cfg", "a", "a/b/c/inside")
    assert "cannot move the folder 'a' into itself" in p.stderr
    ctl.ok("overlay", "mv", "cfg", "a/b", "a/b")  # the same: nothing to do
    put(ctl, "g.txt", b"g")
    p = ctl.fail("overlay", "mv", "cfg", "g.txt", "a/b/c/f.txt")
    assert "'a/b/c/f.txt' already exists" in p.stderr
    ctl.ok("overlay", "mv", "cfg", "a/b/c/f.txt", "a/renamed.txt")
    ctl.ok("overlay", "mv", "cfg", "a/b", "b")
    p = ctl.fail("overlay", "mv", "cfg", "g.txt", "missing/g.txt")
    assert "a folder on the way does not exist" in p.stderr
    assert names(ctl) == [("a", "folder"), ("b", "folder"), ("g.txt", "file")]
    assert names(ctl, "a") == [("renamed.txt", "file")]
    assert names(ctl, "b") == [("c", "folder")]
    # rm: files, empty folders, full folders only with --recursive, never the top.
    ctl.ok("overlay", "rm", "cfg", "g.txt")
    p = ctl.fail("overlay", "rm", "cfg", "a")
    assert "the folder 'a' is not empty (remove it with --recursive)" in p.stderr
    ctl.ok("overlay", "rm", "cfg", "b/c")
    ctl.ok("overlay", "rm", "cfg", "a", "--recursive")
    assert "an empty path is not allowed" in ctl.fail("overlay", "rm", "cfg", "", "-r").stderr
    assert "'nope' does not exist" in ctl.fail("overlay", "rm", "cfg", "nope").stderr
    assert names(ctl) == [("b", "folder")]
    # Paths starting with '-' after "--".
    p = subprocess.run([str(L4D2CTL), "overlay", "put", "cfg", "--", "-dash.cfg"], env=ctl.env, input=b"dash",
                       capture_output=True)
    assert p.returncode == 0, p.stderr
    assert ctl.ok("overlay", "get", "cfg", "--", "-dash.cfg").stdout == "dash"


def test_zip_streams_a_folder_with_its_entries(ctl):
    ctl.ok("overlay", "create", "cfg", "--kind", "files")
    files = {"left4dead2/cfg/server.cfg": b"sv_cheats 0\n", "left4dead2/cfg/ünï ☃.cfg": b"u",
             "left4dead2/addons/x.vpk": os.urandom(300000), "top.txt": b"top"}
    for path, data in files.items():
        put(ctl, path, data)
    ctl.ok("overlay", "mkdir", "cfg", "left4dead2/empty")
    # Through a pipe: the zip needs no seeking.
    proc = subprocess.Popen([str(L4D2CTL), "overlay", "zip", "cfg"], env=ctl.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    data, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.testzip() is None
    assert sorted(z.namelist()) == sorted(["cfg/", "cfg/left4dead2/", "cfg/left4dead2/cfg/", "cfg/left4dead2/addons/",
                                           "cfg/left4dead2/empty/", "cfg/top.txt"] +
                                          ["cfg/" + p for p in files if p != "top.txt"])
    for path, blob in files.items():
        assert z.read("cfg/" + path) == blob
    # Deflated, except what is compressed already.
    assert z.getinfo("cfg/left4dead2/cfg/server.cfg").compress_type == zipfile.ZIP_DEFLATED
    put(ctl, "maps.zip", b"PK" + os.urandom(1000))
    z = zipfile.ZipFile(io.BytesIO(subprocess.run([str(L4D2CTL), "overlay", "zip", "cfg", "maps.zip"], env=ctl.env,
                                                  capture_output=True).stdout))
    assert z.getinfo("maps.zip").compress_type == zipfile.ZIP_STORED
    # One folder, named after itself; one file.
    z = zipfile.ZipFile(io.BytesIO(subprocess.run([str(L4D2CTL), "overlay", "zip", "cfg", "left4dead2/cfg"],
                                                  env=ctl.env, capture_output=True).stdout))
    assert sorted(z.namelist()) == ["cfg/", "cfg/server.cfg", "cfg/ünï ☃.cfg"]
    z = zipfile.ZipFile(io.BytesIO(subprocess.run([str(L4D2CTL), "overlay", "zip", "cfg", "top.txt"], env=ctl.env,
                                                  capture_output=True).stdout))
    assert z.namelist() == ["top.txt"] and z.read("top.txt") == b"top"


def test_only_files_overlays_have_files(ctl):
    ctl.ok("overlay", "create", "maps", "--kind", "workshop")
    ctl.overlay("handmade", {"a.txt": "a"})
    assert "overlay 'maps' is a workshop overlay: only files overlays have files to edit" in \
        ctl.fail("overlay", "ls", "maps").stderr
    assert "was made by hand" in ctl.fail("overlay", "get", "handmade", "a.txt").stderr
    assert "unknown overlay 'nope'" in ctl.fail("overlay", "mkdir", "nope", "x").stderr
    assert "not a valid overlay name" in ctl.fail("overlay", "ls", "../x").stderr
    assert ctl.run("overlay", "get", "maps").returncode == 2
    assert ctl.run("overlay", "mv", "maps", "a").returncode == 2
    assert ctl.run("overlay", "ls", "maps", "--recursive").returncode == 2


def test_edits_reach_a_server_at_its_next_start_and_never_while_it_runs(ctl, tmp_path):
    ctl.install()
    ctl.ok("overlay", "create", "cfg", "--kind", "files")
    put(ctl, "left4dead2/cfg/motd.txt", b"first\n")
    ctl.initialize("alpha", "port: %d\noverlays: [cfg]\n" % (ctl.port_min + 2), tmp_path)
    # Never built: the start publishes the pending edits.
    assert show(ctl)["files"]["pending"] is True
    ctl.ok("start", "alpha")
    ctl.wait_state("alpha", "running")
    merged = ctl.state / "runtime" / "alpha" / "merged" / "left4dead2" / "cfg"
    assert (merged / "motd.txt").read_bytes() == b"first\n"
    assert show(ctl)["files"]["pending"] is False and show(ctl)["build"]["ok"] is True
    # Edits while it runs: the running server sees nothing of them.
    put(ctl, "left4dead2/cfg/motd.txt", b"second\n")
    put(ctl, "left4dead2/cfg/extra.cfg", b"extra\n")
    ctl.ok("overlay", "rm", "cfg", "left4dead2/cfg/motd.txt")
    put(ctl, "left4dead2/cfg/motd.txt", b"third\n")
    assert (merged / "motd.txt").read_bytes() == b"first\n" and not (merged / "extra.cfg").exists()
    o = show(ctl)
    assert o["files"]["pending"] is True and o["running"] == [{"instance": "alpha", "outdated": False}]
    # The next start applies them.
    ctl.ok("restart", "alpha")
    ctl.wait_state("alpha", "running")
    assert (merged / "motd.txt").read_bytes() == b"third\n" and (merged / "extra.cfg").read_bytes() == b"extra\n"
    assert show(ctl)["files"]["pending"] is False
