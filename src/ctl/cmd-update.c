/* l4d2ctl update check|fetch|canary|migrate|run: game updates without fleet
 * downtime (issue 14). The host library decides; this file gives it A2S and
 * RCON (src/proto), which it cannot link, and prints. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "a2s.h"
#include "build.h"
#include "canary.h"
#include "ctl.h"
#include "rcon.h"
#include "strutil.h"
#include "update.h"

/* ---- what the host library asks of a server ---- */

static int probe_a2s(uint16_t port, int timeout_ms, char *map, size_t map_size) {
        _cleanup_a2s_ A2sClient *a = NULL;
        if (a2s_open("127.0.0.1", port, &a, NULL) < 0)
                return 0;
        a2s_set_timeout(a, timeout_ms);
        A2sInfo info = { 0 };
        if (a2s_info(a, &info, NULL) < 0)
                return 0;
        if (map)
                snprintf(map, map_size, "%s", info.map ? info.map : "");
        a2s_info_done(&info);
        return 1;
}

static int probe_rcon(uint16_t port, const char *password, const char *command, char **ret, Error *err) {
        _cleanup_rcon_ RconClient *r = NULL;
        int k = rcon_connect("127.0.0.1", port, 5000, &r, err);
        if (k < 0)
                return k;
        rcon_set_timeout(r, 10000);
        rcon_set_response_max(r, 1 << 20);
        if ((k = rcon_auth(r, password, err)) < 0)
                return k;
        size_t len;
        return rcon_exec(r, command, ret, &len, err);
}

static const CanaryProbes probes = { .a2s = probe_a2s, .rcon = probe_rcon };

/* Humans on a server: A2S players minus bots; -1 without an answer. */
static int humans_of(uint16_t port, void *userdata) {
        _cleanup_a2s_ A2sClient *a = NULL;
        if (a2s_open("127.0.0.1", port, &a, NULL) < 0)
                return -1;
        a2s_set_timeout(a, 2000);
        A2sInfo info = { 0 };
        if (a2s_info(a, &info, NULL) < 0)
                return -1;
        int h = info.players >= info.bots ? info.players - info.bots : 0;
        a2s_info_done(&info);
        return h;
}

/* ---- output ---- */

typedef struct Out {
        bool json;
        unsigned failed, passed;
} Out;

static const char *joined(json_t *a, char *buf, size_t size) {
        size_t o = 0, i;
        json_t *v;
        buf[0] = '\0';
        json_array_foreach(a, i, v)
                if (o < size)
                        o += (size_t) snprintf(buf + o, size - o, "%s%s", i ? ", " : "", json_string_value(v));
        return o ? buf : "-";
}

static void on_canary(json_t *ev, void *userdata) {
        Out *o = userdata;
        const char *state = json_string_value(json_object_get(ev, "state")) ?: "";
        json_t *rep = json_object_get(ev, "report");
        const char *verdict = json_string_value(json_object_get(rep, "verdict"));
        if (verdict && streq(state, "done")) {
                if (streq(verdict, "pass"))
                        o->passed++;
                else
                        o->failed++;
        }
        if (o->json) {
                ctl_print_json(json_incref(ev));
                return;
        }
        char ov[512], inst[512];
        const char *build = json_string_value(json_object_get(ev, "build"));
        const char *stack = json_string_value(json_object_get(ev, "stack"));
        if (streq(state, "started")) {
                const char *base = json_string_value(json_object_get(ev, "baseline"));
                printf("canary of build %s on stack %.8s (overlays: %s; servers: %s): started, baseline %s\n", build,
                       stack, joined(json_object_get(ev, "overlays"), ov, sizeof ov),
                       joined(json_object_get(ev, "instances"), inst, sizeof inst), base && *base ? base : "none");
        } else if (streq(state, "error"))
                printf("canary of build %s on stack %.8s: could not run: %s\n", build, stack,
                       ctl_shown(json_string_value(json_object_get(ev, "error"))));
        else if (rep) {
                printf("canary of build %s on stack %.8s: %s%s (%.1f s)\n", build, stack,
                       verdict && streq(verdict, "pass") ? "passed" : "FAILED", streq(state, "kept") ? ", as before" : "",
                       json_integer_value(json_object_get(rep, "duration_ms")) / 1000.0);
                size_t i;
                json_t *f;
                json_array_foreach(json_object_get(rep, "failures"), i, f)
                        printf("    %s: %s\n", json_string_value(json_object_get(f, "check")),
                               ctl_shown(json_string_value(json_object_get(f, "detail"))));
        }
        fflush(stdout);
}

