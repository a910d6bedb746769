#!/usr/bin/python3
"""A stand-in for the Left 4 Dead 2 dedicated server (srcds), for tests only.

Never used by the product. Standard library only; runs under Debian's
/usr/bin/python3. The fake steamcmd copies it into the fake installation as
bin/fake_srcds.py and `srcds_run` execs it from the root of the instance's
merged tree (the current directory).

What it does, like srcds:
  * parses srcds arguments: -game left4dead2 -port P +map M -maxplayers N
    -tickrate T -ip ADDR +cvar value ...; unknown arguments are ignored;
  * reads left4dead2/cfg/server.cfg (relative to the cwd): `name value` and
    `name "quoted value"` lines, `//` comments; prints `name = "value"` for
    every cvar it sets, and `Executing server.cfg`;
  * prints `Mounting addon: left4dead2/addons/<file>` for each addon file;
  * prints start-up lines ending with `Connection to Steam servers successful.`
    and `Server is hibernating`, flushed line by line;
  * binds TCP and UDP on the game port at -ip (default 127.0.0.1, never
    0.0.0.0 unless asked); a taken port prints an error line and exits 1;
  * exits 0 promptly on SIGTERM / SIGINT after printing a line;
  * RCON on TCP (Source RCON protocol) with the password from `rcon_password`;
  * A2S_INFO / A2S_PLAYER / A2S_RULES on UDP.

RCON behaviour, as srcds does it:
  * auth: an empty SERVERDATA_RESPONSE_VALUE, then SERVERDATA_AUTH_RESPONSE
    with the request id (or -1 for a bad password);
  * after sv_rcon_maxfailures bad passwords the client address is banned: its
    connection is closed and every new connection from it is closed at once;
  * an empty rcon_password disables RCON (every auth fails, no ban);
  * a command before auth gets an AUTH_RESPONSE with id -1 and is not run;
  * responses are split into packets of at most 4095 body bytes, and a packet
    is also cut where one console print ends and the next would not fit, so a
    non-final packet may be short;
  * an empty SERVERDATA_RESPONSE_VALUE from the client is mirrored back (same
    id, empty body) and followed by a RESPONSE_VALUE whose payload after the
    type is 00 01 00 00 (the "empty-packet mirror" trick clients use to find
    the end of a multi-packet response);
  * a packet whose size field is < 10 or > 4096 closes the connection;
  * a command longer than 511 bytes is refused the way the console tokenizer
    refuses it (a console line, an empty response).

Console commands: echo, say, changelevel, map, status, quit/exit, users,
sv_cheats and every other cvar (`name` shows it, `name value` sets it),
`fake_bytes N` (a response of exactly N bytes: byte k is
FAKE_BYTES_ALPHABET[k % len], produced through many prints of uneven sizes),
`fake_sleep S` (answers after S seconds, for timeout tests),
`fake_a2s_requests` (how many A2S requests arrived, challenged ones included).

Player tracking (issue 11): `fake_status_count` (how many `status` commands
ran, over RCON or not), for tests that poll the roster and must show that
polls happened; the roster itself comes from FAKE_SRCDS_PLAYERS or the
players file below, re-read whenever it changes, to script join, leave and
rejoin sequences. The knob a2s_silent (1: never answer A2S; as the cvar
fake_srcds_a2s_silent, e.g. in server.cfg) makes a server whose process runs
but that never becomes reachable.

Knobs (environment variables):
  FAKE_SRCDS_AUTH_EMPTY_RESPONSE  1 (default): send the empty RESPONSE_VALUE
                                  before AUTH_RESPONSE; 0: only AUTH_RESPONSE
  FAKE_SRCDS_RCON_MAXFAILURES     bad passwords before a ban (default: the
                                  cvar sv_rcon_maxfailures, else 10)
  FAKE_SRCDS_RCON_MAXBODY         max body bytes per response packet (4095)
  FAKE_SRCDS_NO_MIRROR            1: ignore empty RESPONSE_VALUE packets
                                  (a server without the mirror behaviour)
  FAKE_SRCDS_A2S_CHALLENGE        1 (default): A2S_INFO needs a challenge;
                                  0: answers A2S_INFO at once
  FAKE_SRCDS_A2S_SPLIT            max payload bytes per A2S packet before a
                                  reply is split (default 1248)
  FAKE_SRCDS_A2S_SPLIT_ORDER      normal (default) | reverse | duplicate |
                                  drop-first (never sends fragment 0)
  FAKE_SRCDS_A2S_RULES_EXTRA      number of extra padding rules in A2S_RULES
                                  (default 120, enough to force a split)
  FAKE_SRCDS_PLAYERS              JSON list of players replacing the default
                                  roster: [{"name":..., "steamid":...|null
                                  (null = bot), "userid":N, "connected":S,
                                  "ping":N, "state":"active", "adr":...|null,
                                  "score":N}]
                                  The same list may be given in the file
                                  left4dead2/fake_srcds_players.json of the
                                  server's tree (an overlay): the environment
                                  does not reach a sandboxed server. The file
                                  is read again whenever it changes.
  FAKE_SRCDS_STARTUP_DELAY        seconds to wait before binding the ports
  FAKE_SRCDS_EXIT_AFTER           exit by itself after this many seconds
  FAKE_SRCDS_EXIT_CODE            ... with this exit code (default 1; a crash)
Hostile modes, for the containment tests: a file left4dead2/fake_srcds_hostile.json
in the server's tree (the tests put it in the instance's upper layer or an
overlay; the environment does not reach a sandboxed server), a JSON object:
  "plant": true        writes its own srcds_run, srcds_linux, bin/evil.so and
                       left4dead2/bin/server.so into its tree (they land in the
                       upper layer where it may write); the planted srcds_run would
                       print PLANTED-SRCDS-RUN-RAN and create left4dead2/planted-ran
  "setsid": "MARKER"   starts a detached child (setsid, own session) whose
                       command line ends in MARKER and which sleeps for 600 s
  "attack": {"read": PATH, "write": PATH, "kill": PID, "list": PATH}
                       tries each and prints one line "ATTACK <what> <target>:
                       OK" or ": <errno name>"
  "hog_memory_mb": N   allocates and touches N MiB, then prints "HOG memory: N MiB held"
  "hog_tasks": N       starts N sleeping child processes, printing
                       "HOG tasks: N started" or where fork failed
Game updates (issue 14; the section "game updates" below):
  `version` prints the PatchVersion of left4dead2/steam.inf in its tree, as
  "Exe version X (left4dead2)"; `meta version` answers when the tree has
  left4dead2/addons/metamod.vdf, `sm version`, `sm exts list` and `sm plugins
  list` when it has left4dead2/addons/sourcemod/ (plugins: its plugins/*.smx,
  extensions: its extensions/*.ext.so). A build may carry a marker,
  left4dead2/fake_srcds_breaks.json: {"plugins": [FILE...], "extensions":
  [FILE...]}: those fail to load ("<Failed>" in the lists) and each writes an
  error line ("Signature broken") to addons/sourcemod/logs/errors_DATE.log
  at start, as after a game update that moved a function. The console
  command `fake_master_request_restart` prints what the engine prints when
  Steam's master server asks an outdated server to restart.
Each knob can also be set as a cvar named fake_srcds_<knob in lower case>
(e.g. `fake_srcds_auth_empty_response 0` in server.cfg, on the command line
as +fake_srcds_auth_empty_response 0, or at run time over RCON); the
environment wins. The cvars sv_rcon_maxfailures and rcon_password may also
be given on the command line (+sv_rcon_maxfailures 3) or in server.cfg.
"""

