"""The overlay store through l4d2ctl: create, list, show, delete, and the
files kind's hard-link snapshot. Hand-made overlays keep working."""
import json
import os

import pytest


def show(ctl, name):
    return json.loads(ctl.ok("overlay", "show", name, "--json").stdout)


def test_create_list_show_delete(ctl):
    ctl.overlay("handmade", {"left4dead2/cfg/x.cfg": "x"})
    ctl.ok("overlay", "create", "maps", "--kind", "workshop")
    ctl.ok("overlay", "create", "cfg", "--kind=files")
    ctl.ok("overlay", "create", "sm", "--kind", "script")
    listing = json.loads(ctl.ok("overlay", "list", "--json").stdout)["overlays"]
    assert [(o["name"], o["kind"], o["state"]) for o in listing] == [
        ("cfg", "files", "new"), ("handmade", "manual", "ready"), ("maps", "workshop", "new"), ("sm", "script", "new")]
    # A new overlay is published empty at once: an instance can name it.
    assert (ctl.state / "overlays" / "maps").is_dir() and os.listdir(ctl.state / "overlays" / "maps") == []
    m = show(ctl, "maps")
    assert m["published"] is True and m["building"] is False and m["running"] == [] and m["build"] is None
    assert m["workshop"]["sources"] == 0 and m["path"] == str(ctl.state / "overlays" / "maps")
    assert show(ctl, "handmade")["size"] > 0
    human = ctl.ok("overlay", "list").stdout
    assert human.splitlines()[0].split()[:3] == ["NAME", "KIND", "STATE"] and "handmade" in human

    assert "overlay 'maps' already exists" in ctl.fail("overlay", "create", "maps", "--kind", "files").stderr
    assert "overlay 'handmade' already exists" in ctl.fail("overlay", "create", "handmade", "--kind", "files").stderr
    assert "not a valid overlay name" in ctl.fail("overlay", "create", "../x", "--kind", "files").stderr
    assert ctl.run("overlay", "create", "z", "--kind", "zip").returncode == 2
    assert ctl.run("overlay", "create", "z").returncode == 2
    assert "unknown overlay 'nope'" in ctl.fail("overlay", "show", "nope").stderr
    assert "has no script yet" in ctl.fail("overlay", "build", "sm").stderr
    assert "made by hand" in ctl.fail("overlay", "build", "handmade").stderr

    ctl.ok("overlay", "delete", "maps")
    ctl.ok("overlay", "delete", "handmade")
    ctl.ok("overlay", "delete", "never-was")  # like instances: missing is fine
    names = [o["name"] for o in json.loads(ctl.ok("overlay", "list", "--json").stdout)["overlays"]]
    assert names == ["cfg", "sm"]
    assert not (ctl.state / "overlays" / "maps").exists()
    assert not (ctl.state / "overlay-store" / "meta" / "maps.json").exists()
    # The name can be used again.
    ctl.ok("overlay", "create", "maps", "--kind", "files")


def test_files_overlay_publishes_a_hard_link_snapshot(ctl):
    ctl.ok("overlay", "create", "cfg", "--kind", "files")
    work = ctl.state / "overlay-store" / "work" / "cfg"
    assert work.is_dir()
    (work / "left4dead2" / "cfg").mkdir(parents=True)
    (work / "left4dead2" / "cfg" / "server.cfg").write_text("sv_cheats 0\n")
    ev = [json.loads(line) for line in ctl.ok("overlay", "build", "cfg", "--json").stdout.splitlines()]
    assert ev[-1] == {"event": "done", "ok": True, "changed": True}
    pub = ctl.state / "overlays" / "cfg" / "left4dead2" / "cfg" / "server.cfg"
    assert os.stat(pub).st_ino == os.stat(work / "left4dead2" / "cfg" / "server.cfg").st_ino
    # The working tree is written by temp file + rename: the snapshot keeps
    # the old file until the next build.
    tmp = work / "left4dead2" / "cfg" / ".server.cfg.tmp"
    tmp.write_text("sv_cheats 1\n")
    os.rename(tmp, work / "left4dead2" / "cfg" / "server.cfg")
    assert pub.read_text() == "sv_cheats 0\n"
    assert json.loads(ctl.ok("overlay", "build", "cfg", "--json").stdout.splitlines()[-1])["changed"] is True
    assert pub.read_text() == "sv_cheats 1\n"
    assert "nothing changed" in ctl.ok("overlay", "build", "cfg").stdout
    # What an overlay may not hold: the build fails and changes nothing.
    os.symlink("/etc/passwd", work / "left4dead2" / "passwd")
    p = ctl.fail("overlay", "build", "cfg")
    assert "'left4dead2/passwd' is not a regular file or folder" in p.stderr
    assert not (ctl.state / "overlays" / "cfg" / "left4dead2" / "passwd").exists()
    assert show(ctl, "cfg")["state"] == "failed" and pub.read_text() == "sv_cheats 1\n"
    assert os.listdir(ctl.state / "overlay-store" / "staging") == []


@pytest.mark.parametrize("cmd", [["overlay", "--help"], ["help", "overlay"], ["workshop", "--help"]])
def test_help(ctl, cmd):
    p = ctl.ok(*cmd)
    assert p.stdout.startswith("NAME\n    l4d2ctl %s - " % cmd[-1 if cmd[0] == "help" else 0])