static void on_migrate(json_t *ev, void *userdata) {
        Out *o = userdata;
        if (o->json) {
                ctl_print_json(json_incref(ev));
                return;
        }
        const char *kind = json_string_value(json_object_get(ev, "event")) ?: "";
        const char *name = json_string_value(json_object_get(ev, "name"));
        if (streq(kind, "migrated"))
                printf("%s: moved from build %s to %s (%s)\n", name, json_string_value(json_object_get(ev, "from")),
                       json_string_value(json_object_get(ev, "to")),
                       streq(json_string_value(json_object_get(ev, "reason")) ?: "", "empty")
                               ? "nobody played on it"
                               : "its update_deadline passed");
        else if (streq(kind, "pending")) {
                long long humans = json_integer_value(json_object_get(ev, "humans"));
                printf("%s: waits to move from build %s to %s (%s)\n", name,
                       json_string_value(json_object_get(ev, "from")), json_string_value(json_object_get(ev, "to")),
                       humans < 0 ? "it does not answer A2S" : humans > 0 ? "players are on" : "empty, not long enough");
        } else if (streq(kind, "migrate-failed"))
                printf("%s: could not move to build %s: %s\n", name, json_string_value(json_object_get(ev, "to")),
                       ctl_shown(json_string_value(json_object_get(ev, "error"))));
        fflush(stdout);
}

static int done(bool json, int r, const Error *err, json_t *extra) {
        if (json) {
                json_t *d = json_pack("{s:s, s:b}", "event", "done", "ok", r >= 0);
                if (d && r < 0)
                        json_object_set_new(d, "error", json_string(error_msg(err)));
                if (d && extra)
                        json_object_update(d, extra);
                ctl_print_json(d);
        }
        json_decref(extra);
        return r < 0 ? ctl_fail(err, r) : 0;
}

/* ---- verbs ---- */

static int parse_seconds(const char *s, double *ret) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || *end || !(v >= 0 && v <= 86400))
                return -EINVAL;
        *ret = v;
        return 0;
}

/* migrate's and run's only option, --wait SECONDS: 0 or a usage error. */
static int wait_option(int argc, char **argv, double *ret) {
        for (int i = 2; i < argc; i++) {
                if (streq(argv[i], "--wait") && i + 1 < argc) {
                        if (parse_seconds(argv[++i], ret) < 0)
                                return ctl_usage("update", "--wait needs seconds from 0 to 86400, not '%s'", argv[i]);
                } else
                        return ctl_usage("update", "unexpected argument '%s'", argv[i]);
        }
        return 0;
}

static int verb_check(const HostConfig *c, int argc, char **argv, bool json) {
        unsigned sources = 0;
        for (int i = 2; i < argc; i++) {
                if (!streq(argv[i], "--source") || i + 1 >= argc)
                        return ctl_usage("update", "unexpected argument '%s'", argv[i]);
                const char *s = argv[++i];
                if (streq(s, "api"))
                        sources |= UPDATE_SOURCE_API;
                else if (streq(s, "steamcmd"))
                        sources |= UPDATE_SOURCE_STEAMCMD;
                else if (streq(s, "console"))
                        sources |= UPDATE_SOURCE_CONSOLE;
                else
                        return ctl_usage("update", "--source needs api, steamcmd or console, not '%s'", s);
        }
        Error err = { 0 };
        json_t *res = NULL;
        int r = update_check(c, sources ? sources : UPDATE_SOURCE_ALL, &res, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        if (json) {
                ctl_print_json(res);
                return 0;
        }
        printf("%s (installed: build %s, PatchVersion %s)\n",
               streq(json_string_value(json_object_get(res, "state")), "available") ? "an update is available"
               : streq(json_string_value(json_object_get(res, "state")), "current") ? "up to date"
                                                                                     : "unknown",
               json_string_value(json_object_get(json_object_get(res, "installed"), "build")),
               json_string_value(json_object_get(json_object_get(res, "installed"), "patch_version")));
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(res, "sources"), i, s)
                printf("    %-8s %-9s %s\n", json_string_value(json_object_get(s, "source")),
                       json_string_value(json_object_get(s, "state")),
                       ctl_shown(json_string_value(json_object_get(s, "detail"))));
        json_decref(res);
        return 0;
}

static int verb_canary(const HostConfig *c, int argc, char **argv, bool json) {
        CanaryRun run = { .probes = &probes, .cb = on_canary };
        for (int i = 2; i < argc; i++) {
                if (streq(argv[i], "--force"))
                        run.force = true;
                else if (streq(argv[i], "--retry"))
                        run.retry_failed = true;
                else if (argv[i][0] != '-' && !run.build)
                        run.build = argv[i];
                else
                        return ctl_usage("update", "unexpected argument '%s'", argv[i]);
        }
        Out o = { .json = json };
        run.userdata = &o;
        Error err = { 0 };
        json_t *reports = NULL;
        int r = canary_run(c, &run, &reports, &err);
        json_decref(reports);
        if (!json && r >= 0 && o.passed + o.failed == 0)
                printf("no canary to run: every stack has a verdict (--force runs them again)\n");
        return done(json, r, &err, json_pack("{s:i, s:i}", "passed", o.passed, "failed", o.failed));
}

