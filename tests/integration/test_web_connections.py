"""One client address cannot take every connection of the panel (each holds
a thread): idle sockets from one address leave room for everyone else."""
import socket

from webutil import Panel


def test_idle_sockets_from_one_address_leave_room_for_others(tmp_path):
    p = Panel(tmp_path, env={"LEFT4ME_MAX_CONNECTIONS": "32"}).start()
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
