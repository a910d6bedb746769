#!/usr/bin/python3
"""A stand-in for `l4d2ctl watch --json` (docs/l4d2ctl-contract.md) while the
real one is being built on another branch: polls `l4d2ctl list --json` and
A2S_INFO of running servers each interval and writes one JSON line per
change. TEMPORARY: removed once l4d2ctl has its own watch.

usage: fake_watch.py L4D2CTL [--state-dir DIR] watch --json [--interval S] [--misses N]
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

ctl = sys.argv[1]
args = sys.argv[2:]
pre = args[:args.index("watch")]
opts = args[args.index("watch") + 1:]
interval = float(opts[opts.index("--interval") + 1]) if "--interval" in opts else 5.0
misses_max = int(opts[opts.index("--misses") + 1]) if "--misses" in opts else 3
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def a2s_info(port, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    q = b"\xff\xff\xff\xffTSource Engine Query\0"
    try:
        s.sendto(q, ("127.0.0.1", port))
        data = s.recv(1400)
        if data[4:5] == b"A":
            s.sendto(q + data[5:9], ("127.0.0.1", port))
            data = s.recv(1400)
        if data[4:5] != b"I":
            return None
        p = 6
        fields = []
        for _ in range(4):
            e = data.index(b"\0", p)
            fields.append(data[p:e].decode("utf-8", "replace"))
            p = e + 1
        players, maxplayers, bots = struct.unpack("<BBB", data[p + 2:p + 5])
        return {"map": fields[1], "players": players, "maxplayers": maxplayers, "bots": bots}
    except (OSError, ValueError, struct.error):
        return None
    finally:
        s.close()


def emit(obj):
    obj["time"] = int(time.time())
    try:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os._exit(0)


last, misses, since, synced = {}, {}, {}, False
while True:
    p = subprocess.run([ctl] + pre + ["list", "--json"], capture_output=True, text=True)
    listed = json.loads(p.stdout)["instances"] if p.returncode == 0 else []
    names = set()
    for st in listed:
        name = st["name"]
        names.add(name)
        state, health, info = st["state"], "none", None
        if state == "running" and st.get("ports", {}).get("game"):
            info = a2s_info(st["ports"]["game"], min(0.5, interval / 2))
            health = "ok" if info else "no-answer"
            misses[name] = 0 if info else misses.get(name, 0) + 1
            if misses[name] >= misses_max:
                state = "unresponsive"
        else:
            misses[name] = 0
        ev = dict(st, event="instance", state=state, health=health,
                  map=info["map"] if info else None, players=info["players"] if info else None,
                  bots=info["bots"] if info else None, maxplayers=info["maxplayers"] if info else None)
        ev.pop("uptime", None)
        key = json.dumps(ev, sort_keys=True)
        if last.get(name) != key:
            if name not in since or json.loads(last.get(name, "{}")).get("state") != state:
                since[name] = int(time.time())
            ev["since"] = since[name]
            last[name] = key
            emit(ev)
    for gone in set(last) - names:
        del last[gone]
        emit({"event": "removed", "name": gone})
    if not synced:
        synced = True
        emit({"event": "synced"})
    time.sleep(interval)
