/* l4d2ctl overlay: list, create, delete, show, build, and the workshop
 * verbs (the same as `l4d2ctl workshop NAME ...`, cmd-workshop.c). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "overlay-script.h"
#include "overlay.h"
#include "strutil.h"

static void print_size(char *buf, size_t size, long long bytes) {
        if (bytes >= 1024LL * 1024 * 1024)
                snprintf(buf, size, "%.1f GiB", (double) bytes / (1024.0 * 1024 * 1024));
        else if (bytes >= 1024 * 1024)
                snprintf(buf, size, "%.1f MiB", (double) bytes / (1024.0 * 1024));
        else
                snprintf(buf, size, "%.1f KiB", (double) bytes / 1024.0);
}

static const char *state_of(const json_t *o) {
        return json_is_true(json_object_get(o, "building")) ? "building"
                                                            : json_string_value(json_object_get(o, "state")) ?: "?";
}

static void running_list(const json_t *o, Buf *out) {
        size_t i;
        json_t *u;
        json_array_foreach(json_object_get(o, "running"), i, u)
                buf_printf(out, "%s%s%s", i ? "," : "", json_string_value(json_object_get(u, "instance")),
                           json_is_true(json_object_get(u, "outdated")) ? "(outdated)" : "");
}

/* ---- list, show ---- */