import errno
import json
import os
import random
import selectors
import signal
import socket
import struct
import sys
import time

FAKE_BYTES_ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789\n"

SERVERDATA_AUTH = 3
SERVERDATA_AUTH_RESPONSE = 2
SERVERDATA_EXECCOMMAND = 2
SERVERDATA_RESPONSE_VALUE = 0

RCON_MAX_PACKET = 4096  # the largest size field srcds accepts
COMMAND_MAX_LENGTH = 512  # srcds' tokenizer buffer, NUL included
CLIENT_BUFFER_CAP = 1 << 20  # unanswered input per RCON client

# Console commands that may appear in server.cfg but are not cvars.
CFG_COMMANDS = {
    "exec", "echo", "say", "alias", "bind", "writeid", "writeip", "banid",
    "banip", "addip", "removeip", "log", "sm", "meta", "kick", "kickid",
    "sm_cvar", "heartbeat",
}

# Options that take a value; every other -option is a flag.
VALUED_OPTIONS = {
    "game", "port", "maxplayers", "tickrate", "ip", "pidfile", "sport",
    "steam_dir", "steamcmd_script", "timeout", "strictportbind_port",
}


def env_int(name, default):
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        out(f"fake_srcds: ignoring {name}={v!r} (not an integer)")
        return default


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Shutdown(Exception):
    pass


def parse_args(argv):
    opts = {"game": "left4dead2", "port": "27015", "maxplayers": "8",
            "tickrate": "30", "ip": "127.0.0.1"}
    cvars = []  # (name, value) from +name value
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and len(a) > 1:
            name = a[1:]
            if name in VALUED_OPTIONS and i + 1 < len(argv):
                opts[name] = argv[i + 1]
                i += 2
                continue
            opts[name] = True
        elif a.startswith("+") and len(a) > 1:
            name = a[1:]
            if i + 1 < len(argv) and not argv[i + 1].startswith(("+", "-")):
                cvars.append((name, argv[i + 1]))
                i += 2
                continue
            cvars.append((name, ""))
        i += 1
    return opts, cvars


def strip_comment(line):
    """Removes a // comment that is not inside quotes."""
    inq = False
    for i, c in enumerate(line):
        if c == '"':
            inq = not inq
        elif not inq and line.startswith("//", i):
            return line[:i]
    return line


def tokenize(line):
    """Splits a console line the way srcds does for simple cases: words,
    and "quoted strings" as one word without the quotes."""
    toks = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c.isspace():
            i += 1
            continue
        if c == '"':
            j = line.find('"', i + 1)
            if j < 0:
                j = n
            toks.append(line[i + 1:j])
            i = j + 1
            continue
        j = i
        while j < n and not line[j].isspace() and line[j] != '"':
            j += 1
        toks.append(line[i:j])
        i = j
    return toks


