"""A second `left4me serve` on a port another panel already listens on is
refused: "address in use" and a non-zero exit, and the first panel keeps
answering alone (before, both shared the port through SO_REUSEPORT and
logins failed at random)."""
import subprocess

from webutil import LEFT4ME, Panel


def test_a_second_panel_on_a_used_port_exits_with_address_in_use(tmp_path):
    first = Panel(tmp_path / "first").start()
    try:
        second = Panel(tmp_path / "second")
        second.port = first.port
        p = subprocess.run([str(LEFT4ME), "serve", "--state-dir", str(second.state), "--listen",
                            "127.0.0.1:%d" % first.port], env=second.env, capture_output=True, text=True, timeout=60)
        assert p.returncode != 0
        assert "error: cannot listen on 127.0.0.1:%d: address in use" % first.port in p.stderr, p.stderr
        assert "listening on" not in p.stdout
        # Every request still reaches the first panel, and its login works.
        for _ in range(20):
            first.login("admin", first.admin_password)
    finally:
        first.cleanup()


def test_an_address_of_another_host_says_so(tmp_path):
    p = Panel(tmp_path / "p")
    r = subprocess.run([str(LEFT4ME), "serve", "--state-dir", str(p.state), "--listen", "192.0.2.1:%d" % p.port],
                       env=p.env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "error: cannot listen on 192.0.2.1:%d: not an address of this host" % p.port in r.stderr, r.stderr
