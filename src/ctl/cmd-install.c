#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "steamcmd.h"
#include "strutil.h"

typedef struct Out {
        bool json;
        double last_percent;
        const char *last_phase;
} Out;

static void on_install(const char *line, const InstallProgress *p, void *userdata) {
        Out *o = userdata;
        if (!p) {
                if (o->json)
                        ctl_print_json(json_pack("{s:s, s:s}", "event", "line", "line", line));
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
        if (o.json)
                ctl_print_json(r < 0 ? json_pack("{s:s, s:b, s:s}", "event", "done", "ok", 0, "error", err.msg)
                                     : json_pack("{s:s, s:b}", "event", "done", "ok", 1));
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
                "OPTIONS\n"
                "    --validate   verify every file of an existing installation\n"
                "    --force      install even while instances are running\n"
                "    --json       one JSON object a line: {\"event\":\"line\",\"line\":...},\n"
                "                 {\"event\":\"progress\",\"phase\":\"windows\"|\"linux\",\"state\":...,\n"
                "                 \"percent\":12.34,\"done\":N,\"total\":N}, and last\n"
                "                 {\"event\":\"done\",\"ok\":true|false[,\"error\":...]}\n"
                "\n"
                "EXIT STATUS\n"
                "    0 on success, 1 on failure with one line 'error: ...' on stderr, 2 on a\n"
                "    usage error.\n",
};
