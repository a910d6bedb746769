"""Login throttling: per username and per client address."""
from webutil import panel  # noqa: F401


def test_five_failures_lock_the_name_even_for_the_right_password(panel):
    panel.create_user("hank", "hank-password-1")
    panel.create_user("ivy", "ivy-password-12")
    c = panel.client()
    for _ in range(5):
        assert c.login("hank", "wrong-password").status == 401
    r = c.login("hank", "hank-password-1")
    assert r.status == 429 and "Too many failed logins" in r.text and "15 minutes" in r.text
    # Case does not get around it.
    assert c.login("HANK", "hank-password-1").status == 429
    # Another account from the same address is not locked.
    assert panel.client().login("ivy", "ivy-password-12").status == 303
    # Once the failures leave the window, the name works again.
    with panel.db() as db:
        db.execute("UPDATE login_failures SET at = at - 901")
    assert panel.client().login("hank", "hank-password-1").status == 303


def test_one_address_cannot_try_many_names(panel):
    c = panel.client()
    for i in range(20):
        assert c.login("user%d" % i, "wrong-password").status == 401
    assert c.login("admin", panel.admin_password).status == 429


def test_success_clears_the_count(panel):
    panel.create_user("jack", "jack-password-1")
    c = panel.client()
    for _ in range(4):
        c.login("jack", "wrong-password")
    assert c.login("jack", "jack-password-1").status == 303
    for _ in range(4):
        assert panel.client().login("jack", "wrong-password").status == 401
    assert panel.client().login("jack", "jack-password-1").status == 303


def test_behind_a_trusted_proxy_the_forwarded_address_counts(tmp_path):
    from webutil import Panel
    p = Panel(tmp_path, env={"LEFT4ME_TRUST_PROXY": "1"}).start()
    try:
        attacker = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
        c = p.client()
        for i in range(20):
            c.get("/login", headers=attacker)
            r = c.post("/login", {"username": "u%d" % i, "password": "wrong-password"}, headers=attacker)
            assert r.status == 401
        c.get("/login", headers=attacker)
        assert c.post("/login", {"username": "admin", "password": p.admin_password},
                      headers=attacker).status == 429
        # Someone else behind the same proxy is not locked out.
        assert p.client().login("admin", p.admin_password).status == 303
        rows = p.query("SELECT DISTINCT key FROM login_failures WHERE key LIKE 'ip:%'")
        assert rows == [("ip:198.51.100.7",)]
    finally:
        p.cleanup()


def test_parallel_guesses_do_not_get_past_the_limit(panel):
    """Many wrong guesses sent at once: the check and the count of a
    failure must be one step, or every guess passes the check before the
    first failure is written."""
    import threading
    panel.create_user("kate", "kate-password-1")
    clients = [panel.client() for _ in range(16)]
    for c in clients:
        c.get("/login")
    statuses = []

    def guess(c):
        statuses.append(c.post("/login", {"username": "kate", "password": "wrong-password"}).status)

    threads = [threading.Thread(target=guess, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(statuses)) == [401, 429], statuses
    assert statuses.count(401) <= 5, statuses
