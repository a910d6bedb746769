#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* {"event":"done","ok":true[,"build":"12345678"]}. */
static json_t *done_ok(const HostConfig *c) {
        char build[32];
        json_t *j = json_pack("{s:s, s:b}", "event", "done", "ok", 1);
        if (j && steamcmd_installed_build(c, build, sizeof build) == 0)
                json_object_set_new(j, "build", json_string(build));
        return j;
}

static int run_install(const HostConfig *c, int argc, char **argv) {
        Out o = { 0 };
        if ((argc = ctl_common_options("install", argc, argv, &o.json)) < 0)
                return 0;
        bool validate = false, force = false;
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--validate"))
                        validate = true;
                else if (streq(argv[i], "--force"))
                        force = true;
                else
                        return ctl_usage("install", "unexpected argument '%s'", argv[i]);
        }
        Error err = { 0 };
        int r = steamcmd_install(c, validate, force, on_install, &o, &err);
        if (o.json) {
                /* The last event always comes, whatever bytes the error quotes. */
                _cleanup_free_ char *msg = utf8_escape(err.msg);
                ctl_print_json(r < 0 ? json_pack("{s:s, s:b, s:s}", "event", "done", "ok", 0, "error",
                                                 msg ? msg : "out of memory")
                                     : done_ok(c));
        }
        if (r < 0)
                return ctl_fail(&err, r);
        if (!o.json)
                printf("installed: %s/installation\n", c->state_dir);
        return 0;
}

const Command cmd_install = {
        .name = "install",
        .run = run_install,
        .summary = "install or update the game with steamcmd",
        .help = "NAME\n"
                "    l4d2ctl install - install or update Left 4 Dead 2 (app 222860)\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl install [--validate] [--force] [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    Runs steamcmd (LEFT4ME_STEAMCMD, else 'steamcmd' from PATH) to install\n"
                "    or update the dedicated server into STATE/installation, which every\n"
                "    instance shares read-only. steamcmd's HOME is STATE/steam.\n"
                "\n"
                "    An anonymous Linux install of app 222860 fails with 'Invalid platform';\n"
                "    a fresh install therefore runs a first pass with the platform forced to\n"
                "    windows, then 'app_update 222860 validate' with linux. Success is judged\n"
                "    by steamcmd's 'Success!' line and a srcds_run in the installation, not\n"
                "    by steamcmd's exit code, which is unreliable.\n"
                "\n"
                "    Updating files under running servers is unsafe, so install refuses\n"
                "    while instances run, unless --force.\n"
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
                "    --force      install even while instances are running\n"
                "    --json       one JSON object a line: {\"event\":\"line\",\"line\":...},\n"
                "                 {\"event\":\"progress\",\"phase\":\"windows\"|\"linux\",\"state\":...,\n"
                "                 \"percent\":12.34,\"done\":N,\"total\":N}, and last\n"
                "                 {\"event\":\"done\",\"ok\":true|false[,\"build\":\"ID\"][,\"error\":...]}\n"
                "                 (build: the build steamcmd installed, when it says);\n"
                "                 bytes of a line that are not UTF-8 appear as \\xNN\n"
                "\n"
                "EXIT STATUS\n"
                "    0 on success, 1 on failure with one line 'error: ...' on stderr, 2 on a\n"
                "    usage error.\n",
};
