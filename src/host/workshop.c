/* Workshop overlays, the overlay side: sources (add/remove), the items
 * listing, build and refresh (through workshop-sync.c), and the cache's
 * garbage collection. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "lock.h"
#include "overlay.h"
#include "workshop-sync.h"
#include "workshop.h"

int workshop_init_meta(json_t *meta) {
        return json_object_set_new(meta, "workshop",
                                   json_pack("{s:[], s:{}, s:[], s:[], s:[]}", "sources", "nodes", "order",
                                             "problems", "built"));
}

static const char *node_state(const json_t *node) {
        return json_string_value(json_object_get(node, "state")) ?: "pending";
}

void workshop_summary(const HostConfig *c, const char *name, const json_t *meta, json_t *show) {
        const json_t *ws = json_object_get(meta, "workshop");
        const json_t *nodes = json_object_get(ws, "nodes");
        unsigned ok = 0, failed = 0, missing = 0, wrong = 0, pending = 0;
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(ws, "order"), i, v) {
                const char *st = node_state(json_object_get(nodes, json_string_value(v)));
                ok += streq(st, "ok");
                failed += streq(st, "failed");
                missing += streq(st, "missing");
                wrong += streq(st, "wrong-app");
        }
        json_array_foreach(json_object_get(ws, "sources"), i, v)
                pending += !json_object_get(nodes, json_string_value(v));
        json_object_set_new(show, "workshop",
                            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "sources",
                                      (json_int_t) json_array_size(json_object_get(ws, "sources")), "items",
                                      (json_int_t) json_array_size(json_object_get(ws, "order")), "ok",
                                      (json_int_t) ok, "failed", (json_int_t) failed, "missing", (json_int_t) missing,
                                      "wrong_app", (json_int_t) wrong, "pending", (json_int_t) pending, "problems",
                                      (json_int_t) json_array_size(json_object_get(ws, "problems")), "needs_build",
                                      !json_equal(json_object_get(ws, "sources"), json_object_get(ws, "built"))));
}

/* ---- sources ---- */

/* Loads the metadata of a workshop overlay (the caller holds the meta lock). */
static int load_workshop(const HostConfig *c, const char *name, json_t **ret, Error *err) {
        int r = overlay_check_name(name, err);
        if (r < 0)
                return r;
        json_t *meta = NULL;
        r = overlay_meta_load(c, name, &meta, err);
        if (r == -ENOENT)
                return error_set(err, r, "unknown workshop overlay '%s' (see 'l4d2ctl overlay list')", name);
        if (r < 0)
                return r;
        const char *kind = json_string_value(json_object_get(meta, "kind")) ?: "?";
        json_t *ws = json_object_get(meta, "workshop");
        if (!streq(kind, "workshop") || !json_is_array(json_object_get(ws, "sources"))) {
                r = error_set(err, -EINVAL, "overlay '%s' is a %s overlay, not a workshop overlay", name, kind);
                json_decref(meta);
                return r;
        }
        *ret = meta;
        return 0;
}

