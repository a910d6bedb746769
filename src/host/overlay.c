/* The overlay store: metadata, kinds, create/delete/list/show, builds and
 * the publish swap. What running instances use and garbage collection live
 * in overlay-gc.c, staging and the publish swap in overlay-publish.c, the
 * Workshop kind in workshop*.c. */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "instance.h"
#include "lock.h"
#include "overlay-files.h"
#include "overlay-script.h"
#include "overlay.h"
#include "random.h"
#include "workshop.h"

#define META_MAX (16 * 1024 * 1024)
#define LOGS_KEPT 10

/* ---- kinds: a table, one row per kind ---- */

typedef struct KindOps {
        const char *name;
        /* Builds the overlay (NULL: this kind cannot be built here yet). */
        int (*build)(OverlayBuild *b, Error *err);
        /* Adds the kind's own fields to a new overlay's metadata. */
        int (*init_meta)(json_t *meta);
        /* Adds a summary of the kind's data to the show object. */
        void (*summary)(const HostConfig *c, const char *name, const json_t *meta, json_t *show);
        /* Removes what the kind keeps outside the store, at delete. */
        void (*forget)(const HostConfig *c, const char *name);
} KindOps;

static const KindOps kinds[_OVERLAY_KIND_MAX] = {
        [OVERLAY_MANUAL] = { .name = "manual" },
        [OVERLAY_WORKSHOP] = { .name = "workshop", .build = workshop_build, .init_meta = workshop_init_meta,
                               .summary = workshop_summary },
        [OVERLAY_FILES] = { .name = "files", .build = overlay_files_build, .summary = overlay_files_summary },
        [OVERLAY_SCRIPT] = { .name = "script", .build = overlay_script_build, .summary = overlay_script_summary,
                             .forget = overlay_script_forget },
};

const char *overlay_kind_to_string(OverlayKind k) {
        return k < _OVERLAY_KIND_MAX ? kinds[k].name : "unknown";
}

int overlay_kind_from_string(const char *s, OverlayKind *ret) {
        for (OverlayKind k = OVERLAY_WORKSHOP; k < _OVERLAY_KIND_MAX; k++)
                if (streq(s, kinds[k].name)) {
                        *ret = k;
                        return 0;
                }
        return -EINVAL;
}

static OverlayKind meta_kind(const json_t *meta) {
        OverlayKind k;
        const char *s = json_string_value(json_object_get(meta, "kind"));
        return s && overlay_kind_from_string(s, &k) == 0 ? k : OVERLAY_MANUAL;
}

int overlay_check_name(const char *name, Error *err) {
        if (!name_is_valid(name))
                return error_set(err, -EINVAL,
                                 "'%s' is not a valid overlay name: use 1-32 of A-Z a-z 0-9 _ -, starting with a "
                                 "letter or digit",
                                 name);
        return 0;
}

int overlay_require_kind(const HostConfig *c, const char *name, OverlayKind want, const char *what, Error *err) {
        int r = overlay_check_name(name, err);
        if (r < 0)
                return r;
        json_t *meta = NULL;
        r = overlay_meta_load(c, name, &meta, err);
        if (r == -ENOENT) {
                _cleanup_close_ int pub = overlay_open_published(c, name);
                return pub >= 0 ? error_set(err, -EINVAL, "overlay '%s' was made by hand: only %s overlays %s", name,
                                            kinds[want].name, what)
                                : error_set(err, -ENOENT, "unknown overlay '%s' (see 'l4d2ctl overlay list')", name);
        }
        if (r < 0)
                return r;
        OverlayKind k = meta_kind(meta);
        json_decref(meta);
        if (k != want)
                return error_set(err, -EINVAL, "overlay '%s' is a %s overlay: only %s overlays %s", name,
                                 kinds[k].name, kinds[want].name, what);
        return 0;
}

/* ---- paths ---- */

static const char *const store_dirs[] = { "overlays", "overlay-store/meta", "overlay-store/work",
                                          "overlay-store/staging", "overlay-store/retired", "overlay-store/logs",
                                          "overlay-store/uploads" };

