"""Workshop overlays through the panel, against the fake Steam Web API:
a pasted collection link builds with a per-item log and a progress bar of
bytes; every kind of bad input is said at the field or at the item, and the
overlay keeps its last good content; what the API says is shown as text and
a hostile preview URL never becomes an image; a running server keeps its
content until a restart, which the server page offers, and the host refuses
to delete what a running server stacks."""
import json
import re
import subprocess

from overlayutil import (add_sources, build_added, create_overlay, field_error, host_name, job_of, wait_job,  # noqa: F401
                         wpanel)
from webutil import wait_for
from workshoputil import steam  # noqa: F401  (fixture)

URL = "https://steamcommunity.com/sharedfiles/filedetails/?id=%d"


def item_row(text, item_id):
    m = re.search(r'<tr id="item-%s">(.*?)</tr>' % item_id, text, re.S)
    assert m, "no row for item %s" % item_id
    return m.group(1)


def addon(p, overlay_id, item_id):
    return p.state / "overlays" / host_name(p, overlay_id) / "left4dead2" / "addons" / ("%s.vpk" % item_id)


def test_a_pasted_collection_link_builds_with_items_log_and_progress(wpanel, steam):
    p = wpanel
    steam.add_item(1, size=300000, title="Dead Center Remix")
    steam.add_item(2, size=200000)
    steam.add_item(3, size=100, app=730)
    steam.add_item(4, removed=True)
    steam.add_collection(100, [1, 2, 101], title="Campaigns")
    steam.add_collection(101, [3, 4, 100])
    admin = p.login("admin", p.admin_password)
    o = create_overlay(admin, "maps")
    result = build_added(p, admin, o, "  " + URL % 100 + "\n")
    assert result.startswith("Built: servers get the new content")
    job = job_of(p, o)
    progress, label = p.query("SELECT progress, progress_label FROM jobs WHERE id = ?", job)[0]
    assert progress == 100 and label == "0.5 of 0.5 MiB, 2 of 2 items"
    log = [l for (l,) in p.query("SELECT line FROM job_lines WHERE job_id = ? ORDER BY seq", job)]
    assert "item 1 'Dead Center Remix': downloaded (0.3 MiB)" in log
    assert any(l.startswith("item 3 'Item 3': belongs to app 730") for l in log)
    assert not any(l.startswith("{") for l in log)  # lines for people, not JSON

    page = admin.get("/overlays/%d" % o).text
    assert '<a href="/jobs/%d">Job #%d</a>' % (job, job) in page
    row = item_row(page, 1)
    assert 'src="https://steamuserimages-a.akamaihd.net/ugc/1/"' in row
    assert ">Dead Center Remix</a>" in row and "293.0 KiB" in row and "2023-11-14" in row
    assert 'class="badge item-ok"' in row
    assert "belongs to app 730, not Left 4 Dead 2 (550)" in item_row(page, 3)
    assert "not on the Workshop" in item_row(page, 4)
    assert re.search(r'<ul class="problems" id="workshop-problems">\n<li>100: collection 101 includes collection '
                     r'100, which includes it: a cycle, skipped</li>', page)
    assert "Campaigns" in page and "4 (2 ok, 1 missing, 1 of another game)" in page
    assert addon(p, o, 1).read_bytes() == steam.content(1)

    # Removing the collection builds again: the overlay is empty.
    admin.get("/overlays/%d" % o)
    r = admin.post("/overlays/%d/workshop/remove" % o, {"source": "100"})
    assert r.status == 303
    wait_job(p, job_of(p, o))
    assert not addon(p, o, 1).exists()
    # Nothing to download: the bar of the finished build is full all the same.
    assert p.query("SELECT progress, progress_label FROM jobs WHERE id = ?", job_of(p, o)) == [
        (100.0, "nothing to download")]
    assert "None yet" in admin.get("/overlays/%d" % o).text


