"""The script view of a script overlay: the panel keeps the build script
(its database is the source of truth), hands it to the host at every save
and before every build, and the build job's log carries the script's
output as it comes. Owners, global overlays and bad input as for files."""
import re
import subprocess
import urllib.parse

from filesutil import create_overlay, host_name
from overlayutil import job_of, wait_job
from webutil import panel  # noqa: F401  (fixture)


def save(c, overlay_id, script, build=False, raw=None):
    c.get("/overlays/%d" % overlay_id)
    body = raw if raw is not None else urllib.parse.urlencode({"script": script, "build": "1" if build else "0"})
    return c.request("POST", "/overlays/%d/script" % overlay_id, body=body,
                     headers={"X-CSRF-Token": c.csrf, "Accept": "application/json"})


def host_script(p, overlay_id):
    r = subprocess.run([p.env["LEFT4ME_L4D2CTL"], "--state-dir", str(p.state),
                        "overlay", "script", host_name(p, overlay_id), "show"], env=p.env, capture_output=True)
    return r.stdout if r.returncode == 0 else None


def lines(p, job):
    return [l for (l,) in p.query("SELECT line FROM job_lines WHERE job_id = ? ORDER BY seq", job)]


def test_saved_in_the_panel_handed_to_the_host_built_with_its_output_in_the_log(panel):
    p = panel
    admin = p.login("admin", p.admin_password)
    o = create_overlay(admin, "sm", kind="script")
    page = admin.get("/overlays/%d" % o).text
    assert "No script yet: this is an example to start from." in page
    # Saved: in the database, on the host, with its line ends made LF.
    script = "#!/bin/bash\r\nset -e\r\necho 'first <b>line</b>'\r\nmkdir -p left4dead2/cfg\r\necho one > left4dead2/cfg/v.cfg\r\n"
    r = save(admin, o, script)
    assert r.status == 200, r.text
    assert r.text.startswith('{"ok":true,"version":1,"handed_over":true')
    lf = script.replace("\r\n", "\n")
    assert p.query("SELECT script, version, host_version FROM overlay_scripts") == [(lf, 1, 1)]
    assert host_script(p, o) == lf.encode()
    page = admin.get("/overlays/%d" % o).text
    assert "(version 1, 0.1 KiB). The host has this version." in page
    assert "mkdir -p left4dead2/cfg\necho one &gt; left4dead2/cfg/v.cfg\n</textarea>" in page

    # Save and build: the build job's log has the script's output, and
    # the published tree what it made.
    r = save(admin, o, lf, build=True)
    assert r.status == 200 and '"location":"/overlays/%d?notice=queued#overlay-build"' % o in r.text
    job = job_of(p, o)
    result = wait_job(p, job)
    assert result == "Built: servers get the new content at their next start."
    log = lines(p, job)
    assert log[0] == "handed the build script (version 2) to the host"
    assert "$ l4d2ctl overlay build %s --json" % host_name(p, o) in log
    assert "first <b>line</b>" in log
    assert (p.state / "overlays" / host_name(p, o) / "left4dead2/cfg/v.cfg").read_text() == "one\n"
    page = admin.get("/overlays/%d" % o).text
    assert re.search(r'<dd id="overlay-last-build">[^<]*, \d+\.\d s: new content published</dd>', page)
    # The log on the page is text, never markup.
    assert "first &lt;b&gt;line&lt;/b&gt;" in page

    # The host's copy changed by hand: the next build hands the panel's
    # version over again and builds that one.
    ctl = subprocess.run([p.env["LEFT4ME_L4D2CTL"], "--state-dir", str(p.state), "overlay", "script",
                          host_name(p, o), "set"], input=b"echo evil > left4dead2_evil\n", env=p.env)
    assert ctl.returncode == 0
    admin.get("/overlays/%d" % o)
    assert admin.post("/overlays/%d/build" % o).status == 303
    job = job_of(p, o)
    wait_job(p, job)
    assert host_script(p, o) == lf.encode()
    assert not (p.state / "overlays" / host_name(p, o) / "left4dead2_evil").exists()

    # A script that fails: the job fails with the host's reason, the
    # overlay keeps its content, the page says so.
    r = save(admin, o, "echo about to fail\nexit 3\n", build=True)
    job = job_of(p, o)
    result = wait_job(p, job, want="failed")
    assert "the script failed (exit status 3)" in result
    assert "about to fail" in lines(p, job)
    assert (p.state / "overlays" / host_name(p, o) / "left4dead2/cfg/v.cfg").read_text() == "one\n"
    page = admin.get("/overlays/%d" % o).text
    assert "The overlay keeps its last good content." in page


