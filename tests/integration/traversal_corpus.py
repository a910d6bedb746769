"""The path-traversal corpus for files overlays, as data: every PATH below must
be refused by every files verb, in every position a path takes (ls, get, put,
mkdir, rm, rm --recursive, zip, mv's source and mv's destination), whether
it comes through `l4d2ctl overlay ...` (test_overlay_files_traversal.py) or
through the panel (which hands the same paths to l4d2ctl through its host
link). A refusal changes nothing anywhere: `tree_digest` of the state dir,
of a victim folder outside it and of /etc is the same before and after.

Use:
    plant(work_tree, state_dir, outside)   # the symlinks, FIFOs, ... the corpus aims at
    for case in CASES: path = case.render(state_dir, outside)   # bytes
    tree_digest(state_dir), tree_digest(outside), etc_digest()   # before == after

A case with argv=False holds a NUL byte: no argv can carry one (execve ends
the string there), so l4d2ctl cannot be handed it; the panel must refuse it
where it decodes the request (a form field, a JSON string, a URL's %00).
"""
import hashlib
import os
import pathlib
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    id: str
    path: bytes  # may hold {state} and {outside}, filled by render()
    argv: bool = True

    def render(self, state, outside):
        return (self.path.replace(b"{state}", os.fsencode(str(state)))
                .replace(b"{outside}", os.fsencode(str(outside))))


def _c(id, path, argv=True):
    return Case(id, path.encode("utf-8", "surrogateescape") if isinstance(path, str) else path, argv)


# What plant() puts in the overlay's working tree (and beside it) for the
# corpus to aim at. "real/ok.txt" is the one legitimate file.
LEGIT_FILE = "real/ok.txt"

CASES = [
    # ".." and "." in every place
    _c("dotdot", ".."),
    _c("dotdot-slash", "../"),
    _c("dotdot-deep", "../../../../../../etc/passwd"),
    _c("dotdot-after-folder", "real/../../outside.txt"),
    _c("dotdot-last", "real/.."),
    _c("dotdot-back-in", "real/../real/ok.txt"),
    _c("dot", "."),
    _c("dot-first", "./real/ok.txt"),
    _c("dot-middle", "real/./ok.txt"),
    _c("dotdot-to-state", "../../../left4me.db"),
    # names made only of dots and spaces
    _c("four-dots", "...."),
    _c("three-dots-folder", ".../x"),
    _c("dotdot-space", ".. "),
    _c("space-dotdot", " .."),
    _c("space", " "),
    _c("spaces", "   "),
    _c("dots-spaces", ". . ."),
    _c("space-in-folder", "real/ /x"),
    # absolute paths
    _c("abs-passwd", "/etc/passwd"),
    _c("abs-root", "/"),
    _c("abs-double-slash", "//etc/passwd"),
    _c("abs-tmp", "/tmp"),
    _c("abs-db", "{state}/left4me.db"),
    _c("abs-outside", "{outside}/victim.txt"),
    _c("abs-proc", "/proc/self/root/etc/passwd"),
    # URL encoding, once, twice, three times, and its variants
    _c("pct-dotdot", "%2e%2e"),
    _c("pct-dotdot-deep", "%2e%2e/%2e%2e/etc/passwd"),
    _c("pct-upper", "%2E%2E%2Fetc%2Fpasswd"),
    _c("pct-slash-only", "..%2f..%2fetc%2fpasswd"),
    _c("pct-double", "%252e%252e/%252e%252e/etc/passwd"),
    _c("pct-triple", "%25252e%25252e"),
    _c("pct-in-folder", "real%2f..%2f..%2fx"),
    _c("pct-abs", "%2fetc%2fpasswd"),
    _c("pct-nul", "%00"),
    _c("pct-nul-suffix", "ok.txt%00.png"),
    _c("pct-nul-dotdot", "..%00/x"),
    _c("pct-overlong", "%c0%ae%c0%ae/etc/passwd"),
    _c("pct-backslash", "..%5c..%5cetc"),
    _c("pct-unicode", "%u002e%u002e"),
    # raw bytes that are not UTF-8 (an overlong '.' among them)
    _c("overlong-dots", b"\xc0\xae\xc0\xae/etc/passwd"),
    _c("invalid-utf8", b"\xff\xfe"),
    _c("invalid-utf8-in-folder", b"real/\x80"),
    _c("utf8-surrogate", b"\xed\xa0\x80"),
    _c("utf8-truncated", b"a\xe2\x82"),
    # backslashes (the Source engine reads them as separators)
    _c("backslash-dotdot", "..\\..\\etc\\passwd"),
    _c("backslash-in-folder", "real\\..\\..\\x"),
    _c("backslash-name", "real\\ok.txt"),
    # symlinks planted inside the overlay: never followed, never touched
    _c("symlink-etc", "etc-link"),
    _c("symlink-etc-slash", "etc-link/"),
    _c("symlink-etc-file", "etc-link/passwd"),
    _c("symlink-etc-dotdot", "etc-link/../x"),
    _c("symlink-nested", "real/etc-link2/passwd"),
    _c("symlink-up", "up"),
    _c("symlink-up-through", "up/outside.txt"),
    _c("symlink-loop", "loop-a"),
    _c("symlink-loop-through", "loop-a/x"),
    _c("symlink-self", "self/self/self"),
    _c("symlink-inside-dir", "in-link/ok.txt"),
    _c("symlink-state", "state-link/left4me.db"),
    _c("symlink-db", "db-link"),
    _c("symlink-dangling", "dangling"),
    # FIFOs, sockets, devices
    _c("fifo", "fifo"),
    _c("fifo-nested", "real/fifo2"),
    _c("fifo-through", "fifo/x"),
    _c("socket", "sock"),
    _c("device", "null"),
    # control characters
    _c("newline", "a\nb"),
    _c("tab", "real/\tx"),
    _c("escape", "\x1b[31mred"),
    _c("del", "\x7f"),
    _c("carriage-return", "ok.txt\r"),
    # lengths
    _c("name-256", "a" * 256),
    _c("name-300-in-folder", "real/" + "b" * 300),
    _c("path-4200", "a/" * 2100),
    # empty components
    _c("double-slash", "real//ok.txt"),
    _c("only-slashes", "//"),
    # NUL bytes: not through argv (see above)
    _c("nul-dotdot", "ok.txt\x00../../etc/passwd", argv=False),
    _c("nul-only", "\x00", argv=False),
    _c("nul-name", "real/o\x00k.txt", argv=False),
]

