"""Deleting a user: an admin can delete an account that owns nothing (its
finished jobs go with it); one that owns a blueprint or a server is kept and
the page says why; nobody deletes their own account, and only admins any."""
from webutil import panel, admin  # noqa: F401  (fixtures)


def test_an_admin_deletes_a_user_who_owns_nothing(panel, admin):
    panel.create_user("gone", "gone-password-1")
    g = panel.login("gone", "gone-password-1")
    uid = panel.query("SELECT id FROM users WHERE username = 'gone'")[0][0]
    with panel.db() as db:  # a finished job of theirs: history, not ownership
        db.execute("INSERT INTO jobs (user_id, kind, state, created_at) VALUES (?, 'stop', 'succeeded', 0)", (uid,))
    page = admin.get("/admin/users").text
    assert 'action="/admin/users/%d/delete"' % uid in page
    assert 'data-confirm="Delete the user gone? This cannot be undone."' in page
    r = admin.post("/admin/users/%d/delete" % uid)
    assert r.status == 303 and r.header("Location") == "/admin/users"
    assert "Deleted the user gone." in admin.get("/admin/users").text
    assert panel.query("SELECT count(*) FROM users WHERE id = ?", uid) == [(0,)]
    assert panel.query("SELECT count(*) FROM jobs WHERE user_id = ?", uid) == [(0,)]
    assert g.get("/servers").status == 303  # their session went with them
    assert panel.client().login("gone", "gone-password-1").status == 401


def test_a_user_who_owns_something_is_kept(panel, admin):
    panel.create_user("owner", "owner-password-1")
    o = panel.login("owner", "owner-password-1")
    o.create_blueprint("mine")
    uid = panel.query("SELECT id FROM users WHERE username = 'owner'")[0][0]
    page = admin.get("/admin/users").text
    assert 'action="/admin/users/%d/delete"' % uid not in page
    assert "Owns 1 blueprint: can be deleted once they are gone." in page
    r = admin.post("/admin/users/%d/delete" % uid)
    assert r.status == 409 and "still owns" in r.text
    assert panel.query("SELECT count(*) FROM users WHERE id = ?", uid) == [(1,)]
    assert o.get("/servers").status == 200


def test_only_admins_delete_and_never_themselves(panel, admin):
    panel.create_user("plain", "plain-password-1")
    panel.create_user("victim", "victim-password-1")
    plain = panel.login("plain", "plain-password-1")
    vid = panel.query("SELECT id FROM users WHERE username = 'victim'")[0][0]
    plain.get("/servers")
    assert plain.post("/admin/users/%d/delete" % vid).status == 404
    anon = panel.client()
    anon.get("/login")
    assert anon.post("/admin/users/%d/delete" % vid).status == 403
    admin.get("/admin/users")
    r = admin.post("/admin/users/1/delete")
    assert r.status == 409 and "your own account" in r.text
    assert panel.query("SELECT count(*) FROM users WHERE id IN (1, ?)", vid) == [(2,)]
    # The new-password page of someone else's reset is the admin's alone.
    assert plain.get("/admin/users/%d/password" % vid).status == 404
