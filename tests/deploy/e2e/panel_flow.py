#!/usr/bin/python3
"""Runs inside the container: drives the installed panel (left4me-web.service
on 127.0.0.1:8080) the way a person does -- log in, make a blueprint and a
server, press Start, then Stop -- with the HTTP client of the panel's own
integration tests (tests/integration/webutil.py, copied beside this file).
Prints one JSON object: the server's instance name and what happened.

argv: USER PASSWORD start        makes blueprint + server, presses Start
      USER PASSWORD stop ID      presses Stop on server ID
"""
import json
import re
import sys
import time
import types

sys.modules.setdefault("pytest", types.SimpleNamespace(fixture=lambda f=None, **k: f if f else (lambda g: g)))
sys.path.insert(0, "/mnt/share")
import webutil  # noqa: E402


class Installed:
    port = 8080


def wait_shown(c, s, word, timeout=30):
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = c.get("/servers/%d/status" % s).text
        if re.search(r"\b%s\b" % word, state):
            return True, state
        time.sleep(0.3)
    return False, state


def main():
    user, password, action = sys.argv[1], sys.argv[2], sys.argv[3]
    c = webutil.Client(Installed())
    r = c.login(user, password)
    assert r.status == 303, ("login", r.status, r.text[:300])
    if action == "start":
        b = c.create_blueprint("e2e-coop")
        s = c.create_server("Gamma", b)
    else:
        s = int(sys.argv[4])
    c.get("/servers/%d" % s)
    t0 = time.monotonic()
    r = c.post("/servers/%d/%s" % (s, action))
    shown, state = wait_shown(c, s, "running" if action == "start" else "stopped")
    print(json.dumps({"server_id": s, "status": r.status, "shown": shown,
                      "seconds": round(time.monotonic() - t0, 2),
                      "fragment": re.sub(r"\s+", " ", state)[:300]}), flush=True)


if __name__ == "__main__":
    main()
