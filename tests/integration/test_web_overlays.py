"""The Overlays pages: who may see, change, use and delete which overlay.
Every overlay route answers another user's id exactly as an unknown one
(404); global overlays are the admins' to change and everyone's to use;
host names keep users apart whatever they type; a blueprint picks only
overlays its owner may use; deleting is refused while a blueprint names the
overlay; `left4me workshop refresh` queues one job for the serving panel."""
import json
import re
import subprocess
import urllib.parse

from overlayutil import create_overlay, field_error, host_name, picked, wpanel  # noqa: F401  (fixture)
from webutil import LEFT4ME, wait_for
from workshoputil import steam  # noqa: F401  (fixture)


def host_overlays(p):
    return {o["name"]: o for o in json.loads(p.ctl("overlay", "list", "--json").stdout)["overlays"]}


def two_users(p):
    p.create_user("alice", "alice-password")
    p.create_user("bob", "bob-password")
    return p.login("alice", "alice-password"), p.login("bob", "bob-password")


def blueprint(c, name, overlays):
    c.get("/blueprints/new")
    return c.post("/blueprints", {"name": name, "map": "c1m1_hotel", "maxplayers": "4", "tickrate": "30",
                                  "overlays": "\n".join(overlays), "cvars": "", "server_cfg": "", "args": ""})


# Every address of the Overlays pages that takes an overlay's id.
ROUTES = [("GET", "/overlays/%d", None), ("POST", "/overlays/%d/build", {}),
          ("POST", "/overlays/%d/delete", {}), ("POST", "/overlays/%d/workshop/add", {"sources": "5"}),
          ("POST", "/overlays/%d/workshop/remove", {"source": "5"})]


def test_other_users_overlays_answer_like_unknown_ones(wpanel, steam):
    p = wpanel
    alice, bob = two_users(p)
    mine = create_overlay(alice, "maps")
    assert alice.get("/overlays/%d" % mine).status == 200
    unknown = mine + 1000
    for method, path, data in ROUTES:
        bob.get("/overlays")  # a fresh CSRF token
        if method == "GET":
            foreign, missing = bob.get(path % mine), bob.get(path % unknown)
        else:
            foreign, missing = bob.post(path % mine, data), bob.post(path % unknown, data)
        assert foreign.status == missing.status == 404, (path, foreign.status, missing.status)
        assert foreign.body == missing.body, path
    # Nothing of it on bob's list; nothing changed for alice.
    assert ">maps</a>" not in bob.get("/overlays").text
    assert p.query("SELECT count(*) FROM jobs")[0][0] == 0
    assert host_name(p, mine) in host_overlays(p)
    # An admin sees and may change every overlay.
    admin = p.login("admin", p.admin_password)
    assert admin.get("/overlays/%d" % mine).status == 200
    assert ">maps</a>" in admin.get("/overlays").text


def test_host_names_keep_users_apart_and_come_from_the_panel(wpanel, steam):
    p = wpanel
    alice, bob = two_users(p)
    a = create_overlay(alice, "maps")
    b = create_overlay(bob, "maps", kind="files")
    ids = dict(p.query("SELECT username, id FROM users"))
    assert host_name(p, a) == "u%d-maps" % ids["alice"]
    assert host_name(p, b) == "u%d-maps" % ids["bob"]
    hosts = host_overlays(p)
    assert hosts[host_name(p, a)]["kind"] == "workshop" and hosts[host_name(p, b)]["kind"] == "files"
    # A name that looks like another user's host name stays the typist's.
    c = create_overlay(bob, "u%d-maps" % ids["alice"], kind="script")
    assert host_name(p, c) == "u%d-u%d-maps" % (ids["bob"], ids["alice"])
    # Names that are no overlay names are refused at the field; nothing is
    # made on the host.
    before = set(host_overlays(p))
    for bad in ("../etc", "a b", "-x", "x" * 40, "", "ünï"):
        alice.get("/overlays")
        r = alice.post("/overlays", {"name": bad, "kind": "workshop"})
        assert r.status == 422 and "starting with a letter or digit" in field_error(r.text, "name"), bad
    alice.get("/overlays")
    r = alice.post("/overlays", {"name": "maps", "kind": "workshop"})
    assert r.status == 422 and "already" in field_error(r.text, "name")
    r = alice.post("/overlays", {"name": "other", "kind": "zip"})
    assert r.status == 422 and field_error(r.text, "kind")
    assert set(host_overlays(p)) == before


