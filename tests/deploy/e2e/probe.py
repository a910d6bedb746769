#!/usr/bin/python3
"""Runs as ExecStart of a left4me-server@ instance (a drop-in of the e2e test
replaces only ExecStart=, so the unit's privileged overlay step and the whole
hardening drop-in apply) and tries what a compromised game server would try.
Writes one JSON object of findings into its merged tree (probe.json) and
prints it.

argv[1]: JSON with "victim_pid" (another server's main PID as the container's
systemd sees it), "game_pid" (that server's game process), "port_in" (a port
inside the range), "port_out" (outside).
"""
import ctypes
import errno
import json
import os
import signal
import socket
import sys
import time

NAME = os.environ.get("PROBE_NAME", "probe")
RUNTIME = "/var/lib/left4me/runtime/%s" % NAME
args = json.loads(sys.argv[1])
victim = int(args["victim_pid"])
found = {}


def attempt(key, fn):
    """Records "ok" or the errno name of the failure."""
    try:
        r = fn()
        found[key] = "ok" if r is None else r
    except OSError as e:
        found[key] = errno.errorcode.get(e.errno, str(e.errno))
    except Exception as e:  # noqa: BLE001 - the finding is the point
        found[key] = "%s: %s" % (type(e).__name__, e)


def read(path):
    with open(path, "rb") as f:
        return f.read(64).decode(errors="replace")


# What the server can see of the state and config dirs.
found["state_dir_listing"] = sorted(os.listdir("/var/lib/left4me"))
found["runtime_listing"] = sorted(os.listdir("/var/lib/left4me/runtime"))
found["etc_left4me_listing"] = sorted(os.listdir("/etc/left4me")) if os.path.isdir("/etc/left4me") else None
attempt("read_db", lambda: read("/var/lib/left4me/left4me.db"))
attempt("read_web_env", lambda: read("/etc/left4me/web.env"))
attempt("read_other_runtime", lambda: os.listdir("/var/lib/left4me/runtime/alpha"))
# Its own tree, through the overlay mounted by the unit's privileged step.
found["merged_has_srcds_run"] = os.path.exists(RUNTIME + "/merged/srcds_run")
found["merged_overlay_file"] = os.path.exists(RUNTIME + "/merged/left4dead2/overlay-marker.txt")
attempt("write_merged", lambda: open(RUNTIME + "/merged/probe-wrote.txt", "w").close())
attempt("write_usr", lambda: open("/usr/probe-wrote", "w").close())
attempt("write_state_root", lambda: open("/var/lib/left4me/probe-wrote", "w").close())

# Processes: the other server must be invisible, unsignallable, unptraceable.
found["proc_pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
found["my_pid"] = os.getpid()
found["victim_visible"] = os.path.exists("/proc/%d" % victim)
attempt("kill0_victim", lambda: os.kill(victim, 0))
attempt("sigterm_victim", lambda: os.kill(victim, signal.SIGTERM))
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH = 16


def ptrace_attach(pid):
    if libc.ptrace(PTRACE_ATTACH, pid, None, None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


attempt("ptrace_victim", lambda: ptrace_attach(victim))
game = int(args["game_pid"])
found["game_visible"] = os.path.exists("/proc/%d" % game)
attempt("ptrace_game", lambda: ptrace_attach(game))
attempt("sigkill_game", lambda: os.kill(game, signal.SIGKILL))
# ptrace of its own child: nothing hides it, so only the seccomp filter
# (~@debug) can refuse it.
child = os.fork()
if child == 0:
    time.sleep(5)
    os._exit(0)
attempt("ptrace_own_child", lambda: ptrace_attach(child))
os.kill(child, signal.SIGKILL)
os.waitpid(child, 0)

# Privileges.
with open("/proc/self/status") as f:
    st = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
found["CapEff"] = st.get("CapEff", "").strip()
found["NoNewPrivs"] = st.get("NoNewPrivs", "").strip()
found["Seccomp"] = st.get("Seccomp", "").strip()
with open("/proc/self/uid_map") as f:
    found["uid_map"] = " ".join(f.read().split())


# Ports: inside the range binds, outside it does not.
def bind(kind, port):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("0.0.0.0", port))
    finally:
        s.close()


attempt("bind_udp_in_range", lambda: bind(socket.SOCK_DGRAM, int(args["port_in"])))
attempt("bind_udp_out_of_range", lambda: bind(socket.SOCK_DGRAM, int(args["port_out"])))
attempt("bind_tcp_out_of_range", lambda: bind(socket.SOCK_STREAM, int(args["port_out"])))
attempt("netlink_socket", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).close())

text = json.dumps(found, sort_keys=True)
with open(RUNTIME + "/merged/probe.json", "w") as f:
    f.write(text)
print("probe: " + text, flush=True)
