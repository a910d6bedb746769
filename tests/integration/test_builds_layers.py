"""Game builds side by side (issue 14): the old installation/ becomes the
first build; on ext4 a new build is a diff layer whose whiteouts and opaque
folders servers see right, stacked and flattened; a flatten swaps the layer
under nobody's feet; gc keeps what is used."""
import json
import os
import subprocess
import time

from buildutil import MiB, builds, fetch, is_whiteout, publish, tree_hash
from conftest import STEAMCMD, mounts_below
from containutil import wait_for


def start(ctl, tmp_path, name, port, extra=""):
    ctl.initialize(name, "port: %d\n%s" % (port, extra), tmp_path)
    ctl.ok("start", name)
    ctl.wait_state(name, "running")
    return ctl.state / "runtime" / name / "merged"


def test_the_old_installation_becomes_the_first_build(ctl, tmp_path):
    # A host from before builds: steamcmd installed into installation/.
    old = ctl.state / "installation"
    for platform in ("windows", "linux"):
        subprocess.run([str(STEAMCMD), "+force_install_dir", str(old), "+login", "anonymous",
                        "+@sSteamCmdForcePlatformType", platform, "+app_update", "222860", "+quit"],
                       check=True, capture_output=True, env=ctl.env)
    ctl.initialize("alpha", "port: %d\n" % (ctl.port_min + 2), tmp_path)
    b = builds(ctl)
    assert list(b) == ["100"] and b["100"]["trusted"] and b["100"]["layer"] == "full"
    assert b["100"]["trusted_why"] == "the installation before builds"
    assert not old.exists() and (ctl.state / "installations" / "100" / "srcds_run").exists()
    # An instance that ran from installation/ now names the build, for a
    # restart by systemd's mount helper.
    assert (ctl.state / "instances" / "alpha" / "build").read_text() == "100\n"
    ctl.ok("start", "alpha")
    assert ctl.wait_state("alpha", "running")["build"] == "100"


def test_a_diff_layer_holds_only_the_change_and_servers_see_the_new_tree(ctl, tmp_path):
    ctl.env["LEFT4ME_BUILD_LAYERS"] = "diff"
    ctl.install()
    merged_old = start(ctl, tmp_path, "old", ctl.port_min + 2)
    before = tree_hash(ctl.state / "installations" / "100")
    publish(ctl, tmp_path, 101, files={
        "left4dead2/pak01_001.vpk": {"size": 2 * MiB},
        "left4dead2/maps/c2m1_highway.bsp": {"text": "BSP c2m1"},
    }, deletes=["left4dead2/cfg/server.cfg.example", "left4dead2/maps"])
    ev = fetch(ctl)
    assert ev["id"] == "101" and ev["created"] and ev["layer"] == "diff" and ev["parent"] == "100"

    layer = ctl.state / "installations" / "101"
    # Only what changed: the new file, the manifest, steam.inf, a whiteout
    # for the deleted file, the re-made folder (opaque) with its one map.
    assert is_whiteout(layer / "left4dead2" / "cfg" / "server.cfg.example")
    assert os.getxattr(layer / "left4dead2" / "maps", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(layer / "left4dead2" / "maps")) == ["c2m1_highway.bsp"]
    assert not (layer / "srcds_run").exists() and not (layer / "bin").exists()
    b = builds(ctl)
    assert b["101"]["depth"] == 2 and 2 * MiB <= b["101"]["bytes"] <= 2 * MiB + 64 * 1024
    assert b["101"]["patch_version"] == "2.2.3.1"
    # Build 100 and the server running on it did not change.
    assert tree_hash(ctl.state / "installations" / "100") == before
    assert (merged_old / "left4dead2" / "maps" / "c1m1_hotel.bsp").exists()

    merged = start(ctl, tmp_path, "new", ctl.port_min + 4, "build: '101'\n")
    assert ctl.status("new")["build"] == "101" and ctl.status("new")["build_pin"] == "101"
    assert (merged / "left4dead2" / "pak01_001.vpk").stat().st_size == 2 * MiB
    assert not (merged / "left4dead2" / "cfg" / "server.cfg.example").exists()
    assert sorted(os.listdir(merged / "left4dead2" / "maps")) == ["c2m1_highway.bsp"]
    assert (merged / "srcds_run").exists()  # from the base below
    assert "PatchVersion=2.2.3.1" in (merged / "left4dead2" / "steam.inf").read_text()
    # A server on it writes only its own upper layer.
    (merged / "left4dead2" / "maps" / "mine.bsp").write_text("x")
    assert not (layer / "left4dead2" / "maps" / "mine.bsp").exists()


