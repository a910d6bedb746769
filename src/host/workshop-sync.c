/* The Workshop sync engine: the run, downloads, each overlay's new tree and
 * metadata. Resolving (the Steam Web API side) is in workshop-resolve.c. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "lock.h"
#include "overlay.h"
#include "workshop-api.h"
#include "workshop-fetch.h"
#include "workshop-sync.h"
#include "workshop.h"


/* ---- events ---- */

/* Sends ev to the caller and its line to the logs of target (all if NULL).
 * Takes ev. */
void sync_emit(Sync *s, const SyncTarget *target, json_t *ev) {
        if (!ev)
                return;
        const char *line = json_string_value(json_object_get(ev, "line"));
        for (size_t i = 0; line && i < s->n; i++)
                if ((!target || target == &s->t[i]) && s->t[i].log_fd >= 0)
                        dprintf(s->t[i].log_fd, "%s\n", line);
        if (s->cb)
                s->cb(ev, s->userdata);
        json_decref(ev);
}

static const char *title_of(const json_t *node) {
        const char *t = json_string_value(json_object_get(node, "title"));
        return t && *t ? t : "(no title)";
}

static void item_event(Sync *s, const SyncTarget *target, const char *id, const char *state, const char *fmt, ...)
        _printf_(5, 6);
static void item_event(Sync *s, const SyncTarget *target, const char *id, const char *state, const char *fmt, ...) {
        json_t *node = json_object_get(s->cat, id);
        char detail[512], line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        snprintf(line, sizeof line, "item %s '%s': %s", id, title_of(node), detail);
        sync_emit(s, target,
             json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "event", "item", "id", id, "title", title_of(node),
                       "state", state, "size", json_integer_value(json_object_get(node, "size")), "message",
                       json_string_value(json_object_get(node, "message")) ?: "", "line", line));
}

/* ---- downloads ---- */

static void cache_name(const char *id, const json_t *node, char *buf, size_t size) {
        snprintf(buf, size, "%s-%lld.vpk", id, (long long) json_integer_value(json_object_get(node, "time_updated")));
}