static int overlay_list_cmd(const HostConfig *c, bool json) {
        Error err = { 0 };
        _cleanup_strv_ char **names = NULL;
        int r = overlay_list(c, &names, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        json_t *all = json_array();
        for (char **n = names; *n; n++) {
                json_t *o = NULL;
                if (overlay_show(c, *n, &o, &err) < 0)
                        o = json_pack("{s:s, s:s, s:s}", "name", *n, "state", "error", "error", err.msg);
                json_array_append_new(all, o);
        }
        if (json) {
                ctl_print_json(json_pack("{s:o}", "overlays", all));
                return 0;
        }
        if (json_array_size(all) == 0)
                printf("no overlays (create one with 'l4d2ctl overlay create NAME --kind workshop')\n");
        else
                printf("%-32s %-9s %-9s %10s %6s  %s\n", "NAME", "KIND", "STATE", "SIZE", "ITEMS", "RUNNING");
        size_t i;
        json_t *o;
        json_array_foreach(all, i, o) {
                char size[32];
                print_size(size, sizeof size, json_integer_value(json_object_get(o, "size")));
                json_t *ws = json_object_get(o, "workshop");
                char items[16] = "-";
                if (ws)
                        snprintf(items, sizeof items, "%lld", (long long) json_integer_value(json_object_get(ws, "items")));
                Buf run = BUF_INIT(4096);
                running_list(o, &run);
                printf("%-32s %-9s %-9s %10s %6s  %s\n", json_string_value(json_object_get(o, "name")),
                       json_string_value(json_object_get(o, "kind")) ?: "?", state_of(o), size, items,
                       run.len ? run.data : "-");
                buf_free(&run);
        }
        json_decref(all);
        return 0;
}

static int overlay_show_cmd(const HostConfig *c, const char *name, bool json) {
        Error err = { 0 };
        json_t *o = NULL;
        int r = overlay_show(c, name, &o, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        if (json) {
                ctl_print_json(o);
                return 0;
        }
        char size[32];
        print_size(size, sizeof size, json_integer_value(json_object_get(o, "size")));
        printf("name:     %s\nkind:     %s\nstate:    %s\nsize:     %s\npath:     %s\n", name,
               json_string_value(json_object_get(o, "kind")), state_of(o), size,
               json_string_value(json_object_get(o, "path")));
        json_t *b = json_object_get(o, "build");
        if (json_is_object(b)) {
                time_t t = (time_t) json_integer_value(json_object_get(b, "started"));
                char when[64];
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
                printf("build:    %s at %s, %.1f s%s%s\nlog:      %s\n",
                       json_is_true(json_object_get(b, "ok")) ? "ok" : "failed", when,
                       (double) json_integer_value(json_object_get(b, "duration_ms")) / 1000.0,
                       *json_string_value(json_object_get(b, "error")) ? ": " : "",
                       json_string_value(json_object_get(b, "error")), json_string_value(json_object_get(b, "log")));
        }
        json_t *ws = json_object_get(o, "workshop");
        if (ws)
                printf("items:    %lld (%lld ok, %lld failed, %lld missing, %lld of another game) from %lld "
                       "sources, %lld not built yet\n",
                       (long long) json_integer_value(json_object_get(ws, "items")),
                       (long long) json_integer_value(json_object_get(ws, "ok")),
                       (long long) json_integer_value(json_object_get(ws, "failed")),
                       (long long) json_integer_value(json_object_get(ws, "missing")),
                       (long long) json_integer_value(json_object_get(ws, "wrong_app")),
                       (long long) json_integer_value(json_object_get(ws, "sources")),
                       (long long) json_integer_value(json_object_get(ws, "pending")));
        Buf run = BUF_INIT(4096);
        running_list(o, &run);
        printf("running:  %s\n", run.len ? run.data : "-");
        buf_free(&run);
        json_decref(o);
        return 0;
}

/* ---- build ---- */

void ctl_build_event(json_t *ev, void *userdata) {
        BuildOut *o = userdata;
        if (o->json) {
                ctl_print_json(json_incref(ev));
                return;
        }
        const char *line = json_string_value(json_object_get(ev, "line"));
        if (line) {
                printf("%s\n", line);
                fflush(stdout);
                return;
        }
        /* A terminal gets a progress line every 5 %. */
        double pct = json_real_value(json_object_get(ev, "percent"));
        if (pct >= o->last_percent + 5.0 || (pct >= 100.0 && o->last_percent < 100.0)) {
                o->last_percent = pct;
                printf("progress: %.1f%% (%.1f of %.1f MiB, %lld of %lld items)\n", pct,
                       (double) json_integer_value(json_object_get(ev, "done")) / 1048576.0,
                       (double) json_integer_value(json_object_get(ev, "total")) / 1048576.0,
                       (long long) json_integer_value(json_object_get(ev, "items_done")),
                       (long long) json_integer_value(json_object_get(ev, "items_total")));
                fflush(stdout);
        }
}

int ctl_build_done(bool json, int r, bool changed, const Error *err) {
        if (json)
                ctl_print_json(r < 0 ? json_pack("{s:s, s:b, s:b, s:s}", "event", "done", "ok", 0, "changed", changed,
                                                 "error", err->msg)
                                     : json_pack("{s:s, s:b, s:b}", "event", "done", "ok", 1, "changed", changed));
        return r < 0 ? ctl_fail(err, r) : 0;
}

static int overlay_build_cmd(const HostConfig *c, const char *name, bool json) {
        BuildOut o = BUILD_OUT_INIT(json);
        Error err = { 0 };
        bool changed = false;
        int r = overlay_build(c, name, ctl_build_event, &o, &changed, &err);
        return ctl_build_done(json, r, changed, &err);
}

/* ---- the group ---- */

static int run_overlay(const HostConfig *c, int argc, char **argv) {
        /* The files verbs parse their own options: their paths may start
         * with '-' after "--". */
        for (int i = 1; i < argc; i++)
                if (argv[i][0] != '-') {
                        if (ctl_is_files_verb(argv[i]))
                                return ctl_overlay_files(c, argc, argv);
                        break;
                }
        bool json = false;
        if ((argc = ctl_common_options("overlay", argc, argv, &json)) < 0)
                return 0;
        if (argc < 2)
                return ctl_usage("overlay", "missing a verb: list, create, delete, show, build, workshop, ls, get, "
                                            "put, mkdir, mv, rm or zip");
        const char *verb = argv[1];
        if (streq(verb, "workshop"))
                return ctl_workshop_verbs(c, argc - 1, argv + 1, json);
        if (streq(verb, "script")) {
                if (argc != 4 || (!streq(argv[3], "set") && !streq(argv[3], "show")))
                        return ctl_usage("overlay", "usage: l4d2ctl overlay script NAME set < script.sh, or "
                                         "l4d2ctl overlay script NAME show");
                Error err = { 0 };
                int r = streq(argv[3], "set") ? overlay_script_set(c, argv[2], STDIN_FILENO, &err)
                                              : overlay_script_show(c, argv[2], STDOUT_FILENO, &err);
                return r < 0 ? ctl_fail(&err, r) : 0;
        }
        if (streq(verb, "list")) {
                if (argc > 2)
                        return ctl_usage("overlay", "unexpected argument '%s'", argv[2]);
                return overlay_list_cmd(c, json);
        }
        if (!streq(verb, "create") && !streq(verb, "delete") && !streq(verb, "show") && !streq(verb, "build"))
                return ctl_usage("overlay", "unknown verb '%s'", verb);
        const char *name = NULL, *kind = NULL;
        for (int i = 2; i < argc; i++) {
                if (streq(verb, "create") && (streq(argv[i], "--kind") || startswith(argv[i], "--kind="))) {
                        if (argv[i][6] == '=')
                                kind = argv[i] + 7;
                        else if (++i < argc)
                                kind = argv[i];
                        else
                                return ctl_usage("overlay", "--kind needs workshop, files or script");
                } else if (argv[i][0] == '-')
                        return ctl_usage("overlay", "unknown option '%s'", argv[i]);
                else if (!name)
                        name = argv[i];
                else
                        return ctl_usage("overlay", "unexpected argument '%s'", argv[i]);
        }
        if (!name)
                return ctl_usage("overlay", "missing overlay NAME");
        Error err = { 0 };
        int r;
        if (streq(verb, "show"))
                return overlay_show_cmd(c, name, json);
        if (streq(verb, "build"))
                return overlay_build_cmd(c, name, json);
        if (streq(verb, "delete")) {
                r = overlay_delete(c, name, &err);
                return r < 0 ? ctl_fail(&err, r) : 0;
        }
        OverlayKind k;
        if (!kind)
                return ctl_usage("overlay", "create needs --kind workshop, files or script");
        if (overlay_kind_from_string(kind, &k) < 0)
                return ctl_usage("overlay", "unknown kind '%s': use workshop, files or script", kind);
        if ((r = overlay_create(c, name, k, &err)) < 0)
                return ctl_fail(&err, r);
        if (json)
                return overlay_show_cmd(c, name, true);
        printf("created %s overlay '%s'\n", kind, name);
        return 0;
}

const Command cmd_overlay = {
        .name = "overlay",
        .run = run_overlay,
        .summary = "manage overlays: Workshop content, files, scripts",
        .help = "NAME\n"
                "    l4d2ctl overlay - manage the overlays instances stack over the game\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl overlay list [--json]\n"
                "    l4d2ctl overlay create NAME --kind workshop|files|script [--json]\n"
                "    l4d2ctl overlay delete NAME\n"
                "    l4d2ctl overlay show NAME [--json]\n"
                "    l4d2ctl overlay build NAME [--json]\n"
                "    l4d2ctl overlay ls NAME [PATH] [--json]\n"
                "    l4d2ctl overlay get NAME PATH > FILE\n"
                "    l4d2ctl overlay put NAME PATH [--size BYTES] [--json] < FILE\n"
                "    l4d2ctl overlay mkdir NAME PATH\n"
                "    l4d2ctl overlay mv NAME FROM TO\n"
                "    l4d2ctl overlay rm NAME PATH [--recursive]\n"
                "    l4d2ctl overlay zip NAME [PATH] > FILE.zip\n"
                "    l4d2ctl overlay script NAME set < script.sh\n"
                "    l4d2ctl overlay script NAME show\n"
                "    l4d2ctl overlay workshop NAME add ID|URL...\n"
                "    l4d2ctl overlay workshop NAME remove ID|URL...\n"
                "    l4d2ctl overlay workshop NAME items [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    An overlay is a directory, STATE/overlays/NAME, that instances name in\n"
                "    their spec and stack over the installation with overlayfs (the first\n"
                "    overlay wins). Directories made there by hand keep working (kind\n"
                "    'manual'); managed overlays have a kind and are built:\n"
                "\n"
                "    workshop  Steam Workshop items and collections (see 'l4d2ctl workshop\n"
                "              --help'), downloaded once into a shared cache and linked in\n"
                "              as left4dead2/addons/ID.vpk\n"
                "    files     a working tree (STATE/overlay-store/work/NAME), edited with\n"
                "              the verbs below and published as a hard-link snapshot by\n"
                "              build, and by the start of an instance that stacks it\n"
                "    script    built by a bash script in a sandbox (see below)\n"
                "\n"
                "    A build never changes what a running server sees: it makes a fresh tree\n"
                "    and swaps it in with one rename; the old tree stays, retired, for as long\n"
                "    as a mounted instance uses it. New content reaches a server when it is\n"
                "    next started ('running' marks such servers 'outdated').\n"
                "\n"
                "    list     every overlay with its kind, state (new, ready, failed,\n"
                "             building), size and the running instances that use it\n"
                "    create   a managed overlay; it is published empty at once\n"
                "    delete   removes an overlay, refused while a running instance uses it;\n"
                "             a missing overlay is not an error\n"
                "    show     one overlay, with its last build (outcome, duration, log)\n"
                "    build    builds it now: for a workshop overlay, resolves its items and\n"
                "             collections and downloads what the cache lacks. One build of\n"
                "             an overlay at a time; the overlay keeps its last good content\n"
                "             when a build fails\n"
                "    workshop the verbs of 'l4d2ctl workshop NAME ...'\n"
                "\n"
                "  Files overlays (PATH is relative to the overlay's top folder):\n"
                "    ls       a folder's entries (name, type file|folder|symlink|other,\n"
                "             size, mtime), or one file; no PATH: the top folder\n"
                "    get      a file's bytes, unchanged, on stdout\n"
                "    put      a file from stdin, streamed to disk and put in place only\n"
                "             when complete (missing folders are made): a put that fails,\n"
                "             is killed, or with --size gets fewer bytes, leaves nothing\n"
                "    mkdir    a folder and any missing folders above it\n"
                "    mv       renames or moves a file or folder; TO must not exist, and a\n"
                "             folder cannot move into itself\n"
                "    rm       a file or an empty folder; a full one with --recursive\n"
                "    zip      a folder (or file) as a zip on stdout, named after it\n"
                "    Paths are checked before anything is opened: no '..', '.', absolute\n"
                "    paths, backslashes, URL escapes (%2e), control characters, invalid\n"
                "    UTF-8, names of only dots and spaces, names over 255 or paths over\n"
                "    4095 bytes; no symlink is followed and nothing but files and folders\n"
                "    is read or made. Edits do not change what a running server sees:\n"
                "    they reach a server when it is next started (show's files.pending).\n"
                "    A path that starts with '-' goes after '--'.\n"
                "\n"
                "  Script overlays:\n"
                "    script set   stores the script (stdin, at most 1 MiB) as\n"
                "                 STATE/builds/NAME/script.sh; show prints it\n"
                "    build        runs it in a sandbox: the OS read-only, the network,\n"
                "                 nothing of the state or config dir, and a fresh folder\n"
                "                 at /overlay (its working directory) that replaces the\n"
                "                 overlay only if the script exits 0 within its limits;\n"
                "                 else the overlay keeps its content and the error says\n"
                "                 which limit it hit. Its output comes as it is written\n"
                "                 ({\"event\":\"output\",\"line\":...} with --json). With\n"
                "                 systemd (the systemd backend) the sandbox is the unit\n"
                "                 left4me-build@NAME.service, else bubblewrap (bwrap) in a\n"
                "                 cgroup of its own when l4d2ctl is root, else with rlimits\n"
                "                 (the first line of the build says which)\n"
                "\n"
                "OPTIONS\n"
                "    --kind KIND  workshop, files or script (create)\n"
                "    --size BYTES put: the upload's length; fewer bytes are refused\n"
                "    -r, --recursive  rm: a folder and everything in it\n"
                "    --json       machine-readable output: list gives {\"overlays\":[...]},\n"
                "                 show and create the overlay object, build one event per\n"
                "                 line ({\"event\":\"item\"|\"progress\"|\"line\"|\"problem\"|\n"
                "                 \"resolved\",...}), last {\"event\":\"done\",\"ok\":...}; see\n"
                "                 docs/l4d2ctl-contract.md\n"
                "\n"
                "FILES\n"
                "    STATE/overlays/NAME             what instances mount\n"
                "    STATE/overlay-store/meta/NAME.json  kind, state, size, items, last build\n"
                "    STATE/overlay-store/logs/NAME/  the newest build logs\n"
                "    STATE/overlay-store/retired/    replaced trees still in use\n"
                "    STATE/overlay-store/work/NAME/  a files overlay's working tree\n"
                "    STATE/builds/NAME/script.sh     a script overlay's script\n"
                "    STATE/workshop-cache/           one file per Workshop item version\n"
                "\n"
                "ENVIRONMENT\n"
                "    LEFT4ME_FILES_MAX_FILE_SIZE (default 4G) and\n"
                "    LEFT4ME_FILES_MAX_OVERLAY_SIZE (default 20G): the limits of a files\n"
                "    overlay's files, one and all together (K, M, G, T; 0 or infinity for\n"
                "    none); in host.env or the environment\n"
                "    LEFT4ME_BUILD_SANDBOX (auto, unit or bwrap), LEFT4ME_BUILD_TIMEOUT\n"
                "    (seconds, 1800), LEFT4ME_BUILD_MEMORY_MAX (2G), LEFT4ME_BUILD_TASKS_MAX\n"
                "    (512), LEFT4ME_BUILD_CPU_QUOTA (% of one core, 100),\n"
                "    LEFT4ME_BUILD_MAX_SIZE (of the output, 20G), LEFT4ME_BUILD_USER (bwrap\n"
                "    as root: who runs the script; left4me if it exists, else nobody),\n"
                "    LEFT4ME_BWRAP. The unit's memory, task and cpu caps are in its unit\n"
                "    file (build-sandbox.conf)\n"
                "\n"
                "EXIT STATUS\n"
                "    0 on success, 1 on failure with one line 'error: ...' on stderr (a build\n"
                "    with failed items fails, after publishing the items that worked), 2 on\n"
                "    a usage error.\n",
};
