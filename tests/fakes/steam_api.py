#!/usr/bin/python3
"""A stand-in for the Steam Web API and Steam's file host, for tests and
benchmarks only (never used by left4me).

Serves, on 127.0.0.1:
  POST /ISteamRemoteStorage/GetPublishedFileDetails/v1/   itemcount, publishedfileids[N]
  POST /ISteamRemoteStorage/GetCollectionDetails/v1/      collectioncount, publishedfileids[N]
  GET  /files/ID/TIME_UPDATED                             an item's file (its file_url)
  GET  /_fake/stats, POST /_fake/config (JSON)            for a fake run as a program

  GET  /ISteamApps/UpToDateCheck/v1/?appid=550&version=V   (the section
       "UpToDateCheck" below: game updates, issue 14)

Items and collections come from a fixture (add_item/add_collection, or a JSON
file with {"items": {ID: {...}}, "collections": {ID: {...}}}). An item's file
is deterministic: "ID:TIME_UPDATED;" repeated to its size, so a test can tell
versions apart.

Knobs (attributes, or keys of POST /_fake/config):
  api_mode      None, "timeout" (sleep api_delay s first), "garbage" (200 with
                HTML), "http500", "incomplete" (leaves the last ID out) or
                "alien" (adds an entry for an ID nobody asked about)
  rate          bytes per second per download (None: as fast as possible)
  truncate      {ID: N}: serve only N bytes (an honest, short Content-Length)
  cut           {ID: N}: announce the full length, send N bytes, close
  lie           {ID: D}: GetPublishedFileDetails says file_size = real size + D
  fail_downloads {ID: K}: the first K downloads of ID answer HTTP 503
Counters: requests (per path), api_requests, downloads (per ID).

Player profiles (issue 11), a section of its own:
  GET  /ISteamUser/GetPlayerSummaries/v2/?key=K&steamids=ID,ID,...
                   every SteamID64 asked gets a profile (persona "Player ID",
                   an avatar here), unless it is in `unknown_players`;
                   `players` {ID: {...}} overrides fields. 403 when
                   `players_key` is set and K differs; more than 100 IDs: 400.
  GET  /avatars/ID.png                  a tiny PNG
Counters: summaries_batches (the number of IDs of each request), avatar_downloads.
"""
import argparse
import collections
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APP = 550


def content_of(item_id, time_updated, size):
    pattern = ("%s:%s;" % (item_id, time_updated)).encode()
    reps = size // len(pattern) + 1
    return (pattern * reps)[:size]