static bool in_cache(Sync *s, const char *want, uint64_t size) {
        struct stat st;
        return fstatat(s->cache_fd, want, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
               (uint64_t) st.st_size == size;
}

static void on_fetch(const FetchItem *it, FetchEvent ev, uint64_t done, void *userdata) {
        Sync *s = userdata;
        if (ev == FETCH_PROGRESS) {
                double pct = s->total ? 100.0 * (double) done / (double) s->total : 100.0;
                sync_emit(s, NULL, json_pack("{s:s, s:I, s:I, s:f, s:i, s:i}", "event", "progress", "done",
                                        (json_int_t) done, "total", (json_int_t) s->total, "percent", pct,
                                        "items_done", s->items_done, "items_total", s->items_total));
                return;
        }
        json_t *node = json_object_get(s->cat, it->id);
        if (ev == FETCH_RETRY) {
                item_event(s, NULL, it->id, "retrying", "%s; trying again (attempt %u of %ld)", it->message,
                           it->attempts + 1, s->set.attempts);
                return;
        }
        s->items_done++;
        if (it->result >= 0)
                item_event(s, NULL, it->id, "downloaded", "downloaded (%.1f MiB%s)",
                           (double) it->size / 1048576.0, it->url ? "" : ", steamcmd");
        else {
                sync_set(node, "state", "failed");
                sync_set(node, "message", it->message);
                item_event(s, NULL, it->id, "failed", "failed: %s", it->message);
        }
}

static int download(Sync *s, Error *err) {
        json_t *planned = json_object();
        size_t cap = 0;
        for (size_t t = 0; t < s->n; t++)
                cap += json_array_size(s->order[t]);
        s->fetch = calloc(cap + 1, sizeof *s->fetch);
        if (!s->fetch) {
                json_decref(planned);
                return -ENOMEM;
        }
        for (size_t t = 0; t < s->n; t++) {
                size_t i;
                json_t *v;
                json_array_foreach(s->order[t], i, v) {
                        const char *id = json_string_value(v);
                        json_t *node = sync_node(s, id);
                        if (!streq(json_string_value(json_object_get(node, "state")) ?: "", "ok"))
                                continue;
                        char want[64];
                        cache_name(id, node, want, sizeof want);
                        uint64_t size = (uint64_t) json_integer_value(json_object_get(node, "size"));
                        if (json_object_get(planned, want))
                                continue;
                        json_object_set_new(planned, want, json_true());
                        if (in_cache(s, want, size)) {
                                if (s->full)
                                        item_event(s, NULL, id, "cached", "up to date (%.1f MiB, in the cache)",
                                                   (double) size / 1048576.0);
                                continue;
                        }
                        FetchItem *f = &s->fetch[s->n_fetch++];
                        snprintf(f->id, sizeof f->id, "%s", id);
                        snprintf(f->want, sizeof f->want, "%s", want);
                        f->url = json_string_value(json_object_get(node, "_url"));
                        f->size = size;
                        s->total += size;
                }
        }
        json_decref(planned);
        s->items_total = (unsigned) s->n_fetch;
        if (s->n_fetch == 0)
                return 0;
        char line[160];
        snprintf(line, sizeof line, "downloading %zu items (%.1f MiB), %ld at a time", s->n_fetch,
                 (double) s->total / 1048576.0, s->set.parallel);
        sync_emit(s, NULL, json_pack("{s:s, s:s}", "event", "line", "line", line));
        return workshop_fetch(s->c, &s->set, s->cache_fd, s->fetch, s->n_fetch, on_fetch, s, err);
}

/* ---- per overlay: the new tree ---- */

static int link_into(int from_dir, const char *from, int to_dir, const char *to) {
        if (linkat(from_dir, from, to_dir, to, 0) == 0)
                return 0;
        return negative_errno();
}

static int assemble(Sync *s, size_t ti, Error *err) {
        SyncTarget *t = &s->t[ti];
        _cleanup_(overlay_staging_discard) OverlayStaging st = OVERLAY_STAGING_INIT;
        int r = overlay_staging_new(s->c, t->name, &st, err);
        if (r < 0)
                return r;
        if ((r = mkdir_p_at(st.dirfd, "left4dead2/addons", 0755)) < 0)
                return error_set(err, r, "overlay '%s': cannot make its tree: %s", t->name, strerror(-r));
        _cleanup_close_ int addons = path_open_beneath(st.dirfd, "left4dead2/addons", O_RDONLY | O_DIRECTORY, 0,
                                                       PATH_NO_SYMLINKS);
        _cleanup_close_ int pub = overlay_open_published(s->c, t->name);
        _cleanup_close_ int pub_addons =
                pub < 0 ? -1 : path_open_beneath(pub, "left4dead2/addons", O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (addons < 0)
                return error_set(err, addons, "overlay '%s': cannot open its new tree", t->name);
        unsigned linked = 0;
        size_t i;
        json_t *v;
        json_array_foreach(s->order[ti], i, v) {
                const char *id = json_string_value(v);
                json_t *node = sync_node(s, id);
                const char *state = json_string_value(json_object_get(node, "state")) ?: "";
                char want[64], file[64];
                cache_name(id, node, want, sizeof want);
                snprintf(file, sizeof file, "%s.vpk", id);
                if (streq(state, "ok")) {
                        /* A hard link into the cache: one copy on disk however
                         * many overlays hold it. */
                        if ((r = link_into(s->cache_fd, want, addons, file)) < 0)
                                return error_set(err, r, "overlay '%s': cannot link item %s from the cache: %s",
                                                 t->name, id, strerror(-r));
                        linked++;
                } else if (streq(state, "failed")) {
                        t->failed++;
                        if (!t->error[0])
                                snprintf(t->error, sizeof t->error, "%s (%s)", id,
                                         json_string_value(json_object_get(node, "message")) ?: "");
                        /* The overlay keeps its last good content of it. */
                        if (pub_addons >= 0 && link_into(pub_addons, file, addons, file) == 0) {
                                linked++;
                                item_event(s, t, id, "kept", "kept the previous version in '%s'", t->name);
                        }
                } else if (s->full || !json_is_true(json_object_get(node, "_reported")))
                        item_event(s, t, id, state, "%s", json_string_value(json_object_get(node, "message")) ?: state);
                json_object_set_new(node, "_reported", json_true());
        }
        if (overlay_staging_same_as_published(s->c, &st))
                return 0;
        if ((r = overlay_publish(s->c, &st, err)) < 0)
                return r;
        t->changed = true;
        char line[160];
        snprintf(line, sizeof line, "overlay '%s': published %u items", t->name, linked);
        sync_emit(s, t, json_pack("{s:s, s:s, s:s}", "event", "line", "overlay", t->name, "line", line));
        return 0;
}

/* The nodes this target reaches, without the run's private keys. */
static json_t *target_nodes(Sync *s, size_t ti) {
        json_t *out = json_object(), *stack = json_array();
        json_array_extend(stack, s->sources[ti]);
        while (json_array_size(stack) > 0 && json_object_size(out) < 4 * WORKSHOP_MAX_ITEMS) {
                size_t last = json_array_size(stack) - 1;
                char id[WORKSHOP_ID_MAX];
                snprintf(id, sizeof id, "%s", json_string_value(json_array_get(stack, last)) ?: "");
                json_array_remove(stack, last);
                if (!id[0] || json_object_get(out, id))
                        continue;
                json_t *node = json_deep_copy(sync_node(s, id));
                const char *key;
                void *tmp;
                json_t *val;
                json_object_foreach_safe(node, tmp, key, val)
                        if (key[0] == '_')
                                json_object_del(node, key);
                json_object_set_new(out, id, node);
                json_array_extend(stack, json_object_get(node, "children"));
        }
        json_decref(stack);
        return out;
}

static int save(Sync *s, size_t ti, Error *err) {
        SyncTarget *t = &s->t[ti];
        _cleanup_close_ int lock = -1;
        int r = overlay_lock_meta(s->c, t->name, &lock, err);
        if (r < 0)
                return r;
        json_t *meta = NULL;
        if ((r = overlay_meta_load(s->c, t->name, &meta, err)) < 0)
                return r;
        json_t *ws = json_object_get(meta, "workshop");
        json_t *nodes = target_nodes(s, ti);
        bool same = json_is_object(ws) && json_equal(json_object_get(ws, "nodes"), nodes) &&
                    json_equal(json_object_get(ws, "order"), s->order[ti]) &&
                    json_equal(json_object_get(ws, "problems"), s->problems[ti]) &&
                    json_equal(json_object_get(ws, "built"), s->sources[ti]);
        if (same || !json_is_object(ws)) {
                json_decref(nodes);
                json_decref(meta);
                return 0;
        }
        /* Sources may have changed since we read them (workshop add during
         * the build): keep the current ones, they apply next time. */
        json_object_set_new(ws, "nodes", nodes);
        json_object_set(ws, "order", s->order[ti]);
        json_object_set(ws, "problems", s->problems[ti]);
        json_object_set_new(ws, "built", json_deep_copy(s->sources[ti]));
        r = overlay_meta_save(s->c, t->name, meta, err);
        json_decref(meta);
        t->saved = r >= 0;
        return r;
}

/* ---- the run ---- */

static void sync_free(Sync *s) {
        for (size_t i = 0; i < s->n; i++) {
                json_decref(s->sources ? s->sources[i] : NULL);
                json_decref(s->order ? s->order[i] : NULL);
                json_decref(s->problems ? s->problems[i] : NULL);
        }
        free(s->sources);
        free(s->order);
        free(s->problems);
        free(s->fetch);
        json_decref(s->cat);
        steam_api_close(&s->api);
        workshop_settings_free(&s->set);
        if (s->cache_fd >= 0)
                close(s->cache_fd);
}

static int load_targets(Sync *s, Error *err) {
        for (size_t t = 0; t < s->n; t++) {
                json_t *meta = NULL;
                int r = overlay_meta_load(s->c, s->t[t].name, &meta, err);
                if (r < 0)
                        return r;
                json_t *ws = json_object_get(meta, "workshop");
                json_t *src = json_object_get(ws, "sources");
                s->sources[t] = json_is_array(src) ? json_incref(src) : json_array();
                s->order[t] = json_array();
                s->problems[t] = json_array();
                const char *id;
                json_t *node;
                json_object_foreach(json_object_get(ws, "nodes"), id, node)
                        if (json_is_object(node) && !json_object_get(s->cat, id))
                                json_object_set_new(s->cat, id, json_deep_copy(node));
                json_decref(meta);
        }
        return 0;
}

int workshop_sync(const HostConfig *c, SyncTarget *targets, size_t n, bool full, overlay_event_cb cb,
                  void *userdata, unsigned *ret_requests, Error *err) {
        Sync s = { .c = c, .t = targets, .n = n, .full = full, .cb = cb, .userdata = userdata, .cache_fd = -1 };
        s.cat = json_object();
        s.sources = calloc(n + 1, sizeof(json_t *));
        s.order = calloc(n + 1, sizeof(json_t *));
        s.problems = calloc(n + 1, sizeof(json_t *));
        int r = s.cat && s.sources && s.order && s.problems ? 0 : -ENOMEM;
        _cleanup_close_ int cache_lock = -1;
        if (r >= 0 && (r = workshop_settings_load(c, &s.set, err)) >= 0 && (r = load_targets(&s, err)) >= 0 &&
            (r = steam_api_open(&s.api, &s.set, err)) >= 0 && (s.cache_fd = workshop_cache_open(c, err)) >= 0)
                /* Shared: cache GC (exclusive) waits until we have linked
                 * what we downloaded. */
                r = host_lock(c, ".workshop-cache", LOCK_SH, 30000, "the Workshop cache", &cache_lock, err);
        if (r >= 0 && s.cache_fd < 0)
                r = s.cache_fd;
        /* Metadata: any failure here and nothing has been written. */
        if (r >= 0)
                r = sync_resolve(&s, err);
        if (ret_requests)
                *ret_requests = s.api.requests;
        if (r >= 0) {
                unsigned n_items = 0;
                for (size_t t = 0; t < n; t++) {
                        sync_walk(&s, t);
                        n_items += (unsigned) json_array_size(s.order[t]);
                }
                char line[160];
                snprintf(line, sizeof line, "resolved %u items for %zu overlay%s (%u Steam Web API request%s)",
                         n_items, n, n == 1 ? "" : "s", s.api.requests, s.api.requests == 1 ? "" : "s");
                sync_emit(&s, NULL, json_pack("{s:s, s:i, s:i, s:s}", "event", "resolved", "items", (int) n_items,
                                         "requests", (int) s.api.requests, "line", line));
                r = download(&s, err);
        }
        for (size_t t = 0; r >= 0 && t < n; t++) {
                Error terr = { 0 };
                int q = assemble(&s, t, &terr);
                if (q >= 0)
                        q = save(&s, t, &terr);
                if (q < 0 && !targets[t].error[0]) {
                        snprintf(targets[t].error, sizeof targets[t].error, "%s", terr.msg);
                        targets[t].failed++;
                }
        }
        if (ret_requests)
                *ret_requests = s.api.requests;
        sync_free(&s);
        return r;
}
