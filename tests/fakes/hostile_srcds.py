#!/usr/bin/python3
"""A hostile game server, for the deployment tests only: what a compromised
srcds (remote code execution in the engine, a malicious plugin) would try
from inside its systemd unit. Never used by the product. Standard library
only.

The tests install it as `srcds_run` of an overlay, so the unit runs it the
way it runs the real server: `l4d2ctl run` execs it in the instance's merged
tree (the current directory), under the unit's whole sandbox. It reads its
targets from ./hostile.json (the overlay carries that too):

  {"neighbour": "alpha", "neighbour_ports": [27015, 27016],
   "stopped": "beta", "stopped_ports": [27017, 27018],
   "own_port": 27021, "threads": 400, "memory_mb": 0, "flood_lines": 20000}

and tries, recording for each what happened ("ok" or the errno name):
  - the host's controls: an AF_UNIX socket at all, the system bus socket,
    StopUnit of the neighbour and StartUnit of the stopped server over the
    bus (busctl), systemctl;
  - the neighbours' ports (UDP game and SourceTV, TCP game), its own;
  - /dev/shm and /run/lock (leaves a marker for the neighbour to find);
  - the neighbour's console in the journal (files and journalctl);
  - a flood of console lines (to push the neighbour's lines out);
  - more threads than its task limit, more memory than its memory limit
    (memory_mb > 0: a child touches that much and reports how it ended).

The findings go to ./hostile-findings.json and one console line
"HOSTILE-FINDINGS {...}"; then it stays up (a server that answers nothing)
until it is stopped.
"""
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

found = {}


def attempt(key, fn):
    try:
        r = fn()
        found[key] = "ok" if r is None else r
    except OSError as e:
        found[key] = errno.errorcode.get(e.errno, str(e.errno))
    except Exception as e:  # noqa: BLE001 - the finding is the point
        found[key] = "%s: %s" % (type(e).__name__, e)


def run(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return {"rc": p.returncode, "out": p.stdout[-2000:], "err": p.stderr.strip()[-300:]}
    except OSError as e:
        return {"rc": None, "err": errno.errorcode.get(e.errno, str(e.errno))}


def bind(kind, port):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("0.0.0.0", port))
    finally:
        s.close()


def main():
    with open("hostile.json") as f:
        cfg = json.load(f)
    found["uid"], found["gid"] = os.getuid(), os.getgid()
    with open("/proc/self/uid_map") as f:
        found["uid_map"] = " ".join(f.read().split())

    # --- the host's controls -------------------------------------------------
    attempt("unix_socket", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close())
    attempt("bus_socket_stat", lambda: os.stat("/run/dbus/system_bus_socket") and None)
    manager = ["busctl", "--system", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
               "org.freedesktop.systemd1.Manager"]
    found["busctl_stop_neighbour"] = run(manager + ["StopUnit", "ss",
                                                    "left4me-server@%s.service" % cfg["neighbour"], "replace"])
    found["busctl_start_stopped"] = run(manager + ["StartUnit", "ss",
                                                   "left4me-server@%s.service" % cfg["stopped"], "replace"])
    found["systemctl_stop_neighbour"] = run(["systemctl", "stop", "left4me-server@%s.service" % cfg["neighbour"]])

    # --- ports ---------------------------------------------------------------
    for who, ports in (("neighbour", cfg["neighbour_ports"]), ("stopped", cfg["stopped_ports"])):
        attempt("bind_%s_game_udp" % who, lambda: bind(socket.SOCK_DGRAM, ports[0]))
        attempt("bind_%s_game_tcp" % who, lambda: bind(socket.SOCK_STREAM, ports[0]))
        attempt("bind_%s_tv_udp" % who, lambda: bind(socket.SOCK_DGRAM, ports[1]))
    own = cfg["own_port"]
    attempt("bind_own_game_udp", lambda: bind(socket.SOCK_DGRAM, own))
    attempt("bind_own_game_tcp", lambda: bind(socket.SOCK_STREAM, own))
    attempt("bind_own_tv_udp", lambda: bind(socket.SOCK_DGRAM, own + 1))
    attempt("bind_own_tv_tcp", lambda: bind(socket.SOCK_STREAM, own + 1))
    attempt("bind_other_port", lambda: bind(socket.SOCK_DGRAM, 40000))

    # --- shared memory, locks --------------------------------------------------
    def shm():
        with open("/dev/shm/hostile-marker", "w") as f:
            f.write("from the hostile server\n")
    attempt("write_dev_shm", shm)
    attempt("list_dev_shm", lambda: sorted(os.listdir("/dev/shm")))
    attempt("write_run_lock", lambda: open("/run/lock/hostile-marker", "w").close())
    attempt("list_run_lock", lambda: sorted(os.listdir("/run/lock")))

    # --- the neighbour's console ----------------------------------------------
    attempt("list_var_log_journal", lambda: os.listdir("/var/log/journal"))
    attempt("list_run_log_journal", lambda: os.listdir("/run/log/journal"))
    j = run(["journalctl", "--namespace=left4me-%s" % cfg["neighbour"], "-n", "200", "-o", "cat", "--no-pager"])
    found["journalctl_neighbour_rc"] = j["rc"]
    found["journalctl_neighbour_has_its_lines"] = "Server is hibernating" in j.get("out", "")
    j = run(["journalctl", "--namespace=*", "-n", "200", "-o", "cat", "--no-pager"])
    found["journalctl_all_has_neighbour_lines"] = "Server is hibernating" in j.get("out", "")

    # --- a flood of console lines -----------------------------------------------
    n = int(cfg.get("flood_lines", 0))
    t0 = time.monotonic()
    line = "HOSTILE-FLOOD " + "x" * 180 + "\n"
    for i in range(n):
        sys.stdout.write(line)
    sys.stdout.flush()
    found["flood_lines"], found["flood_seconds"] = n, round(time.monotonic() - t0, 2)

    # --- tasks: threads count against TasksMax= and LimitNPROC= ------------------
    stop = threading.Event()
    threading.stack_size(64 * 1024)
    started = 0
    try:
        for _ in range(int(cfg.get("threads", 0))):
            threading.Thread(target=stop.wait, daemon=True).start()
            started += 1
        found["threads_error"] = None
    except RuntimeError as e:
        found["threads_error"] = str(e)
    found["threads_started"] = started
    stop.set()

    # --- memory: a child touches memory_mb MiB ----------------------------------
    mb = int(cfg.get("memory_mb", 0))
    if mb:
        pid = os.fork()
        if pid == 0:
            chunks = []
            for _ in range(mb):
                chunks.append(bytearray(1 << 20))  # zero-filled: every page touched
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        found["memory_child"] = ("exit %d" % os.WEXITSTATUS(status) if os.WIFEXITED(status)
                                 else "signal %d" % os.WTERMSIG(status))
    try:
        with open("/proc/self/cgroup") as f:
            found["cgroup"] = f.read().strip()
    except OSError:
        pass

    text = json.dumps(found, sort_keys=True)
    with open("hostile-findings.json", "w") as f:
        f.write(text)
    print("HOSTILE-FINDINGS " + text, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
