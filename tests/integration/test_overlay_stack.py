"""A server started with a Workshop, a files and a script overlay sees all
three through its merged tree, the first listed winning where they hold the
same file; and the examples in examples/ (the stacked blueprint, the files
overlay, the script overlay) work as their README says."""
import json
import subprocess

from conftest import ROOT
from workshoputil import steam, wctl  # noqa: F401

EXAMPLES = ROOT / "examples"
SANDBOX = {"LEFT4ME_BUILD_SANDBOX": "bwrap", "LEFT4ME_BUILD_TIMEOUT": "30"}

SCRIPT = """set -e
mkdir -p left4dead2/addons/sourcemod/plugins
echo script > left4dead2/addons/sourcemod/plugins/only-script.smx
echo script > left4dead2/addons/31.vpk
echo script > left4dead2/addons/32.vpk
"""


def make_overlays(wctl, steam):
    wctl.env.update(SANDBOX)
    steam.add_item(31, size=3100)
    steam.add_item(32, size=3200)
    steam.add_item(33, size=3300)
    wctl.ok("overlay", "create", "maps", "--kind", "workshop")
    wctl.ok("workshop", "maps", "add", "31", "32", "33")
    wctl.ok("overlay", "build", "maps")
    wctl.ok("overlay", "create", "sm", "--kind", "script")
    wctl.ok("overlay", "script", "sm", "set", input=SCRIPT)
    wctl.ok("overlay", "build", "sm")
    wctl.ok("overlay", "create", "cfg", "--kind", "files")
    for path in ("left4dead2/addons/31.vpk", "left4dead2/cfg/only-files.cfg"):
        wctl.ok("overlay", "put", "cfg", path, input="files\n")


def start(ctl, tmp_path, name, port, overlays):
    ctl.initialize(name, "port: %d\noverlays: [%s]\n" % (port, ", ".join(overlays)), tmp_path)
    ctl.ok("start", name)
    ctl.wait_state(name, "running")
    return ctl.state / "runtime" / name / "merged" / "left4dead2"


def test_a_server_sees_all_three_kinds_in_the_blueprints_order(wctl, steam, tmp_path):
    make_overlays(wctl, steam)
    wctl.install()
    g = start(wctl, tmp_path, "alpha", wctl.port_min + 2, ["cfg", "sm", "maps"])
    # Each kind's own files...
    assert (g / "cfg/only-files.cfg").read_text() == "files\n"
    assert (g / "addons/sourcemod/plugins/only-script.smx").read_text() == "script\n"
    assert (g / "addons/33.vpk").read_bytes() == steam.content(33)
    # ...and where they overlap, the first listed: files > script > workshop.
    assert (g / "addons/31.vpk").read_text() == "files\n"
    assert (g / "addons/32.vpk").read_text() == "script\n"
    # The game installation is still underneath them all.
    assert (wctl.state / "runtime" / "alpha" / "merged" / "srcds_run").exists()

    # The other way round, on a second server at the same time.
    g2 = start(wctl, tmp_path, "beta", wctl.port_min + 4, ["maps", "sm", "cfg"])
    assert (g2 / "addons/31.vpk").read_bytes() == steam.content(31)
    assert (g2 / "addons/32.vpk").read_bytes() == steam.content(32)
    assert (g2 / "cfg/only-files.cfg").read_text() == "files\n"
    assert (g2 / "addons/sourcemod/plugins/only-script.smx").read_text() == "script\n"
    # Both run, each with its own order.
    assert (g / "addons/31.vpk").read_text() == "files\n"
    status = json.loads(wctl.ok("status", "alpha", "--json").stdout)
    assert status["overlays"] == ["cfg", "sm", "maps"]


def test_the_examples_work_as_their_readme_says(ctl, tmp_path):
    ctl.env.update(SANDBOX)
    # The files overlay, put from the example tree.
    ctl.ok("overlay", "create", "tick100", "--kind", "files")
    cfg = EXAMPLES / "overlays" / "tick100" / "left4dead2" / "cfg" / "tick100.cfg"
    ctl.ok("overlay", "put", "tick100", "left4dead2/cfg/tick100.cfg", input=cfg.read_text())
    # The script overlay: valid bash that, with its checksums still to fill
    # in, stops before it downloads anything, and the overlay stays empty.
    script = EXAMPLES / "overlays" / "sourcemod.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    ctl.ok("overlay", "create", "sourcemod", "--kind", "script")
    ctl.ok("overlay", "script", "sourcemod", "set", input=script.read_text())
    p = ctl.fail("overlay", "build", "sourcemod")
    assert "exit status 1" in p.stderr
    assert "the archives' sha256 are not filled in" in p.stdout and "downloading" not in p.stdout
    assert list((ctl.state / "overlays" / "sourcemod").iterdir()) == []
    # The stacked blueprint initializes against the three overlays and
    # starts a server that runs the files overlay's config.
    ctl.ok("overlay", "create", "maps", "--kind", "workshop")
    ctl.install()
    text = (EXAMPLES / "blueprint-stacked.yaml").read_text()
    ctl.initialize("coop1", text + "port: %d\n" % (ctl.port_min + 2), tmp_path)
    ctl.ok("start", "coop1")
    ctl.wait_state("coop1", "running")
    merged = ctl.state / "runtime" / "coop1" / "merged" / "left4dead2" / "cfg"
    assert (merged / "tick100.cfg").read_text() == cfg.read_text()
    assert (merged / "server.cfg").read_text().rstrip().endswith("exec tick100.cfg")
    status = json.loads(ctl.ok("status", "coop1", "--json").stdout)
    assert status["overlays"] == ["tick100", "sourcemod", "maps"]
