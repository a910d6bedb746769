"""Helpers for the files and script views' tests (test_web_files*.py): the
routes of one files overlay as a browser's script calls them
(static/files.js), and a panel whose game servers can reach its tree."""
import json
import urllib.parse

from overlayutil import create_overlay, host_name  # noqa: F401  (re-exported)


def q(path):
    """A path (bytes or str) as one query value, encoded once."""
    return urllib.parse.quote(path if isinstance(path, bytes) else path.encode(), safe="")


class Files:
    """/overlays/N/files/* for one client."""

    def __init__(self, client, overlay_id):
        self.c = client
        self.base = "/overlays/%d/files" % overlay_id
        self.page = "/overlays/%d" % overlay_id
        if not client.csrf:
            client.get(self.page)

    def headers(self, extra=None):
        h = {"X-CSRF-Token": self.c.csrf or "", "Accept": "application/json"}
        h.update(extra or {})
        return h

    def put(self, path, data, size=None, query=None, headers=None):
        """query: the whole query string as sent (a URL-level trick)."""
        if query is None:
            query = "path=" + q(path) + ("&size=%d" % (len(data) if size is None else size) if size is not False else "")
        h = self.headers({"Content-Type": "application/octet-stream"})
        h.update(headers or {})
        return self.c.request("POST", self.base + "/put?" + query, body=data, headers=h)

    def ls(self, path=None, query=None):
        if query is None:
            query = "" if path is None else "path=" + q(path)
        return self.c.get(self.base + "/ls" + ("?" + query if query else ""), headers={"Accept": "application/json"})

    def entries(self, path=None):
        r = self.ls(path)
        assert r.status == 200, (r.status, r.text)
        return {e["name"]: e for e in json.loads(r.text)["entries"]}

    def get(self, path=None, query=None):
        if query is None:
            query = "path=" + q(path)
        return self.c.get(self.base + "/get?" + query)

    def zip(self, path=None, query=None):
        if query is None:
            query = "" if path is None else "path=" + q(path)
        return self.c.get(self.base + "/zip" + ("?" + query if query else ""))

    def form(self, verb, fields=None, body=None):
        """fields: a list of (key, value) pairs (values bytes or str), or
        body: the form body as sent."""
        if body is None:
            body = urllib.parse.urlencode(fields or [])
        return self.c.request("POST", self.base + "/" + verb, body=body, headers=self.headers())

    def mkdir(self, path):
        return self.form("mkdir", [("path", path)])

    def mv(self, src, dst):
        return self.form("mv", [("from", src), ("to", dst)])

    def rm(self, path, recursive=False):
        return self.form("rm", [("path", path)] + ([("recursive", "1")] if recursive else []))


def error_of(r):
    try:
        return json.loads(r.text)["error"]
    except (ValueError, KeyError):
        return r.text
