"""One set of spec rules: every spec in the table goes through the panel's
blueprint form and through `l4d2ctl initialize`, and both must give the
verdict the table expects. The rules live once, in src/rules/spec-rules.c;
this test is what notices if either side stops asking them.

The table is written as a person fills the blueprint form. The host's spec is
derived from it here, independently of the panel's code, by the form's
documented reading: one entry a line, blanks around entries and empty lines
ignored, a cvar line is "name value", a number field is a number when it is
written as one. For a spec the panel accepts, the panel's own spec is sent
to l4d2ctl too (a real start job, with the game server start itself
stubbed), so the bytes the panel would send are judged by the host as well.
"""
import json
import re
import subprocess

import pytest

import webutil
from webutil import Panel, wait_for

GOOD = {"map": "c1m1_hotel", "maxplayers": "8", "tickrate": "30", "overlays": "", "cvars": "",
        "server_cfg": "", "args": ""}

OK, NO = True, False
CASES = [
    # (what, form fields that differ from GOOD, verdict)
    ("defaults", {}, OK),
    ("another map", {"map": "c2m1_highway"}, OK),
    ("map with a hyphen", {"map": "l4d-custom_01"}, OK),
    ("largest numbers", {"maxplayers": "32", "tickrate": "128"}, OK),
    ("smallest numbers", {"maxplayers": "1", "tickrate": "10"}, OK),
    ("leading zero", {"maxplayers": "08"}, OK),
    ("overlays", {"overlays": "sourcemod\nmaps\ncustom-1"}, OK),
    ("32 overlays", {"overlays": "\n".join("o%d" % i for i in range(32))}, OK),
    ("blanks around entries", {"overlays": "  sourcemod  \n\n\tmaps\r\n", "args": " -insecure \n"}, OK),
    ("cvars", {"cvars": "sv_cheats 0\nmp_gamemode coop"}, OK),
    ("';' inside a quoted value", {"cvars": "sv_tags a;b"}, OK),
    ("unicode value", {"cvars": "sv_motd_title Grüße 🎮"}, OK),
    ("255-character value", {"cvars": "sv_tags " + "t" * 255}, OK),
    ("empty value", {"cvars": "sv_foo"}, OK),
    ("server.cfg lines", {"server_cfg": "sv_lan 1\nexec banned.cfg"}, OK),
    ("256-character line", {"server_cfg": "x" * 256}, OK),
    ("tab inside a line", {"server_cfg": "sv_alltalk\t1"}, OK),
    ("arguments", {"args": "-insecure\n+sv_pure\n0"}, OK),
    ("32 arguments", {"args": "\n".join(["-x"] * 32)}, OK),
    ("128-character argument", {"args": "+" + "a" * 127}, OK),
    ("unicode argument", {"args": "+sv_region\nÄrger"}, OK),
    ("512 server.cfg lines", {"server_cfg": "\n".join(["sv_lan 1"] * 512)}, OK),

    ("map with a dot", {"map": "c1m1.hotel"}, NO),
    ("map climbing out", {"map": "../x"}, NO),
    ("empty map", {"map": ""}, NO),
    ("map with a command", {"map": "c1m1 hotel; quit"}, NO),
    ("map with a substitution", {"map": "$(reboot)"}, NO),
    ("unicode map", {"map": "kärt"}, NO),
    ("65-character map", {"map": "m" * 65}, NO),
    ("no players", {"maxplayers": "0"}, NO),
    ("too many players", {"maxplayers": "33"}, NO),
    ("huge number", {"maxplayers": "99999999999999999999"}, NO),
    ("words for a number", {"maxplayers": "eight"}, NO),
    ("negative number", {"maxplayers": "-1"}, NO),
    ("space before a number", {"maxplayers": " 5"}, NO),
    ("exponent", {"tickrate": "1e3"}, NO),
    ("tickrate too high", {"tickrate": "129"}, NO),
    ("overlay climbing out", {"overlays": "good\n../etc"}, NO),
    ("hidden overlay", {"overlays": ".hidden"}, NO),
    ("duplicate overlay", {"overlays": "a\nb\na"}, NO),
    ("unicode overlay", {"overlays": "ünïcode"}, NO),
    ("33 overlays", {"overlays": "\n".join("o%d" % i for i in range(33))}, NO),
    ("33-character overlay", {"overlays": "o" * 33}, NO),
    ("hostname as a cvar", {"cvars": "hostname evil"}, NO),
    ("rcon_password as a cvar, in capitals", {"cvars": "RCON_PASSWORD x"}, NO),
    ("quote in a value", {"cvars": 'sv_cheats "1"'}, NO),
    ("the same cvar twice", {"cvars": "sv_cheats 0\nSV_CHEATS 1"}, NO),
    ("no cvar name", {"cvars": "=bad value"}, NO),
    ("dash in a cvar name", {"cvars": "sv-dash 1"}, NO),
    ("256-character value", {"cvars": "sv_tags " + "t" * 256}, NO),
    ("65-character cvar name", {"cvars": "c" * 65 + " 1"}, NO),
    ("control character in a value", {"cvars": "sv_tags x\x01y"}, NO),
    ("terminal escape in a value", {"cvars": "sv_tags \x1b[31mred"}, NO),
    ("C1 control in a value", {"cvars": "sv_tags a\u0090b"}, NO),
    ("next-line character in a value", {"cvars": "sv_tags a\u0085b"}, NO),
    ("line separator in a line", {"server_cfg": "say a\u2028b"}, NO),
    ("byte order mark in an argument", {"args": "\ufeff-x"}, NO),
    ("noncharacter in a value", {"cvars": "sv_tags \uffff"}, NO),
    ("257 cvars", {"cvars": "\n".join("c%d 1" % i for i in range(257))}, NO),
    ("257-character line", {"server_cfg": "x" * 257}, NO),
    ("DEL in a line", {"server_cfg": "a\x7fb"}, NO),
    ("513 server.cfg lines", {"server_cfg": "\n".join(["sv_lan 1"] * 513)}, NO),
    ("managed -port", {"args": "-port\n27015"}, NO),
    ("managed +tv_port", {"args": "+tv_port\n1"}, NO),
    ("managed, in capitals", {"args": "-PORT"}, NO),
    ("-binary", {"args": "-binary\n./evil"}, NO),
    ("-norestart", {"args": "-norestart"}, NO),
    ("space in an argument", {"args": "+sv_lan 1"}, NO),
    ("';' in an argument", {"args": "-insecure;quit"}, NO),
    ("substitution", {"args": "$(reboot)"}, NO),
    ("backquotes", {"args": "`id`"}, NO),
    ("pipe", {"args": "a|b"}, NO),
    ("redirection", {"args": "a>b"}, NO),
    ("quotes", {"args": "'quoted'"}, NO),
    ("33 arguments", {"args": "\n".join(["-x"] * 33)}, NO),
    ("129-character argument", {"args": "+" + "a" * 128}, NO),
    ("control character in an argument", {"args": "-x\x01"}, NO),
]


