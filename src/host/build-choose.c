/* Which build an instance runs (build_choose: its pin, else the newest
 * build that is trusted or passed the canary of its overlay stack), the
 * build file the mount helper reads, and the record of what a mount
 * stacks, which the refcount and gc go by (build-gc.c). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "canary.h"
#include "fs.h"
#include "instance.h"

#define RECORD_MAX (64 * 1024)

/* ---- stacks and the choice of a build ---- */

int build_stack_hash(const HostConfig *c, char *const *overlays, size_t n, char ret[STACK_HASH_LEN + 1]) {
        /* The overlays' names in order (FNV-1a 64: an identity, not a
         * secret). Not their content: a canary answers whether a stack
         * works on a new game build; an overlay republished between two
         * game updates (a Workshop refresh) must not send its servers back
         * to an older build until a canary has run again. */
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < n; i++)
                for (const unsigned char *p = (const unsigned char *) overlays[i];; p++) {
                        h ^= *p; /* the NUL too: "ab","c" is not "a","bc" */
                        h *= 0x100000001b3ULL;
                        if (!*p)
                                break;
                }
        snprintf(ret, STACK_HASH_LEN + 1, "%016llx", (unsigned long long) h);
        return 0;
}

void build_choice_free(BuildChoice *b) {
        strv_free(b->chain);
        strv_free(b->dropped);
        *b = (BuildChoice) { 0 };
}

static int choice_fill(const HostConfig *c, const char *id, BuildChoice *b, Error *err) {
        snprintf(b->id, sizeof b->id, "%s", id);
        return build_chain(c, id, &b->chain, &b->n_chain, err);
}