def test_bad_input_is_said_at_the_field_or_the_item_and_keeps_the_last_content(wpanel, steam):
    p = wpanel
    steam.add_item(1, size=20000)
    admin = p.login("admin", p.admin_password)
    o = create_overlay(admin, "maps")
    build_added(p, admin, o, "1")
    good = steam.content(1)
    jobs = p.query("SELECT count(*) FROM jobs")[0][0]

    # Not a Workshop link, or not an ID at all: said at the field, with what
    # was typed kept; nothing added, nothing built.
    for text, said in [("https://example.com/sharedfiles/filedetails/?id=5", "is not a Steam Workshop item"),
                       ("https://steamcommunity.com/id/someone", "is not a Steam Workshop item"),
                       ("12abc", "is not a Workshop ID or link"), ("--state-dir=/", "is not a Workshop ID or link"),
                       ("", "Enter a Workshop ID")]:
        r = add_sources(admin, o, text)
        assert r.status == 422, text
        assert said in field_error(r.text, "sources"), (text, field_error(r.text, "sources"))
        assert text.replace("&", "&amp;") in r.text
    sources = json.loads(p.ctl("workshop", host_name(p, o), "items", "--json").stdout)["sources"]
    assert [s["id"] for s in sources] == ["1"]
    assert p.query("SELECT count(*) FROM jobs")[0][0] == jobs

    # An unknown ID: the build says so at the item; the rest stays.
    build_added(p, admin, o, "999")
    page = admin.get("/overlays/%d" % o).text
    assert "not on the Workshop" in item_row(page, 999) and "item-missing" in item_row(page, 999)
    assert addon(p, o, 1).read_bytes() == good

    # A newer version that arrives truncated: the item says why, and the
    # overlay keeps the version it had.
    steam.add_item(1, size=20000, time_updated=1700000500)
    steam.truncate = {"1": 100}
    admin.get("/overlays/%d" % o)
    assert admin.post("/overlays/%d/build" % o).status == 303
    result = wait_job(p, job_of(p, o), "failed")
    assert "1 item failed" in result and "truncated" in result
    page = admin.get("/overlays/%d" % o).text
    assert "the download was truncated: 100 of 20000 bytes" in item_row(page, 1)
    assert "keeps its last good content" in page
    assert addon(p, o, 1).read_bytes() == good
    steam.truncate = {}
    # One larger than the Workshop announced: the same.
    steam.lie = {"1": -100}
    admin.get("/overlays/%d" % o)
    assert admin.post("/overlays/%d/build" % o).status == 303
    assert "1 item failed" in wait_job(p, job_of(p, o), "failed")
    said = re.search(r'<span class="item-message">([^<]*)</span>', item_row(admin.get("/overlays/%d" % o).text, 1))
    assert said and "larger than" in said.group(1), said and said.group(1)
    assert addon(p, o, 1).read_bytes() == good
    steam.lie = {}

    # An API that answers garbage, or not at all: the build fails, the
    # message is on the overlay's page, the content stays.
    for mode, said in [("garbage", "something that is not JSON"), ("timeout", "did not answer")]:
        steam.api_mode = mode
        admin.get("/overlays/%d" % o)
        assert admin.post("/overlays/%d/build" % o).status == 303
        result = wait_job(p, job_of(p, o), "failed")
        assert said in result, result
        page = admin.get("/overlays/%d" % o).text
        assert said in re.search(r'<dd id="overlay-last-build">(.*?)</dd>', page, re.S).group(1)
        assert addon(p, o, 1).read_bytes() == good
    steam.api_mode = None


def test_what_the_api_says_stays_text_and_hostile_previews_are_no_images(wpanel, steam):
    p = wpanel
    hostile = {
        "1": "javascript:alert(1)",
        "2": "https://evil.example/steamuserimages-a.akamaihd.net/x.png",
        "3": "https://steamuserimages-a.akamaihd.net@evil.example/x.png",
        "4": "https://steamuserimages-a.akamaihd.net.evil.example/x.png",
        "5": "https://steamuserimages-a.akamaihd.net/x.png\" onerror=\"alert(1)",
        "6": "http://steamuserimages-a.akamaihd.net/x.png",
        "7": "https://steamuserimages-a.akamaihd.net:8443/x.png",
        "8": "https://evil.example\\@steamuserimages-a.akamaihd.net/x.png",
        "9": "data:image/svg+xml,<svg onload=alert(1)>",
    }
    for i in hostile:
        steam.add_item(i, size=1000, title="<script>alert(%s)</script> & \"quotes\"" % i)
    steam.add_item(10, size=1000)
    answer = steam.file_details

    def details(ids):
        out = answer(ids)
        for d in out["response"]["publishedfiledetails"]:
            if d["publishedfileid"] in hostile:
                d["preview_url"] = hostile[d["publishedfileid"]]
        return out
    steam.file_details = details
    admin = p.login("admin", p.admin_password)
    o = create_overlay(admin, "maps")
    build_added(p, admin, o, " ".join(list(hostile) + ["10"]))
    page = admin.get("/overlays/%d" % o).text
    assert "<script>alert" not in page
    for i in hostile:
        row = item_row(page, i)
        assert "<img" not in row, (i, row)
        assert "&lt;script&gt;alert(%s)&lt;/script&gt; &amp; &quot;quotes&quot;" % i in row
    assert '<img class="preview" src="https://steamuserimages-a.akamaihd.net/ugc/10/"' in item_row(page, 10)
    # The policy lets the browser load images from Steam's image hosts only.
    r = admin.get("/overlays/%d" % o)
    csp = r.header("Content-Security-Policy")
    assert "img-src 'self' data: https://steamuserimages-a.akamaihd.net https://images.steamusercontent.com;" in csp