def entries(text):
    out = []
    for line in text.split("\n"):
        line = line.rstrip("\r \t").lstrip(" \t")
        if line:
            out.append(line)
    return out


def number(text):
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else text


def js(v):
    # UTF-8 as it is: YAML has no surrogate pairs for characters past U+FFFF.
    return json.dumps(v, ensure_ascii=False)


def host_spec(form):
    """The spec l4d2ctl reads for these form fields (JSON is YAML; cvars are
    written by hand so that a name given twice stays twice)."""
    cvars = []
    for line in entries(form["cvars"]):
        name = re.match(r"[^ \t]*", line).group(0)
        value = line[len(name):].lstrip(" \t")
        cvars.append("%s: %s" % (js(name), js(value)))
    return "{%s}\n" % ", ".join([
        '"hostname": "verdict"',
        '"map": %s' % js(form["map"]),
        '"maxplayers": %s' % js(number(form["maxplayers"])),
        '"tickrate": %s' % js(number(form["tickrate"])),
        '"overlays": %s' % js(entries(form["overlays"])),
        '"cvars": {%s}' % ", ".join(cvars),
        '"server_cfg": %s' % js(entries(form["server_cfg"])),
        '"args": %s' % js(entries(form["args"])),
    ])


# l4d2ctl as the panel runs it, but a start only initializes: the spec the
# panel sends is judged by the real `l4d2ctl initialize`; no game runs.
INITIALIZE_ONLY = """#!/bin/sh
for a in "$@"; do
        case "$a" in start|restart) exit 0 ;; esac
done
exec %s "$@"
"""


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verdicts")
    ctl = tmp / "l4d2ctl"
    ctl.write_text(INITIALIZE_ONLY % webutil.L4D2CTL)
    ctl.chmod(0o755)
    p = Panel(tmp / "panel", env={"LEFT4ME_L4D2CTL": str(ctl)})
    # Every accepted spec keeps a port pair; no game server binds them.
    (p.etc / "host.env").write_text("LEFT4ME_PORT_RANGE_START=30000\nLEFT4ME_PORT_RANGE_END=30999\n")
    p.start()
    # l4d2ctl also refuses overlays that do not exist: that is the host's
    # state, not a rule of the spec, so every valid name used here exists.
    for name in ["sourcemod", "maps", "custom-1", "a", "b", "good"] + ["o%d" % i for i in range(33)]:
        (p.state / "overlays" / name).mkdir(parents=True, exist_ok=True)
    c = p.login("admin", p.admin_password)
    yield p, c
    p.cleanup()