int build_choose(const HostConfig *c, const Spec *s, BuildChoice *ret, Error *err) {
        _cleanup_(build_choice_free) BuildChoice b = { 0 };
        build_stack_hash(c, s->overlays, s->n_overlays, b.stack);
        int r;
        if (s->build) {
                b.pinned = true;
                if ((r = choice_fill(c, s->build, &b, err)) < 0)
                        return r;
                *ret = b;
                b = (BuildChoice) { 0 };
                return 0;
        }
        _cleanup_free_ BuildInfo *v = NULL;
        size_t n = 0;
        if ((r = build_list(c, &v, &n, err)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                CanaryVerdict cv = { 0 };
                bool have = canary_verdict_load(c, v[i].id, b.stack, &cv) == 0;
                /* A stack no canary tried on this build yet (a new
                 * blueprint) goes by the build's other verdicts: a build
                 * that passed everywhere it was tried. */
                bool pass = have ? cv.passed : build_passing(c, &v[i]);
                if (!v[i].trusted && !pass) {
                        bool degrade = have && !cv.passed && cv.degradable && s->canary_degrade;
                        if (!degrade) {
                                canary_verdict_free(&cv);
                                continue;
                        }
                        b.dropped = TAKE_PTR(cv.failing_overlays);
                        b.n_dropped = cv.n_failing_overlays;
                }
                canary_verdict_free(&cv);
                if ((r = choice_fill(c, v[i].id, &b, err)) < 0)
                        return r;
                *ret = b;
                b = (BuildChoice) { 0 };
                return 0;
        }
        if (n == 0)
                return error_set(err, -ENOENT, "no game installation in '%s/installations': run 'l4d2ctl install' first",
                                 c->state_dir);
        return error_set(err, -ENOENT, "no build has passed the canary of its overlays yet (see 'l4d2ctl builds'; "
                         "'l4d2ctl update canary' tests them, 'build: ID' in the spec pins one)");
}

/* ---- the mount and its record ---- */

int build_write_instance_file(const HostConfig *c, int instance_dir_fd, const BuildChoice *b, Error *err) {
        Buf t = BUF_INIT(4096);
        int r = 0;
        for (size_t i = 0; r >= 0 && i < b->n_chain; i++)
                r = buf_printf(&t, "%s\n", b->chain[i]);
        if (r >= 0)
                r = write_file_atomic_flags(instance_dir_fd, "build", t.data ? t.data : "", t.len, 0644, WRITE_NO_SYNC);
        buf_free(&t);
        if (r < 0)
                return error_set(err, r, "cannot write its build file: %s", strerror(-r));
        return 0;
}

void build_record_mount(const HostConfig *c, const char *instance, const BuildChoice *b) {
        uint64_t id = 0;
        _cleanup_close_ int dir = instance_mount_dir(c, instance, &id);
        if (dir < 0)
                return;
        json_t *layers = json_array();
        for (size_t i = 0; id && layers && i < b->n_chain; i++) {
                struct stat st;
                _cleanup_close_ int fd = build_open(c, b->chain[i]);
                if (fd < 0 || fstat(fd, &st) < 0) {
                        json_decref(layers);
                        layers = NULL;
                        break;
                }
                json_array_append_new(layers, json_pack("{s:s, s:I, s:I}", "id", b->chain[i], "dev",
                                                        (json_int_t) st.st_dev, "ino", (json_int_t) st.st_ino));
        }
        json_t *dropped = json_array();
        for (size_t i = 0; dropped && i < b->n_dropped; i++)
                json_array_append_new(dropped, json_string(b->dropped[i]));
        if (!id || !layers) {
                json_decref(layers);
                json_decref(dropped);
                instance_record_write(dir, "mounted-build", NULL);
                return;
        }
        instance_record_write(dir, "mounted-build",
                              json_pack("{s:I, s:s, s:s, s:o, s:o}", "mnt_id", (json_int_t) id, "build", b->id, "stack",
                                        b->stack, "layers", layers, "dropped", dropped));
}

json_t *build_mount_record(const HostConfig *c, const char *instance) {
        _cleanup_free_ char *merged = NULL;
        if (asprintf(&merged, "%s/runtime/%s/merged", c->state_dir, instance) < 0)
                return NULL;
        uint64_t id = mount_unique_id(merged);
        if (!id)
                return NULL;
        char rel[96];
        snprintf(rel, sizeof rel, "instances/%s/mounted-build", instance);
        _cleanup_close_ int fd = path_open_beneath_dir(c->state_dir, rel, O_RDONLY, 0, PATH_NO_SYMLINKS);
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (fd < 0 || read_fd(fd, RECORD_MAX, &text, &len) < 0)
                return NULL;
        json_t *j = json_loadb(text, len, 0, NULL);
        if (!j || (uint64_t) json_integer_value(json_object_get(j, "mnt_id")) != id ||
            !build_id_is_valid(json_string_value(json_object_get(j, "build"))) ||
            !json_is_array(json_object_get(j, "layers"))) {
                json_decref(j);
                return NULL; /* another mount than the one recorded */
        }
        return j;
}

int build_instance_file(const HostConfig *c, const char *instance, char ***ret) {
        char rel[96];
        snprintf(rel, sizeof rel, "instances/%s/build", instance);
        _cleanup_close_ int fd = path_open_beneath_dir(c->state_dir, rel, O_RDONLY, 0, PATH_NO_SYMLINKS);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *text = NULL;
        int r = read_fd(fd, 4096, &text, NULL);
        if (r < 0)
                return r;
        _cleanup_strv_ char **v = calloc(1, sizeof(char *));
        size_t n = 0;
        if (!v)
                return -ENOMEM;
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (build_id_is_valid(l) && (r = strv_push_dup(&v, &n, l)) < 0)
                        return r;
        *ret = TAKE_PTR(v);
        return 0;
}

void build_mounted(const HostConfig *c, const char *instance, char ret[BUILD_ID_MAX_LEN + 1]) {
        ret[0] = '\0';
        json_t *rec = build_mount_record(c, instance);
        if (rec) {
                snprintf(ret, BUILD_ID_MAX_LEN + 1, "%s", json_string_value(json_object_get(rec, "build")));
                json_decref(rec);
                return;
        }
        /* A mount nobody recorded (systemd restarting the unit): the helper
         * mounted what the build file says. */
        _cleanup_free_ char *merged = NULL;
        if (asprintf(&merged, "%s/runtime/%s/merged", c->state_dir, instance) < 0 || !path_is_mount_point(merged))
                return;
        _cleanup_strv_ char **chain = NULL;
        if (build_instance_file(c, instance, &chain) == 0 && chain[0])
                snprintf(ret, BUILD_ID_MAX_LEN + 1, "%s", chain[0]);
}
