/* Which builds are in use, garbage collection and flattening.
 *
 * A build's layer may be a lower layer of running servers (their own build
 * or a newer build's chain). What a mount stacks is known exactly from
 * instances/NAME/mounted-build (the dev/ino of every layer, recorded by
 * start while it holds ".builds" shared, and valid while runtime/NAME/merged
 * is still that very mount), else conservatively from instances/NAME/build
 * (a mount nobody recorded: systemd restarting the unit, a boot).
 *
 * Layers replaced by a flatten and builds gc drops are moved to
 * install-store/retired/ and removed once no recorded mount uses them (all
 * are kept while any mount is unrecorded). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "canary.h"
#include "fs.h"
#include "instance.h"
#include "lock.h"
#include "process.h"
#include "random.h"
#include "unit.h"

#define GC_GRACE_SEC 2

bool build_passing(const HostConfig *c, const BuildInfo *b) {
        if (b->trusted)
                return true;
        json_t *reports = NULL;
        if (canary_reports(c, b->id, &reports) < 0)
                return false;
        bool any = false, all = true;
        const char *k;
        json_t *v;
        json_object_foreach(reports, k, v) {
                any = true;
                all &= streq(json_string_value(json_object_get(v, "verdict")) ?: "", "pass");
        }
        json_decref(reports);
        return any && all;
}

/* ---- usage ---- */

static json_t *usage_entry(json_t *u, const char *id) {
        json_t *e = json_object_get(u, id);
        if (!e) {
                e = json_pack("{s:i, s:[], s:[]}", "refcount", 0, "instances", "pinned");
                json_object_set_new(u, id, e);
        }
        return e;
}

static void usage_add(json_t *e, const char *key, const char *name) {
        json_array_append_new(json_object_get(e, key), json_string(name));
}

static void usage_inc(json_t *u, const char *id) {
        json_t *n = json_object_get(usage_entry(u, id), "refcount");
        json_integer_set(n, json_integer_value(n) + 1);
}

static bool layer_is_published(const HostConfig *c, json_t *layer) {
        const char *id = json_string_value(json_object_get(layer, "id"));
        struct stat st;
        _cleanup_close_ int fd = id ? build_open(c, id) : -1;
        return fd >= 0 && fstat(fd, &st) == 0 && (dev_t) json_integer_value(json_object_get(layer, "dev")) == st.st_dev &&
               (ino_t) json_integer_value(json_object_get(layer, "ino")) == st.st_ino;
}

/* The mounted instances' records (exact ones), and whether every mounted
 * instance had one. */
static int mounted_records(const HostConfig *c, json_t **ret_records, json_t *usage, bool *ret_exact) {
        _cleanup_strv_ char **names = NULL;
        int r = instance_list(c, &names, NULL);
        if (r < 0)
                return r;
        json_t *records = json_array();
        bool exact = true;
        for (char **n = names; records && *n; n++) {
                _cleanup_free_ char *merged = NULL;
                if (asprintf(&merged, "%s/runtime/%s/merged", c->state_dir, *n) < 0) {
                        json_decref(records);
                        return -ENOMEM;
                }
                Spec s;
                if (usage && instance_load(c, *n, &s, NULL) == 0) {
                        if (s.build)
                                usage_add(usage_entry(usage, s.build), "pinned", *n);
                        spec_free(&s);
                }
                if (!path_is_mount_point(merged))
                        continue;
                json_t *rec = build_mount_record(c, *n);
                if (rec) {
                        size_t i;
                        json_t *l;
                        json_array_foreach(json_object_get(rec, "layers"), i, l)
                                if (usage && layer_is_published(c, l))
                                        usage_inc(usage, json_string_value(json_object_get(l, "id")));
                        if (usage)
                                usage_add(usage_entry(usage, json_string_value(json_object_get(rec, "build"))),
                                          "instances", *n);
                        json_array_append_new(records, rec);
                        continue;
                }
                exact = false;
                _cleanup_strv_ char **chain = NULL;
                if (usage && build_instance_file(c, *n, &chain) == 0) {
                        for (char **id = chain; *id; id++)
                                usage_inc(usage, *id);
                        if (chain[0])
                                usage_add(usage_entry(usage, chain[0]), "instances", *n);
                }
        }
        if (!records)
                return -ENOMEM;
        *ret_records = records;
        *ret_exact = exact;
        return 0;
}