def test_global_overlays_are_the_admins_to_change_and_everyones_to_use(wpanel, steam):
    p = wpanel
    alice, bob = two_users(p)
    admin = p.login("admin", p.admin_password)
    g = create_overlay(admin, "optimized", kind="files", glob=True)
    assert host_name(p, g) == "g-optimized"
    # A user cannot make one.
    alice.get("/overlays")
    r = alice.post("/overlays", {"name": "mine", "kind": "files", "global": "1"})
    assert r.status == 422 and "Only administrators" in field_error(r.text, "global")
    # A user sees it, read-only: no forms to change it, and every change
    # refused as forbidden (it is no secret that it exists).
    page = alice.get("/overlays/%d" % g)
    assert page.status == 200 and "optimized (global)" in page.text
    assert "/build" not in page.text and "/delete" not in page.text
    assert ">optimized</a>" in alice.get("/overlays").text
    for method, path, data in ROUTES[1:]:
        alice.get("/overlays")
        assert alice.post(path % g, data).status == 403, path
    # ... and may use it in a blueprint, but not bob's own overlay.
    bobs = create_overlay(bob, "bobs")
    r = blueprint(alice, "with-global", ["g-optimized"])
    assert r.status == 303
    r = blueprint(alice, "with-bobs", ["g-optimized", host_name(p, bobs)])
    assert r.status == 422
    assert "is not one of the owner" in field_error(r.text, "overlays")
    assert picked(r.text) == ["g-optimized", host_name(p, bobs)]  # kept as sent, to fix
    assert p.query("SELECT count(*) FROM blueprints WHERE name = 'with-bobs'")[0][0] == 0
    # The JSON API asks the same question.
    alice.get("/blueprints")
    r = alice.request("POST", "/api/blueprints", body=json.dumps({
        "name": "api", "map": "c1m1_hotel", "maxplayers": 4, "tickrate": 30,
        "overlays": host_name(p, bobs)}), headers={"Content-Type": "application/json",
                                                 "X-CSRF-Token": alice.csrf})
    assert r.status == 422 and "overlays" in json.loads(r.text)["errors"]
    # The picker offers alice her own and the global overlays only.
    form = alice.get("/blueprints/new").text
    offered = re.findall(r'<option value="([^"]*)" data-label', form)
    assert offered == ["g-optimized"]
    # The admin changes it; the admin's delete waits until no blueprint uses it.
    admin.get("/overlays/%d" % g)
    r = admin.post("/overlays/%d/delete" % g)
    assert r.status == 409 and "blueprint of another user" not in r.text
    assert re.search(r'<a href="/blueprints/\d+">with-global</a> \(alice\)', r.text)


def test_delete_is_refused_while_a_blueprint_uses_it(wpanel, steam):
    p = wpanel
    alice, bob = two_users(p)
    o = create_overlay(alice, "cfg", kind="files")
    name = host_name(p, o)
    r = blueprint(alice, "coop", [name])
    assert r.status == 303
    bp = int(re.search(r"/blueprints/(\d+)", r.header("Location")).group(1))
    alice.get("/overlays/%d" % o)
    r = alice.post("/overlays/%d/delete" % o)
    assert r.status == 409
    assert "cannot be deleted while blueprints use it" in r.text
    assert '<a href="/blueprints/%d">coop</a>' % bp in r.text
    assert name in host_overlays(p) and p.query("SELECT deleting FROM overlays WHERE id = ?", o) == [(0,)]
    # Out of the blueprint, it goes, from the host and from the panel.
    alice.get("/blueprints/%d" % bp)
    r = alice.post("/blueprints/%d" % bp, {"name": "coop", "map": "c1m1_hotel", "maxplayers": "4",
                                           "tickrate": "30", "cvars": "", "server_cfg": "", "args": ""})
    assert r.status == 303 and picked(alice.get("/blueprints/%d" % bp).text) == []
    alice.get("/overlays/%d" % o)
    r = alice.post("/overlays/%d/delete" % o)
    assert r.status == 303 and r.header("Location") == "/overlays?notice=deleted"
    assert name not in host_overlays(p)
    assert p.query("SELECT count(*) FROM overlays")[0][0] == 0
    assert alice.get("/overlays/%d" % o).status == 404


