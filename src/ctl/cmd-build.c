/* l4d2ctl builds, build gc|flatten, pin: the game builds side by side
 * (src/host/build.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build.h"
#include "canary.h"
#include "ctl.h"
#include "instance.h"
#include "strutil.h"

/* One build as `builds --json` shows it. */
static json_t *build_json(const HostConfig *c, const BuildInfo *b, json_t *usage) {
        json_t *u = json_object_get(usage, b->id);
        json_t *reports = NULL;
        if (canary_reports(c, b->id, &reports) < 0)
                reports = json_object();
        size_t depth = 0;
        _cleanup_strv_ char **chain = NULL;
        (void) build_chain(c, b->id, &chain, &depth, NULL);
        json_t *instances = json_object_get(u, "instances"), *pinned = json_object_get(u, "pinned");
        instances = instances ? json_incref(instances) : json_array();
        pinned = pinned ? json_incref(pinned) : json_array();
        return json_pack("{s:s, s:s?, s:s, s:I, s:I, s:s, s:I, s:b, s:s, s:b, s:b, s:I, s:o, s:o, s:o}", "id", b->id,
                         "parent", b->parent[0] ? b->parent : NULL, "layer", b->diff ? "diff" : "full", "depth",
                         (json_int_t) depth, "bytes", (json_int_t) b->bytes, "patch_version", b->patch_version,
                         "created", (json_int_t) b->created, "trusted", b->trusted, "trusted_why", b->trusted_why,
                         "flattened", b->flattened, "passing", build_passing(c, b), "refcount",
                         (json_int_t) json_integer_value(json_object_get(u, "refcount")), "instances", instances,
                         "pinned", pinned, "canary", reports);
}

