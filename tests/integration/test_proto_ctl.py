"""l4d2ctl rcon / query / players against a running instance (the fake
server under the supervisor backend), cross-checked with independent
clients: rconclt for RCON, gamedig for A2S."""
import json
import pathlib
import subprocess

import pytest

from conftest import L4D2CTL

ROOT = pathlib.Path(__file__).resolve().parents[2]
GAMEDIG = ROOT / "node_modules" / "gamedig" / "bin" / "gamedig.js"
ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789\n"


def fake_bytes(n):
    """What the fake's `fake_bytes N` returns: byte k = ALPHABET[k % 37]."""
    reps = n // len(ALPHABET) + 1
    return (ALPHABET * reps)[:n]


@pytest.fixture
def alpha(installed, tmp_path):
    ctl = installed
    port = ctl.port_min + 4
    ctl.initialize("alpha", """
port: %d
map: c2m2_fairgrounds
maxplayers: 8
hostname: "Proto Test"
rcon_password: "first-password"
""" % port, tmp_path)
    ctl.ok("start", "alpha")
    ctl.wait_state("alpha", "running")
    ctl.wait_log("alpha", "Server is hibernating")
    ctl.port = port
    return ctl


def rconclt(port, password, *cmd):
    return subprocess.run(["rconclt", "-t", "5", "%s@127.0.0.1:%d" % (password, port), *cmd],
                          capture_output=True, text=True, timeout=20)


def test_rcon_one_command(alpha):
    p = alpha.ok("rcon", "alpha", "echo", "hello", "world")
    assert p.stdout == "hello world\n"
    p = alpha.ok("rcon", "--json", "alpha", "echo", "hi")
    assert json.loads(p.stdout) == {"output": "hi\n"}
    # Words that look like options after NAME belong to the command.
    p = alpha.ok("rcon", "alpha", "echo", "--json")
    assert p.stdout == "--json\n"
    alpha.ok("rcon", "alpha", "changelevel", "c3m1_plankcountry")
    assert "map     : c3m1_plankcountry at" in alpha.ok("rcon", "alpha", "status").stdout