# Verbs and the argv that puts a corpus path P in each of a path's positions.
VERB_FORMS = [
    ("ls", lambda p: ["ls", p]),
    ("get", lambda p: ["get", p]),
    ("put", lambda p: ["put", p]),
    ("mkdir", lambda p: ["mkdir", p]),
    ("rm", lambda p: ["rm", p]),
    ("rm-recursive", lambda p: ["rm", "--recursive", p]),
    ("zip", lambda p: ["zip", p]),
    ("mv-from", lambda p: ["mv", p, b"real/moved.txt"]),
    ("mv-to", lambda p: ["mv", LEGIT_FILE.encode(), p]),
]


def plant(work, state, outside):
    """The targets: symlinks out of and within the tree, loops, a FIFO, a
    socket, a device, a fake database in the state dir, a victim outside."""
    work, state, outside = pathlib.Path(work), pathlib.Path(state), pathlib.Path(outside)
    (work / "real").mkdir(parents=True, exist_ok=True)
    (work / "real" / "ok.txt").write_bytes(b"legit\n")
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "victim.txt").write_bytes(b"do not touch\n")
    (state / "left4me.db").write_bytes(b"SQLite format 3\x00 a fake database with secrets\n")
    os.symlink("/etc", work / "etc-link")
    os.symlink("/etc", work / "real" / "etc-link2")
    os.symlink("..", work / "up")
    os.symlink("loop-b", work / "loop-a")
    os.symlink("loop-a", work / "loop-b")
    os.symlink("self", work / "self")
    os.symlink("real", work / "in-link")
    os.symlink(str(state), work / "state-link")
    os.symlink(str(state / "left4me.db"), work / "db-link")
    os.symlink("nowhere/at/all", work / "dangling")
    os.mkfifo(work / "fifo")
    os.mkfifo(work / "real" / "fifo2")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(work / "sock"))
    s.close()
    os.mknod(work / "null", 0o666 | 0o020000, os.makedev(1, 3))


def etc_digest():
    """/etc as the corpus aims at it (etc-link/x, etc-link/newdir): its names
    and the accounts files. Not all of it: other programs on the machine may
    change other files there meanwhile."""
    h = hashlib.sha256()
    for name in sorted(os.listdir("/etc")):
        h.update(os.fsencode(name) + b"\0")
    for f in ("/etc/passwd", "/etc/group", "/etc/hostname"):
        if os.path.exists(f):
            h.update(pathlib.Path(f).read_bytes())
    return h.hexdigest()


def tree_digest(root):
    """A sha256 of everything below root: names, types, modes, sizes, file
    contents and link targets (not times). Never follows a symlink or reads
    a FIFO or device."""
    h = hashlib.sha256()
    root = pathlib.Path(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel = os.path.relpath(dirpath, root)
        dirnames.sort()
        for name in sorted(filenames) + ["."]:
            p = os.path.join(dirpath, name) if name != "." else dirpath
            st = os.lstat(p)
            h.update(os.fsencode(os.path.join(rel, name)) + b"\0%o\0%d\0" % (st.st_mode, st.st_size if not os.path.isdir(p) else 0))
            if os.path.islink(p):
                h.update(os.fsencode(os.readlink(p)))
            elif os.path.isfile(p) and not os.path.islink(p):
                try:
                    with open(p, "rb") as f:
                        while chunk := f.read(1 << 20):
                            h.update(chunk)
                except PermissionError:
                    h.update(b"unreadable")
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if os.path.islink(p):
                st = os.lstat(p)
                h.update(os.fsencode(os.path.join(rel, d)) + b"\0%o\0" % st.st_mode + os.fsencode(os.readlink(p)))
    return h.hexdigest()
