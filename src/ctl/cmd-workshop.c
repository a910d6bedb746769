/* l4d2ctl workshop: refresh, and NAME add|remove|items (also reachable as
 * `l4d2ctl overlay workshop NAME ...`). */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "workshop.h"

static int items_cmd(const HostConfig *c, const char *name, bool json) {
        Error err = { 0 };
        json_t *o = NULL;
        int r = workshop_items(c, name, &o, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        if (json) {
                ctl_print_json(o);
                return 0;
        }
        size_t i;
        json_t *v;
        printf("%-12s %-11s %-10s %10s  %s\n", "SOURCE", "KIND", "STATE", "", "TITLE");
        json_array_foreach(json_object_get(o, "sources"), i, v)
                printf("%-12s %-11s %-10s %10s  %s\n", json_string_value(json_object_get(v, "id")),
                       json_string_value(json_object_get(v, "kind")), json_string_value(json_object_get(v, "state")),
                       "", json_string_value(json_object_get(v, "title")));
        printf("\n%-12s %-11s %-10s %10s  %s\n", "ITEM", "UPDATED", "STATE", "SIZE", "TITLE");
        json_array_foreach(json_object_get(o, "items"), i, v) {
                const char *msg = json_string_value(json_object_get(v, "message"));
                printf("%-12s %-11lld %-10s %9.1fM  %s%s%s\n", json_string_value(json_object_get(v, "id")),
                       (long long) json_integer_value(json_object_get(v, "time_updated")),
                       json_string_value(json_object_get(v, "state")),
                       (double) json_integer_value(json_object_get(v, "size")) / 1048576.0,
                       json_string_value(json_object_get(v, "title")), msg && *msg ? " -- " : "", msg ? msg : "");
        }
        json_array_foreach(json_object_get(o, "problems"), i, v)
                printf("warning: %s\n", json_string_value(json_object_get(v, "message")));
        json_decref(o);
        return 0;
}

int ctl_workshop_verbs(const HostConfig *c, int argc, char **argv, bool json) {
        /* argv[0] is "workshop"; argv[1] NAME, argv[2] the verb. */
        if (argc < 3)
                return ctl_usage("workshop", "expected 'refresh' or NAME add|remove|items");
        const char *name = argv[1], *verb = argv[2];
        if (streq(verb, "items")) {
                if (argc > 3)
                        return ctl_usage("workshop", "unexpected argument '%s'", argv[3]);
                return items_cmd(c, name, json);
        }
        if (!streq(verb, "add") && !streq(verb, "remove"))
                return ctl_usage("workshop", "unknown verb '%s': use add, remove or items", verb);
        for (int i = 3; i < argc; i++)
                if (argv[i][0] == '-')
                        return ctl_usage("workshop", "unknown option '%s'", argv[i]);
        if (argc < 4)
                return ctl_usage("workshop", "%s needs Workshop IDs or URLs", verb);
        Error err = { 0 };
        unsigned n = 0;
        int r = streq(verb, "add") ? workshop_add(c, name, argv + 3, (size_t) (argc - 3), &n, &err)
                                   : workshop_remove(c, name, argv + 3, (size_t) (argc - 3), &n, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        if (json)
                return items_cmd(c, name, true);
        printf("%s %u source%s %s '%s' (it takes effect at the next 'l4d2ctl overlay build %s')\n",
               streq(verb, "add") ? "added" : "removed", n, n == 1 ? "" : "s", streq(verb, "add") ? "to" : "from", name,
               name);
        return 0;
}

static int run_workshop(const HostConfig *c, int argc, char **argv) {
        bool json = false;
        if ((argc = ctl_common_options("workshop", argc, argv, &json)) < 0)
                return 0;
        if (argc == 2 && streq(argv[1], "refresh")) {
                Error err = { 0 };
                BuildOut out = BUILD_OUT_INIT(json);
                bool changed = false;
                int r = workshop_refresh(c, ctl_build_event, &out, &changed, &err);
                return ctl_build_done(json, r, changed, &err);
        }
        return ctl_workshop_verbs(c, argc, argv, json);
}

const Command cmd_workshop = {
        .name = "workshop",
        .run = run_workshop,
        .summary = "Steam Workshop overlays: add items, refresh them",
        .help = "NAME\n"
                "    l4d2ctl workshop - Steam Workshop items and collections as overlays\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl workshop NAME add ID|URL...\n"
                "    l4d2ctl workshop NAME remove ID|URL...\n"
                "    l4d2ctl workshop NAME items [--json]\n"
                "    l4d2ctl workshop refresh [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    A workshop overlay (l4d2ctl overlay create NAME --kind workshop) holds\n"
                "    Left 4 Dead 2 Workshop items and collections, given by ID or by the URL\n"
                "    of their page, https://steamcommunity.com/sharedfiles/filedetails/?id=ID.\n"
                "    add and remove change the list; 'l4d2ctl overlay build NAME' then\n"
                "    resolves it through the Steam Web API (collections of collections are\n"
                "    expanded; cycles, removed items and items of other games are reported\n"
                "    by ID and skipped), downloads each item once into STATE/workshop-cache\n"
                "    (from its file_url, else with steamcmd +workshop_download_item 550 ID),\n"
                "    checks its size against what the Workshop announced, and links it into\n"
                "    the overlay as left4dead2/addons/ID.vpk: two overlays with one item\n"
                "    share one file on disk. A download that fails is retried with backoff;\n"
                "    if it still fails the overlay keeps the version it had.\n"
                "\n"
                "    add      adds sources (all are checked first: a URL that is not a\n"
                "             Workshop page adds nothing)\n"
                "    remove   removes sources that were added (not items of a collection)\n"
                "    items    the sources, the items they resolved to at the last build (title,\n"
                "             preview, size, last update, state) and the problems found\n"
                "    refresh  every workshop overlay not being built: asks the API about all of\n"
                "             their items at once, one request per 100 items, and downloads\n"
                "             and republishes only items whose time_updated changed. An API\n"
                "             that times out or answers garbage changes nothing\n"
                "\n"
                "OPTIONS\n"
                "    --json   items: {\"overlay\",\"sources\":[...],\"items\":[...],\"problems\":[...]};\n"
                "             refresh: events as 'l4d2ctl overlay build --json', plus one\n"
                "             {\"event\":\"overlay\",\"name\",\"changed\",\"failed\"} per overlay\n"
                "\n"
                "ENVIRONMENT\n"
                "    LEFT4ME_STEAM_API_URL      the Steam Web API (default\n"
                "                               https://api.steampowered.com)\n"
                "    LEFT4ME_STEAM_API_TIMEOUT  seconds per API request, and how long a\n"
                "                               download may stall (default 30)\n"
                "    LEFT4ME_WORKSHOP_PARALLEL  downloads at a time (default 4)\n"
                "    LEFT4ME_WORKSHOP_ATTEMPTS  tries per download (default 3)\n"
                "    LEFT4ME_WORKSHOP_RETRY_MS  the first backoff, doubled after each try\n"
                "                               (default 2000)\n"
                "    LEFT4ME_STEAMCMD           steamcmd, for items without a file_url\n"
                "\n"
                "EXIT STATUS\n"
                "    0 on success, 1 on failure with one line 'error: ...' on stderr (also\n"
                "    when items failed to download), 2 on a usage error.\n",
};
