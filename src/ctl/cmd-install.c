#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "ctl.h"
#include "steamcmd.h"
#include "strutil.h"

/* JSON strings must be UTF-8, and steamcmd's lines need not be (a path or
 * an error from a Windows code page): every byte that is not part of a
 * valid UTF-8 sequence becomes the four characters \xNN, so the line is
 * kept, not dropped. Returns a malloc'ed string, NULL if out of memory. */
static char *utf8_escape(const char *s) {
        size_t n = strlen(s);
        char *out = malloc(n * 4 + 1);
        if (!out)
                return NULL;
        size_t k = 0;
        const unsigned char *p = (const unsigned char *) s;
        for (size_t i = 0; i < n;) {
                unsigned char b = p[i];
                size_t len = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 0;
                uint32_t cp = len == 1 ? b : len == 2 ? b & 0x1f : len == 3 ? b & 0x0f : b & 0x07;
                bool ok = len > 0 && i + len <= n;
                for (size_t j = 1; ok && j < len; j++) {
                        ok = (p[i + j] & 0xc0) == 0x80;
                        cp = (cp << 6) | (p[i + j] & 0x3f);
                }
                /* No overlong forms, no surrogates, nothing past U+10FFFF. */
                if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                           (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff))
                        ok = false;
                if (ok) {
                        memcpy(out + k, p + i, len);
                        k += len;
                        i += len;
                } else {
                        k += (size_t) sprintf(out + k, "\\x%02x", b);
                        i++;
                }
        }
        out[k] = '\0';
        return out;
}

typedef struct Out {
        bool json;
        double last_percent;
        const char *last_phase;
} Out;

static void on_install(const char *line, const InstallProgress *p, void *userdata) {
        Out *o = userdata;
        if (!p) {
                if (o->json) {
                        _cleanup_free_ char *safe = utf8_escape(line);
                        if (safe)
                                ctl_print_json(json_pack("{s:s, s:s}", "event", "line", "line", safe));
                }
                else {
                        printf("%s\n", line);
                        fflush(stdout);
                }
                return;
        }
        if (o->json)
                ctl_print_json(json_pack("{s:s, s:s, s:s, s:f, s:I, s:I}", "event", "progress", "phase", p->phase,
                                         "state", p->state, "percent", p->percent, "done", (json_int_t) p->done,
                                         "total", (json_int_t) p->total));
        else {
                printf("progress: %.2f%% %s (%s pass)\n", p->percent, p->state, p->phase);
                fflush(stdout);
        }
}

/* The build event (before done): which build, and whether it is new. */
static void print_fetched(const HostConfig *c, const FetchResult *f, bool json) {
        if (json) {
                ctl_print_json(json_pack("{s:s, s:s, s:s?, s:b, s:s, s:I, s:b}", "event", "build", "id", f->id, "parent",
                                         f->parent[0] ? f->parent : NULL, "created", f->created, "layer",
                                         f->diff ? "diff" : "full", "bytes", (json_int_t) f->bytes, "flattening",
                                         f->flattening));
                return;
        }
        if (f->created)
                printf("installed: build %s (%s, %.1f MiB on disk%s%s) in %s/installations/%s\n", f->id,
                       f->diff ? "a diff layer" : "a full tree", f->bytes / 1048576.0,
                       f->parent[0] ? ", after build " : "", f->parent, c->state_dir, f->id);
        else
                printf("up to date: build %s is installed\n", f->id);
        if (f->flattening)
                printf("its chain of layers is flattened in the background\n");
}

int ctl_fetch_events(const HostConfig *c, bool validate, bool json, Error *err) {
        Out o = { .json = json };
        FetchResult f = { 0 };
        int r = build_fetch(c, validate, on_install, &o, &f, err);
        if (r >= 0)
                print_fetched(c, &f, json);
        return r;
}