def test_the_picker_orders_and_the_spec_keeps_the_order(wpanel, steam):
    """Without JavaScript the picker's buttons post the form and the panel
    answers with the list changed, saving nothing; the saved order is the
    spec's order."""
    p = wpanel
    alice, _ = two_users(p)
    names = [host_name(p, create_overlay(alice, n, kind="files")) for n in ("maps", "cfg", "plugins")]
    base = {"name": "coop", "map": "c1m1_hotel", "maxplayers": "4", "tickrate": "30", "cvars": "sv_cheats 0",
            "server_cfg": "", "args": ""}
    alice.get("/blueprints/new")

    def press(pick, overlays, **extra):
        fields = list(base.items()) + [("overlays", n) for n in overlays] + [("pick", pick)] + list(extra.items())
        fields.append(("csrf", alice.csrf))
        r = alice.request("POST", "/blueprints", body=urllib.parse.urlencode(fields))
        assert r.status == 200, r.status
        return picked(r.text), r

    order, r = press("add", [], overlay_add=names[1])
    assert order == [names[1]] and 'value="sv_cheats 0"' not in r.text and "sv_cheats 0</textarea>" in r.text
    order, _ = press("add", order, overlay_add=names[0])
    order, _ = press("add", order, overlay_add=names[2])
    assert order == [names[1], names[0], names[2]]
    order, _ = press("up:1", order)
    assert order == [names[0], names[1], names[2]]
    order, _ = press("down:0", order)
    assert order == [names[1], names[0], names[2]]
    order, r = press("remove:2", order)
    assert order == [names[1], names[0]]
    # An entry already picked is not offered again.
    offered = re.findall(r'<option value="([^"]*)" data-label="[^"]*" data-about="[^"]*"(?: selected)?>', r.text)
    assert offered == [names[2]]
    assert p.query("SELECT count(*) FROM blueprints")[0][0] == 0
    # Saved in that order; the spec l4d2ctl gets lists them in that order.
    fields = dict(base)
    alice.get("/blueprints/new")
    body = urllib.parse.urlencode(list(fields.items()) + [("overlays", n) for n in order] + [("csrf", alice.csrf)])
    r = alice.request("POST", "/blueprints", body=body)
    assert r.status == 303
    assert p.query("SELECT overlays FROM blueprints")[0][0] == "\n".join(order)
    # A list too long is refused whole, never saved without its long entry.
    alice.get("/blueprints/new")
    body = urllib.parse.urlencode(list(dict(base, name="long").items()) + [("overlays", names[0]),
                                  ("overlays", "y" * 17000), ("csrf", alice.csrf)])
    r = alice.request("POST", "/blueprints", body=body)
    assert r.status == 422 and "at most 16384 characters" in field_error(r.text, "overlays")
    assert p.query("SELECT count(*) FROM blueprints WHERE name = 'long'")[0][0] == 0


def test_refresh_command_queues_one_job_for_the_serving_panel(wpanel, steam):
    p = wpanel
    steam.add_item(1, size=4000)
    admin = p.login("admin", p.admin_password)
    o = create_overlay(admin, "maps")
    admin.get("/overlays/%d" % o)
    assert admin.post("/overlays/%d/workshop/add" % o, {"sources": "1"}).status == 303
    wait_for(lambda: p.query("SELECT count(*) FROM jobs WHERE state = 'succeeded'")[0][0] == 1, what="build")

    # With the panel stopped, the command queues the job, once.
    p.stop()
    env = dict(p.env)
    run = lambda: subprocess.run([str(LEFT4ME), "--state-dir", str(p.state), "workshop", "refresh"], env=env,
                                 capture_output=True, text=True, timeout=30)  # noqa: E731
    first = run()
    assert first.returncode == 0, first.stderr
    job = int(re.search(r"job (\d+)", first.stdout).group(1))
    second = run()
    assert second.returncode == 0 and "waiting already: job %d" % job in second.stdout
    rows = p.query("SELECT id, kind, state, user_id FROM jobs WHERE kind = 'workshop-refresh'")
    assert rows == [(job, "workshop-refresh", "queued", p.query("SELECT id FROM users WHERE username = 'admin'")[0][0])]
    # The serving panel's workers run it.
    p.start()
    wait_for(lambda: p.query("SELECT state FROM jobs WHERE id = ?", job)[0][0] in ("succeeded", "failed"),
             what="refresh")
    state, result = p.query("SELECT state, result FROM jobs WHERE id = ?", job)[0]
    assert state == "succeeded" and result == "Refreshed 1 workshop overlay: 0 updated.", result
    lines = [l for (l,) in p.query("SELECT line FROM job_lines WHERE job_id = ? ORDER BY seq", job)]
    assert "$ l4d2ctl workshop refresh --json" in lines and "overlay '%s': up to date" % host_name(p, o) in lines
    # While the panel runs, the command's job is claimed at once.
    r = run()
    assert r.returncode == 0, r.stderr
    again = int(re.search(r"job (\d+)", r.stdout).group(1))
    wait_for(lambda: p.query("SELECT state FROM jobs WHERE id = ?", again)[0][0] == "succeeded", timeout=15,
             what="second refresh")
    # The admin's button does the same; a user has no such button.
    admin.get("/overlays")
    r = admin.post("/overlays/refresh")
    assert r.status == 303 and re.match(r"/jobs/\d+$", r.header("Location"))
    p.create_user("carol", "carol-password")
    carol = p.login("carol", "carol-password")
    carol.get("/overlays")
    assert "Refresh Workshop overlays now" not in carol.get("/overlays").text
    assert carol.post("/overlays/refresh").status == 404


def test_refresh_command_without_an_admin_says_so(tmp_path):
    env = {"LEFT4ME_CONFIG_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    p = subprocess.run([str(LEFT4ME), "--state-dir", str(tmp_path / "state"), "workshop", "refresh"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and p.stderr.count("\n") == 1
    assert p.stderr.startswith("error: there is no enabled administrator")
    p = subprocess.run([str(LEFT4ME), "workshop", "bogus"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
