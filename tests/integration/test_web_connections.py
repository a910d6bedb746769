"""One client address cannot take every connection of the panel (each holds
a thread): idle sockets from one address leave room for everyone else."""
import socket

from webutil import Panel


def test_idle_sockets_from_one_address_leave_room_for_others(tmp_path):
    # Listening on every address, as without a proxy in front. (On a
    # loopback address all peers are the proxy, which limits per client.)
    p = Panel(tmp_path, env={"LEFT4ME_MAX_CONNECTIONS": "32"}, listen="0.0.0.0").start()
    held = []
    try:
        for _ in range(40):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", p.port))
            except OSError:
                s.close()
                continue
            held.append(s)
        r = p.client().get("/login")
        assert r.status == 200
    finally:
        for s in held:
            s.close()
        p.cleanup()


def test_on_loopback_the_proxy_is_not_limited_per_address(tmp_path):
    # Behind nginx every client arrives from 127.0.0.1: a per-address limit
    # there would cap all users together.
    p = Panel(tmp_path, env={"LEFT4ME_MAX_CONNECTIONS": "32"}).start()
    held = []
    try:
        for _ in range(20):
            s = socket.socket()
            s.settimeout(5)
            s.connect(("127.0.0.1", p.port))
            held.append(s)
        assert p.client().get("/login").status == 200
    finally:
        for s in held:
            s.close()
        p.cleanup()
