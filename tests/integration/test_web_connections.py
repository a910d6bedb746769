"""What one client can hold of the panel's connections. Every address is
limited (a sixteenth of LEFT4ME_MAX_CONNECTIONS, 16 at least) except the
configured proxy's (LEFT4ME_TRUST_PROXY=1: loopback), which carries every
client; a request's head and body have deadlines, so a client that trickles
bytes cannot hold a connection for ever; and an idle connection costs no
thread (the event-driven core)."""
import os
import socket
import time

from webutil import Panel, wait_for


def hold(n, port, source="127.0.0.2"):
    held = []
    for _ in range(n):
        s = socket.socket()
        s.bind((source, 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        held.append(s)
    return held


def closed_by_peer(s, timeout=5):
    """True once the panel has closed (or refused) this connection."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_idle_sockets_from_one_address_leave_room_for_others(tmp_path):
    # Listening on every address, as without a proxy in front.
    p = Panel(tmp_path, env={"LEFT4ME_MAX_CONNECTIONS": "32"}, listen="0.0.0.0").start()
    held = []
    try:
        held = hold(40, p.port)
        r = p.client().get("/login")
        assert r.status == 200
    finally:
        for s in held:
            s.close()
        p.cleanup()


def test_the_configured_proxy_is_not_limited_per_address(tmp_path):
    # Behind nginx every client arrives from 127.0.0.1: a per-address limit
    # there would cap all users together. The proxy limits per client.
    p = Panel(tmp_path, env={"LEFT4ME_MAX_CONNECTIONS": "32", "LEFT4ME_TRUST_PROXY": "1"}).start()
    held = []
    try:
        held = hold(20, p.port, source="127.0.0.1")
        assert p.client().get("/login").status == 200
    finally:
        for s in held:
            s.close()
        p.cleanup()


def test_loopback_without_a_configured_proxy_is_limited_like_any_address(tmp_path):
    # No proxy declared: a loopback peer is just another client (a local
    # user, a container's port forward), held to the same limit.
    p = Panel(tmp_path, env={"LEFT4ME_MAX_CONNECTIONS_PER_ADDRESS": "16"}).start()
    held = []
    try:
        held = hold(30, p.port, source="127.0.0.1")
        # The panel closes the 17th and later at accept.
        refused = [s for s in held if closed_by_peer(s, timeout=2)]
        assert len(refused) >= len(held) - 16, (len(held), len(refused))
        # Another address is not touched by it.
        c = p.client()
        conn = socket.create_connection(("127.0.0.1", p.port), timeout=5, source_address=("127.0.0.3", 0))
        conn.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.1 200")
        conn.close()
    finally:
        for s in held:
            s.close()
        p.cleanup()


def test_a_request_head_sent_slowly_is_cut_at_its_deadline(tmp_path):
    p = Panel(tmp_path, env={"LEFT4ME_HEADER_TIMEOUT": "2", "LEFT4ME_IDLE_TIMEOUT": "30"}).start()
    try:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        # A header line every half second: never idle, never done.
        while time.monotonic() - started < 8:
            try:
                s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                closed = True
                break
            s.settimeout(0.5)
            try:
                if s.recv(1) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = True
                break
        assert closed, "the panel kept a trickled request head open"
        assert time.monotonic() - started < 5
        # A page asked for properly still answers.
        assert p.client().get("/login").status == 200
    finally:
        p.cleanup()


def test_a_body_sent_slowly_is_cut_at_its_deadline(tmp_path):
    p = Panel(tmp_path, env={"LEFT4ME_BODY_TIMEOUT": "2"}).start()
    try:
        c = p.client()
        c.get("/login")
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 1000\r\nCookie: l4m_pre=" + c.cookies["l4m_pre"].encode() + b"\r\n\r\nu")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 8:
            try:
                s.sendall(b"u")
            except OSError:
                closed = True
                break
            s.settimeout(0.5)
            try:
                data = s.recv(100)
                if data == b"" or data.startswith(b"HTTP/1.1 4"):
                    closed = True
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = True
                break
        assert closed, "the panel kept a trickled body open"
        assert time.monotonic() - started < 5
    finally:
        p.cleanup()


def test_idle_connections_cost_no_thread(tmp_path):
    # 300 open connections (from three addresses, under the per-address
    # limit) and the panel's thread count does not move: no thread per
    # connection. A logged-in user's page still answers.
    p = Panel(tmp_path).start()
    held = []
    try:
        admin = p.login("admin", p.admin_password)

        def threads():
            return len(os.listdir("/proc/%d/task" % p.proc.pid))
        before = threads()
        for src in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            held += hold(100, p.port, source=src)
        assert len(held) == 300
        assert admin.get("/servers").status == 200
        assert threads() <= before + 2, (before, threads())
    finally:
        for s in held:
            s.close()
        p.cleanup()