int build_usage(const HostConfig *c, json_t **ret, bool *ret_exact, Error *err) {
        json_t *u = json_object(), *records = NULL;
        bool exact;
        int r = u ? mounted_records(c, &records, u, &exact) : -ENOMEM;
        json_decref(records);
        if (r < 0) {
                json_decref(u);
                return error_set(err, r, "cannot find what running instances mount: %s", strerror(-r));
        }
        *ret = u;
        if (ret_exact)
                *ret_exact = exact;
        return 0;
}

/* ---- retired layers and stale staging trees ---- */

static bool recorded_anywhere(json_t *records, const struct stat *st) {
        size_t i, k;
        json_t *rec, *l;
        json_array_foreach(records, i, rec)
                json_array_foreach(json_object_get(rec, "layers"), k, l)
                        if ((dev_t) json_integer_value(json_object_get(l, "dev")) == st->st_dev &&
                            (ino_t) json_integer_value(json_object_get(l, "ino")) == st->st_ino)
                                return true;
        return false;
}

static void gc_retired(const HostConfig *c, json_t *records, bool exact) {
        _cleanup_close_ int retired = build_store_open(c, "retired", NULL);
        DIR *d = retired >= 0 && exact ? fdopendir(fcntl(retired, F_DUPFD_CLOEXEC, 3)) : NULL;
        if (!d)
                return;
        time_t now = time(NULL);
        struct dirent *de;
        while ((de = readdir(d))) {
                struct stat st;
                if (de->d_name[0] == '.' || fstatat(retired, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                /* A unit's mount helper may have opened it just before it
                 * moved (it takes no lock): a few seconds of grace. */
                if (now - st.st_ctime < GC_GRACE_SEC || recorded_anywhere(records, &st))
                        continue;
                (void) rm_rf_at(retired, de->d_name);
        }
        closedir(d);
}

/* Staging trees of a fetch or flatten that died: unmounted and removed,
 * but only while neither can be running. */
static void gc_staging(const HostConfig *c) {
        if (host_lock_is_held(c, ".install") || host_lock_is_held(c, ".build-flatten"))
                return;
        _cleanup_close_ int staging = build_store_open(c, "staging", NULL);
        DIR *d = staging >= 0 ? fdopendir(fcntl(staging, F_DUPFD_CLOEXEC, 3)) : NULL;
        if (!d)
                return;
        time_t now = time(NULL);
        struct dirent *de;
        while ((de = readdir(d))) {
                struct stat st;
                if (de->d_name[0] == '.' || fstatat(staging, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    now - st.st_ctime < GC_GRACE_SEC)
                        continue;
                char rel[160];
                snprintf(rel, sizeof rel, "%s/merged", de->d_name);
                _cleanup_close_ int m = path_open_beneath(staging, rel, O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
                bool mounted = m >= 0 && fd_is_mount_point(m);
                if (mounted && build_helper_run(c, "umount-staging", de->d_name, NULL) < 0)
                        continue;
                (void) rm_rf_at(staging, de->d_name);
        }
        closedir(d);
}

static int retire(const HostConfig *c, int from_dir, const char *from, const char *id, Error *err) {
        _cleanup_close_ int retired = build_store_open(c, "retired", err);
        if (retired < 0)
                return retired;
        char hex[9], entry[96];
        random_hex(hex, sizeof hex);
        snprintf(entry, sizeof entry, "%s.%lld.%s", id, (long long) time(NULL), hex);
        if (renameat(from_dir, from, retired, entry) < 0)
                return error_set(err, negative_errno(), "build '%s': cannot retire its layer: %m", id);
        (void) fsync(retired);
        return 0;
}

/* ---- gc ---- */

static bool in(char **v, const char *s) {
        for (; v && *v; v++)
                if (streq(*v, s))
                        return true;
        return false;
}

/* The builds gc keeps: see build.h. */
static int kept_builds(const HostConfig *c, const BuildInfo *v, size_t n, json_t *usage, char ***ret) {
        _cleanup_strv_ char **keep = calloc(1, sizeof(char *));
        size_t nk = 0;
        int r = keep ? 0 : -ENOMEM;
        /* Newest first: everything newer than the newest passing build is
         * still to be decided (a canary to run, a hold to re-run); the
         * newest passing one and the passing one before it stay. */
        size_t passing = 0;
        for (size_t i = 0; r >= 0 && i < n && passing < 2; i++) {
                bool pass = build_passing(c, &v[i]);
                if (passing == 0 || pass)
                        r = strv_push_dup(&keep, &nk, v[i].id);
                if (pass)
                        passing++;
        }
        for (size_t i = 0; r >= 0 && i < n; i++) {
                json_t *e = json_object_get(usage, v[i].id);
                bool used = e && (json_integer_value(json_object_get(e, "refcount")) > 0 ||
                                  json_array_size(json_object_get(e, "pinned")) > 0);
                if (used && !in(keep, v[i].id))
                        r = strv_push_dup(&keep, &nk, v[i].id);
        }
        /* The layers the kept builds stack. */
        for (size_t i = 0; r >= 0 && i < nk; i++) {
                _cleanup_strv_ char **chain = NULL;
                if (build_chain(c, keep[i], &chain, NULL, NULL) < 0)
                        continue;
                for (char **id = chain; r >= 0 && *id; id++)
                        if (!in(keep, *id))
                                r = strv_push_dup(&keep, &nk, *id);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(keep);
        return 0;
}

int build_gc(const HostConfig *c, json_t **ret_removed, Error *err) {
        int r = build_store_ensure(c, err);
        if (r < 0)
                return r;
        _cleanup_close_ int lock = -1;
        if ((r = host_lock(c, ".builds", LOCK_EX, 30000, "the game builds", &lock, err)) < 0)
                return r;
        _cleanup_free_ BuildInfo *v = NULL;
        size_t n = 0;
        if ((r = build_list(c, &v, &n, err)) < 0)
                return r;
        json_auto_t *usage = json_object();
        json_auto_t *records = NULL;
        bool exact = false;
        if (!usage || (r = mounted_records(c, &records, usage, &exact)) < 0)
                return error_set(err, r < 0 ? r : -ENOMEM, "cannot find what running instances mount");
        _cleanup_strv_ char **keep = NULL;
        if ((r = kept_builds(c, v, n, usage, &keep)) < 0)
                return r;
        json_t *removed = json_array();
        _cleanup_close_ int inst = path_open_beneath_dir(c->state_dir, "installations", O_RDONLY | O_DIRECTORY, 0,
                                                         PATH_NO_SYMLINKS);
        _cleanup_close_ int meta = build_store_open(c, "meta", NULL);
        _cleanup_close_ int canary = build_store_open(c, "canary", NULL);
        for (size_t i = 0; removed && inst >= 0 && meta >= 0 && i < n; i++) {
                if (in(keep, v[i].id) || retire(c, inst, v[i].id, v[i].id, err) < 0)
                        continue;
                char name[64];
                snprintf(name, sizeof name, "%s.json", v[i].id);
                (void) unlinkat(meta, name, 0);
                if (canary >= 0)
                        (void) rm_rf_at(canary, v[i].id);
                json_array_append_new(removed, json_string(v[i].id));
        }
        if (!removed)
                return -ENOMEM;
        gc_retired(c, records, exact);
        gc_staging(c);
        *ret_removed = removed;
        return 0;
}

/* ---- flatten ---- */

/* Swaps the flat tree (dir/tree) in for build b's layer. No start is
 * between choosing this build and recording its mount while we hold
 * .builds; running servers keep the layer they mount (it is retired). */
static int flatten_swap(const HostConfig *c, BuildInfo *b, int dir, Error *err) {
        _cleanup_close_ int lock = -1, mlock = -1;
        int r;
        if ((r = host_lock(c, ".builds", LOCK_EX, 30000, "the game builds", &lock, err)) < 0 ||
            (r = build_lock_meta(c, &mlock, err)) < 0)
                return r;
        _cleanup_close_ int inst = path_open_beneath_dir(c->state_dir, "installations", O_RDONLY | O_DIRECTORY, 0,
                                                         PATH_NO_SYMLINKS);
        if (inst < 0)
                return error_set(err, inst, "cannot open '%s/installations': %s", c->state_dir, strerror(-inst));
        if (renameat2(dir, "tree", inst, b->id, RENAME_EXCHANGE) < 0)
                return error_set(err, negative_errno(), "build '%s': cannot swap in its flat layer: %m", b->id);
        (void) fsync(inst);
        (void) retire(c, dir, "tree", b->id, NULL);
        unsigned long long bytes = 0;
        _cleanup_close_ int tree = build_open(c, b->id);
        if (tree >= 0)
                (void) disk_usage_fd(tree, &bytes);
        b->diff = false;
        b->flattened = true;
        b->bytes = bytes;
        return build_save(c, b, err);
}

int build_flatten(const HostConfig *c, const char *id, Error *err) {
        _cleanup_close_ int flock_fd = -1;
        int r = host_lock(c, ".build-flatten", LOCK_EX, 0, "flattening", &flock_fd, err);
        if (r < 0)
                return r;
        BuildInfo b;
        if ((r = build_load(c, id, &b, err)) < 0)
                return r;
        if (!b.diff)
                return 0;
        _cleanup_strv_ char **chain = NULL;
        size_t depth = 0;
        if ((r = build_chain(c, id, &chain, &depth, err)) < 0)
                return r;

        _cleanup_close_ int staging = build_store_open(c, "staging", err);
        if (staging < 0)
                return staging;
        char hex[9], entry[96];
        random_hex(hex, sizeof hex);
        snprintf(entry, sizeof entry, "flat-%lld-%s", (long long) time(NULL), hex);
        if (mkdirat(staging, entry, 0755) < 0)
                return error_set(err, negative_errno(), "build '%s': cannot make a staging tree: %m", id);
        _cleanup_close_ int dir = openat(staging, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        Buf list = BUF_INIT(4096);
        for (char **l = chain; *l; l++)
                buf_printf(&list, "%s\n", *l);
        r = dir < 0 ? negative_errno() : write_file_atomic_flags(dir, "chain", list.data, list.len, 0644, WRITE_NO_SYNC);
        buf_free(&list);
        if (r >= 0 && (mkdirat(dir, "merged", 0755) < 0 || mkdirat(dir, "tree", 0755) < 0))
                r = negative_errno();
        if (r < 0) {
                (void) rm_rf_at(staging, entry);
                return error_set(err, r, "build '%s': cannot prepare its staging tree: %s", id, strerror(-r));
        }
        /* The kernel merges the chain (whiteouts and opaque folders
         * included) in a read-only overlay; its view is copied as is. */
        if ((r = build_helper_run(c, "mount-staging", entry, err)) < 0) {
                (void) rm_rf_at(staging, entry);
                return error_prefix(err, r, "build '%s'", id);
        }
        _cleanup_free_ char *src = NULL, *dst = NULL;
        if (asprintf(&src, "%s/install-store/staging/%s/merged/.", c->state_dir, entry) < 0 ||
            asprintf(&dst, "%s/install-store/staging/%s/tree", c->state_dir, entry) < 0)
                return -ENOMEM;
        char *argv[] = { (char *) "cp", (char *) "-a", (char *) "--", src, dst, NULL };
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        o.search_path = true;
        pid_t pid;
        int code = -1;
        r = spawn(argv, &o, &pid);
        if (r >= 0)
                r = spawn_wait(pid, &code);
        int u = build_helper_run(c, "umount-staging", entry, NULL);
        if (r < 0 || code != 0 || u < 0) {
                if (u >= 0)
                        (void) rm_rf_at(staging, entry);
                return error_set(err, r < 0 ? r : -EIO, "build '%s': copying its merged layers failed (cp exit %d)", id,
                                 code);
        }
        (void) syncfs(dir);
        r = flatten_swap(c, &b, dir, err);
        (void) rm_rf_at(staging, entry);
        if (r < 0)
                return r;
        json_auto_t *records = NULL;
        bool exact = false;
        if (mounted_records(c, &records, NULL, &exact) == 0)
                gc_retired(c, records, exact);
        return 0;
}

int build_flatten_background(const HostConfig *c, const char *id, Error *err) {
        _cleanup_close_ int logs = build_store_open(c, "logs", err);
        if (logs < 0)
                return logs;
        char name[64];
        snprintf(name, sizeof name, "flatten-%s.log", id);
        _cleanup_close_ int log = openat(logs, name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
        _cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (log < 0 || devnull < 0)
                return error_set(err, negative_errno(), "cannot open the flatten log: %m");
        char *argv[] = { c->self_exe, (char *) "--state-dir", c->state_dir, (char *) "build", (char *) "flatten",
                         (char *) id, NULL };
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        o.stdin_fd = devnull;
        o.stdout_fd = o.stderr_fd = log;
        o.new_session = true;
        pid_t pid;
        int r = spawn(argv, &o, &pid);
        if (r < 0)
                return error_set(err, r, "cannot start a flatten of build '%s': %s", id, strerror(-r));
        return 0;
}

int build_helper_run(const HostConfig *c, const char *verb, const char *entry, Error *err) {
        if (geteuid() == 0)
                return overlay_helper_run(c, verb, entry, err);
        /* The service user cannot mount: the systemd backend's
         * left4me-stage@ENTRY.service runs the helper as root (the polkit
         * rule lets left4me start and stop it). */
        if (c->backend != BACKEND_SYSTEMD)
                return error_set(err, -EPERM, "mounting a game build's staging overlay needs root, or the systemd "
                                 "backend (left4me-stage@.service)");
        return streq(verb, "mount-staging") ? unit_start("left4me-stage", entry, err)
                                            : unit_stop("left4me-stage", entry, err);
}
