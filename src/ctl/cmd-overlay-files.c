/* l4d2ctl overlay ls|get|put|mkdir|mv|rm|zip: the files verbs. Paths are
 * passed to the host library as they are (it resolves every one of them
 * through path_resolve_user); this file only parses argv and prints. A path
 * that starts with '-' follows "--". */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "overlay-files.h"
#include "strutil.h"

typedef struct FilesArgs {
        const char *verb;
        const char *pos[4]; /* NAME, then paths */
        int n;
        bool json, recursive;
        int64_t size; /* put --size, -1 if not given */
} FilesArgs;

static const struct {
        const char *verb;
        int min, max; /* positional arguments, NAME included */
        const char *usage;
} verbs[] = {
        { "ls", 1, 2, "ls NAME [PATH] [--json]" },
        { "get", 2, 2, "get NAME PATH" },
        { "put", 2, 2, "put NAME PATH [--size BYTES] [--json] < FILE" },
        { "mkdir", 2, 2, "mkdir NAME PATH" },
        { "mv", 3, 3, "mv NAME FROM TO" },
        { "rm", 2, 2, "rm NAME PATH [--recursive]" },
        { "zip", 1, 2, "zip NAME [PATH] > FILE.zip" },
};

bool ctl_is_files_verb(const char *verb) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verb, verbs[i].verb))
                        return true;
        return false;
}

/* argv[0] is "overlay". Returns -1 after --help, else 0, or the exit status
 * of a usage error (2) in *ret_status. */
static int parse(int argc, char **argv, FilesArgs *a, int *ret_status) {
        bool end = false;
        int v = -1;
        for (int i = 1; i < argc; i++) {
                const char *s = argv[i];
                if (!end && s[0] == '-' && s[1]) {
                        if (streq(s, "--"))
                                end = true;
                        else if (streq(s, "--help") || streq(s, "-h"))
                                return -1;
                        else if (streq(s, "--json"))
                                a->json = true;
                        else if (streq(s, "--recursive") || streq(s, "-r"))
                                a->recursive = true;
                        else if (streq(s, "--size") || startswith(s, "--size=")) {
                                const char *val = s[6] == '=' ? s + 7 : i + 1 < argc ? argv[++i] : NULL;
                                long n;
                                if (!val || parse_long(val, 0, INT64_MAX, &n) < 0) {
                                        *ret_status = ctl_usage("overlay", "--size needs a number of bytes");
                                        return 0;
                                }
                                a->size = n;
                        } else {
                                *ret_status = ctl_usage("overlay", "unknown option '%s'", s);
                                return 0;
                        }
                } else if (!a->verb)
                        a->verb = s;
                else if (a->n < (int) ELEMENTSOF(a->pos))
                        a->pos[a->n++] = s;
                else {
                        *ret_status = ctl_usage("overlay", "unexpected argument '%s'", s);
                        return 0;
                }
        }
        for (size_t i = 0; a->verb && i < ELEMENTSOF(verbs); i++)
                if (streq(a->verb, verbs[i].verb))
                        v = (int) i;
        if (v < 0) {
                *ret_status = ctl_usage("overlay", "unknown verb '%s'", a->verb ? a->verb : "");
                return 0;
        }
        if (a->n < verbs[v].min || a->n > verbs[v].max) {
                *ret_status = ctl_usage("overlay", "usage: l4d2ctl overlay %s", verbs[v].usage);
                return 0;
        }
        if (a->recursive && !streq(a->verb, "rm")) {
                *ret_status = ctl_usage("overlay", "--recursive is for rm");
                return 0;
        }
        if (a->size >= 0 && !streq(a->verb, "put")) {
                *ret_status = ctl_usage("overlay", "--size is for put");
                return 0;
        }
        *ret_status = 0;
        return 0;
}

static void print_ls(const json_t *o) {
        const json_t *entries = json_object_get(o, "entries");
        if (streq(json_string_value(json_object_get(o, "type")), "file")) {
                printf("%12lld  %s\n", (long long) json_integer_value(json_object_get(o, "size")),
                       json_string_value(json_object_get(o, "path")));
                return;
        }
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e) {
                time_t t = (time_t) json_integer_value(json_object_get(e, "mtime"));
                char when[32];
                strftime(when, sizeof when, "%Y-%m-%d %H:%M", gmtime(&t));
                const char *type = json_string_value(json_object_get(e, "type"));
                char size[24] = "-";
                if (streq(type, "file"))
                        snprintf(size, sizeof size, "%lld", (long long) json_integer_value(json_object_get(e, "size")));
                /* Names come from the tree: no control characters reach a
                 * terminal (the verbs refuse them, a hand-made name may not). */
                char name[1024];
                size_t k = 0;
                for (const unsigned char *p = (const unsigned char *) json_string_value(json_object_get(e, "name"));
                     *p && k + 5 < sizeof name; p++)
                        k += (size_t) (*p < 0x20 || *p == 0x7f ? snprintf(name + k, sizeof name - k, "\\x%02x", *p)
                                                               : snprintf(name + k, sizeof name - k, "%c", *p));
                printf("%-7s %12s  %s  %s%s\n", type, size, when, name, streq(type, "folder") ? "/" : "");
        }
        if (json_is_true(json_object_get(o, "truncated")))
                printf("(more entries not shown)\n");
}

int ctl_overlay_files(const HostConfig *c, int argc, char **argv) {
        FilesArgs a = { .size = -1 };
        int status = 0;
        if (parse(argc, argv, &a, &status) < 0) {
                fputs(cmd_overlay.help, stdout);
                return 0;
        }
        if (status)
                return status;
        const char *name = a.pos[0], *path = a.n > 1 ? a.pos[1] : "";
        Error err = { 0 };
        int r;
        if (streq(a.verb, "ls")) {
                json_t *o = NULL;
                if ((r = overlay_files_ls(c, name, path, &o, &err)) < 0)
                        return ctl_fail(&err, r);
                if (a.json)
                        ctl_print_json(o);
                else {
                        print_ls(o);
                        json_decref(o);
                }
                return 0;
        }
        if (streq(a.verb, "get")) {
                r = overlay_files_get(c, name, path, STDOUT_FILENO, &err);
                return r < 0 ? ctl_fail(&err, r) : 0;
        }
        if (streq(a.verb, "put")) {
                uint64_t n = 0;
                if ((r = overlay_files_put(c, name, path, STDIN_FILENO, a.size, &n, &err)) < 0)
                        return ctl_fail(&err, r);
                if (a.json)
                        ctl_print_json(json_pack("{s:s, s:s, s:I}", "overlay", name, "path", path, "size", (json_int_t) n));
                return 0;
        }
        if (streq(a.verb, "mkdir"))
                r = overlay_files_mkdir(c, name, path, &err);
        else if (streq(a.verb, "mv"))
                r = overlay_files_mv(c, name, a.pos[1], a.pos[2], &err);
        else if (streq(a.verb, "rm"))
                r = overlay_files_rm(c, name, path, a.recursive, &err);
        else {
                unsigned skipped = 0;
                r = overlay_files_zip(c, name, path, STDOUT_FILENO, &skipped, &err);
                if (r >= 0 && skipped)
                        fprintf(stderr, "note: left out %u entries that are not files or folders\n", skipped);
        }
        return r < 0 ? ctl_fail(&err, r) : 0;
}