def read_server_cfg(path):
    """Returns [(name, value)] from server.cfg; missing file -> []."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    pairs = []
    for raw in text.splitlines():
        line = strip_comment(raw).strip()
        if not line:
            continue
        for part in line.split(";"):
            toks = tokenize(part)
            if len(toks) >= 2:
                pairs.append((toks[0], " ".join(toks[1:])))
            elif len(toks) == 1:
                pairs.append((toks[0], None))  # a command, not a cvar
    return pairs


DEFAULT_ROSTER = [
    {"userid": 2, "name": 'Ellis "the" Mechanic', "steamid": "STEAM_1:0:12345",
     "connected": 312, "ping": 45, "loss": 0, "state": "active",
     "adr": "127.0.0.1:27005", "score": 12},
    {"userid": 3, "name": "Zo\u00eb \U0001F3AE #1", "steamid": "STEAM_1:1:54321",
     "connected": 3723, "ping": 80, "loss": 2, "state": "active",
     "adr": "loopback", "score": 3},
    {"userid": 4, "name": "Pending Player", "steamid": "STEAM_ID_PENDING",
     "connected": 3, "ping": 999, "loss": 0, "state": "spawning",
     "adr": None, "score": 0},
    {"userid": 677, "name": "Smoker", "steamid": None, "state": "active"},
    {"userid": 678, "name": "Coach", "steamid": None, "state": "active"},
]


def fmt_connected(secs):
    h, rem = divmod(int(secs), 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Server:
    def __init__(self, argv):
        self.opts, cmdline_cvars = parse_args(argv)
        self.cvars = {"hostname": "Left 4 Dead 2", "rcon_password": "",
                      "sv_cheats": "0", "sv_rcon_maxfailures": "10",
                      "mp_gamemode": "coop", "sv_tags": "", "z_difficulty": "Normal"}
        self.map = "c1m1_hotel"
        self.port = 27015
        self.ip = "127.0.0.1"
        self.sel = selectors.DefaultSelector()
        self.clients = {}
        self.failures = {}
        self.banned = set()
        self.challenges = {}
        self.start = time.monotonic()
        self.cmdline_cvars = cmdline_cvars
        roster = os.environ.get("FAKE_SRCDS_PLAYERS")
        self._players = json.loads(roster) if roster else [dict(p) for p in DEFAULT_ROSTER]
        self._players_file_mtime = None
        self.pending = []  # (due time, conn, packets) for fake_sleep
        self.a2s_requests = 0  # A2S queries answered or challenged (fake_a2s_requests)
        self.sm_failed = set()  # plugins and extensions a build's marker broke (game updates)
        self.ext_failed = set()
        self.status_count = 0  # `status` commands run (fake_status_count)

    @property
    def players(self):
        """The roster: left4dead2/fake_srcds_players.json when the tree has
        one (re-read when it changes), else the environment's or the default."""
        path = os.path.join("left4dead2", "fake_srcds_players.json")
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return self._players
        if mtime != self._players_file_mtime:
            try:
                with open(path) as f:
                    self._players = json.load(f)
                self._players_file_mtime = mtime
            except (OSError, ValueError):
                pass
        return self._players

    # ------------------------------------------------------------ start-up
    def boot(self):
        o = self.opts
        out("Auto detecting CPU")
        out("Using default binary: ./srcds_linux")
        out("Server will auto-restart if there is a crash.")
        out("Console initialized.")
        game = o.get("game") if isinstance(o.get("game"), str) else "left4dead2"
        out(f'Game.dll loaded for "Left 4 Dead 2" ({game})')
        try:
            self.port = int(o["port"])
            if not 0 < self.port < 65536:
                raise ValueError
        except (ValueError, TypeError):
            out(f"Invalid -port {o['port']!r}")
            sys.exit(1)
        self.ip = o["ip"] if isinstance(o.get("ip"), str) else "127.0.0.1"
        self.maxplayers = self.int_opt("maxplayers", 8)
        self.tickrate = self.int_opt("tickrate", 30)

        for name, value in self.cmdline_cvars:
            if name in ("map", "changelevel"):
                if value:
                    self.map = value
            elif value != "":
                self.set_cvar(name, value)

        addons = os.path.join(game, "addons")
        try:
            for f in sorted(os.listdir(addons)):
                if os.path.isfile(os.path.join(addons, f)):
                    out(f"Mounting addon: {game}/addons/{f}")
        except OSError:
            pass

        delay = os.environ.get("FAKE_SRCDS_STARTUP_DELAY")
        if delay:
            time.sleep(float(delay))

        self.bind()
        out(f"Network: IP {self.ip}, mode MP, dedicated Yes, ports {self.port} SV / {self.port - 10} CL")

        cfg = read_server_cfg(os.path.join(game, "cfg", "server.cfg"))
        if cfg is None:
            out("'server.cfg' not present; not executing.")
        else:
            out("Executing server.cfg")
            for name, value in cfg:
                if value is None or name.lower() in CFG_COMMANDS:
                    continue
                if name in ("map", "changelevel"):
                    self.map = value
                    continue
                self.set_cvar(name, value)
        out(f"Initializing map {self.map} (maxplayers {self.maxplayers}, tickrate {self.tickrate})")
        self.load_sourcemod()
        self.hostile()
        out("Connection to Steam servers successful.")
        out("   VAC secure mode is activated.")
        out("Server is hibernating")

    # ------------------------------------------------------------ game updates
    # (issue 14) What a canary asks a server after a game update.
    def load_sourcemod(self):
        """SourceMod loading its plugins: the ones the build's marker breaks
        fail, each with an error log line."""
        self.sm_failed = set()
        self.ext_failed = set()
        if not os.path.isdir(os.path.join("left4dead2", "addons", "sourcemod")):
            return
        try:
            with open(os.path.join("left4dead2", "fake_srcds_breaks.json")) as f:
                breaks = json.load(f)
        except (OSError, ValueError):
            breaks = {}
        self.sm_failed = set(breaks.get("plugins", [])) & set(self.sm_files("plugins", ".smx"))
        self.ext_failed = set(breaks.get("extensions", [])) & set(self.sm_files("extensions", ".ext.so"))
        lines = []
        stamp = time.strftime("L %m/%d/%Y - %H:%M:%S: ")
        for p in sorted(self.sm_failed):
            out(f'[SM] Unable to load plugin "{p}": Error detected in plugin startup (see error logs)')
            lines.append(f"{stamp}[SM] Exception reported: Signature broken (l4d2 update): {p}\n")
        for e in sorted(self.ext_failed):
            out(f'[SM] Unable to load extension "{e}": Could not find interface: IServerGameEnts')
            lines.append(f'{stamp}[SM] Unable to load extension "{e}": Could not find interface\n')
        if lines:
            logs = os.path.join("left4dead2", "addons", "sourcemod", "logs")
            try:
                os.makedirs(logs, exist_ok=True)
                with open(os.path.join(logs, time.strftime("errors_%Y%m%d.log")), "a") as f:
                    f.writelines(lines)
            except OSError as e:
                out(f"fake_srcds: cannot write the SourceMod error log: {e.strerror}")

    def sm_files(self, sub, suffix):
        base = os.path.join("left4dead2", "addons", "sourcemod", sub)
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != "disabled"]
            found += [f for f in filenames if f.endswith(suffix)]
        return sorted(found)

    def update_command(self, cmd, args):
        if cmd == "version":
            patch = "2.2.2.6"
            try:
                with open(os.path.join("left4dead2", "steam.inf")) as f:
                    for line in f:
                        if line.startswith("PatchVersion="):
                            patch = line.strip().split("=", 1)[1]
            except OSError:
                pass
            return ["Protocol version 2 [2227/2227]\n", f"Exe version {patch} (left4dead2)\n",
                    "Exe build: 12:00:00 May 14 2024 (9190) (550)\n"]
        addons = os.path.join("left4dead2", "addons")
        if cmd == "meta":
            if not (os.path.exists(os.path.join(addons, "metamod.vdf")) or os.path.isdir(os.path.join(addons, "metamod"))):
                return ['Unknown command "meta"\n']
            if args[:1] == ["version"]:
                return [" Metamod:Source Version Information\n", "    Metamod:Source version 1.11.0-dev+1155\n",
                        "    Plugin interface version: 16:14\n", "    Loaded As: Valve Server Plugin\n"]
            return ["Metamod:Source Menu\n", "usage: meta <command> [arguments]\n"]
        if not os.path.isdir(os.path.join(addons, "sourcemod")):
            return ['Unknown command "sm"\n']
        if args[:1] == ["version"]:
            return [" SourceMod Version Information:\n", "    SourceMod Version: 1.11.0.6964\n",
                    "    SourcePawn Engine: 1.11.0.6964, jit-x86 (build 1.11.0.6964)\n"]
        if args[:2] == ["exts", "list"]:
            exts = ["Automatic Updater"] + self.sm_files("extensions", ".ext.so")
            lines = [f"[SM] Displaying {len(exts)} extensions:\n",
                     "[01] Automatic Updater (1.11.0.6964): Updates SourceMod gamedata files\n"]
            for i, e in enumerate(exts[1:], 2):
                if e in self.ext_failed:
                    lines.append(f'[{i:02d}] <FAILED> file "{e}": Could not find interface: IServerGameEnts\n')
                else:
                    lines.append(f"[{i:02d}] {e[:-7]} (1.0): {e}\n")
            return lines
        if args[:2] == ["plugins", "list"]:
            plugins = self.sm_files("plugins", ".smx")
            lines = [f"[SM] Listing {len(plugins)} plugins:\n"]
            for i, p in enumerate(plugins, 1):
                if p in self.sm_failed:
                    lines.append(f'  {i:02d} <Failed> "{p}"\n')
                else:
                    lines.append(f'  {i:02d} "{p[:-4]}" (1.0) by someone\n')
            if self.sm_failed:
                lines.append("Errors:\n")
                lines += [f"{p}: Error detected in plugin startup (see error logs)\n" for p in sorted(self.sm_failed)]
            return lines
        return ["SourceMod Menu:\n", "Usage: sm <command> [arguments]\n"]

    def hostile(self):
        """The hostile modes of fake_srcds_hostile.json (see the docstring)."""
        try:
            with open(os.path.join("left4dead2", "fake_srcds_hostile.json")) as f:
                modes = json.load(f)
        except (OSError, ValueError):
            return
        if modes.get("plant"):
            planted = ('#!/bin/sh\necho PLANTED-SRCDS-RUN-RAN\n'
                       'touch left4dead2/planted-ran\n'
                       'exec /usr/bin/python3 "$(dirname "$0")/bin/fake_srcds.py" "$@"\n')
            for rel, text in (("srcds_run", planted), ("srcds_linux", "planted\n"),
                              (os.path.join("bin", "evil.so"), "planted\n"),
                              (os.path.join("left4dead2", "bin", "server.so"), "planted\n")):
                try:
                    # As an attacker would: out with the installation's
                    # file (its tree's root is its own), in with its own.
                    if os.path.lexists(rel):
                        os.unlink(rel)
                    os.makedirs(os.path.dirname(rel) or ".", exist_ok=True)
                    with open(rel, "w") as f:
                        f.write(text)
                    os.chmod(rel, 0o755)
                    out(f"HOSTILE planted {rel}")
                except OSError as e:
                    out(f"HOSTILE cannot plant {rel}: {errno.errorcode.get(e.errno, e.errno)}")
        marker = modes.get("setsid")
        if marker:
            pid = os.fork()
            if pid == 0:
                os.setsid()
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.execv("/usr/bin/python3", ["/usr/bin/python3", "-c", "import time; time.sleep(600)", marker])
            out(f"HOSTILE started a setsid child ({marker})")
        attack = modes.get("attack") or {}

        def attempt(what, target, fn):
            try:
                fn()
                out(f"ATTACK {what} {target}: OK")
            except OSError as e:
                out(f"ATTACK {what} {target}: {errno.errorcode.get(e.errno, e.errno)}")

        if "read" in attack:
            attempt("read", attack["read"], lambda: open(attack["read"], "rb").read())
        if "list" in attack:
            attempt("list", attack["list"], lambda: os.listdir(attack["list"]))
        if "write" in attack:
            attempt("write", attack["write"], lambda: open(attack["write"], "w").write("owned\n"))
        if "kill" in attack:
            attempt("kill", attack["kill"], lambda: os.kill(int(attack["kill"]), signal.SIGSTOP))
        mem = modes.get("hog_memory_mb")
        if mem:
            self.hoard = []
            for i in range(int(mem) // 8):
                self.hoard.append(bytearray(b"\x01" * (8 << 20)))  # touched: really resident
            out(f"HOG memory: {len(self.hoard) * 8} MiB held")
        hog = modes.get("hog_tasks")
        if hog:
            started = 0
            try:
                for _ in range(int(hog)):
                    if os.fork() == 0:
                        time.sleep(600)
                        os._exit(0)
                    started += 1
                out(f"HOG tasks: {started} started")
            except OSError as e:
                out(f"HOG tasks: fork failed after {started}: {errno.errorcode.get(e.errno, e.errno)}")

    def knob(self, name, default):
        """A behaviour knob: FAKE_SRCDS_<NAME>, else cvar fake_srcds_<name>."""
        v = os.environ.get("FAKE_SRCDS_" + name.upper())
        if v is None or v == "":
            v = self.cvars.get("fake_srcds_" + name.lower())
        return default if v is None or v == "" else str(v)

    def knob_int(self, name, default):
        try:
            return int(self.knob(name, default))
        except ValueError:
            return default

    def int_opt(self, name, default):
        try:
            return int(self.opts.get(name, default))
        except (ValueError, TypeError):
            return default

    def set_cvar(self, name, value, quiet=False):
        self.cvars[name] = value
        if not quiet:
            # The password is a secret: the console (which the panel shows)
            # only says it was set.
            shown = "(set)" if name == "rcon_password" else value
            out(f'{name} = "{shown}"')

    def bind(self):
        family = socket.AF_INET6 if ":" in self.ip else socket.AF_INET
        try:
            t = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            t.bind((self.ip, self.port))
            t.listen(64)
            u = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            u.bind((self.ip, self.port))
        except OSError as e:
            out(f"WARNING: NET_OpenSocket: unable to bind {self.ip}:{self.port}: {e.strerror}")
            out(f"Couldn't allocate any server IP port {self.port}; is the port in use?")
            sys.exit(1)
        t.setblocking(False)
        u.setblocking(False)
        self.tcp, self.udp = t, u
        self.sel.register(t, selectors.EVENT_READ, ("accept", None))
        self.sel.register(u, selectors.EVENT_READ, ("udp", None))

    # ------------------------------------------------------------ main loop
    def run(self):
        exit_after = self.knob("exit_after", "")
        deadline = time.monotonic() + float(exit_after) if exit_after else None
        while True:
            timeout = 0.5
            now = time.monotonic()
            if deadline is not None:
                if now >= deadline:
                    out("Segmentation fault (fake: FAKE_SRCDS_EXIT_AFTER)")
                    sys.exit(self.knob_int("exit_code", 1))
                timeout = min(timeout, deadline - now)
            if self.pending:
                timeout = max(0, min(timeout, min(p[0] for p in self.pending) - now))
            for key, mask in self.sel.select(timeout):
                kind, conn = key.data
                if kind == "accept":
                    self.accept()
                elif kind == "udp":
                    self.udp_read()
                elif kind == "rcon":
                    if mask & selectors.EVENT_READ:
                        self.rcon_read(conn)
                    if mask & selectors.EVENT_WRITE and conn in self.clients:
                        self.rcon_flush(conn)
            self.run_pending()

    # ------------------------------------------------------------ RCON
    def accept(self):
        try:
            c, addr = self.tcp.accept()
        except OSError:
            return
        if addr[0] in self.banned:
            c.close()
            return
        c.setblocking(False)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.clients[c] = {"addr": addr, "inbuf": bytearray(), "outbuf": bytearray(), "authed": False}
        self.sel.register(c, selectors.EVENT_READ, ("rcon", c))

    def drop(self, c):
        if c in self.clients:
            del self.clients[c]
            try:
                self.sel.unregister(c)
            except (KeyError, ValueError):
                pass
            c.close()
        self.pending = [p for p in self.pending if p[1] is not c]

    def rcon_read(self, c):
        st = self.clients[c]
        try:
            data = c.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self.drop(c)
            return
        if not data:
            self.drop(c)
            return
        st["inbuf"] += data
        if len(st["inbuf"]) > CLIENT_BUFFER_CAP:
            self.drop(c)
            return
        buf = st["inbuf"]
        while len(buf) >= 4 and c in self.clients:
            (size,) = struct.unpack_from("<i", buf, 0)
            if size < 10 or size > RCON_MAX_PACKET:
                out(f"RCON: bad packet size {size} from {st['addr'][0]}; closing")
                self.drop(c)
                return
            if len(buf) < 4 + size:
                break
            rid, ptype = struct.unpack_from("<ii", buf, 4)
            payload = bytes(buf[12:4 + size])
            del buf[:4 + size]
            body = payload.split(b"\0", 1)[0]
            self.rcon_packet(c, rid, ptype, body)
        # Everything answered to one read goes out in one send, as srcds
        # does: the auth reply's two packets usually share a TCP segment.
        self.rcon_flush(c)

    def send_packet(self, c, rid, ptype, body=b"", raw=None):
        payload = raw if raw is not None else body + b"\0\0"
        pkt = struct.pack("<iii", 8 + len(payload), rid, ptype) + payload
        self.send_raw(c, pkt)

    def send_raw(self, c, data):
        """Queues data; rcon_flush() sends it."""
        st = self.clients.get(c)
        if st is None:
            return
        st["outbuf"] += data

    def rcon_flush(self, c):
        st = self.clients.get(c)
        if st is None:
            return
        while st["outbuf"]:
            try:
                n = c.send(st["outbuf"])
            except BlockingIOError:
                break
            except OSError:
                self.drop(c)
                return
            del st["outbuf"][:n]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if st["outbuf"] else 0)
        self.sel.modify(c, events, ("rcon", c))

    def rcon_packet(self, c, rid, ptype, body):
        st = self.clients[c]
        ip = st["addr"][0]
        if ptype == SERVERDATA_AUTH:
            if self.knob("auth_empty_response", "1") != "0":
                self.send_packet(c, rid, SERVERDATA_RESPONSE_VALUE)
            pw = self.cvars.get("rcon_password", "")
            if pw and body == pw.encode():
                st["authed"] = True
                self.failures.pop(ip, None)
                self.send_packet(c, rid, SERVERDATA_AUTH_RESPONSE)
                return
            st["authed"] = False
            self.send_packet(c, -1, SERVERDATA_AUTH_RESPONSE)
            if not pw:
                return
            self.failures[ip] = self.failures.get(ip, 0) + 1
            limit = self.knob_int("rcon_maxfailures",
                                  int(self.cvars.get("sv_rcon_maxfailures", "10") or 10))
            out(f'RCON: bad password from "{ip}" ({self.failures[ip]} of {limit})')
            if self.failures[ip] >= limit:
                out(f'Banning {ip} for rcon hacking attempts')
                self.banned.add(ip)
                self.rcon_flush(c)
                self.drop(c)
            return
        if not st["authed"]:
            self.send_packet(c, -1, SERVERDATA_AUTH_RESPONSE)
            return
        if ptype == SERVERDATA_RESPONSE_VALUE:
            if body == b"" and self.knob("no_mirror", "0") != "1":
                mirror = struct.pack("<iii", 10, rid, SERVERDATA_RESPONSE_VALUE) + b"\0\0"
                mirror += struct.pack("<iii", 12, rid, SERVERDATA_RESPONSE_VALUE) + b"\x00\x01\x00\x00"
                self.send_in_order(c, mirror)
            return
        if ptype != SERVERDATA_EXECCOMMAND:
            return
        text = body.decode("utf-8", errors="replace")
        if len(body) >= COMMAND_MAX_LENGTH:
            out("Tokenize: Encountered command which overflows the tokenizer buffer.. Skipping!")
            prints = []
        else:
            prints = self.execute(text, rcon=c)
        if isinstance(prints, tuple):  # ("sleep", seconds, prints)
            _, secs, prints = prints
            self.pending.append([time.monotonic() + secs, c, self.packetize(rid, prints)])
            return
        self.send_in_order(c, self.packetize(rid, prints))

    def send_in_order(self, c, data):
        """srcds runs one command at a time: what a connection sends after a
        command that is still sleeping is answered after it."""
        waiting = [p for p in self.pending if p[1] is c]
        if waiting:
            waiting[-1][2] += data
        else:
            self.send_raw(c, data)

    def packetize(self, rid, prints):
        """Turns a list of console prints into RESPONSE_VALUE packets: at most
        maxbody bytes each, a packet ends early where the next print does not
        fit (so non-final packets can be short). Always at least one packet."""
        maxbody = self.knob_int("rcon_maxbody", 4095)
        packets = []
        cur = bytearray()
        for p in prints:
            if isinstance(p, str):
                p = p.encode("utf-8")
            if cur and len(cur) + len(p) > maxbody:
                packets.append(bytes(cur))
                cur = bytearray()
            while len(p) > maxbody:
                packets.append(p[:maxbody])
                p = p[maxbody:]
            cur += p
        if cur or not packets:
            packets.append(bytes(cur))
        out_ = bytearray()
        for body in packets:
            out_ += struct.pack("<iii", 10 + len(body), rid, SERVERDATA_RESPONSE_VALUE) + body + b"\0\0"
        return bytes(out_)

    def run_pending(self):
        now = time.monotonic()
        due = [p for p in self.pending if p[0] <= now]
        self.pending = [p for p in self.pending if p[0] > now]
        for _, c, data in due:
            self.send_raw(c, data)
            self.rcon_flush(c)

    # ------------------------------------------------------------ console
    def execute(self, line, rcon=None):
        """Runs a console line; returns the list of prints (strings)."""
        prints = []
        for part in line.split(";"):
            toks = tokenize(part)
            if not toks:
                continue
            r = self.command(toks, part.strip(), rcon)
            if isinstance(r, tuple):
                return ("sleep", r[1], prints + r[2])
            prints += r
        return prints

    def command(self, toks, raw, rcon):
        cmd, args = toks[0].lower(), toks[1:]
        rest = raw[len(toks[0]):].strip()
        if cmd == "echo":
            return [(" ".join(args)) + "\n"]
        if cmd == "say":
            out(f"Console: {rest.strip(chr(34))}")
            return []
        if cmd in ("changelevel", "map"):
            if not args:
                return [f"Usage:  {cmd} <map>\n"]
            m = args[0]
            if not all(ch.isalnum() or ch in "_-" for ch in m):
                return [f"{cmd} failed: {m} not found\n"]
            self.map = m
            out(f"Changelevel to {m}")
            return []
        if cmd == "status":
            self.status_count += 1
            return self.status_lines()
        if cmd in ("version", "meta", "sm"):
            return self.update_command(cmd, [a.lower() for a in args])
        if cmd == "fake_master_request_restart":
            # What the engine prints when Steam's master server tells an
            # outdated server to restart.
            out("MasterRequestRestart")
            out("Your server needs to be restarted in order to receive the latest update.")
            return []
        if cmd == "fake_status_count":
            return [f"{self.status_count}\n"]
        if cmd == "users":
            lines = ["<slot:userid:\"name\">\n"]
            humans = [p for p in self.players if p.get("steamid")]
            for i, p in enumerate(humans):
                lines.append(f'{i}:{p["userid"]}:"{p["name"]}"\n')
            lines.append(f"{len(humans)} users\n")
            return lines
        if cmd in ("quit", "exit"):
            if rcon is not None:
                self.rcon_flush(rcon)
            raise Shutdown(cmd)
        if cmd == "fake_bytes":
            try:
                n = max(0, min(int(args[0]), 64 << 20))
            except (IndexError, ValueError):
                return ["Usage: fake_bytes <count>\n"]
            return fake_bytes_prints(n)
        if cmd == "fake_a2s_requests":
            return [f"{self.a2s_requests}\n"]
        if cmd == "fake_sleep":
            try:
                secs = float(args[0])
            except (IndexError, ValueError):
                return ["Usage: fake_sleep <seconds>\n"]
            return ("sleep", secs, [f"slept {args[0]}\n"])
        if cmd in self.cvars or cmd.startswith(("sv_", "mp_", "z_", "sm_", "tv_", "fake_srcds_")):
            if not args:
                v = self.cvars.get(cmd, "0")
                return [f'"{cmd}" = "{v}"\n']
            self.set_cvar(cmd, " ".join(args), quiet=True)
            return []
        return [f'Unknown command "{toks[0]}"\n']

    def status_lines(self):
        humans = [p for p in self.players if p.get("steamid")]
        bots = [p for p in self.players if not p.get("steamid")]
        hib = "hibernating" if not humans else "not hibernating"
        lines = [
            f"hostname: {self.cvars.get('hostname', '')}\n",
            "version : 2.2.2.6 8777 secure  (unknown)\n",
            f"udp/ip  : {self.ip}:{self.port} [ public n/a ]\n",
            "os      : Linux Dedicated\n",
            f"map     : {self.map} at ( 1621, 2786, 66 )\n",
            f"players : {len(humans)} humans, {len(bots)} bots ({self.maxplayers} max) ({hib}) (unreserved)\n",
            "\n",
            "# userid name uniqueid connected ping loss state rate adr\n",
        ]
        slot = 1
        for p in self.players:
            uid = p.get("userid", 0)
            name = p["name"]
            if p.get("steamid"):
                row = (f'#{uid:3d} {slot} "{name}" {p["steamid"]} {fmt_connected(p.get("connected", 0))} '
                       f'{p.get("ping", 0)} {p.get("loss", 0)} {p.get("state", "active")} 30000')
                if p.get("adr"):
                    row += f" {p['adr']}"
                slot += 1
            else:
                row = f'#{uid:3d} "{name}" BOT {p.get("state", "active")}'
            lines.append(row + "\n")
        lines.append("#end\n")
        return lines

    # ------------------------------------------------------------ A2S
    def udp_read(self):
        for _ in range(64):
            try:
                data, addr = self.udp.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.a2s(data, addr)

    def challenge_for(self, addr):
        ch = self.challenges.get(addr[0])
        if ch is None:
            ch = random.randint(1, 0x7FFFFFFF)
            self.challenges[addr[0]] = ch
        return ch

    def a2s(self, data, addr):
        if len(data) < 5 or data[:4] != b"\xff\xff\xff\xff":
            return
        if self.knob("a2s_silent", "0") == "1":  # issue 11: up, but never reachable
            return
        kind = data[4]
        self.a2s_requests += 1
        ch = self.challenge_for(addr)
        if kind == 0x54:  # A2S_INFO
            if not data.startswith(b"\xff\xff\xff\xffTSource Engine Query\0"):
                return
            tail = data[25:]
            if self.knob("a2s_challenge", "1") != "0":
                if len(tail) < 4 or struct.unpack("<i", tail[:4])[0] != ch:
                    self.udp_send(b"\xff\xff\xff\xffA" + struct.pack("<i", ch), addr)
                    return
            self.udp_reply(self.info_reply(), addr)
        elif kind in (0x55, 0x56):  # A2S_PLAYER, A2S_RULES
            if len(data) < 9 or struct.unpack("<i", data[5:9])[0] != ch:
                self.udp_send(b"\xff\xff\xff\xffA" + struct.pack("<i", ch), addr)
                return
            self.udp_reply(self.player_reply() if kind == 0x55 else self.rules_reply(), addr)

    def udp_send(self, pkt, addr):
        try:
            self.udp.sendto(pkt, addr)
        except OSError:
            pass

    def udp_reply(self, payload, addr):
        limit = self.knob_int("a2s_split", 1248)
        if len(payload) <= limit:
            self.udp_send(payload, addr)
            return
        chunks = [payload[i:i + limit] for i in range(0, len(payload), limit)]
        rid = random.randint(1, 0x7FFFFFFF)  # high bit clear: not compressed
        frags = [b"\xfe\xff\xff\xff" + struct.pack("<iBBh", rid, len(chunks), i, limit) + c
                 for i, c in enumerate(chunks)]
        order = self.knob("a2s_split_order", "normal")
        if order == "reverse":
            frags.reverse()
        elif order == "duplicate":
            frags = [f for f in frags for _ in (0, 1)]
        elif order == "drop-first":
            frags = frags[1:]
        for f in frags:
            self.udp_send(f, addr)

    def info_reply(self):
        humans = [p for p in self.players if p.get("steamid")]
        bots = [p for p in self.players if not p.get("steamid")]
        tags = self.cvars.get("sv_tags", "") or "coop,empty"

        def s(x):
            return x.encode("utf-8") + b"\0"
        r = b"\xff\xff\xff\xffI" + bytes([17])
        r += s(self.cvars.get("hostname", "")) + s(self.map) + s("left4dead2") + s("Left 4 Dead 2")
        # Like the engine, the player count includes bots (GetNumClients)
        # and A2S_PLAYER lists them too; bots is GetNumFakeClients.
        r += struct.pack("<hBBBccBB", 550, len(humans) + len(bots), self.maxplayers, len(bots),
                         b"d", b"l", 1 if self.cvars.get("sv_password") else 0, 1)
        r += s("2.2.2.6")
        r += bytes([0x80 | 0x10 | 0x20 | 0x01])
        r += struct.pack("<H", self.port)
        r += struct.pack("<Q", 90000000000000001)
        r += s(tags)
        r += struct.pack("<Q", 550)
        return r

    def player_reply(self):
        humans = [p for p in self.players if p.get("steamid")]
        bots = [p for p in self.players if not p.get("steamid")]
        everyone = humans + bots
        r = b"\xff\xff\xff\xffD" + bytes([len(everyone)])
        for i, p in enumerate(everyone):
            r += bytes([i]) + p["name"].encode("utf-8") + b"\0"
            # Bots joined with the map: they have been connected longest
            # (clients such as gamedig use that to tell them apart).
            secs = p.get("connected") if p.get("steamid") else 36000 + time.monotonic() - self.start
            r += struct.pack("<if", p.get("score", 0), float(secs or 0))
        return r

    def rules_reply(self):
        rules = dict(sorted(self.cvars.items()))
        rules.pop("rcon_password", None)
        if "sv_password" in rules:
            rules["sv_password"] = "1" if rules["sv_password"] else "0"
        for i in range(self.knob_int("a2s_rules_extra", 120)):
            rules[f"fake_rule_{i:03d}"] = f"value number {i}"
        r = b"\xff\xff\xff\xffE" + struct.pack("<h", len(rules))
        for k, v in rules.items():
            r += k.encode("utf-8") + b"\0" + str(v).encode("utf-8") + b"\0"
        return r


def fake_bytes_prints(n):
    """Exactly n bytes, byte k = FAKE_BYTES_ALPHABET[k % len], cut into prints
    of uneven sizes (some larger than a packet, some tiny)."""
    sizes = [1000, 3000, 7, 4095, 5000, 1, 2048, 4094, 300]
    prints = []
    k = 0
    i = 0
    a = FAKE_BYTES_ALPHABET
    la = len(a)
    while k < n:
        sz = min(sizes[i % len(sizes)], n - k)
        start = k % la
        reps = (start + sz) // la + 1
        prints.append((a * reps)[start:start + sz])
        k += sz
        i += 1
    return prints


def main():
    srv = Server(sys.argv[1:])

    def on_signal(signum, frame):
        # Once: a second SIGTERM while shutting down (systemd signals the
        # whole cgroup and `l4d2ctl run` forwards its own) is ignored, as the
        # engine does.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise Shutdown(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        srv.boot()
        srv.run()
    except Shutdown as e:
        why = f" ({e.args[0]})" if e.args else ""
        out(f"Server shutting down{why}")
        sys.exit(0)
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    main()
