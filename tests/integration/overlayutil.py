"""Helpers for the panel's overlay tests (test_web_overlays*.py): a panel
whose l4d2ctl talks to the fake Steam Web API, and shortcuts that create and
build overlays through the pages, as a person would."""
import re

import pytest

from webutil import Panel, wait_for
from workshoputil import steam  # noqa: F401  (fixture)


@pytest.fixture
def wpanel(tmp_path, steam):  # noqa: F811
    """A panel (real l4d2ctl) whose Workshop is the fake Steam Web API."""
    p = Panel(tmp_path, env={
        "LEFT4ME_STEAM_API_URL": steam.url,
        "LEFT4ME_STEAM_API_TIMEOUT": "2",
        "LEFT4ME_WORKSHOP_RETRY_MS": "10",
    }).start()
    yield p
    p.cleanup()


def create_overlay(c, name, kind="workshop", glob=False):
    c.get("/overlays")
    data = {"name": name, "kind": kind}
    if glob:
        data["global"] = "1"
    r = c.post("/overlays", data)
    assert r.status == 303, (r.status, re.findall(r'class="field-error"[^>]*>([^<]*)', r.text))
    return int(re.search(r"/overlays/(\d+)", r.header("Location")).group(1))


def host_name(p, overlay_id):
    return p.query("SELECT host_name FROM overlays WHERE id = ?", overlay_id)[0][0]


def job_of(p, overlay_id):
    return p.query("SELECT max(job_id) FROM overlay_jobs WHERE overlay_id = ?", overlay_id)[0][0]


def wait_job(p, job, want="succeeded", timeout=60):
    def done():
        return p.query("SELECT state FROM jobs WHERE id = ?", job)[0][0] in ("succeeded", "failed")
    wait_for(done, timeout, what="job %d" % job)
    state, result = p.query("SELECT state, result FROM jobs WHERE id = ?", job)[0]
    assert state == want, (state, result, p.query("SELECT line FROM job_lines WHERE job_id = ?", job))
    return result


def add_sources(c, overlay_id, text):
    c.get("/overlays/%d" % overlay_id)
    return c.post("/overlays/%d/workshop/add" % overlay_id, {"sources": text})


def build_added(p, c, overlay_id, text, want="succeeded"):
    r = add_sources(c, overlay_id, text)
    assert r.status == 303, (r.status, re.findall(r'class="field-error"[^>]*>([^<]*)', r.text))
    return wait_job(p, job_of(p, overlay_id), want)


def field_error(text, field):
    m = re.search(r'<p class="field-error" id="e-%s">([^<]*)</p>' % field, text)
    return m and m.group(1)


def picked(text):
    """The overlays of a blueprint form, in the picker's order."""
    return re.findall(r'name="overlays" value="([^"]*)"', text)