def test_a_running_server_keeps_its_content_until_a_restart(wpanel, steam):
    p = wpanel
    steam.add_item(1, size=5000)
    steam.add_item(2, size=6000)
    admin = p.login("admin", p.admin_password)
    admin.get("/admin/install")
    wait_job(p, int(admin.post("/admin/install").header("Location").rsplit("/", 1)[1]))
    o = create_overlay(admin, "maps")
    build_added(p, admin, o, "1")
    name = host_name(p, o)
    b = admin.create_blueprint("coop", overlays=name)
    s = admin.create_server("Alpha", b)
    admin.get("/servers/%d" % s)
    assert admin.post("/servers/%d/start" % s).status == 303
    wait_for(lambda: p.query("SELECT state FROM servers WHERE id = ?", s)[0][0] == "running", what="running")
    merged = p.state / "runtime" / ("s%d" % s) / "merged" / "left4dead2" / "addons"
    assert (merged / "1.vpk").read_bytes() == steam.content(1)
    news = admin.get("/servers/%d/overlay-news" % s).text
    assert "Newer content" not in news
    assert 'data-hx-get="/servers/%d/overlay-news"' % s in admin.get("/servers/%d" % s).text

    # The overlay changes: the running server keeps what it mounted, and
    # its page offers the restart that picks up the new content.
    build_added(p, admin, o, "2")
    assert not (merged / "2.vpk").exists()
    news = admin.get("/servers/%d/overlay-news" % s).text
    assert "Newer content is ready in <b>maps</b>" in news
    assert 'action="/servers/%d/restart"' % s in news
    assert "a restart picks up newer content" in admin.get("/overlays/%d" % o).text
    admin.get("/servers/%d" % s)
    assert admin.post("/servers/%d/restart" % s).status == 303
    wait_for(lambda: (merged / "2.vpk").exists(), timeout=60, what="2.vpk after the restart")
    wait_for(lambda: "Newer content" not in admin.get("/servers/%d/overlay-news" % s).text, what="news gone")

    # Out of the blueprint but still stacked by the running server: the
    # host refuses the delete, and the page says what it said.
    admin.get("/blueprints/%d" % b)
    r = admin.post("/blueprints/%d" % b, {"name": "coop", "map": "c1m1_hotel", "maxplayers": "4",
                                          "tickrate": "30", "cvars": "", "server_cfg": "", "args": ""})
    assert r.status == 303
    admin.get("/overlays/%d" % o)
    r = admin.post("/overlays/%d/delete" % o)
    assert r.status == 409
    assert "The host did not delete it: overlay &#39;%s&#39; is used by running instances: s%d" % (name, s) in r.text
    assert p.query("SELECT deleting FROM overlays WHERE id = ?", o) == [(0,)]
    assert "/workshop/add" in r.text  # usable again


def tidy(html, where):
    r = subprocess.run(["tidy", "-q", "-e", "--show-warnings", "yes", "-utf8"], input=html.encode(),
                       capture_output=True)
    assert r.returncode == 0, "%s:\n%s" % (where, r.stderr.decode())


def test_the_overlay_pages_pass_tidy(wpanel, steam):
    p = wpanel
    steam.add_item(1, size=1000, title="<b>bold</b> & co")
    steam.add_item(2, size=1000, app=730)
    steam.add_collection(100, [1, 2, 100])
    admin = p.login("admin", p.admin_password)
    p.create_user("user1", "user1-password")
    user = p.login("user1", "user1-password")
    w = create_overlay(admin, "maps")
    build_added(p, admin, w, URL % 100)
    f = create_overlay(admin, "cfg", kind="files", glob=True)
    b = admin.create_blueprint("coop", overlays=host_name(p, w) + "\nhandmade")
    (p.state / "overlays" / "handmade").mkdir()
    s = admin.create_server("Alpha", b)
    for path in ("/overlays", "/overlays/%d" % w, "/overlays/%d" % f, "/blueprints/%d" % b, "/blueprints/new"):
        tidy(admin.get(path).text, path)
    for path in ("/overlays", "/overlays/%d" % f, "/blueprints/new"):
        tidy(user.get(path).text, "user " + path)
    fragment = admin.get("/servers/%d/overlay-news" % s).text
    tidy("<!DOCTYPE html><html lang=\"en\"><head><title>f</title></head><body>%s</body></html>" % fragment, "news")
    # Pages with errors: a refused add, a refused name, a refused delete.
    r = add_sources(admin, w, "https://example.com/")
    assert r.status == 422
    tidy(r.text, "add refused")
    admin.get("/overlays")
    r = admin.post("/overlays", {"name": "../x", "kind": "nope", "global": "1"})
    assert r.status == 422
    tidy(r.text, "create refused")
    admin.get("/overlays/%d" % w)
    r = admin.post("/overlays/%d/delete" % w)
    assert r.status == 409
    tidy(r.text, "delete refused")
    admin.get("/blueprints/%d" % b)
    r = admin.post("/blueprints/%d" % b, {"name": "coop", "map": "c1m1_hotel", "maxplayers": "4", "tickrate": "30",
                                          "overlays": "../x", "cvars": "", "server_cfg": "", "args": ""})
    assert r.status == 422
    tidy(r.text, "picker error")