def test_a_deep_chain_is_flattened_and_a_running_server_keeps_its_layers(ctl, tmp_path):
    ctl.env.update({"LEFT4ME_BUILD_LAYERS": "diff", "LEFT4ME_BUILD_CHAIN_MAX": "8"})
    ctl.install()
    publish(ctl, tmp_path, 101, files={"left4dead2/a.txt": {"text": "a1"}, "left4dead2/b.txt": {"text": "b1"}})
    fetch(ctl)
    publish(ctl, tmp_path, 102, files={"left4dead2/maps/c5m1.bsp": {"text": "c5"}},
            deletes=["left4dead2/maps", "left4dead2/a.txt"])
    fetch(ctl)
    assert builds(ctl)["102"]["depth"] == 3
    merged = start(ctl, tmp_path, "alpha", ctl.port_min + 2, "build: '102'\n")
    view = tree_hash(merged)
    layers = [tree_hash(ctl.state / "installations" / i) for i in ("102", "101", "100")]

    ctl.ok("build", "flatten", "102")
    b = builds(ctl)["102"]
    assert b["layer"] == "full" and b["depth"] == 1 and b["flattened"]
    flat = ctl.state / "installations" / "102"
    # The merged view, whiteouts and opaque folder applied, as one tree.
    assert not (flat / "left4dead2" / "a.txt").exists() and (flat / "left4dead2" / "b.txt").read_text() == "b1"
    assert sorted(os.listdir(flat / "left4dead2" / "maps")) == ["c5m1.bsp"]
    assert (flat / "srcds_run").exists()
    # The running server still stacks the old layers, unchanged.
    assert tree_hash(merged) == view
    assert [tree_hash(ctl.state / "installations" / i) for i in ("101", "100")] == layers[1:]
    retired = ctl.state / "install-store" / "retired"
    assert len(os.listdir(retired)) == 1 and tree_hash(retired / os.listdir(retired)[0]) == layers[0]
    ctl.ok("restart", "alpha")
    ctl.wait_state("alpha", "running")
    assert tree_hash(merged) == view
    time.sleep(2.2)  # a retired layer gets a grace period (a unit's mount helper takes no lock)
    ctl.ok("build", "gc")
    assert os.listdir(retired) == []

    # A chain deeper than LEFT4ME_BUILD_CHAIN_MAX is flattened by itself.
    ctl.env["LEFT4ME_BUILD_CHAIN_MAX"] = "1"
    publish(ctl, tmp_path, 103, files={"left4dead2/c.txt": {"text": "c"}})
    ev = fetch(ctl)
    assert ev["layer"] == "diff" and ev["flattening"]
    wait_for(lambda: builds(ctl)["103"]["layer"] == "full", "build 103 flattened", timeout=30)


def test_gc_keeps_the_newest_passing_the_one_before_and_every_used_build(ctl, tmp_path):
    ctl.env["LEFT4ME_BUILD_LAYERS"] = "diff"
    ctl.install()
    start(ctl, tmp_path, "old", ctl.port_min + 2)  # runs 100
    for n in (101, 102, 103):
        publish(ctl, tmp_path, n, files={"left4dead2/v.txt": {"text": str(n)}})
        fetch(ctl)
    # Verdicts as the canary would leave them: 101 and 102 pass; 103 is
    # pending.
    for n in ("101", "102"):
        d = ctl.state / "install-store" / "canary" / n
        d.mkdir(parents=True)
        (d / "0123456789abcdef.json").write_text(json.dumps({"verdict": "pass", "finished": 1}))
    ctl.initialize("pinned", "port: %d\nbuild: '101'\n" % (ctl.port_min + 4), tmp_path)
    out = json.loads(ctl.ok("build", "gc", "--json").stdout)
    # 103: newer than the newest passing; 102 newest passing; 101 the one
    # before (and pinned); 100 runs "old" (refcount 1) and is their base.
    assert out == {"removed": []}
    b = builds(ctl)
    assert b["100"]["refcount"] == 1 and b["100"]["instances"] == ["old"] and b["101"]["pinned"] == ["pinned"]

    ctl.ok("delete", "pinned")
    ctl.ok("stop", "old")
    # 100 now is only the base layer of the kept diff builds.
    assert json.loads(ctl.ok("build", "gc", "--json").stdout) == {"removed": []}
    ctl.ok("build", "flatten", "101")
    # 100 is used by nobody and no kept build stacks it any more.
    assert json.loads(ctl.ok("build", "gc", "--json").stdout) == {"removed": ["100"]}
    assert sorted(builds(ctl)) == ["101", "102", "103"]
    assert mounts_below(ctl.state) == []