static int parse_refs(char *const *refs, size_t n, char (*ids)[WORKSHOP_ID_MAX], Error *err) {
        if (n == 0)
                return error_set(err, -EINVAL, "no Workshop IDs or URLs given");
        if (n > WORKSHOP_MAX_SOURCES)
                return error_set(err, -E2BIG, "more than %d IDs at once", WORKSHOP_MAX_SOURCES);
        for (size_t i = 0; i < n; i++) {
                int r = workshop_parse_ref(refs[i], ids[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static ssize_t index_of(const json_t *a, const char *id) {
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v)
                if (streq(json_string_value(v) ?: "", id))
                        return (ssize_t) i;
        return -1;
}

typedef enum { SOURCES_ADD, SOURCES_REMOVE } SourcesOp;

/* add and remove: every argument is parsed before anything is locked or
 * written, and the change is all or nothing. */
static int change_sources(const HostConfig *c, const char *name, SourcesOp op, char *const *refs, size_t n,
                          unsigned *ret_changed, Error *err) {
        _cleanup_free_ char(*ids)[WORKSHOP_ID_MAX] = calloc(n + 1, WORKSHOP_ID_MAX);
        if (!ids)
                return -ENOMEM;
        int r = parse_refs(refs, n, ids, err);
        if (r < 0 || (r = overlay_check_name(name, err)) < 0)
                return r;
        _cleanup_close_ int lock = -1;
        json_t *meta = NULL;
        if ((r = overlay_lock_meta(c, name, &lock, err)) < 0 || (r = load_workshop(c, name, &meta, err)) < 0)
                return r;
        json_t *ws = json_object_get(meta, "workshop");
        json_t *sources = json_object_get(ws, "sources");
        unsigned changed = 0;
        for (size_t i = 0; i < n && r >= 0; i++) {
                ssize_t k = index_of(sources, ids[i]);
                if (op == SOURCES_ADD && k < 0) {
                        json_array_append_new(sources, json_string(ids[i]));
                        changed++;
                } else if (op == SOURCES_REMOVE && k >= 0) {
                        json_array_remove(sources, (size_t) k);
                        changed++;
                } else if (op == SOURCES_REMOVE)
                        r = json_object_get(json_object_get(ws, "nodes"), ids[i])
                                    ? error_set(err, -ENOENT,
                                                "overlay '%s': %s comes with one of its collections and was not "
                                                "added by itself: remove that collection instead",
                                                name, ids[i])
                                    : error_set(err, -ENOENT, "overlay '%s' has no item or collection %s", name,
                                                ids[i]);
        }
        if (r >= 0 && json_array_size(sources) > WORKSHOP_MAX_SOURCES)
                r = error_set(err, -E2BIG, "overlay '%s' would have more than %d sources", name,
                              WORKSHOP_MAX_SOURCES);
        if (r >= 0 && changed)
                r = overlay_meta_save(c, name, meta, err);
        json_decref(meta);
        if (r >= 0 && ret_changed)
                *ret_changed = changed;
        return r;
}

int workshop_add(const HostConfig *c, const char *name, char *const *refs, size_t n, unsigned *ret_changed,
                 Error *err) {
        return change_sources(c, name, SOURCES_ADD, refs, n, ret_changed, err);
}

int workshop_remove(const HostConfig *c, const char *name, char *const *refs, size_t n, unsigned *ret_changed,
                    Error *err) {
        return change_sources(c, name, SOURCES_REMOVE, refs, n, ret_changed, err);
}

int workshop_items(const HostConfig *c, const char *name, json_t **ret, Error *err) {
        json_t *meta = NULL;
        int r = load_workshop(c, name, &meta, err);
        if (r < 0)
                return r;
        json_t *ws = json_object_get(meta, "workshop"), *nodes = json_object_get(ws, "nodes");
        json_t *sources = json_array(), *items = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(ws, "sources"), i, v) {
                const char *id = json_string_value(v);
                json_t *node = json_object_get(nodes, id);
                json_array_append_new(sources,
                                      json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "kind",
                                                node ? json_string_value(json_object_get(node, "kind")) ?: "unknown"
                                                     : "unknown",
                                                "title", json_string_value(json_object_get(node, "title")) ?: "",
                                                "state", node_state(node), "message",
                                                json_string_value(json_object_get(node, "message")) ?: ""));
        }
        json_array_foreach(json_object_get(ws, "order"), i, v) {
                const char *id = json_string_value(v);
                json_t *node = json_object_get(nodes, id);
                json_array_append_new(
                        items, json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "id", id, "title",
                                         json_string_value(json_object_get(node, "title")) ?: "", "preview_url",
                                         json_string_value(json_object_get(node, "preview_url")) ?: "", "size",
                                         json_integer_value(json_object_get(node, "size")), "time_updated",
                                         json_integer_value(json_object_get(node, "time_updated")), "state",
                                         node_state(node), "message",
                                         json_string_value(json_object_get(node, "message")) ?: ""));
        }
        json_t *problems = json_object_get(ws, "problems");
        *ret = json_pack("{s:s, s:o, s:o, s:O}", "overlay", name, "sources", sources, "items", items, "problems",
                         json_is_array(problems) ? problems : json_array());
        json_decref(meta);
        return *ret ? 0 : -ENOMEM;
}

/* ---- build and refresh ---- */

int workshop_build(OverlayBuild *b, Error *err) {
        SyncTarget t = { .log_fd = b->log_fd };
        snprintf(t.name, sizeof t.name, "%s", b->name);
        int r = workshop_sync(b->c, &t, 1, true, b->cb, b->userdata, NULL, err);
        b->changed = t.changed;
        if (r < 0) {
                error_prefix(err, r, "overlay '%s'", b->name);
                size_t len = strlen(err->msg);
                snprintf(err->msg + len, sizeof err->msg - len, "; nothing changed");
                return r;
        }
        if (!t.changed)
                overlay_build_line(b, "overlay '%s': nothing changed", b->name);
        if (t.failed)
                return error_set(err, -EIO, "overlay '%s': %u item%s failed (the overlay keeps what it had of them): %s",
                                 b->name, t.failed, t.failed == 1 ? "" : "s", t.error);
        return 0;
}

static int64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A refresh keeps each overlay's lines in memory and writes them to a build
 * log only for the overlays it changed or failed on. */
static void keep_log(const HostConfig *c, const char *name, int memfd, char **ret_path) {
        _cleanup_close_ int fd = -1;
        if (overlay_log_open(c, name, ret_path, &fd) < 0)
                return;
        off_t len = lseek(memfd, 0, SEEK_END), off = 0;
        while (off < len && sendfile(fd, memfd, &off, (size_t) (len - off)) > 0)
                ;
}

