#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hostlink.h"
#include "db.h"
#include "model.h"
#include "poller.h"
#include "server.h"
#ifdef HAVE_PROTO
#include "a2s.h"
#endif

#define LIST_MAX (8 * 1024 * 1024)

static pthread_t thread;
static bool running;

typedef struct ListCtx {
        Buf out;
} ListCtx;

static int collect(const char *line, void *userdata) {
        ListCtx *c = userdata;
        /* `list --json` prints one JSON document; other lines are noise. */
        if (buf_puts(&c->out, line) < 0 || buf_puts(&c->out, "\n") < 0)
                return -E2BIG;
        return 0;
}

static json_t *find_instance(json_t *list, const char *name) {
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
                const char *n = json_string_value(json_object_get(v, "name"));
                if (n && streq(n, name))
                        return v;
        }
        return NULL;
}

/* Decides the drift text for one server; "" when all is as asked. */
static void drift_for(const char *desired, const char *state, int restarts, char *buf, size_t size) {
        buf[0] = '\0';
        if (streq(desired, "running")) {
                if (streq(state, "crashed"))
                        snprintf(buf, size,
                                 restarts >= 3 ? "Crash loop: the server crashed %d times in a row and is no longer "
                                                 "restarted. Check its log, then start it again."
                                               : "Crashed: the game server exited unexpectedly (%d restarts). Check its "
                                                 "log, then start it again.",
                                 restarts);
                else if (streq(state, "stopped"))
                        snprintf(buf, size, "Stopped outside the panel (or killed, e.g. out of memory). Start it "
                                            "again to bring it back.");
                else if (streq(state, "absent"))
                        snprintf(buf, size, "The instance is missing on the host. Start it again to recreate it.");
        } else if (streq(desired, "stopped") && (streq(state, "running") || streq(state, "starting"))) {
                snprintf(buf, size, "Running, although it was stopped in the panel: it was started outside the panel.");
        }
}

/* Asks a running server how many people play on it (A2S_INFO on loopback).
 * l4d2ctl's status has no player count; the game server itself is the
 * truth, and a dead or hung one simply leaves the count unknown. */
static void query_players(sqlite3 *db, int64_t id, json_t *st) {
#ifdef HAVE_PROTO
        const char *state = json_string_value(json_object_get(st, "state"));
        json_t *port = json_object_get(json_object_get(st, "ports"), "game");
        if (!state || !streq(state, "running") || !json_is_integer(port))
                return;
        _cleanup_a2s_ A2sClient *c = NULL;
        if (a2s_open("127.0.0.1", (uint16_t) json_integer_value(port), &c, NULL) < 0)
                return;
        a2s_set_timeout(c, 500);
        A2sInfo info = { 0 };
        if (a2s_info(c, &info, NULL) < 0)
                return;
        _cleanup_stmt_ sqlite3_stmt *u = NULL;
        if (db_prepare(db, "UPDATE servers SET players = ?, map = coalesce(?, map) WHERE id = ?", &u) == 0) {
                /* The engine counts bots as players; people want humans. */
                sqlite3_bind_int(u, 1, info.players > info.bots ? info.players - info.bots : 0);
                db_bind_text(u, 2, info.map && *info.map ? info.map : NULL);
                sqlite3_bind_int64(u, 3, id);
                (void) db_step_done(u);
        }
        a2s_info_done(&info);
#else
        (void) db, (void) id, (void) st;
#endif
}

