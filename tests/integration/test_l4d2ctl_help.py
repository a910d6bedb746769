"""Help that reads like a man page, a man page that renders, and an example
spec that works."""
import re
import shutil
import subprocess

from conftest import BUILD, L4D2CTL, ROOT

COMMANDS = ["install", "initialize", "start", "stop", "restart", "delete", "status", "list", "logs", "rcon", "query",
            "players", "watch", "overlay", "workshop", "builds", "build", "pin", "update"]


def run(*args):
    return subprocess.run([str(L4D2CTL), *args], capture_output=True, text=True)


def test_main_help_lists_every_command():
    p = run("--help")
    assert p.returncode == 0
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "ENVIRONMENT", "EXIT STATUS"):
        assert re.search(r"^%s$" % section, p.stdout, re.M), section
    for c in COMMANDS:
        assert re.search(r"^    %s +\S" % c, p.stdout, re.M), c
    # Internal commands are not advertised.
    assert "supervise" not in p.stdout


def test_every_command_has_a_man_like_help():
    for c in COMMANDS:
        for args in ([c, "--help"], ["help", c]):
            p = run(*args)
            assert p.returncode == 0, args
            assert p.stdout.startswith("NAME\n    l4d2ctl %s - " % c), args
            for section in ("SYNOPSIS", "DESCRIPTION", "EXIT STATUS"):
                assert "\n%s\n" % section in p.stdout, (c, section)


def test_man_page_renders_without_warnings_and_covers_every_command():
    page = ROOT / "man" / "l4d2ctl.1"
    p = subprocess.run(["groff", "-man", "-ww", "-z", str(page)], capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    text = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True,
                          env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin"}).stdout
    for c in COMMANDS:
        assert re.search(r"^       %s\b" % c, text, re.M), c


def test_example_spec_initializes(ctl):
    ctl.overlay("sourcemod", {"left4dead2/addons/metamod.vdf": "x"})
    ctl.overlay("custom-maps", {"left4dead2/addons/map.vpk": "x"})
    (ctl.config / "host.env").write_text("LEFT4ME_PORT_RANGE_START=27000\nLEFT4ME_PORT_RANGE_END=27999\n")
    ctl.ok("initialize", "example", "-f", str(ROOT / "examples" / "instance.yaml"))
    st = ctl.status("example")
    assert st["ports"]["game"] == 27015 and st["map"] == "c2m1_highway"
    assert st["overlays"] == ["sourcemod", "custom-maps"]


def test_panel_man_page_renders_and_matches_the_commands():
    page = ROOT / "man" / "left4me.8"
    p = subprocess.run(["groff", "-man", "-ww", "-z", str(page)], capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    h = subprocess.run([str(BUILD / "src" / "web" / "left4me"), "--help"], capture_output=True, text=True)
    helptext = h.stdout + h.stderr
    # The page's words without roff's font escapes and macros.
    page_text = page.read_text().replace("\\fR", "").replace("\\fB", "").replace(".B ", "")
    for cmd in ("admin create", "admin passwd", "admin list", "admin disable", "admin enable", "db migrate"):
        assert cmd in helptext, cmd
        assert cmd in page_text, cmd