static int migrate_loop(const HostConfig *c, Out *o, double wait_s, unsigned *ret_pending, Error *err) {
        UpdateSettings set;
        int r = update_settings_load(c, &set, err);
        if (r < 0)
                return r;
        MigrateRun run = { .humans = humans_of, .cb = on_migrate, .userdata = o };
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        /* A pass restarts servers: a SIGTERM (the panel stopping) waits
         * until the pass is over, so no server is left stopped halfway
         * through its restart; it ends the loop between passes. */
        sigset_t stop, old;
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGHUP);
        for (;;) {
                unsigned pending = 0;
                sigprocmask(SIG_BLOCK, &stop, &old);
                r = update_migrate(c, &run, &pending, err);
                sigprocmask(SIG_SETMASK, &old, NULL);
                if (r < 0)
                        return r;
                *ret_pending = pending;
                clock_gettime(CLOCK_MONOTONIC, &now);
                double spent = (double) (now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9;
                if (pending == 0 || spent + set.migrate_poll_ms / 1000.0 > wait_s)
                        return 0;
                usleep((useconds_t) set.migrate_poll_ms * 1000);
        }
}

static int verb_migrate(const HostConfig *c, int argc, char **argv, bool json) {
        double wait_s = 0;
        int u = wait_option(argc, argv, &wait_s);
        if (u)
                return u;
        Out o = { .json = json };
        Error err = { 0 };
        unsigned pending = 0;
        int r = migrate_loop(c, &o, wait_s, &pending, &err);
        return done(json, r, &err, json_pack("{s:i}", "pending", pending));
}

/* The fleet job: check; fetch when a build is available; canaries for
 * stacks without a verdict (and failed ones due again); one migration
 * pass. */
static int verb_run(const HostConfig *c, int argc, char **argv, bool json) {
        double wait_s = 0;
        int u = wait_option(argc, argv, &wait_s);
        if (u)
                return u;
        Error err = { 0 };
        json_t *check = NULL;
        int r = update_check(c, UPDATE_SOURCE_ALL, &check, &err);
        if (r == -ENOENT) {
                /* Not installed yet: nothing to update (install does it). */
                if (!json)
                        printf("no game installation yet: nothing to update\n");
                return done(json, 0, &err, json_pack("{s:b}", "installed", false));
        }
        if (r < 0)
                return done(json, r, &err, NULL);
        const char *state = json_string_value(json_object_get(check, "state"));
        bool available = streq(state, "available");
        if (json) {
                json_t *ev = json_pack("{s:s}", "event", "check");
                json_object_update(ev, check);
                ctl_print_json(ev);
        } else
                printf("update check: %s\n", state);
        json_decref(check);
        if (available && (r = ctl_fetch_events(c, false, json, &err)) < 0)
                return done(json, r, &err, NULL);
        Out o = { .json = json };
        CanaryRun run = { .probes = &probes, .cb = on_canary, .userdata = &o, .retry_failed = true };
        json_t *reports = NULL;
        if ((r = canary_run(c, &run, &reports, &err)) < 0 && r != -EBUSY)
                return done(json, r, &err, NULL);
        json_decref(reports);
        unsigned pending = 0;
        r = migrate_loop(c, &o, wait_s, &pending, &err);
        return done(json, r, &err,
                    json_pack("{s:b, s:i, s:i, s:i}", "available", available, "passed", o.passed, "failed", o.failed,
                              "pending", pending));
}

static int run_update(const HostConfig *c, int argc, char **argv) {
        bool json = false;
        if ((argc = ctl_common_options("update", argc, argv, &json)) < 0)
                return 0;
        if (argc < 2)
                return ctl_usage("update", "missing a verb (check, fetch, canary, migrate or run)");
        const char *verb = argv[1];
        if (streq(verb, "check"))
                return verb_check(c, argc, argv, json);
        if (streq(verb, "fetch")) {
                /* ctl_fetch parses again: give it back --json. */
                char *av[16];
                int n = 0;
                for (int i = 1; i < argc && n < 14; i++)
                        av[n++] = argv[i];
                if (json)
                        av[n++] = (char *) "--json";
                av[n] = NULL;
                return ctl_fetch(c, "update", n, av);
        }
        if (streq(verb, "canary"))
                return verb_canary(c, argc, argv, json);
        if (streq(verb, "migrate"))
                return verb_migrate(c, argc, argv, json);
        if (streq(verb, "run"))
                return verb_run(c, argc, argv, json);
        return ctl_usage("update", "unknown verb '%s' (check, fetch, canary, migrate or run)", verb);
}