def test_a_build_without_a_saved_script_says_what_to_do(panel):
    p = panel
    admin = p.login("admin", p.admin_password)
    o = create_overlay(admin, "sm", kind="script")
    admin.get("/overlays/%d" % o)
    assert admin.post("/overlays/%d/build" % o).status == 303
    result = wait_job(p, job_of(p, o), want="failed")
    assert result == "overlay 'sm' has no build script yet: write one on its page"
    # One set on the host by hand is shown, to be saved into the panel.
    subprocess.run([p.env["LEFT4ME_L4D2CTL"], "--state-dir", str(p.state), "overlay", "script", host_name(p, o),
                    "set"], input=b"echo from the host\n", env=p.env, check=True)
    page = admin.get("/overlays/%d" % o).text
    assert "not saved in the panel" in page and "echo from the host\n</textarea>" in page


def test_bad_scripts_and_who_may_save(panel):
    p = panel
    admin = p.login("admin", p.admin_password)
    p.create_user("alice", "alice-password")
    p.create_user("bob", "bob-password")
    alice, bob = p.login("alice", "alice-password"), p.login("bob", "bob-password")
    o = create_overlay(alice, "sm", kind="script")
    assert save(alice, o, "echo ok\n").status == 200
    # Too long (the host's 1 MiB), a NUL byte, bytes that are not UTF-8,
    # nothing at all, not a form: refused, nothing saved.
    r = save(alice, o, "#" * (1024 * 1024 + 1))
    assert r.status == 413 and "longer than 1 MiB" in r.text
    r = save(alice, o, None, raw="script=echo+a%00b&build=0")
    assert r.status == 400 and "without NUL bytes" in r.text
    r = save(alice, o, None, raw="script=%ff%fe&build=0")
    assert r.status == 400
    assert save(alice, o, "").status == 422
    alice.get("/overlays/%d" % o)
    r = alice.request("POST", "/overlays/%d/script" % o, body="echo x", headers={"X-CSRF-Token": alice.csrf,
                                                                                   "Content-Type": "text/plain"})
    assert r.status == 415
    # Without the CSRF header: refused.
    r = alice.request("POST", "/overlays/%d/script" % o, body="script=echo+csrf")
    assert r.status == 403
    assert p.query("SELECT script, version FROM overlay_scripts") == [("echo ok\n", 1)]
    # bob: alice's overlay and an unknown one answer alike; a files overlay
    # has no script.
    f = create_overlay(bob, "cfg", kind="files")
    answers = [save(bob, oid, "echo bob\n") for oid in (o, 424242, f)]
    assert [a.status for a in answers] == [404, 404, 404] and len({a.body for a in answers}) == 1
    # A global script overlay: a user reads it, read-only; saving is 403.
    g = create_overlay(admin, "sourcemod", kind="script", glob=True)
    assert save(admin, g, "echo global\n").status == 200
    page = bob.get("/overlays/%d" % g).text
    assert "echo global\n</textarea>" in page and " readonly>" in page and "Save and build" not in page
    assert save(bob, g, "echo mine\n").status == 403
    assert p.query("SELECT script FROM overlay_scripts WHERE overlay_id = ?", g) == [("echo global\n",)]
    assert host_script(p, o) == b"echo ok\n"