int overlay_store_ensure(const HostConfig *c, Error *err) {
        int r = state_dirs_ensure(c, err);
        if (r < 0)
                return r;
        _cleanup_close_ int state = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (state < 0)
                return error_set(err, negative_errno(), "cannot open state dir '%s': %m", c->state_dir);
        for (size_t i = 0; i < ELEMENTSOF(store_dirs); i++)
                if ((r = mkdir_p_at(state, store_dirs[i], 0755)) < 0)
                        return error_set(err, r, "cannot create '%s/%s': %s", c->state_dir, store_dirs[i],
                                         strerror(-r));
        return 0;
}

int overlay_store_open(const HostConfig *c, const char *sub, Error *err) {
        int r = overlay_store_ensure(c, err);
        if (r < 0)
                return r;
        char rel[128];
        snprintf(rel, sizeof rel, "overlay-store/%s", sub);
        int fd = path_open_beneath_dir(c->state_dir, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (fd < 0)
                return error_set(err, fd, "cannot open '%s/%s': %s", c->state_dir, rel, strerror(-fd));
        return fd;
}

int overlay_open_published(const HostConfig *c, const char *name) {
        char rel[64];
        snprintf(rel, sizeof rel, "overlays/%s", name);
        return path_open_beneath_dir(c->state_dir, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
}

char *overlay_work_path(const HostConfig *c, const char *name) {
        char *p = NULL;
        return asprintf(&p, "%s/overlay-store/work/%s", c->state_dir, name) < 0 ? NULL : p;
}

/* ---- metadata ---- */

int overlay_meta_load(const HostConfig *c, const char *name, json_t **ret, Error *err) {
        char rel[96];
        snprintf(rel, sizeof rel, "overlay-store/meta/%s.json", name);
        _cleanup_close_ int fd = path_open_beneath_dir(c->state_dir, rel, O_RDONLY, 0, PATH_NO_SYMLINKS);
        if (fd < 0)
                return fd == -ENOENT ? error_set(err, fd, "overlay '%s' has no metadata (made by hand?)", name)
                                     : error_set(err, fd, "overlay '%s': cannot open '%s': %s", name, rel,
                                                 strerror(-fd));
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_fd(fd, META_MAX, &text, &len);
        if (r < 0)
                return error_set(err, r, "overlay '%s': cannot read '%s': %s", name, rel, strerror(-r));
        json_error_t je;
        json_t *j = json_loadb(text, len, 0, &je);
        if (!json_is_object(j)) {
                json_decref(j);
                return error_set(err, -EBADMSG, "overlay '%s': '%s/%s' is damaged: %s", name, c->state_dir, rel,
                                 je.text);
        }
        *ret = j;
        return 0;
}

int overlay_meta_save(const HostConfig *c, const char *name, json_t *meta, Error *err) {
        _cleanup_close_ int dir = overlay_store_open(c, "meta", err);
        if (dir < 0)
                return dir;
        _cleanup_free_ char *text = json_dumps(meta, JSON_INDENT(1) | JSON_SORT_KEYS);
        if (!text)
                return -ENOMEM;
        char file[64];
        snprintf(file, sizeof file, "%s.json", name);
        int r = write_file_atomic_at(dir, file, text, strlen(text), 0644);
        if (r < 0)
                return error_set(err, r, "overlay '%s': cannot write its metadata: %s", name, strerror(-r));
        return 0;
}

/* ---- locks ---- */

static void lock_name(char *buf, size_t size, const char *name, const char *which) {
        snprintf(buf, size, ".overlay-%s.%s", name, which);
}

int overlay_lock_meta(const HostConfig *c, const char *name, int *ret_fd, Error *err) {
        char ln[96], what[96];
        lock_name(ln, sizeof ln, name, "meta");
        snprintf(what, sizeof what, "overlay '%s'", name);
        return host_lock(c, ln, LOCK_EX, 30000, what, ret_fd, err);
}

int overlay_lock_build(const HostConfig *c, const char *name, int wait_ms, int *ret_fd, Error *err) {
        char ln[96], what[96];
        lock_name(ln, sizeof ln, name, "build");
        snprintf(what, sizeof what, "overlay '%s'", name);
        int r = host_lock(c, ln, LOCK_EX, wait_ms, what, ret_fd, err);
        if (r == -EBUSY)
                return error_set(err, r, "overlay '%s' is being built: try again when that build has finished",
                                 name);
        return r;
}

bool overlay_is_building(const HostConfig *c, const char *name) {
        char ln[96];
        lock_name(ln, sizeof ln, name, "build");
        return host_lock_is_held(c, ln);
}

int overlay_lock_publish(const HostConfig *c, const char *name, int *ret_fd, Error *err) {
        char ln[96], what[96];
        lock_name(ln, sizeof ln, name, "publish");
        snprintf(what, sizeof what, "overlay '%s'", name);
        return host_lock(c, ln, LOCK_EX, 30000, what, ret_fd, err);
}

/* ---- create, delete, list, show ---- */

static bool published_exists(const HostConfig *c, const char *name) {
        _cleanup_close_ int fd = overlay_open_published(c, name);
        return fd >= 0;
}

int overlay_create(const HostConfig *c, const char *name, OverlayKind kind, Error *err) {
        int r = overlay_check_name(name, err);
        if (r < 0 || (r = overlay_store_ensure(c, err)) < 0)
                return r;
        if (kind == OVERLAY_MANUAL || kind >= _OVERLAY_KIND_MAX)
                return error_set(err, -EINVAL, "overlay '%s': the kind must be workshop, files or script", name);
        /* The build lock too: garbage collection leaves the staging tree of an
         * overlay being built alone. */
        _cleanup_close_ int lock = -1, build = -1;
        if ((r = overlay_lock_meta(c, name, &lock, err)) < 0 || (r = overlay_lock_build(c, name, 0, &build, err)) < 0)
                return r;
        json_t *old = NULL;
        if (overlay_meta_load(c, name, &old, NULL) == 0 || published_exists(c, name)) {
                json_decref(old);
                return error_set(err, -EEXIST, "overlay '%s' already exists (see 'l4d2ctl overlay show %s')", name,
                                 name);
        }
        json_t *meta = json_pack("{s:s, s:s, s:I, s:s, s:I, s:n}", "name", name, "kind", kinds[kind].name, "created",
                                 (json_int_t) time(NULL), "state", "new", "size", (json_int_t) 0, "build");
        if (!meta || (kinds[kind].init_meta && kinds[kind].init_meta(meta) < 0)) {
                json_decref(meta);
                return -ENOMEM;
        }
        r = overlay_meta_save(c, name, meta, err);
        json_decref(meta);
        if (r < 0)
                return r;

        _cleanup_(overlay_staging_discard) OverlayStaging st = OVERLAY_STAGING_INIT;
        if (kind == OVERLAY_FILES) {
                _cleanup_free_ char *work = overlay_work_path(c, name);
                if (!work)
                        r = -ENOMEM;
                else if (mkdir(work, 0755) < 0 && errno != EEXIST)
                        r = error_set(err, negative_errno(), "overlay '%s': cannot create its working tree '%s': %m",
                                      name, work);
        }
        /* An empty published tree: instances can name the overlay at once. */
        if (r >= 0 && (r = overlay_staging_new(c, name, &st, err)) >= 0)
                r = overlay_publish(c, &st, err);
        if (r < 0) {
                char file[64];
                snprintf(file, sizeof file, "%s.json", name);
                _cleanup_close_ int dir = overlay_store_open(c, "meta", NULL);
                if (dir >= 0)
                        unlinkat(dir, file, 0);
        }
        return r;
}

static int running_names(const HostConfig *c, const char *name, Buf *out, Error *err) {
        json_t *users = NULL;
        int r = overlay_running_users(c, name, &users, err);
        if (r < 0)
                return r;
        size_t i;
        json_t *u;
        json_array_foreach(users, i, u)
                buf_printf(out, "%s%s", i ? ", " : "", json_string_value(json_object_get(u, "instance")));
        json_decref(users);
        return 0;
}

int overlay_delete(const HostConfig *c, const char *name, Error *err) {
        int r = overlay_check_name(name, err);
        if (r < 0 || (r = overlay_store_ensure(c, err)) < 0)
                return r;
        _cleanup_close_ int build = -1, meta = -1, publish = -1;
        if ((r = overlay_lock_build(c, name, 0, &build, err)) < 0 || (r = overlay_lock_meta(c, name, &meta, err)) < 0)
                return r;
        json_t *m = NULL;
        bool has_meta = overlay_meta_load(c, name, &m, NULL) == 0;
        OverlayKind kind = has_meta ? meta_kind(m) : OVERLAY_MANUAL;
        json_decref(m);
        if (!has_meta && !published_exists(c, name))
                return 0; /* nothing to delete */
        /* With the publish lock no instance start is between mounting and
         * recording what it mounted: the check below sees them all. */
        if ((r = overlay_lock_publish(c, name, &publish, err)) < 0)
                return r;
        _cleanup_buf_ Buf users = BUF_INIT(4096);
        if ((r = running_names(c, name, &users, err)) < 0)
                return r;
        if (users.len)
                return error_set(err, -EBUSY, "overlay '%s' is used by running instances: %s (stop them first)",
                                 name, users.data);

        _cleanup_close_ int overlays = path_open_beneath_dir(c->state_dir, "overlays", O_RDONLY | O_DIRECTORY, 0,
                                                             PATH_NO_SYMLINKS);
        _cleanup_close_ int retired = overlay_store_open(c, "retired", err);
        if (overlays < 0 || retired < 0)
                return overlays < 0 ? error_set(err, overlays, "cannot open '%s/overlays'", c->state_dir) : retired;
        char entry[96], hex[9];
        random_hex(hex, sizeof hex);
        snprintf(entry, sizeof entry, "%s.%lld.%s", name, (long long) time(NULL), hex);
        if (renameat(overlays, name, retired, entry) < 0 && errno != ENOENT)
                return error_set(err, negative_errno(), "overlay '%s': cannot remove '%s/overlays/%s': %m", name,
                                 c->state_dir, name);
        /* The metadata goes last but one: until then the overlay still
         * shows up and delete can be run again. */
        static const char *const subs[] = { "work", "logs" };
        for (size_t i = 0; i < ELEMENTSOF(subs); i++) {
                _cleanup_close_ int dir = overlay_store_open(c, subs[i], NULL);
                if (dir >= 0 && (r = rm_rf_at(dir, name)) < 0)
                        return error_set(err, r, "overlay '%s': cannot remove its %s dir: %s", name, subs[i],
                                         strerror(-r));
        }
        if (kinds[kind].forget)
                kinds[kind].forget(c, name);
        _cleanup_close_ int metadir = overlay_store_open(c, "meta", err);
        char file[64];
        snprintf(file, sizeof file, "%s.json", name);
        if (metadir < 0 || (unlinkat(metadir, file, 0) < 0 && errno != ENOENT))
                return metadir < 0 ? metadir
                                   : error_set(err, negative_errno(), "overlay '%s': cannot remove its metadata: %m",
                                               name);
        close(TAKE_FD(publish));
        overlay_gc(c);
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int list_dir_names(const HostConfig *c, const char *rel, const char *suffix, char ***v, size_t *n) {
        _cleanup_close_ int fd = path_open_beneath_dir(c->state_dir, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        DIR *d = fdopendir(TAKE_FD(fd));
        if (!d)
                return negative_errno();
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                char name[NAME_MAX_LEN + 8];
                size_t len = strlen(de->d_name), sl = suffix ? strlen(suffix) : 0;
                if (suffix) {
                        if (len <= sl || len - sl >= sizeof name || !streq(de->d_name + len - sl, suffix))
                                continue;
                        snprintf(name, sizeof name, "%.*s", (int) (len - sl), de->d_name);
                } else {
                        if (len >= sizeof name)
                                continue;
                        struct stat st;
                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                                continue;
                        snprintf(name, sizeof name, "%s", de->d_name);
                }
                if (!name_is_valid(name))
                        continue;
                bool dup = false;
                for (size_t i = 0; i < *n && !dup; i++)
                        dup = streq((*v)[i], name);
                if (!dup)
                        r = strv_push_dup(v, n, name);
        }
        closedir(d);
        return r;
}

int overlay_list(const HostConfig *c, char ***ret, Error *err) {
        _cleanup_strv_ char **v = calloc(1, sizeof(char *));
        size_t n = 0;
        if (!v)
                return -ENOMEM;
        int r = list_dir_names(c, "overlays", NULL, &v, &n);
        if (r >= 0)
                r = list_dir_names(c, "overlay-store/meta", ".json", &v, &n);
        if (r < 0)
                return error_set(err, r, "cannot list the overlays in '%s': %s", c->state_dir, strerror(-r));
        qsort(v, n, sizeof *v, cmp_str);
        *ret = TAKE_PTR(v);
        return 0;
}

int overlay_show(const HostConfig *c, const char *name, json_t **ret, Error *err) {
        int r = overlay_check_name(name, err);
        if (r < 0)
                return r;
        json_t *meta = NULL;
        r = overlay_meta_load(c, name, &meta, err);
        if (r < 0 && r != -ENOENT)
                return r;
        bool published = published_exists(c, name);
        if (!meta && !published)
                return error_set(err, -ENOENT, "unknown overlay '%s' (see 'l4d2ctl overlay list')", name);
        OverlayKind kind = meta ? meta_kind(meta) : OVERLAY_MANUAL;
        json_t *size = json_object_get(meta, "size");
        unsigned long long du = 0;
        if (!meta) {
                _cleanup_free_ char *path = config_path(c, "overlays", name);
                if (path && disk_usage(path, &du) < 0)
                        du = 0;
        }
        json_t *users = NULL;
        if (overlay_running_users(c, name, &users, NULL) < 0)
                users = json_array();
        _cleanup_free_ char *path = config_path(c, "overlays", name);
        json_t *build = json_object_get(meta, "build");
        json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:o, s:O, s:s, s:O, s:o, s:I}", "name", name, "kind",
                              kinds[kind].name, "state",
                              meta ? json_string_value(json_object_get(meta, "state")) ?: "new" : "ready", "building",
                              meta ? overlay_is_building(c, name) : 0, "published", published, "size",
                              json_is_integer(size) ? json_incref(size) : json_integer((json_int_t) du), "created",
                              json_object_get(meta, "created") ?: json_null(), "path", path ? path : "", "build",
                              build ? build : json_null(), "running", users, "retired",
                              (json_int_t) overlay_retired_count(c, name));
        if (o && meta && kinds[kind].summary)
                kinds[kind].summary(c, name, meta, o);
        json_decref(meta);
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

/* ---- builds ---- */

void overlay_build_emit(OverlayBuild *b, json_t *ev) {
        if (!ev)
                return;
        const char *line = json_string_value(json_object_get(ev, "line"));
        if (line && b->log_fd >= 0) {
                dprintf(b->log_fd, "%s\n", line);
        }
        if (b->cb)
                b->cb(ev, b->userdata);
        json_decref(ev);
}

void overlay_build_line(OverlayBuild *b, const char *fmt, ...) {
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        overlay_build_emit(b, json_pack("{s:s, s:s}", "event", "line", "line", line));
}

static int64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int overlay_log_open(const HostConfig *c, const char *name, char **ret_path, int *ret_fd) {
        _cleanup_close_ int logs = overlay_store_open(c, "logs", NULL);
        if (logs < 0)
                return logs;
        int r = mkdir_p_at(logs, name, 0755);
        _cleanup_close_ int dir = r < 0 ? r : openat(logs, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return r < 0 ? r : negative_errno();
        /* Keep the newest few: names sort by time. */
        _cleanup_strv_ char **old = calloc(1, sizeof(char *));
        size_t n = 0;
        DIR *d = old ? fdopendir(fcntl(dir, F_DUPFD_CLOEXEC, 3)) : NULL;
        if (d) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.' && strv_push_dup(&old, &n, de->d_name) < 0)
                                break;
                closedir(d);
                qsort(old, n, sizeof *old, cmp_str);
                for (size_t i = 0; n >= LOGS_KEPT && i <= n - LOGS_KEPT; i++)
                        unlinkat(dir, old[i], 0);
        }
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        char file[64], hex[5];
        random_hex(hex, sizeof hex);
        strftime(file, sizeof file, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(file + strlen(file), sizeof file - strlen(file), "-%s.log", hex);
        int fd = openat(dir, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return negative_errno();
        char *path = NULL;
        if (asprintf(&path, "%s/overlay-store/logs/%s/%s", c->state_dir, name, file) < 0) {
                close(fd);
                return -ENOMEM;
        }
        *ret_path = path;
        *ret_fd = fd;
        return 0;
}

int overlay_record_build(const HostConfig *c, const char *name, bool ok, bool changed, int64_t started_usec,
                         const char *log_path, const char *error, Error *err) {
        _cleanup_close_ int lock = -1;
        int r = overlay_lock_meta(c, name, &lock, err);
        if (r < 0)
                return r;
        json_t *meta = NULL;
        if ((r = overlay_meta_load(c, name, &meta, err)) < 0)
                return r;
        int64_t dur = (now_usec() - started_usec) / 1000;
        unsigned long long du = 0;
        _cleanup_free_ char *path = config_path(c, "overlays", name);
        if (path)
                (void) disk_usage(path, &du);
        json_object_set_new(meta, "build",
                            json_pack("{s:b, s:b, s:I, s:I, s:s, s:s}", "ok", ok, "changed", changed, "started",
                                      (json_int_t) (started_usec / 1000000), "duration_ms", (json_int_t) dur, "log",
                                      log_path ? log_path : "", "error", error ? error : ""));
        json_object_set_new(meta, "state", json_string(ok ? "ready" : "failed"));
        json_object_set_new(meta, "size", json_integer((json_int_t) du));
        r = overlay_meta_save(c, name, meta, err);
        json_decref(meta);
        return r;
}

int overlay_build(const HostConfig *c, const char *name, overlay_event_cb cb, void *userdata, bool *ret_changed,
                  Error *err) {
        return overlay_build_wait(c, name, 0, cb, userdata, ret_changed, err);
}

int overlay_build_wait(const HostConfig *c, const char *name, int wait_ms, overlay_event_cb cb, void *userdata,
                       bool *ret_changed, Error *err) {
        int r = overlay_check_name(name, err);
        if (r < 0)
                return r;
        json_t *meta = NULL;
        r = overlay_meta_load(c, name, &meta, err);
        if (r == -ENOENT)
                return published_exists(c, name)
                               ? error_set(err, -EINVAL, "overlay '%s' was made by hand: there is nothing to build",
                                           name)
                               : error_set(err, -ENOENT, "unknown overlay '%s' (see 'l4d2ctl overlay list')", name);
        if (r < 0)
                return r;
        OverlayKind kind = meta_kind(meta);
        json_decref(meta);
        if (!kinds[kind].build)
                return error_set(err, -EOPNOTSUPP, "overlay '%s': %s overlays cannot be built yet", name,
                                 kinds[kind].name);
        _cleanup_close_ int lock = -1;
        if ((r = overlay_lock_build(c, name, wait_ms, &lock, err)) < 0)
                return r;

        int64_t started = now_usec();
        _cleanup_free_ char *log_path = NULL;
        _cleanup_close_ int log_fd = -1;
        (void) overlay_log_open(c, name, &log_path, &log_fd);
        OverlayBuild b = { .c = c, .name = name, .cb = cb, .userdata = userdata, .log_fd = log_fd };
        r = kinds[kind].build(&b, err);
        if (ret_changed)
                *ret_changed = b.changed;
        if (r < 0 && log_fd >= 0)
                dprintf(log_fd, "error: %s\n", error_msg(err));
        Error rec_err = { 0 };
        int q = overlay_record_build(c, name, r >= 0, b.changed, started, log_path, r < 0 ? error_msg(err) : "",
                                     &rec_err);
        overlay_gc(c);
        if (r >= 0 && q < 0) {
                *err = rec_err;
                return q;
        }
        return r;
}