int workshop_refresh(const HostConfig *c, overlay_event_cb cb, void *userdata, bool *ret_changed, Error *err) {
        _cleanup_strv_ char **names = NULL;
        int r = overlay_list(c, &names, err);
        if (r < 0)
                return r;
        size_t n = 0;
        for (char **p = names; *p; p++)
                n++;
        SyncTarget *t = calloc(n + 1, sizeof *t);
        int *locks = calloc(n + 1, sizeof *locks);
        if (!t || !locks) {
                free(t);
                free(locks);
                return -ENOMEM;
        }
        size_t nt = 0;
        for (char **p = names; *p; p++) {
                json_t *meta = NULL;
                if (overlay_meta_load(c, *p, &meta, NULL) < 0)
                        continue;
                bool ws = streq(json_string_value(json_object_get(meta, "kind")) ?: "", "workshop");
                json_decref(meta);
                if (!ws)
                        continue;
                Error e = { 0 };
                if (overlay_lock_build(c, *p, 0, &locks[nt], &e) < 0) {
                        char line[600];
                        snprintf(line, sizeof line, "%s: skipped", e.msg);
                        if (cb) {
                                json_t *ev = json_pack("{s:s, s:s}", "event", "line", "line", line);
                                cb(ev, userdata);
                                json_decref(ev);
                        }
                        continue;
                }
                snprintf(t[nt].name, sizeof t[nt].name, "%s", *p);
                t[nt].log_fd = memfd_create("refresh-log", MFD_CLOEXEC);
                nt++;
        }
        int64_t started = now_usec();
        unsigned requests = 0;
        r = nt ? workshop_sync(c, t, nt, false, cb, userdata, &requests, err) : 0;
        if (r < 0) {
                size_t len = strlen(err->msg);
                snprintf(err->msg + len, sizeof err->msg - len, "; nothing changed");
        }
        unsigned failed = 0;
        char first[512] = "";
        for (size_t i = 0; i < nt; i++) {
                if (r >= 0 && (t[i].changed || t[i].failed)) {
                        _cleanup_free_ char *path = NULL;
                        keep_log(c, t[i].name, t[i].log_fd, &path);
                        (void) overlay_record_build(c, t[i].name, t[i].failed == 0, t[i].changed, started, path,
                                                    t[i].error, NULL);
                }
                if (r >= 0 && cb) {
                        char line[640];
                        snprintf(line, sizeof line, "overlay '%s': %s", t[i].name,
                                 t[i].failed ? t[i].error : t[i].changed ? "updated" : "up to date");
                        json_t *ev = json_pack("{s:s, s:s, s:b, s:i, s:s}", "event", "overlay", "name", t[i].name,
                                               "changed", t[i].changed, "failed", (int) t[i].failed, "line", line);
                        cb(ev, userdata);
                        json_decref(ev);
                }
                if (t[i].failed && !first[0])
                        snprintf(first, sizeof first, "'%s': %s", t[i].name, t[i].error);
                failed += t[i].failed;
                if (ret_changed && t[i].changed)
                        *ret_changed = true;
                if (t[i].log_fd >= 0)
                        close(t[i].log_fd);
                close(locks[i]);
        }
        free(t);
        free(locks);
        overlay_gc(c);
        if (r < 0)
                return r;
        if (failed)
                return error_set(err, -EIO, "workshop refresh: %u item%s failed (the overlays keep what they had): %s",
                                 failed, failed == 1 ? "" : "s", first);
        return 0;
}

/* ---- the cache ---- */

void workshop_cache_gc(const HostConfig *c) {
        _cleanup_close_ int lock = -1;
        if (host_lock(c, ".workshop-cache", LOCK_EX, 0, "the Workshop cache", &lock, NULL) < 0)
                return; /* a build is running; the next GC will do */
        _cleanup_close_ int cache = path_open_beneath_dir(c->state_dir, "workshop-cache", O_RDONLY | O_DIRECTORY, 0,
                                                          PATH_NO_SYMLINKS);
        if (cache < 0)
                return;
        DIR *d = fdopendir(fcntl(cache, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                struct stat st;
                if (de->d_name[0] == '.' || fstatat(cache, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                /* Link count 1: only the cache holds it. Every overlay tree,
                 * published, staged or retired, is a link. */
                if (S_ISREG(st.st_mode) && st.st_nlink == 1)
                        (void) unlinkat(cache, de->d_name, 0);
        }
        closedir(d);
        /* With the lock held no download is running: what is in .tmp is
         * left over from a crash. */
        _cleanup_close_ int tmp = openat(cache, ".tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *td = tmp >= 0 ? fdopendir(fcntl(tmp, F_DUPFD_CLOEXEC, 3)) : NULL;
        if (!td)
                return;
        while ((de = readdir(td)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        (void) rm_rf_at(tmp, de->d_name);
        closedir(td);
}