/* install and update fetch: the same fetch. */
int ctl_fetch(const HostConfig *c, const char *cmd, int argc, char **argv) {
        Out o = { 0 };
        if ((argc = ctl_common_options(cmd, argc, argv, &o.json)) < 0)
                return 0;
        bool validate = false;
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--validate"))
                        validate = true;
                else
                        return ctl_usage(cmd, "unexpected argument '%s'", argv[i]);
        }
        Error err = { 0 };
        int r = ctl_fetch_events(c, validate, o.json, &err);
        if (o.json) {
                /* The last event always comes, whatever bytes the error quotes. */
                _cleanup_free_ char *msg = utf8_escape(err.msg);
                ctl_print_json(r < 0 ? json_pack("{s:s, s:b, s:s}", "event", "done", "ok", 0, "error",
                                                 msg ? msg : "out of memory")
                                     : json_pack("{s:s, s:b}", "event", "done", "ok", 1));
        }
        return r < 0 ? ctl_fail(&err, r) : 0;
}

static int run_install(const HostConfig *c, int argc, char **argv) {
        return ctl_fetch(c, "install", argc, argv);
}

const Command cmd_install = {
        .name = "install",
        .run = run_install,
        .summary = "install or update the game with steamcmd",
        .help = "NAME\n"
                "    l4d2ctl install - install or update Left 4 Dead 2 (app 222860)\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl install [--validate] [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    Runs steamcmd (LEFT4ME_STEAMCMD, else 'steamcmd' from PATH) to install\n"
                "    the dedicated server, or fetch its newest build, into\n"
                "    STATE/installations/BUILDID, which instances share read-only (see\n"
                "    'l4d2ctl builds'). It is the same as 'l4d2ctl update fetch': it never\n"
                "    writes a build that exists, so it runs beside running servers. The\n"
                "    first build is the one every server starts on; a later one only once\n"
                "    it passed the canary of a server's overlays ('l4d2ctl update canary').\n"
                "    steamcmd's HOME is STATE/steam.\n"
                "\n"
                "    An anonymous Linux install of app 222860 fails with 'Invalid platform';\n"
                "    a fresh install therefore runs a first pass with the platform forced to\n"
                "    windows, then 'app_update 222860 validate' with linux. Success is judged\n"
                "    by steamcmd's 'Success!' line and a srcds_run in the installation, not\n"
                "    by steamcmd's exit code, which is unreliable.\n"
                "\n"
                "    A new build is made in STATE/install-store/staging from the newest one:\n"
                "    a reflink copy on filesystems that have them (btrfs, XFS), else an\n"
                "    overlay whose upper layer, what steamcmd changed, becomes the new\n"
                "    build (a diff layer). It needs LEFT4ME_UPDATE_FREE_MIN (4G) of free\n"
                "    space first. Steam's buildid (steamapps/appmanifest_222860.acf) names\n"
                "    it; when that build is installed already, nothing is published.\n"
                "\n"
                "    steamcmd runs in a process group of its own and dies with l4d2ctl\n"
                "    (PR_SET_PDEATHSIG; SIGTERM, SIGINT and SIGHUP stop its whole group).\n"
                "    It is stopped when it prints nothing for LEFT4ME_INSTALL_STALL_TIMEOUT\n"
                "    seconds (default 600). The install lock is held until its last\n"
                "    process is gone: an install started while an earlier one (or what\n"
                "    is left of it) still runs waits for it, saying so every 10 s, then\n"
                "    installs as usual, which verifies what the earlier one left.\n"
                "\n"
                "OPTIONS\n"
                "    --validate   verify every file of an existing installation\n"
                "    --json       one JSON object a line: {\"event\":\"line\",\"line\":...},\n"
                "                 {\"event\":\"progress\",\"phase\":\"windows\"|\"linux\",\"state\":...,\n"
                "                 \"percent\":12.34,\"done\":N,\"total\":N},\n"
                "                 {\"event\":\"build\",\"id\":...,\"parent\":...,\"created\":bool,\n"
                "                 \"layer\":\"full\"|\"diff\",\"bytes\":N,\"flattening\":bool}, and last\n"
                "                 {\"event\":\"done\",\"ok\":true|false[,\"error\":...]};\n"
                "                 bytes of a line that are not UTF-8 appear as \\xNN\n"
                "\n"
                "EXIT STATUS\n"
                "    0 on success, 1 on failure with one line 'error: ...' on stderr, 2 on a\n"
                "    usage error.\n",
};
