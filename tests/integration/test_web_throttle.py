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


def test_profile_and_login_share_one_throttle(panel):
    """A stolen session cookie gets no more guesses at the password than a
    stranger at the login form: the profile's check counts on the same
    counters, and a lock from either holds for both."""
    panel.create_user("liam", "liam-password-1")
    owner = panel.login("liam", "liam-password-1")
    thief = panel.client()
    thief.cookies["l4m_session"] = owner.cookies["l4m_session"]  # the session, not the browser
    thief.get("/profile")
    for _ in range(5):
        r = thief.post("/profile/password", {"current": "guess-guess-1", "new": "liam-password-2",
                                            "confirm": "liam-password-2"})
        assert r.status == 422 and "This is not your current password." in r.text
    r = thief.post("/profile/password", {"current": "liam-password-1", "new": "liam-password-2",
                                        "confirm": "liam-password-2"})
    assert r.status == 429 and "Too many wrong passwords" in r.text
    # The same counter refuses the login form to any unknown browser now.
    assert panel.client().login("liam", "liam-password-1").status == 429
    # The password did not change.
    assert panel.query("SELECT count(*) FROM login_failures WHERE key = 'u:liam'")[0][0] == 5


def test_a_known_browser_keeps_working_during_an_attack(tmp_path):
    """OWASP's device cookies: the owner's browser, which logged in before,
    is counted on its own; an attack from many addresses locks the account
    for unknown browsers only."""
    from webutil import Panel
    p = Panel(tmp_path, env={"LEFT4ME_TRUST_PROXY": "1"}).start()
    try:
        p.create_user("mona", "mona-password-1")
        owner = p.login("mona", "mona-password-1")
        device = owner.cookies["l4m_device"]
        assert owner.post("/logout").status == 303
        # Guesses from 10 addresses, 3 each.
        for i in range(30):
            a = p.client()
            h = {"X-Forwarded-For": "198.51.100.%d" % (i % 10)}
            a.get("/login", headers=h)
            r = a.post("/login", {"username": "mona", "password": "guess-%d" % i}, headers=h)
            assert r.status in (401, 429)
        r = p.client().login("mona", "mona-password-1")
        assert r.status == 429  # an unknown browser, even with the right password
        # The owner's browser gets in.
        assert owner.cookies["l4m_device"] == device
        assert owner.login("mona", "mona-password-1").status == 303
        assert owner.get("/servers").status == 200
        # A forged device cookie is just an unknown browser.
        forged = p.client()
        uid, nonce, mac = device.split(".")
        forged.cookies["l4m_device"] = "%s.%s.%s" % (uid, "0" * len(nonce), mac)
        assert forged.login("mona", "mona-password-1").status == 429
        # The admin sees the counters.
        admin = p.login("admin", p.admin_password)
        page = admin.get("/admin/users").text
        assert "Failed password checks" in page
        assert "u:mona" not in page and "mona" in page and "198.51.100.3" in page and "locked" in page
    finally:
        p.cleanup()


def test_a_known_browser_has_its_own_limit(panel):
    panel.create_user("nina", "nina-password-1")
    owner = panel.login("nina", "nina-password-1")
    owner.post("/logout")
    for _ in range(10):
        assert owner.login("nina", "wrong-password").status == 401
    # Its own tries used up, it is an unknown browser again: the account's
    # counter (untouched so far) still lets it try.
    assert owner.login("nina", "wrong-password").status == 401
    assert panel.query("SELECT count(*) FROM login_failures WHERE key LIKE 'd:nina:%'")[0][0] == 10


def test_password_checks_past_the_hashing_capacity_get_503_and_count_nothing(tmp_path):
    """argon2id runs at most LEFT4ME_PASSWORD_HASHES at a time; a short
    queue waits, the rest are told to come back (503) at once and are not
    counted as attempts."""
    import threading
    from webutil import Panel
    p = Panel(tmp_path, env={"LEFT4ME_PASSWORD_HASHES": "1", "LEFT4ME_REQUEST_THREADS": "48",
                             "LEFT4ME_TRUST_PROXY": "1"}).start()
    try:
        clients = []
        for i in range(48):
            c = p.client()
            h = {"X-Forwarded-For": "203.0.113.%d" % (i + 1)}
            c.get("/login", headers=h)
            clients.append((c, h, i))
        results = []

        def guess(c, h, i):
            r = c.post("/login", {"username": "nobody%d" % i, "password": "guess-password"}, headers=h)
            results.append((r.status, r.text))

        threads = [threading.Thread(target=guess, args=a) for a in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(s for s, _ in results)
        assert 503 in statuses and 401 in statuses, statuses
        assert set(statuses) <= {401, 503}, statuses
        assert all("busy checking other passwords" in t for s, t in results if s == 503)
        # Only the checks that ran are counted.
        counted = p.query("SELECT count(*) FROM login_failures WHERE key LIKE 'u:nobody%'")[0][0]
        assert counted == statuses.count(401)
        # Once the flood is over, a login works.
        assert p.client().login("admin", p.admin_password).status == 303
    finally:
        p.cleanup()
