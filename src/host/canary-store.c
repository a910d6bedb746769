/* Canary verdicts on disk: install-store/canary/<build>/<stack>.json, one
 * report per build and overlay stack (canary.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "canary.h"
#include "fs.h"

#define REPORT_MAX (1024 * 1024)

void canary_verdict_free(CanaryVerdict *v) {
        strv_free(v->failing_overlays);
        *v = (CanaryVerdict) { 0 };
}

static bool stack_is_valid(const char *s) {
        if (!s || strlen(s) != STACK_HASH_LEN)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

static int open_build_dir(const HostConfig *c, const char *id, bool create) {
        if (!build_id_is_valid(id))
                return -EINVAL;
        _cleanup_close_ int canary = build_store_open(c, "canary", NULL);
        if (canary < 0)
                return canary;
        if (create && mkdirat(canary, id, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        return path_open_beneath(canary, id, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
}

static json_t *load_report(int dir, const char *name) {
        _cleanup_close_ int fd = path_open_beneath(dir, name, O_RDONLY, 0, PATH_NO_SYMLINKS);
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (fd < 0 || read_fd(fd, REPORT_MAX, &text, &len) < 0)
                return NULL;
        json_t *j = json_loadb(text, len, 0, NULL);
        if (!json_is_object(j) || !json_is_string(json_object_get(j, "verdict"))) {
                json_decref(j);
                return NULL;
        }
        return j;
}

int canary_verdict_load(const HostConfig *c, const char *id, const char *stack, CanaryVerdict *ret) {
        if (!stack_is_valid(stack))
                return -EINVAL;
        _cleanup_close_ int dir = open_build_dir(c, id, false);
        if (dir < 0)
                return dir;
        char name[64];
        snprintf(name, sizeof name, "%s.json", stack);
        json_t *j = load_report(dir, name);
        if (!j)
                return -ENOENT;
        CanaryVerdict v = {
                .passed = streq(json_string_value(json_object_get(j, "verdict")), "pass"),
                .degradable = json_is_true(json_object_get(j, "degradable")),
                .finished = json_integer_value(json_object_get(j, "finished")),
        };
        v.failing_overlays = calloc(1, sizeof(char *));
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(j, "failing_overlays"), i, o)
                if (v.failing_overlays && name_is_valid(json_string_value(o)))
                        (void) strv_push_dup(&v.failing_overlays, &v.n_failing_overlays, json_string_value(o));
        json_decref(j);
        if (!v.failing_overlays)
                return -ENOMEM;
        if (v.n_failing_overlays == 0)
                v.degradable = false;
        *ret = v;
        return 0;
}

int canary_reports(const HostConfig *c, const char *id, json_t **ret) {
        json_t *all = json_object();
        if (!all)
                return -ENOMEM;
        _cleanup_close_ int dir = open_build_dir(c, id, false);
        DIR *d = dir >= 0 ? fdopendir(fcntl(dir, F_DUPFD_CLOEXEC, 3)) : NULL;
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        const char *dot = strrchr(de->d_name, '.');
                        char stack[STACK_HASH_LEN + 1];
                        if (!dot || !streq(dot, ".json") || dot - de->d_name != STACK_HASH_LEN)
                                continue;
                        snprintf(stack, sizeof stack, "%.*s", STACK_HASH_LEN, de->d_name);
                        json_t *j = stack_is_valid(stack) ? load_report(dir, de->d_name) : NULL;
                        if (j)
                                json_object_set_new(all, stack, j);
                }
                closedir(d);
        }
        *ret = all;
        return 0;
}

int canary_report_save(const HostConfig *c, const char *id, const char *stack, json_t *report, Error *err) {
        if (!stack_is_valid(stack))
                return -EINVAL;
        _cleanup_close_ int dir = open_build_dir(c, id, true);
        if (dir < 0)
                return error_set(err, dir, "build '%s': cannot open its canary folder: %s", id, strerror(-dir));
        _cleanup_free_ char *text = json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text)
                return -ENOMEM;
        char name[64];
        snprintf(name, sizeof name, "%s.json", stack);
        int r = write_file_atomic_at(dir, name, text, strlen(text), 0644);
        if (r < 0)
                return error_set(err, r, "build '%s': cannot save the canary report of stack %s: %s", id, stack,
                                 strerror(-r));
        return 0;
}

bool canary_instance_name(const char *name) {
        return name && startswith(name, "l4m-canary-");
}