const Command cmd_update = {
        .name = "update",
        .run = run_update,
        .summary = "game updates: check, fetch beside running servers, canary, migrate",
        .help = "NAME\n"
                "    l4d2ctl update - game updates without fleet downtime\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl update check [--source api|steamcmd|console]... [--json]\n"
                "    l4d2ctl update fetch [--validate] [--json]\n"
                "    l4d2ctl update canary [BUILD] [--force] [--retry] [--json]\n"
                "    l4d2ctl update migrate [--wait SECONDS] [--json]\n"
                "    l4d2ctl update run [--wait SECONDS] [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    check asks three sources whether Steam has a newer build than the\n"
                "    newest installed one: the Steam Web API's ISteamApps/UpToDateCheck with\n"
                "    the installed PatchVersion (left4dead2/steam.inf; LEFT4ME_STEAM_API_URL,\n"
                "    LEFT4ME_STEAM_API_TIMEOUT), steamcmd's app_info_print with its cached\n"
                "    appinfo.vdf removed first (LEFT4ME_UPDATE_CHECK_TIMEOUT), and the\n"
                "    newest MasterRequestRestart that 'l4d2ctl watch' saw in a server's\n"
                "    console. A source that times out, answers nothing, something that\n"
                "    cannot be parsed, or a build older than the installed one says\n"
                "    unknown, never available. The answer is available when a source has\n"
                "    evidence, current when one confirms and none has, else unknown.\n"
                "\n"
                "    fetch is 'l4d2ctl install': the newest build, into a staging tree\n"
                "    beside the published builds, after checking free disk; it touches no\n"
                "    running server.\n"
                "\n"
                "    canary tries a build (the newest by default) on every distinct overlay\n"
                "    stack of the instances that follow builds and has no verdict yet: a\n"
                "    hidden clone of one of its servers on the new build (a spare port, a\n"
                "    random sv_password; 'list' and the panel never show it) and at the same\n"
                "    time one on the build the stack runs now. Checks: A2S_INFO within\n"
                "    LEFT4ME_CANARY_A2S_TIMEOUT (60 s); RCON 'version' shows the build's\n"
                "    PatchVersion; 'meta version' and 'sm version' answer; failed entries\n"
                "    of 'sm exts list' and 'sm plugins list'; new lines in SourceMod's error\n"
                "    logs; a changelevel and A2S again; no exit for LEFT4ME_CANARY_ALIVE\n"
                "    (120 s). The verdict is what fails only on the new build, each plugin\n"
                "    and extension by name. LEFT4ME_CANARY_PARALLEL (3) stacks run at once.\n"
                "    --force runs stacks that have a verdict again; --retry failed ones\n"
                "    older than LEFT4ME_CANARY_RETRY (30 min).\n"
                "\n"
                "    migrate moves running servers that follow builds (or whose pin changed)\n"
                "    onto the build they would start on now: when they have had no humans\n"
                "    (A2S players minus bots) for LEFT4ME_MIGRATE_EMPTY (60 s), or once the\n"
                "    spec's update_deadline has passed, never with players on before. A\n"
                "    stopped server moves at its next start. One pass, or with --wait a pass\n"
                "    every LEFT4ME_MIGRATE_POLL (10 s) until none waits or SECONDS passed.\n"
                "    What the passes saw is kept in STATE/install-store/state/migrate.json.\n"
                "\n"
                "    run is what the panel runs for a host every 5 minutes: check, fetch\n"
                "    when a build is available, canaries (failed ones again when due), and\n"
                "    migrate.\n"
                "\n"
                "OUTPUT\n"
                "    check --json: {\"state\":\"available\"|\"current\"|\"unknown\",\"time\",\n"
                "    \"installed\":{\"build\",\"patch_version\"},\"sources\":[{\"source\":\"api\"|\n"
                "    \"steamcmd\"|\"console\",\"state\",\"detail\",...}]}. The other verbs print one\n"
                "    event a line: {\"event\":\"canary\",\"state\":\"started\"|\"done\"|\"kept\"|\n"
                "    \"error\",\"build\",\"stack\",\"report\":{...}}, {\"event\":\"migrated\",\"name\",\n"
                "    \"from\",\"to\",\"reason\":\"empty\"|\"deadline\"}, {\"event\":\"pending\",...},\n"
                "    {\"event\":\"migrate-failed\",...}, fetch's events, and last\n"
                "    {\"event\":\"done\",\"ok\":bool,...}.\n"
                "\n"
                "EXIT STATUS\n"
                "    0 on success (a failed canary is a result, not an error), 1 on failure\n"
                "    with one line 'error: ...' on stderr, 2 on a usage error.\n",
};
