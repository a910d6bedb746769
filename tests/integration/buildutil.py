"""Helpers for the game build and update tests (issue 14): publishing a build
on the fake steamcmd, reading `l4d2ctl builds --json`, hashing trees."""
import hashlib
import json
import os
import stat

MiB = 1 << 20


def publish(ctl, tmp_path, buildid, files=None, deletes=None, patch=None):
    """Makes the fake steamcmd's Steam publish build `buildid`: the base game
    plus `files` ({rel: {"size": N} | {"text": S}}) minus `deletes`."""
    spec = {"buildid": buildid, "patch_version": patch or "2.2.3.%d" % (buildid - 100),
            "files": files or {}, "deletes": deletes or []}
    path = tmp_path / ("build-%d.json" % buildid)
    path.write_text(json.dumps(spec))
    ctl.env["FAKE_STEAMCMD_BUILD"] = str(path)
    return spec["patch_version"]


def builds(ctl):
    return {b["id"]: b for b in json.loads(ctl.ok("builds", "--json").stdout)["builds"]}


def fetch(ctl, **env):
    """`update fetch --json`: its build event."""
    p = ctl.ok("install", "--json", env=env, timeout=300)
    events = [json.loads(line) for line in p.stdout.splitlines()]
    return [e for e in events if e["event"] == "build"][0]


def tree_hash(root):
    """Every entry below root: path, type, mode, owner, size and content
    (symlink targets, device numbers): equal hashes, equal trees."""
    h = hashlib.sha256()
    root = str(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(("%s\0%o\0%d\0%d\0" % (os.path.relpath(p, root), st.st_mode, st.st_uid, st.st_gid)).encode())
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
            elif stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(p).encode())
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                h.update(b"%d" % st.st_rdev)
    return h.hexdigest()


def layer_hashes(ctl, name):
    """The hashes of every lower layer an instance's mount stacks: its
    build's layers and its overlays' published trees."""
    state = ctl.state
    out = {}
    rec = json.loads((state / "instances" / name / "mounted-build").read_text())
    for layer in rec["layers"]:
        out["build:" + layer["id"]] = tree_hash(state / "installations" / layer["id"])
    for overlay in (state / "instances" / name / "overlays").read_text().split():
        out["overlay:" + overlay] = tree_hash(state / "overlays" / overlay)
    return out


def is_whiteout(path):
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


# ---- a fleet of fake servers (the canary and migration tests) ----

HUMAN = [{"userid": 2, "name": "Ellis", "steamid": "STEAM_1:0:12345", "connected": 60, "ping": 40,
          "state": "active", "adr": "127.0.0.1:27005", "score": 1}]
BOT = [{"userid": 3, "name": "Coach", "steamid": None, "state": "active"}]


def wide_ports(ctl, start):
    """A port range of its own for a test with many servers (and their
    canaries), and short canary and migration timings. The tests take theirs
    from 20000-21199: below the other tests' ports and the kernel's
    ephemeral ones (32768 and up), which any outgoing connection may hold."""
    ctl.port_min, ctl.port_max = start, start + 199
    (ctl.config / "host.env").write_text(
        "LEFT4ME_PORT_RANGE_START=%d\nLEFT4ME_PORT_RANGE_END=%d\n" % (start, start + 199) +
        "LEFT4ME_CANARY_A2S_TIMEOUT=20\nLEFT4ME_CANARY_ALIVE=2\n"
        "LEFT4ME_MIGRATE_EMPTY=1\nLEFT4ME_MIGRATE_POLL=0.3\n")


def sourcemod_overlay(ctl, name, plugins, extensions=()):
    """A hand-made overlay with MetaMod, SourceMod and these plugins; its
    logs folder is open to the server (it writes SourceMod's error log)."""
    files = {"left4dead2/addons/metamod.vdf": '"Plugin" { "file" "../left4dead2/addons/metamod/bin/server" }'}
    for p in plugins:
        files["left4dead2/addons/sourcemod/plugins/%s" % p] = "SMX " + p
    for e in extensions:
        files["left4dead2/addons/sourcemod/extensions/%s" % e] = "ELF " + e
    d = ctl.overlay(name, files)
    logs = d / "left4dead2" / "addons" / "sourcemod" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    os.chmod(logs, 0o777)
    return d


def roster(ctl, name, players):
    """The fake server's players, read again when the file changes."""
    p = ctl.state / "runtime" / name / "merged" / "left4dead2" / "fake_srcds_players.json"
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(players))
    os.chmod(tmp, 0o644)
    os.rename(tmp, p)


def start_fleet(ctl, tmp_path, specs):
    """specs: {name: extra spec text}; starts them all, waits until each
    answers, gives each an empty roster (no humans)."""
    for name, extra in specs.items():
        ctl.initialize(name, extra, tmp_path)
        ctl.ok("start", name)
    for name in specs:
        ctl.wait_state(name, "running", timeout=60)
        roster(ctl, name, [])
    return {n: ctl.status(n)["pid"] for n in specs}


def instances(ctl):
    return {i["name"]: i for i in json.loads(ctl.ok("list", "--json").stdout)["instances"]}


def events(p):
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
