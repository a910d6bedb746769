/* Resolving Workshop sources through the Steam Web API: collections
 * expanded breadth first (GetCollectionDetails), every item and collection
 * read (GetPublishedFileDetails, one request per 100 items), then each
 * overlay's items ordered depth first with its problems (cycles, removed
 * collections, too deep, too many), each named by ID.
 *
 * The catalog is one JSON object, ID -> node, shared by every overlay of the
 * run, so an item used by several overlays is asked about and downloaded
 * once. A node: {"kind": "item"|"collection"|"unknown", "title", "time_updated",
 * "preview_url", "size", "app", "state": "ok"|"failed"|"missing"|"wrong-app",
 * "message", "children": [IDs] (collections)}. Keys starting with '_' live
 * only during the run. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"
#include "workshop-api.h"
#include "workshop-sync.h"
#include "workshop.h"

static void problem(Sync *s, size_t ti, const char *id, const char *fmt, ...) _printf_(4, 5);
static void problem(Sync *s, size_t ti, const char *id, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        json_array_append_new(s->problems[ti], json_pack("{s:s, s:s}", "id", id, "message", msg));
        char line[600];
        snprintf(line, sizeof line, "warning: %s", msg);
        sync_emit(s, &s->t[ti], json_pack("{s:s, s:s, s:s, s:s}", "event", "problem", "id", id, "overlay", s->t[ti].name,
                                     "line", line));
}

/* ---- the catalog ---- */

json_t *sync_node(Sync *s, const char *id) {
        json_t *n = json_object_get(s->cat, id);
        if (!n) {
                n = json_pack("{s:s}", "kind", "unknown");
                json_object_set_new(s->cat, id, n);
        }
        return n;
}

const char *sync_kind(const json_t *node) {
        return json_string_value(json_object_get(node, "kind")) ?: "unknown";
}

void sync_set(json_t *node, const char *key, const char *v) {
        json_object_set_new(node, key, json_string(v));
}

/* Control characters become spaces; at most max bytes, cut at a UTF-8
 * character boundary. */
static json_t *clean_text(const char *s, size_t max) {
        char buf[1024];
        size_t n = 0;
        if (max >= sizeof buf)
                max = sizeof buf - 1;
        for (; s && s[n] && n < max; n++)
                buf[n] = (unsigned char) s[n] < 0x20 || s[n] == 0x7f ? ' ' : s[n];
        while (n > 0 && s[n] && ((unsigned char) s[n] & 0xc0) == 0x80)
                n--; /* do not split a character */
        buf[n] = '\0';
        return json_string(buf) ?: json_string("");
}

static bool is_http_url(const char *u) {
        return u && (startswith(u, "https://") || startswith(u, "http://")) && !has_control_chars(u) &&
               strlen(u) < 2048;
}

/* Takes one GetPublishedFileDetails entry. */
static void apply_details(Sync *s, const json_t *e) {
        const char *id = json_string_value(json_object_get(e, "publishedfileid"));
        json_t *node = sync_node(s, id);
        json_object_set_new(node, "_f", json_true());
        bool coll = streq(sync_kind(node), "collection");
        if (json_integer_value(json_object_get(e, "result")) != 1) {
                sync_set(node, "state", "missing");
                sync_set(node, "message", coll ? "the collection is not on the Workshop (removed or private)"
                                              : "not on the Workshop (removed, private or never existed)");
                json_object_del(node, "_url");
                return;
        }
        unsigned long long tu = steam_api_u64(json_object_get(e, "time_updated"));
        unsigned long long old_tu = steam_api_u64(json_object_get(node, "time_updated"));
        json_object_set_new(node, "title", clean_text(json_string_value(json_object_get(e, "title")), 200));
        json_object_set_new(node, "time_updated", json_integer((json_int_t) tu));
        const char *preview = json_string_value(json_object_get(e, "preview_url"));
        json_object_set_new(node, "preview_url", json_string(is_http_url(preview) ? preview : ""));
        if (coll) {
                if (!s->full && tu != old_tu)
                        json_object_set_new(node, "_changed", json_true());
                if (!streq(json_string_value(json_object_get(node, "state")) ?: "", "missing") || tu != old_tu) {
                        sync_set(node, "state", "ok");
                        sync_set(node, "message", "");
                }
                return;
        }
        sync_set(node, "kind", "item");
        unsigned long long app = steam_api_u64(json_object_get(e, "consumer_app_id"));
        unsigned long long size = steam_api_u64(json_object_get(e, "file_size"));
        const char *url = json_string_value(json_object_get(e, "file_url"));
        json_object_set_new(node, "app", json_integer((json_int_t) app));
        json_object_set_new(node, "size", json_integer((json_int_t) size));
        if (is_http_url(url))
                sync_set(node, "_url", url);
        else
                json_object_del(node, "_url");
        char msg[160] = "";
        const char *state = "ok";
        if (app != WORKSHOP_APP_ID) {
                state = "wrong-app";
                snprintf(msg, sizeof msg, "belongs to app %llu, not Left 4 Dead 2 (%d)", app, WORKSHOP_APP_ID);
        } else if (steam_api_u64(json_object_get(e, "banned"))) {
                state = "missing";
                snprintf(msg, sizeof msg, "banned on the Workshop");
        } else if (size == 0) {
                state = "failed";
                snprintf(msg, sizeof msg, "the Workshop announces no file for it");
        }
        sync_set(node, "state", state);
        sync_set(node, "message", msg);
}

