"""The path-traversal corpus (traversal_corpus.py) against every files verb
through l4d2ctl: every case refused with one error line and nothing on
stdout, and nothing changed anywhere: not the state dir (the overlay's
own tree included), not a folder outside it, not /etc."""
import os
import subprocess

from conftest import L4D2CTL
from traversal_corpus import CASES, LEGIT_FILE, VERB_FORMS, etc_digest, plant, tree_digest


def run(ctl, args, stdin=b""):
    return subprocess.run([str(L4D2CTL), "overlay", *args[:1], b"cfg", *args[1:]], env=ctl.env, input=stdin,
                          capture_output=True, timeout=60)


def test_every_verb_refuses_every_case_and_nothing_changes(ctl, tmp_path):
    assert len(CASES) >= 60
    ctl.ok("overlay", "create", "cfg", "--kind", "files")
    # One legitimate edit first: its lock file and upload folder exist
    # before the digest.
    ctl.ok("overlay", "put", "cfg", LEGIT_FILE, input="legit\n")
    work = ctl.state / "overlay-store" / "work" / "cfg"
    outside = tmp_path / "outside"
    plant(work, ctl.state, outside)
    before = (tree_digest(ctl.state), tree_digest(outside), etc_digest())

    accepted = []
    for case in CASES:
        if not case.argv:
            continue
        path = case.render(ctl.state, outside)
        for verb, form in VERB_FORMS:
            p = run(ctl, form(path), stdin=b"evil\n")
            err = p.stderr.decode(errors="replace").strip().splitlines()
            if p.returncode != 1 or len(err) != 1 or not err[0].startswith("error: ") or p.stdout:
                accepted.append((case.id, verb, p.returncode, p.stdout[:80], err))
    assert accepted == []
    assert (tree_digest(ctl.state), tree_digest(outside), etc_digest()) == before
    # The legitimate file is where it was, unchanged, and still works.
    assert (work / "real" / "ok.txt").read_bytes() == b"legit\n"
    assert ctl.ok("overlay", "get", "cfg", LEGIT_FILE).stdout == "legit\n"


def test_a_nul_byte_cannot_reach_l4d2ctl_through_argv(ctl):
    """The NUL cases are for the panel's decoding: execve cannot carry them
    (and path_resolve_user refuses them where a length is known, test-fs)."""
    nul = [c for c in CASES if not c.argv]
    assert nul and all(b"\x00" in c.path for c in nul)
    for case in nul:
        try:
            subprocess.run([str(L4D2CTL), "overlay", "get", "cfg", case.path], env=ctl.env, capture_output=True)
        except ValueError as e:
            assert "null byte" in str(e)
        else:
            raise AssertionError("a NUL byte went through argv")


def test_refusals_name_the_problem(ctl, tmp_path):
    ctl.ok("overlay", "create", "cfg", "--kind", "files")
    plant(ctl.state / "overlay-store" / "work" / "cfg", ctl.state, tmp_path / "outside")
    cases = {
        "../x": "'.' and '..' are not allowed",
        "/etc/passwd": "absolute paths are not allowed",
        "%2e%2e/x": "URL escape",
        "etc-link/passwd": "a folder on the way is a symlink",
        "etc-link": "it is a symlink",
        "fifo": "it is a FIFO",
        "null": "it is a device",
        "a" * 256: "longer than 255 bytes",
        " . ": "made only of dots and spaces",
        "a\\b": "backslash",
    }
    for path, why in cases.items():
        err = ctl.fail("overlay", "get", "cfg", path).stderr
        assert why in err and "overlay 'cfg'" in err, (path, err)
    # A FIFO is never opened: a get of it would block forever if it were.
    p = ctl.fail("overlay", "get", "cfg", "fifo", timeout=10)
    assert "FIFO" in p.stderr
    os.stat(ctl.state / "overlay-store" / "work" / "cfg" / "fifo")  # still there