def test_the_table_is_large_and_hostile():
    assert len(CASES) >= 40
    assert sum(1 for _, _, ok in CASES if not ok) >= 30


@pytest.mark.parametrize("n", range(len(CASES)), ids=[c[0] for c in CASES])
def test_panel_and_host_give_one_verdict(web, n):
    p, c = web
    what, fields, want = CASES[n]
    form = dict(GOOD, **fields)

    host = p.ctl("initialize", "v%d" % n, "-f", "-", input=host_spec(form))
    assert (host.returncode == 0) == want, (what, host.stderr)
    if not want:
        assert host.returncode == 1 and host.stderr.startswith("error: "), host.stderr
    else:
        assert p.ctl("delete", "v%d" % n).returncode == 0

    c.get("/blueprints/new")
    r = c.post("/blueprints", dict(form, name="v%d" % n))
    assert (r.status == 303) == want, (what, r.status, re.findall(r'class="field-error"[^>]*>([^<]*)', r.text))
    if not want:
        # Refused at the field that is wrong, with what was typed kept.
        assert r.status == 422
        for field in fields:
            assert 'id="e-%s"' % field in r.text, (what, field)
        return

    # The panel's own spec for it, as a start job sends it to l4d2ctl.
    b = int(r.header("Location").split("/")[2].split("?")[0])
    s = c.create_server("verdict %d" % n, b)
    c.get("/servers/%d" % s)
    assert c.post("/servers/%d/start" % s).status == 303
    job = p.query("SELECT max(id) FROM jobs")[0][0]
    wait_for(lambda: p.query("SELECT state FROM jobs WHERE id = ?", job)[0][0] in ("succeeded", "failed"),
             what="start job")
    lines = [l for (l,) in p.query("SELECT line FROM job_lines WHERE job_id = ? ORDER BY seq", job)]
    assert p.query("SELECT state FROM jobs WHERE id = ?", job)[0][0] == "succeeded", (what, lines)


def test_a_map_with_a_dot_is_refused_at_its_field(web):
    p, c = web
    c.get("/blueprints/new")
    r = c.post("/blueprints", dict(GOOD, name="dotted", map="c1m1.hotel"))
    assert r.status == 422
    assert re.search(r'<p class="field-error" id="e-map"[^>]*>[^<]*&#39;c1m1.hotel&#39; is not a map name', r.text)
    assert 'value="c1m1.hotel"' in r.text


def test_any_server_name_gives_a_hostname_l4d2ctl_takes(web):
    # The hostname is made from the server's name: quotes, 70 bytes of
    # unicode and control-free text all start.
    p, c = web
    c.get("/blueprints/new")
    r = c.post("/blueprints", dict(GOOD, name="names"))
    b = int(r.header("Location").split("/")[2].split("?")[0])
    for name in ('say "hi"', "ä" * 35, "x" * 64):
        s = c.create_server(name, b)
        c.get("/servers/%d" % s)
        assert c.post("/servers/%d/start" % s).status == 303
        job = p.query("SELECT max(id) FROM jobs")[0][0]
        wait_for(lambda: p.query("SELECT state FROM jobs WHERE id = ?", job)[0][0] in ("succeeded", "failed"),
                 what="start job")
        assert p.query("SELECT state FROM jobs WHERE id = ?", job)[0][0] == "succeeded", name
        spec = json.loads((p.state / "instances" / ("s%d" % s) / "instance.json").read_text())["spec"]
        want = name.replace('"', "'").encode()[:63].decode("utf-8", "ignore")
        assert spec["hostname"] == want, (spec["hostname"], want)