typedef struct Child {
        long long sortorder;
        size_t index;
        const json_t *ch;
} Child;

static int cmp_child(const void *a, const void *b) {
        const Child *x = a, *y = b;
        if (x->sortorder != y->sortorder)
                return x->sortorder < y->sortorder ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* GetCollectionDetails, breadth first from queue (IDs), for as long as
 * collections turn up collections. */
static int expand(Sync *s, json_t *queue, Error *err) {
        size_t expanded = 0, head = 0;
        while (head < json_array_size(queue)) {
                const char *ids[100];
                size_t n = 0;
                for (; head < json_array_size(queue) && n < ELEMENTSOF(ids); head++) {
                        const char *id = json_string_value(json_array_get(queue, head));
                        json_t *node = sync_node(s, id);
                        if (json_is_true(json_object_get(node, "_x")))
                                continue;
                        json_object_set_new(node, "_x", json_true());
                        ids[n++] = id;
                }
                if (n == 0)
                        continue;
                if ((expanded += n) > WORKSHOP_MAX_COLLECTIONS)
                        return error_set(err, -E2BIG, "the sources reach more than %d collections",
                                         WORKSHOP_MAX_COLLECTIONS);
                json_t *a = NULL;
                int r = steam_api_collection_details(&s->api, ids, n, &a, err);
                if (r < 0)
                        return r;
                size_t i;
                json_t *e;
                json_array_foreach(a, i, e) {
                        const char *id = json_string_value(json_object_get(e, "publishedfileid"));
                        json_t *node = sync_node(s, id), *children = json_object_get(e, "children");
                        if (json_integer_value(json_object_get(e, "result")) != 1 || !json_is_array(children)) {
                                if (streq(sync_kind(node), "collection")) {
                                        sync_set(node, "state", "missing");
                                        sync_set(node, "message",
                                                "the collection is not on the Workshop (removed or private)");
                                        json_object_set_new(node, "children", json_array());
                                } else
                                        sync_set(node, "kind", "item"); /* GetPublishedFileDetails decides */
                                continue;
                        }
                        sync_set(node, "kind", "collection");
                        sync_set(node, "state", "ok");
                        sync_set(node, "message", "");
                        /* Children in the collection's order (sortorder). */
                        size_t nc = json_array_size(children);
                        Child *order = calloc(nc + 1, sizeof *order);
                        if (!order) {
                                json_decref(a);
                                return -ENOMEM;
                        }
                        size_t k;
                        json_t *ch;
                        json_array_foreach(children, k, ch)
                                order[k] = (Child) { (long long) json_integer_value(json_object_get(ch, "sortorder")),
                                                     k, ch };
                        qsort(order, nc, sizeof *order, cmp_child);
                        json_t *sorted = json_array();
                        for (k = 0; k < nc; k++) {
                                char cid[WORKSHOP_ID_MAX];
                                const char *raw = json_string_value(json_object_get(order[k].ch, "publishedfileid"));
                                if (!raw || workshop_parse_ref(raw, cid, NULL) < 0)
                                        continue;
                                json_t *child = sync_node(s, cid);
                                if (json_integer_value(json_object_get(order[k].ch, "filetype")) == 2) {
                                        sync_set(child, "kind", "collection");
                                        json_array_append_new(queue, json_string(cid));
                                } else if (streq(sync_kind(child), "unknown"))
                                        sync_set(child, "kind", "item");
                                json_array_append_new(sorted, json_string(cid));
                        }
                        free(order);
                        json_object_set_new(node, "children", sorted);
                }
                json_decref(a);
        }
        return 0;
}

/* Every ID reachable from the targets' sources: items, collections and
 * still unknown ones, each once. */
static json_t *reachable(Sync *s) {
        json_t *seen = json_object(), *out = json_array(), *stack = json_array();
        for (size_t t = 0; t < s->n; t++)
                json_array_extend(stack, s->sources[t]);
        while (json_array_size(stack) > 0) {
                size_t last = json_array_size(stack) - 1;
                char id[WORKSHOP_ID_MAX];
                snprintf(id, sizeof id, "%s", json_string_value(json_array_get(stack, last)) ?: "");
                json_array_remove(stack, last);
                if (!id[0] || json_object_get(seen, id) || json_object_size(seen) > 4 * WORKSHOP_MAX_ITEMS)
                        continue;
                json_object_set_new(seen, id, json_true());
                json_array_append_new(out, json_string(id));
                json_array_extend(stack, json_object_get(sync_node(s, id), "children"));
        }
        json_decref(seen);
        json_decref(stack);
        return out;
}

/* GetPublishedFileDetails for the IDs of ids not asked about yet in this
 * run: one request per 100 items, collections riding along. */
static int details(Sync *s, json_t *ids, Error *err) {
        json_t *items = json_array(), *colls = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v) {
                json_t *node = sync_node(s, json_string_value(v));
                if (json_is_true(json_object_get(node, "_f")))
                        continue;
                json_array_append(streq(sync_kind(node), "collection") ? colls : items, v);
        }
        size_t per, k = steam_api_batches(json_array_size(items), json_array_size(colls), &per);
        json_array_extend(items, colls);
        json_decref(colls);
        int r = 0;
        for (size_t b = 0; r >= 0 && b < k; b++) {
                const char *batch[STEAM_API_MAX_IDS];
                size_t n = 0;
                for (size_t j = b * per; j < json_array_size(items) && n < per; j++)
                        batch[n++] = json_string_value(json_array_get(items, j));
                if (n == 0)
                        break;
                json_t *a = NULL;
                if ((r = steam_api_file_details(&s->api, batch, n, &a, err)) < 0)
                        break;
                size_t q;
                json_t *e;
                json_array_foreach(a, q, e)
                        apply_details(s, e);
                json_decref(a);
        }
        json_decref(items);
        return r;
}