def test_rcon_one_megabyte_byte_exact(alpha):
    p = subprocess.run([str(L4D2CTL), "rcon", "alpha", "fake_bytes", "1048576"], env=alpha.env,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    # 1048576 is a multiple of neither 37 nor a packet: the output ends
    # mid-pattern, and l4d2ctl adds the final newline only when missing.
    want = fake_bytes(1048576)
    assert p.stdout[:1048576] == want
    assert p.stdout == want + (b"" if want.endswith(b"\n") else b"\n")


def test_rcon_commands_from_stdin_share_one_connection(alpha):
    p = alpha.ok("rcon", "alpha", input="echo one\n\nsv_cheats\necho two\n")
    assert p.stdout == 'one\n"sv_cheats" = "0"\ntwo\n'
    p = alpha.ok("rcon", "--json", "alpha", input="echo a\n")
    assert json.loads(p.stdout) == {"command": "echo a", "output": "a\n"}
    # An over-long line is skipped whole (exit 1), the last line needs no newline.
    p = alpha.run("rcon", "alpha", input="echo a\n" + "x" * 5000 + "\necho b")
    assert p.returncode == 1
    assert p.stdout == "a\nb\n"
    assert p.stderr == "error: line longer than 4096 bytes skipped\n"


def test_rcon_agrees_with_rconclt(alpha):
    ours = alpha.ok("rcon", "alpha", "status").stdout
    # rconclt hangs when srcds' empty packet and the auth reply share a TCP
    # segment (see test_proto_fake.py): switch the fake to a server that
    # sends no empty packet, which l4d2ctl must handle as well.
    alpha.ok("rcon", "alpha", "fake_srcds_auth_empty_response", "0")
    theirs = rconclt(alpha.port, "first-password", "status")
    assert theirs.returncode == 0, theirs.stderr
    assert ours.rstrip("\n") == theirs.stdout.rstrip("\n")
    assert "# userid name uniqueid connected ping loss state rate adr" in ours
    assert alpha.ok("rcon", "alpha", "status").stdout == ours
    echo = rconclt(alpha.port, "first-password", "echo", "same words")
    assert echo.stdout.rstrip("\n") == alpha.ok("rcon", "alpha", "echo", "same", "words").stdout.rstrip("\n")


def test_rcon_refuses_long_command(alpha):
    p = alpha.fail("rcon", "alpha", "echo", "x" * 600)
    assert "511" in p.stderr
    assert "echo xxx" not in alpha.log("alpha")


def test_rcon_reads_password_fresh_and_never_retries(alpha, tmp_path):
    # A new password in the spec, not yet applied: l4d2ctl uses it at once
    # (no stale cache), the running server refuses it, one attempt only.
    alpha.initialize("alpha", """
port: %d
map: c2m2_fairgrounds
hostname: "Proto Test"
rcon_password: "second-password"
""" % alpha.port, tmp_path)
    p = alpha.fail("rcon", "alpha", "status")
    assert "refused the RCON password" in p.stderr
    log = alpha.log("alpha")
    assert log.count("RCON: bad password") == 1
    alpha.ok("restart", "alpha")
    alpha.wait_state("alpha", "running")
    alpha.wait_log("alpha", "Server is hibernating")
    assert alpha.ok("rcon", "alpha", "echo", "ok").stdout == "ok\n"


def test_players_json(alpha):
    p = alpha.ok("players", "alpha", "--json")
    j = json.loads(p.stdout)
    assert j["map"] == "c2m2_fairgrounds"
    assert (j["humans"], j["bots"], j["max_players"]) == (3, 2, 8)
    by_name = {pl["name"]: pl for pl in j["players"]}
    ellis = by_name['Ellis "the" Mechanic']
    assert ellis["steamid64"] == "76561197960290418"  # 76561197960265728 + 2*12345 + 0
    assert ellis["steamid"] == "STEAM_1:0:12345" and ellis["steamid3"] == "[U:1:24690]"
    assert (ellis["connected"], ellis["ping"], ellis["state"], ellis["adr"]) == (312, 45, "active", "127.0.0.1:27005")
    zoe = by_name["Zo\u00eb \U0001F3AE #1"]
    assert zoe["steamid64"] == str(76561197960265728 + 2 * 54321 + 1)
    assert zoe["connected"] == 3723 and zoe["adr"] == "loopback"
    pending = by_name["Pending Player"]
    assert pending["steamid64"] is None and pending["uniqueid"] == "STEAM_ID_PENDING" and pending["adr"] is None
    smoker = by_name["Smoker"]
    assert smoker["bot"] is True and smoker["userid"] == 677 and smoker["steamid64"] is None
    human = alpha.ok("players", "alpha").stdout
    assert "76561197960290418" in human and "Smoker" in human


def test_query_agrees_with_gamedig(alpha):
    ours = json.loads(alpha.ok("query", "alpha", "--players", "--rules", "--json").stdout)
    g = subprocess.run(["node", str(GAMEDIG), "--type", "l4d2", "--host", "127.0.0.1", "--port", str(alpha.port),
                        "--requestRules"], capture_output=True, text=True, timeout=30)
    assert g.returncode == 0, g.stderr
    theirs = json.loads(g.stdout)
    info = ours["info"]
    assert info["name"] == theirs["name"] == "Proto Test"
    assert info["map"] == theirs["map"] == "c2m2_fairgrounds"
    assert info["max_players"] == theirs["maxplayers"] == 8
    assert info["bots"] == theirs["raw"]["numbots"] == 2
    assert info["appid"] == theirs["raw"]["appId"] == 550
    assert info["version"] == theirs["version"]
    assert info["steamid"] == theirs["raw"]["steamid"]
    assert [p["name"] for p in ours["players"]] == [p["name"] for p in theirs["raw"]["players"]]
    assert [p["score"] for p in ours["players"]] == [p["score"] for p in theirs["raw"]["players"]]
    # The rules reply is split across datagrams; both clients put it together.
    assert ours["rules"] == theirs["raw"]["rules"]
    assert len(ours["rules"]) > 100
    human = alpha.ok("query", "alpha").stdout
    assert "name:        Proto Test" in human and "map:         c2m2_fairgrounds" in human


def test_stopped_instance_is_a_clear_error(alpha):
    alpha.ok("stop", "alpha")
    p = alpha.fail("rcon", "alpha", "status")
    assert "instance 'alpha'" in p.stderr and "is it running?" in p.stderr
    p = alpha.fail("query", "alpha")
    assert "instance 'alpha'" in p.stderr
    p = alpha.fail("players", "alpha")
    assert "is it running?" in p.stderr


def test_usage_errors(ctl):
    for args in (["rcon"], ["query"], ["players"], ["query", "a", "--bogus"], ["players", "a", "b"],
                 ["rcon", "--bogus", "a"], ["rcon", "../x", "status"]):
        p = ctl.run(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert p.stderr.startswith("error: ")
    p = ctl.fail("rcon", "nosuch", "status")
    assert "nosuch" in p.stderr


def test_players_hostile_names(installed, tmp_path):
    """Names are chosen by players: quotes, UTF-8 and control characters
    come through JSON intact and never reach the terminal raw."""
    ctl = installed
    port = ctl.port_min + 8
    roster = [
        {"userid": 2, "name": 'a "quoted" \x1b[31mred', "steamid": "STEAM_1:1:7", "connected": 5, "ping": 1,
         "state": "active", "adr": "127.0.0.1:1"},
        {"userid": 3, "name": '" STEAM_1:0:1 00:01 1 0 active 1 x "', "steamid": "STEAM_1:0:9", "connected": 7200,
         "ping": 2, "state": "active", "adr": None},
        {"userid": 9, "name": "Bot \u00fc", "steamid": None, "state": "active"},
    ]
    # The roster reaches the (sandboxed) fake through its tree.
    ctl.overlay("roster", {"left4dead2/fake_srcds_players.json": json.dumps(roster)})
    ctl.initialize("beta", "port: %d\nrcon_password: pw\noverlays: [roster]\n" % port, tmp_path)
    ctl.ok("start", "beta")
    ctl.wait_state("beta", "running")
    ctl.wait_log("beta", "Server is hibernating")
    j = json.loads(ctl.ok("players", "beta", "--json").stdout)
    names = [p["name"] for p in j["players"]]
    assert names == [roster[0]["name"], roster[1]["name"], "Bot \u00fc"]
    assert j["players"][0]["steamid64"] == str(76561197960265728 + 2 * 7 + 1)
    # The forged fields inside the second name do not move its real ones.
    assert j["players"][1]["steamid64"] == str(76561197960265728 + 18)
    assert j["players"][1]["connected"] == 7200 and j["players"][1]["adr"] is None
    human = ctl.ok("players", "beta").stdout
    assert "\x1b" not in human and "\\x1b[31mred" in human