/* list: what `l4d2ctl list` saw when it started at snapshot_at. */
static void observe(sqlite3 *db, json_t *list, int64_t snapshot_at) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        /* A job that finished after the snapshot was taken changed the
         * server since: the snapshot is stale for it (a start looks like a
         * manual stop). Such a server waits for the next round. */
        if (db_prepare(db,
                       "SELECT s.id, s.instance, s.desired, s.state, s.restarts, s.drift, "
                       "EXISTS (SELECT 1 FROM jobs j WHERE j.server_id = s.id AND j.state IN ('queued','running')), "
                       "EXISTS (SELECT 1 FROM jobs j WHERE j.server_id = s.id AND j.finished_at >= ?) "
                       "FROM servers s WHERE s.deleting = 0", &s) < 0)
                return;
        sqlite3_bind_int64(s, 1, snapshot_at);
        while (sqlite3_step(s) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(s, 0);
                char instance[16], desired[16], old_state[16], old_drift[256];
                snprintf(instance, sizeof instance, "%s", db_col_text(s, 1));
                snprintf(desired, sizeof desired, "%s", db_col_text(s, 2));
                snprintf(old_state, sizeof old_state, "%s", db_col_text(s, 3));
                int old_restarts = sqlite3_column_int(s, 4);
                snprintf(old_drift, sizeof old_drift, "%s", db_col_text(s, 5));
                bool busy = sqlite3_column_int(s, 6);
                if (sqlite3_column_int(s, 7))
                        continue;

                json_t *st = find_instance(list, instance);
                const char *state;
                int restarts = 0;
                if (st) {
                        (void) server_apply_status(db, id, st);
                        query_players(db, id, st);
                        state = json_string_value(json_object_get(st, "state"));
                        json_t *rv = json_object_get(st, "restarts");
                        restarts = json_is_integer(rv) ? (int) json_integer_value(rv) : 0;
                } else {
                        /* Never started: nothing on the host yet, and that is fine. */
                        state = streq(old_state, "new") ? "new" : "absent";
                        _cleanup_stmt_ sqlite3_stmt *u = NULL;
                        if (db_prepare(db, "UPDATE servers SET state = ?, observed_at = ? WHERE id = ?", &u) == 0) {
                                db_bind_text(u, 1, state);
                                sqlite3_bind_int64(u, 2, now_sec());
                                sqlite3_bind_int64(u, 3, id);
                                (void) db_step_done(u);
                        }
                }
                if (!state || busy)
                        continue;
                if (restarts > old_restarts && streq(state, "running")) {
                        char msg[128];
                        snprintf(msg, sizeof msg, "The game server crashed and was restarted (restart %d).", restarts);
                        (void) server_event(db, id, "crash", msg);
                }
                char drift[256];
                drift_for(desired, state, restarts, drift, sizeof drift);
                if (streq(drift, old_drift))
                        continue;
                _cleanup_stmt_ sqlite3_stmt *u = NULL;
                if (db_prepare(db, "UPDATE servers SET drift = ? WHERE id = ?", &u) == 0) {
                        db_bind_text(u, 1, drift);
                        sqlite3_bind_int64(u, 2, id);
                        (void) db_step_done(u);
                }
                if (drift[0])
                        (void) server_event(db, id, "drift", drift);
        }
}

int poller_run_once(void) {
        ListCtx c = { .out = BUF_INIT(LIST_MAX) };
        const char *args[] = { "list", "--json", NULL };
        int exit_code = -1;
        int64_t snapshot_at = now_sec();
        int r = hostlink_run(host(), args, NULL, collect, &c, &exit_code);
        if (r < 0 || exit_code != 0) {
                buf_free(&c.out);
                return r < 0 ? r : -EIO;
        }
        /* Find the document: the first line that starts with '{'. */
        const char *doc = c.out.data ? c.out.data : "";
        while (*doc && *doc != '{') {
                const char *nl = strchr(doc, '\n');
                doc = nl ? nl + 1 : doc + strlen(doc);
        }
        json_t *j = json_loads(doc, JSON_DISABLE_EOF_CHECK, NULL);
        buf_free(&c.out);
        json_t *list = json_object_get(j, "instances");
        if (!json_is_array(list)) {
                json_decref(j);
                return -EBADMSG;
        }
        sqlite3 *db = db_acquire();
        observe(db, list, snapshot_at);
        db_release(db);
        json_decref(j);
        return 0;
}

static void *loop(void *arg) {
        struct pollfd p = { .fd = shutdown_fd(), .events = POLLIN };
        for (;;) {
                (void) poller_run_once();
                int r = poll(&p, 1, (int) config.poll_ms);
                if (r > 0)
                        return NULL;
        }
}

int poller_start(void) {
        if (pthread_create(&thread, NULL, loop, NULL) != 0)
                return -EAGAIN;
        running = true;
        return 0;
}

void poller_stop(void) {
        if (running)
                pthread_join(thread, NULL);
        running = false;
}