int sync_resolve(Sync *s, Error *err) {
        json_t *queue = json_array();
        int r = 0;
        if (s->full) {
                /* Classify and expand every source that is not a known item. */
                for (size_t t = 0; t < s->n; t++) {
                        size_t i;
                        json_t *v;
                        json_array_foreach(s->sources[t], i, v)
                                if (!streq(sync_kind(sync_node(s, json_string_value(v))), "item"))
                                        json_array_append(queue, v);
                }
                r = expand(s, queue, err);
        } else {
                /* Sources never built are classified (and expanded) first;
                 * then one pass over everything known, and only collections
                 * whose time_updated changed are expanded again. */
                json_t *ids = reachable(s);
                size_t i;
                json_t *v;
                json_array_foreach(ids, i, v)
                        if (streq(sync_kind(sync_node(s, json_string_value(v))), "unknown"))
                                json_array_append(queue, v);
                if (json_array_size(queue) > 0) {
                        r = expand(s, queue, err);
                        json_array_clear(queue);
                        json_decref(ids);
                        ids = reachable(s);
                }
                if (r >= 0)
                        r = details(s, ids, err);
                json_array_foreach(ids, i, v)
                        if (json_is_true(json_object_get(sync_node(s, json_string_value(v)), "_changed")))
                                json_array_append(queue, v);
                json_decref(ids);
                if (r >= 0)
                        r = expand(s, queue, err);
        }
        json_decref(queue);
        if (r < 0)
                return r;
        json_t *ids = reachable(s);
        r = details(s, ids, err);
        json_decref(ids);
        return r;
}

/* ---- per overlay: its items in order, and what is wrong ---- */

static void walk(Sync *s, size_t ti, const char *id, json_t *path, json_t *seen, unsigned depth) {
        json_t *node = sync_node(s, id);
        bool coll = streq(sync_kind(node), "collection");
        if (coll && json_object_get(path, id)) {
                const char *parent = json_string_value(json_object_get(path, "_last"));
                problem(s, ti, id, "collection %s includes collection %s, which includes it: a cycle, skipped",
                        parent ? parent : "?", id);
                return;
        }
        if (json_object_get(seen, id))
                return;
        json_object_set_new(seen, id, json_true());
        if (!coll) {
                if (json_array_size(s->order[ti]) == WORKSHOP_MAX_ITEMS)
                        problem(s, ti, id, "more than %d items: %s and the ones after it are skipped",
                                WORKSHOP_MAX_ITEMS, id);
                else if (json_array_size(s->order[ti]) < WORKSHOP_MAX_ITEMS)
                        json_array_append_new(s->order[ti], json_string(id));
                return;
        }
        if (streq(json_string_value(json_object_get(node, "state")) ?: "", "missing")) {
                problem(s, ti, id, "collection %s is not on the Workshop (removed or private)", id);
                return;
        }
        if (depth >= WORKSHOP_MAX_DEPTH) {
                problem(s, ti, id, "collection %s is nested more than %d levels deep: skipped", id,
                        WORKSHOP_MAX_DEPTH);
                return;
        }
        json_t *saved_last = json_incref(json_object_get(path, "_last"));
        json_object_set_new(path, id, json_true());
        size_t i;
        json_t *ch;
        json_array_foreach(json_object_get(node, "children"), i, ch) {
                json_object_set_new(path, "_last", json_string(id));
                walk(s, ti, json_string_value(ch), path, seen, depth + 1);
        }
        json_object_del(path, id);
        if (saved_last)
                json_object_set_new(path, "_last", saved_last);
        else
                json_object_del(path, "_last");
}

void sync_walk(Sync *s, size_t ti) {
        json_t *path = json_object(), *seen = json_object();
        size_t i;
        json_t *v;
        json_array_foreach(s->sources[ti], i, v)
                walk(s, ti, json_string_value(v), path, seen, 0);
        json_decref(path);
        json_decref(seen);
}