static int run_builds(const HostConfig *c, int argc, char **argv) {
        bool json = false;
        if ((argc = ctl_common_options("builds", argc, argv, &json)) < 0)
                return 0;
        if (argc > 1)
                return ctl_usage("builds", "unexpected argument '%s'", argv[1]);
        Error err = { 0 };
        _cleanup_free_ BuildInfo *v = NULL;
        size_t n = 0;
        json_t *usage = NULL;
        bool exact = true;
        int r = build_list(c, &v, &n, &err);
        if (r >= 0)
                r = build_usage(c, &usage, &exact, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        json_t *all = json_array();
        for (size_t i = 0; all && i < n; i++)
                json_array_append_new(all, build_json(c, &v[i], usage));
        json_decref(usage);
        if (!all)
                return ctl_fail(&err, -ENOMEM);
        if (json) {
                ctl_print_json(json_pack("{s:o, s:b}", "builds", all, "usage_exact", exact));
                return 0;
        }
        if (n == 0)
                printf("no builds: run 'l4d2ctl install'\n");
        else
                printf("%-12s %-12s %-5s %5s %10s %4s  %s\n", "BUILD", "PARENT", "LAYER", "DEPTH", "SIZE", "REFS",
                       "CANARY");
        size_t i;
        json_t *b;
        json_array_foreach(all, i, b) {
                const char *k;
                json_t *rep;
                unsigned pass = 0, fail = 0;
                json_object_foreach(json_object_get(b, "canary"), k, rep) {
                        if (streq(json_string_value(json_object_get(rep, "verdict")) ?: "", "pass"))
                                pass++;
                        else
                                fail++;
                }
                char canary[96];
                if (json_is_true(json_object_get(b, "trusted")))
                        snprintf(canary, sizeof canary, "trusted (%s)",
                                 json_string_value(json_object_get(b, "trusted_why")));
                else if (pass + fail == 0)
                        snprintf(canary, sizeof canary, "not tested");
                else
                        snprintf(canary, sizeof canary, "%u passed, %u failed", pass, fail);
                const char *parent = json_string_value(json_object_get(b, "parent"));
                printf("%-12s %-12s %-5s %5lld %9.1fM %4lld  %s\n", json_string_value(json_object_get(b, "id")),
                       parent ? parent : "-", json_string_value(json_object_get(b, "layer")),
                       (long long) json_integer_value(json_object_get(b, "depth")),
                       json_integer_value(json_object_get(b, "bytes")) / 1048576.0,
                       (long long) json_integer_value(json_object_get(b, "refcount")), canary);
        }
        json_decref(all);
        return 0;
}

static int run_build(const HostConfig *c, int argc, char **argv) {
        bool json = false;
        if ((argc = ctl_common_options("build", argc, argv, &json)) < 0)
                return 0;
        if (argc < 2)
                return ctl_usage("build", "missing gc or flatten");
        Error err = { 0 };
        int r;
        if (streq(argv[1], "gc")) {
                if (argc > 2)
                        return ctl_usage("build", "unexpected argument '%s'", argv[2]);
                json_t *removed = NULL;
                if ((r = build_gc(c, &removed, &err)) < 0)
                        return ctl_fail(&err, r);
                if (json)
                        ctl_print_json(json_pack("{s:o}", "removed", removed));
                else {
                        size_t i;
                        json_t *id;
                        json_array_foreach(removed, i, id)
                                printf("removed build %s\n", json_string_value(id));
                        if (json_array_size(removed) == 0)
                                printf("no build to remove\n");
                        json_decref(removed);
                }
                return 0;
        }
        if (streq(argv[1], "flatten")) {
                if (argc != 3)
                        return ctl_usage("build", argc < 3 ? "missing the build ID" : "unexpected argument '%s'",
                                         argc < 3 ? "" : argv[3]);
                if ((r = build_flatten(c, argv[2], &err)) < 0)
                        return ctl_fail(&err, r);
                if (!json)
                        printf("build %s is one full layer\n", argv[2]);
                return 0;
        }
        return ctl_usage("build", "unknown verb '%s' (gc or flatten)", argv[1]);
}

static int run_pin(const HostConfig *c, int argc, char **argv) {
        bool json = false;
        if ((argc = ctl_common_options("pin", argc, argv, &json)) < 0)
                return 0;
        bool restart = true;
        const char *name = NULL, *build = NULL;
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--no-restart"))
                        restart = false;
                else if (argv[i][0] == '-')
                        return ctl_usage("pin", "unknown option '%s'", argv[i]);
                else if (!name)
                        name = argv[i];
                else if (!build)
                        build = argv[i];
                else
                        return ctl_usage("pin", "unexpected argument '%s'", argv[i]);
        }
        if (!build)
                return ctl_usage("pin", name ? "missing BUILD (a build id, or follow)" : "missing instance NAME");
        Error err = { 0 };
        int r = instance_pin(c, name, build, restart, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        json_t *st = NULL;
        if ((r = instance_status(c, name, &st, &err)) < 0)
                return ctl_fail(&err, r);
        if (json)
                ctl_print_json(st);
        else {
                const char *now = json_string_value(json_object_get(st, "build"));
                printf("'%s' %s %s%s%s\n", name, streq(build, "follow") ? "follows" : "is pinned to",
                       streq(build, "follow") ? "the newest passing build" : build, now ? "; it runs build " : "",
                       now ? now : "");
                json_decref(st);
        }
        return 0;
}

const Command cmd_builds = {
        .name = "builds",
        .run = run_builds,
        .summary = "list the game builds, their size, users and canary verdicts",
        .help = "NAME\n"
                "    l4d2ctl builds - the game builds installed side by side\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl builds [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    Every version of the game that 'l4d2ctl install' (or 'update fetch')\n"
                "    fetched stays in STATE/installations/BUILDID, unchanged once published,\n"
                "    until 'l4d2ctl build gc' removes it. A build is a full tree or, where\n"
                "    the filesystem cannot reflink (ext4), a diff layer over its parent:\n"
                "    only what steamcmd changed. Servers stack its layers below their\n"
                "    overlays. The first build is trusted; a later one becomes the build of\n"
                "    servers that follow (spec 'build: follow', the default) once it passed\n"
                "    the canary of their overlays ('l4d2ctl update canary').\n"
                "\n"
                "OUTPUT\n"
                "    With --json: {\"builds\":[...],\"usage_exact\":bool}, newest first, each\n"
                "    {\"id\",\"parent\",\"layer\":\"full\"|\"diff\",\"depth\" (layers it stacks),\n"
                "    \"bytes\" (its own layer's disk use), \"patch_version\",\"created\",\n"
                "    \"trusted\",\"trusted_why\",\"flattened\",\"passing\",\"refcount\" (mounted\n"
                "    instances, canaries included, that stack one of its layers),\n"
                "    \"instances\" (those that run it), \"pinned\" (instances whose spec names\n"
                "    it), \"canary\":{STACK:report}}. usage_exact is false when a mounted\n"
                "    instance has no record of its mount (then its build file counts).\n"
                "\n"
                "EXIT STATUS\n"
                "    0 on success, 1 on failure with one line 'error: ...' on stderr, 2 on a\n"
                "    usage error.\n"
                "\n"
                "SEE ALSO\n"
                "    l4d2ctl build, l4d2ctl update, l4d2ctl pin\n",
};

const Command cmd_build = {
        .name = "build",
        .run = run_build,
        .summary = "gc: remove unused builds; flatten ID: make a build one layer",
        .help = "NAME\n"
                "    l4d2ctl build - remove unused game builds, flatten a build's layers\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl build gc [--json]\n"
                "    l4d2ctl build flatten ID\n"
                "\n"
                "DESCRIPTION\n"
                "    gc keeps the newest passing build and the passing one before it (the\n"
                "    way back), every newer build (its canary is pending or on hold), every\n"
                "    build a mounted instance stacks (refcount > 0) or a spec pins, and the\n"
                "    layers those need; it removes the others. A removed layer that a\n"
                "    running server still mounts is kept until it stops. --json:\n"
                "    {\"removed\":[ID,...]}.\n"
                "\n"
                "    flatten replaces a diff build's layer with one full tree of the same\n"
                "    content (the merged view of its layers), so that newer builds stack\n"
                "    fewer layers. Running servers keep the layers they mounted. A fetch\n"
                "    starts it in the background when a chain gets deeper than\n"
                "    LEFT4ME_BUILD_CHAIN_MAX (4); its log is\n"
                "    STATE/install-store/logs/flatten-ID.log.\n"
                "\n"
                "EXIT STATUS\n"
                "    0 on success, 1 on failure with one line 'error: ...' on stderr, 2 on a\n"
                "    usage error.\n",
};

const Command cmd_pin = {
        .name = "pin",
        .run = run_pin,
        .summary = "run an instance on one build (a rollback), or follow again",
        .help = "NAME\n"
                "    l4d2ctl pin - run an instance on a given game build, or follow again\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl pin NAME BUILD|follow [--no-restart] [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    Sets 'build:' in the instance's spec: a build id pins it (a rollback to\n"
                "    an older build, or staying on the current one), 'follow' lets it move\n"
                "    to the newest build that passed its canary. A running instance\n"
                "    restarts onto it at once unless --no-restart (then at its next start).\n"
                "    Clients that already updated the game may be refused by a server on an\n"
                "    older build ('running an older version of the game').\n"
                "\n"
                "OUTPUT\n"
                "    With --json: the status object, whose \"build\" is the build it runs\n"
                "    and \"build_pin\" what its spec says.\n"
                "\n"
                "EXIT STATUS\n"
                "    0 on success, 1 on failure with one line 'error: ...' on stderr, 2 on a\n"
                "    usage error.\n",
};
