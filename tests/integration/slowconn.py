"""Slow clients for the panel's load tests and benchmarks (tests/integration
and bench/panel-load): many connections from chosen loopback addresses that
are idle (connect and say nothing) or trickle (a request head sent a header
line at a time, slowloris style), reconnecting when the panel closes them,
as an attacker would. Bounded: a fixed number of connections, for as long
as the caller holds them (stop()), loopback addresses only."""
import errno
import resource
import selectors
import socket
import threading
import time


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


class SlowClients:
    def __init__(self, port, sources, per_source, mode="idle", interval=1.0, reconnect=True):
        for s in sources:
            assert s.startswith("127."), "loopback addresses only"
        self.port = port
        self.plan = [(s, per_source[i] if isinstance(per_source, list) else per_source)
                     for i, s in enumerate(sources)]
        self.mode = mode
        self.interval = interval
        self.reconnect = reconnect
        self.socks = {}            # socket -> source
        self.closed_by_panel = 0   # connections the panel closed or refused
        self.lock = threading.Lock()
        self.sel = selectors.DefaultSelector()
        self.stopping = False
        self.thread = None
        raise_fd_limit(sum(n for _, n in self.plan) + 256)

    def _open(self, source):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((source, 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", self.port))
            if self.mode == "trickle":
                s.sendall(b"GET /login HTTP/1.1\r\nHost: panel\r\n")
        except OSError:
            s.close()
            with self.lock:
                self.closed_by_panel += 1
            return
        s.setblocking(False)
        self.socks[s] = source
        self.sel.register(s, selectors.EVENT_READ)

    def _drop(self, s):
        self.sel.unregister(s)
        source = self.socks.pop(s)
        s.close()
        with self.lock:
            self.closed_by_panel += 1
        return source

    def start(self):
        for source, n in self.plan:
            for _ in range(n):
                self._open(source)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        next_send = time.monotonic() + self.interval
        while not self.stopping:
            for key, _ in self.sel.select(timeout=0.2):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:  # closed (or refused at accept) by the panel
                    source = self._drop(s)
                    if self.reconnect and not self.stopping:
                        self._open(source)
            if self.mode == "trickle" and time.monotonic() >= next_send:
                next_send = time.monotonic() + self.interval
                for s in list(self.socks):
                    try:
                        s.send(b"X-Slow: 1\r\n")
                    except OSError as e:
                        if e.errno not in (errno.EAGAIN,):
                            source = self._drop(s)
                            if self.reconnect and not self.stopping:
                                self._open(source)

    def held(self, source=None):
        """Connections open now (from source, or all)."""
        return sum(1 for s in list(self.socks.values()) if source is None or s == source)

    def stop(self):
        self.stopping = True
        if self.thread:
            self.thread.join()
        for s in list(self.socks):
            self.sel.unregister(s)
            s.close()
        self.socks.clear()


def panel_connections(pid, port, source):
    """Connections the panel (pid) has accepted from source to port: its
    own sockets, not the ones still waiting in the listen queue (which a
    client already sees as connected)."""
    import os
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    want_local = "%04X" % port
    a, b, c, d = (int(x) for x in source.split("."))
    want_remote = "%02X%02X%02X%02X" % (d, c, b, a)
    # Counted by socket (inode), not by line: /proc/net/tcp is read in
    # pieces while connections come and go, and a socket can be listed
    # twice in one read (a count of 252 from an address with 250 clients).
    seen = set()
    with open("/proc/%d/net/tcp" % pid) as f:
        next(f)
        for line in f:
            parts = line.split()
            local, remote, state, inode = parts[1], parts[2], parts[3], parts[9]
            if (local.endswith(":" + want_local) and remote.split(":")[0] == want_remote and state == "01"
                    and inode in inodes):
                seen.add(inode)
    return len(seen)