class FakeSteam:
    def __init__(self, fixture=None):
        self.items = {}
        self.collections = {}
        self.lock = threading.Lock()
        self.requests = collections.Counter()
        self.api_requests = 0
        self.downloads = collections.Counter()
        self.api_mode = None
        self.api_delay = 5.0
        self.rate = None
        self.truncate = {}
        self.cut = {}
        self.lie = {}
        self.fail_downloads = {}
        self.server = None
        self.thread = None
        self.uptodate_init()
        # Player profiles (issue 11).
        self.players = {}
        self.unknown_players = set()
        self.players_key = None
        self.summaries_batches = []
        self.avatar_downloads = 0
        if fixture:
            for i, v in fixture.get("items", {}).items():
                self.add_item(i, **v)
            for i, v in fixture.get("collections", {}).items():
                self.add_collection(i, **v)

    # ---- the fixture ----

    def add_item(self, item_id, size=1024, time_updated=1700000000, app=APP, title=None, file_url=True,
                 removed=False, banned=False):
        self.items[str(item_id)] = dict(size=size, time_updated=time_updated, app=app,
                                        title=title or "Item %s" % item_id, file_url=file_url,
                                        removed=removed, banned=banned)

    def add_collection(self, coll_id, children, time_updated=1700000000, title=None, removed=False):
        self.collections[str(coll_id)] = dict(children=[str(c) for c in children], time_updated=time_updated,
                                              title=title or "Collection %s" % coll_id, removed=removed)

    def content(self, item_id):
        it = self.items[str(item_id)]
        return content_of(item_id, it["time_updated"], it["size"])

    def reset_counters(self):
        with self.lock:
            self.requests.clear()
            self.api_requests = 0
            self.downloads.clear()

    # ---- answers ----

    def file_details(self, ids):
        out = []
        for i in ids:
            if i in self.collections and not self.collections[i]["removed"]:
                c = self.collections[i]
                out.append({"publishedfileid": i, "result": 1, "creator": "76561197960287930",
                            "creator_app_id": 766, "consumer_app_id": APP, "filename": "", "file_size": 0,
                            "preview_url": "https://steamuserimages-a.akamaihd.net/ugc/%s/" % i,
                            "title": c["title"], "description": "", "time_created": 1600000000,
                            "time_updated": c["time_updated"], "visibility": 0, "banned": 0, "ban_reason": "",
                            "tags": []})
                continue
            it = self.items.get(i)
            if it is None or it["removed"]:
                out.append({"publishedfileid": i, "result": 9})
                continue
            url = ""
            if it["file_url"]:
                url = "%s/files/%s/%s" % (self.url, i, it["time_updated"])
            out.append({"publishedfileid": i, "result": 1, "creator": "76561197960287930",
                        "creator_app_id": it["app"], "consumer_app_id": it["app"], "filename": "",
                        "file_size": it["size"] + self.lie.get(i, 0), "file_url": url,
                        "hcontent_file": "1234567890", "preview_url": "https://steamuserimages-a.akamaihd.net/ugc/%s/" % i,
                        "hcontent_preview": "1234", "title": it["title"], "description": "a fake item",
                        "time_created": 1600000000, "time_updated": it["time_updated"], "visibility": 0,
                        "banned": 1 if it["banned"] else 0, "ban_reason": "", "subscriptions": 1, "favorited": 0,
                        "lifetime_subscriptions": 1, "lifetime_favorited": 0, "views": 1,
                        "tags": [{"tag": "Campaigns"}]})
        return {"response": {"result": 1, "resultcount": len(out), "publishedfiledetails": out}}

    def collection_details(self, ids):
        out = []
        for i in ids:
            c = self.collections.get(i)
            if c is None or c["removed"]:
                out.append({"publishedfileid": i, "result": 9})
                continue
            children = [{"publishedfileid": ch, "sortorder": n + 1, "filetype": 2 if ch in self.collections else 0}
                        for n, ch in enumerate(c["children"])]
            out.append({"publishedfileid": i, "result": 1, "children": children})
        return {"response": {"result": 1, "resultcount": len(out), "collectiondetails": out}}

    # ---- player profiles (issue 11) ----

    TINY_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                             "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a2dd1f1c"
                             "0000000049454e44ae426082")

    def player_summaries(self, query):
        """(status, body) for GetPlayerSummaries/v2."""
        q = urllib.parse.parse_qs(query)
        if self.players_key is not None and q.get("key", [""])[0] != self.players_key:
            return 403, b"<html><body>Forbidden</body></html>"
        ids = [i for i in q.get("steamids", [""])[0].split(",") if i]
        if len(ids) > 100:
            return 400, b"too many steamids"
        with self.lock:
            self.summaries_batches.append(len(ids))
        out = []
        for i in ids:
            if i in self.unknown_players:
                continue
            p = {"steamid": i, "communityvisibilitystate": 3, "profilestate": 1, "personaname": "Player %s" % i,
                 "profileurl": "https://steamcommunity.com/profiles/%s/" % i,
                 "avatar": "%s/avatars/%s.png" % (self.url, i),
                 "avatarmedium": "%s/avatars/%s.png" % (self.url, i),
                 "avatarfull": "%s/avatars/%s.png" % (self.url, i), "personastate": 1}
            p.update(self.players.get(i, {}))
            out.append(p)
        return 200, json.dumps({"response": {"players": out}}).encode()

    # ---- the server ----

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send(self, code, body, ctype="application/json"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                path = self.path.split("?")[0]
                with fake.lock:
                    fake.requests[path] += 1
                if path == "/_fake/config":
                    fake.configure(json.loads(body))
                    return self.send(200, b"{}")
                form = urllib.parse.parse_qs(body)
                if path.endswith("/GetPublishedFileDetails/v1/"):
                    count_key, answer = "itemcount", fake.file_details
                elif path.endswith("/GetCollectionDetails/v1/"):
                    count_key, answer = "collectioncount", fake.collection_details
                else:
                    return self.send(404, b"not found", "text/plain")
                with fake.lock:
                    fake.api_requests += 1
                mode = fake.api_mode
                if mode == "timeout":
                    time.sleep(fake.api_delay)
                if mode == "garbage":
                    return self.send(200, b"<html><body>Steam is down for maintenance</body></html>", "text/html")
                if mode == "http500":
                    return self.send(500, b"Internal Server Error", "text/plain")
                n = int(form.get(count_key, ["0"])[0])
                ids = [form.get("publishedfileids[%d]" % i, [""])[0] for i in range(n)]
                result = answer(ids)
                key = "publishedfiledetails" if count_key == "itemcount" else "collectiondetails"
                if mode == "incomplete":
                    result["response"][key] = result["response"][key][:-1]
                if mode == "alien":
                    result["response"][key].append({"publishedfileid": "../../../etc/passwd", "result": 1})
                try:
                    self.send(200, json.dumps(result).encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                path = self.path.split("?")[0]
                with fake.lock:
                    fake.requests[path] += 1
                if path.rstrip("/") == "/ISteamApps/UpToDateCheck/v1":
                    query = urllib.parse.parse_qs(self.path.split("?", 1)[1] if "?" in self.path else "")
                    code, body = fake.uptodate_answer(query)
                    try:
                        return self.send(code, body)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                if path == "/_fake/stats":
                    with fake.lock:
                        stats = {"api_requests": fake.api_requests, "requests": dict(fake.requests),
                                 "downloads": dict(fake.downloads), "summaries_batches": list(fake.summaries_batches),
                                 "avatar_downloads": fake.avatar_downloads}
                    return self.send(200, json.dumps(stats).encode())
                if path == "/ISteamUser/GetPlayerSummaries/v2/":
                    code, body = fake.player_summaries(self.path.partition("?")[2])
                    return self.send(code, body, "application/json" if code == 200 else "text/html")
                if path.startswith("/avatars/") and path.endswith(".png"):
                    with fake.lock:
                        fake.avatar_downloads += 1
                    return self.send(200, fake.TINY_PNG, "image/png")
                parts = path.strip("/").split("/")
                if len(parts) != 3 or parts[0] != "files" or parts[1] not in fake.items:
                    return self.send(404, b"not found", "text/plain")
                item_id, tu = parts[1], parts[2]
                it = fake.items[item_id]
                with fake.lock:
                    fake.downloads[item_id] += 1
                    failing = fake.fail_downloads.get(item_id, 0)
                    if failing > 0:
                        fake.fail_downloads[item_id] = failing - 1
                if failing > 0:
                    return self.send(503, b"Service Unavailable", "text/plain")
                data = content_of(item_id, tu, it["size"])
                announce = len(data)
                if item_id in fake.truncate:
                    data = data[:fake.truncate[item_id]]
                    announce = len(data)
                cut = fake.cut.get(item_id)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(announce))
                self.end_headers()
                try:
                    self.paced_write(data if cut is None else data[:cut])
                except (BrokenPipeError, ConnectionResetError):
                    return
                if cut is not None:
                    self.close_connection = True

            def paced_write(self, data):
                rate = fake.rate
                start = time.monotonic()
                chunk = 64 * 1024
                for off in range(0, len(data), chunk):
                    self.wfile.write(data[off:off + chunk])
                    if rate:
                        ahead = start + (off + chunk) / rate - time.monotonic()
                        if ahead > 0:
                            time.sleep(ahead)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 64

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self.url

    # ---- UpToDateCheck (issue 14) ----
    # The Steam Web API's answer to a game server asking whether its
    # PatchVersion is current. Knobs (attributes or /_fake/config keys):
    #   required_version  the newest PatchVersion ("2.2.2.7"); None: every
    #                     version is up to date
    #   check_mode        None, "timeout" (sleep check_delay s), "empty" (200
    #                     with no body), "garbage" (200 with HTML), "http500",
    #                     "nosuccess" ({"response":{"success":false}})
    # Counter: check_requests.

    def uptodate_init(self):
        self.required_version = None
        self.check_mode = None
        self.check_delay = 5.0
        self.check_requests = 0

    def uptodate_answer(self, query):
        with self.lock:
            self.check_requests += 1
        mode = self.check_mode
        if mode == "timeout":
            time.sleep(self.check_delay)
        if mode == "empty":
            return 200, b""
        if mode == "garbage":
            return 200, b"<html><body>Steam is down for maintenance</body></html>"
        if mode == "http500":
            return 500, b"Internal Server Error"
        if mode == "nosuccess":
            return 200, json.dumps({"response": {"success": False, "error": "bad appid"}}).encode()
        version = query.get("version", [""])[0]

        def key(v):
            try:
                return tuple(int(x) for x in v.split("."))
            except ValueError:
                return ()
        req = self.required_version
        if req is None or key(version) >= key(req):
            r = {"success": True, "up_to_date": True, "version_is_listable": True}
        else:
            r = {"success": True, "up_to_date": False, "version_is_listable": False,
                 "required_version": int(req.replace(".", "")),
                 "message": "Your server is out of date, please upgrade"}
        return 200, json.dumps({"response": r}).encode()

    def configure(self, cfg):
        for key in ("required_version", "check_mode", "check_delay"):
            if key in cfg:
                setattr(self, key, cfg[key])
        for key in ("api_mode", "api_delay", "rate", "players_key"):
            if key in cfg:
                setattr(self, key, cfg[key])
        if "players" in cfg:
            self.players = {str(k): v for k, v in cfg["players"].items()}
        if "unknown_players" in cfg:
            self.unknown_players = set(str(i) for i in cfg["unknown_players"])
        for key in ("truncate", "cut", "lie", "fail_downloads"):
            if key in cfg:
                setattr(self, key, {str(k): v for k, v in cfg[key].items()})
        for i, v in cfg.get("items", {}).items():
            self.add_item(i, **v)
        for i, v in cfg.get("collections", {}).items():
            self.add_collection(i, **v)
        if cfg.get("reset_counters"):
            self.reset_counters()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixture", help="a JSON file of items and collections")
    ap.add_argument("--url-file", help="write the base URL here once listening")
    ap.add_argument("--rate", type=float, help="bytes per second per download")
    args = ap.parse_args()
    fixture = json.load(open(args.fixture)) if args.fixture else None
    fake = FakeSteam(fixture)
    fake.rate = args.rate
    url = fake.start()
    if args.url_file:
        tmp = args.url_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(url + "\n")
        os.rename(tmp, args.url_file)
    else:
        print(url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    fake.stop()


if __name__ == "__main__":
    sys.exit(main())
