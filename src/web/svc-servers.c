#include <string.h>

#include "svc-servers.h"

#define COLUMNS                                                                                       \
        "s.id, s.user_id, s.blueprint_id, s.name, s.instance, u.username, b.name, s.desired, s.state, " \
        "s.map, s.drift, s.detail, s.game_port, s.tv_port, s.players, s.maxplayers, s.restarts, "      \
        "s.deleting, s.observed_at, s.health, s.state_since"
#define FROM " FROM servers s JOIN users u ON u.id = s.user_id JOIN blueprints b ON b.id = s.blueprint_id "

/* Straight into *ret, every field set: a list of 50 servers is rendered
 * many times a second, and a zeroed copy of this large struct per row was
 * a visible cost. */
static void from_row(sqlite3_stmt *s, void *ret) {
        Server *v = ret;
        v->id = sqlite3_column_int64(s, 0);
        v->user_id = sqlite3_column_int64(s, 1);
        v->blueprint_id = sqlite3_column_int64(s, 2);
        db_col_copy(s, 3, v->name, sizeof v->name);
        db_col_copy(s, 4, v->instance, sizeof v->instance);
        db_col_copy(s, 5, v->owner, sizeof v->owner);
        db_col_copy(s, 6, v->blueprint_name, sizeof v->blueprint_name);
        db_col_copy(s, 7, v->desired, sizeof v->desired);
        db_col_copy(s, 8, v->state, sizeof v->state);
        db_col_copy(s, 9, v->map, sizeof v->map);
        db_col_copy(s, 10, v->drift, sizeof v->drift);
        db_col_copy(s, 11, v->detail, sizeof v->detail);
        v->game_port = (int) db_col_int_or(s, 12, -1);
        v->tv_port = (int) db_col_int_or(s, 13, -1);
        v->players = (int) db_col_int_or(s, 14, -1);
        v->maxplayers = (int) db_col_int_or(s, 15, -1);
        v->restarts = sqlite3_column_int(s, 16);
        v->deleting = sqlite3_column_int(s, 17);
        v->observed_at = sqlite3_column_int64(s, 18);
        db_col_copy(s, 19, v->health, sizeof v->health);
        v->state_since = sqlite3_column_int64(s, 20);
}

int server_load(sqlite3 *db, int64_t id, const User *u, Server *ret) {
        return db_load_row(db, "SELECT " COLUMNS FROM "WHERE s.id = ?1 AND " DB_OWNED("s.user_id"), id, u, from_row,
                           ret);
}

/* In name order straight from the servers_by_name index: no sort. */
#define ROW_COLUMNS                                                                                  \
        "s.id, s.name, u.username, b.name, s.state, s.map, s.drift, coalesce(s.game_port, -1), "     \
        "coalesce(s.players, -1), coalesce(s.maxplayers, -1), s.deleting"

static void list_row(sqlite3_stmt *s, void *ret) {
        ServerRow *v = ret;
        v->id = sqlite3_column_int64(s, 0);
        v->name = db_col_text(s, 1);
        v->owner = db_col_text(s, 2);
        v->blueprint_name = db_col_text(s, 3);
        v->state = db_col_text(s, 4);
        v->map = db_col_text(s, 5);
        v->drift = db_col_text(s, 6);
        v->game_port = sqlite3_column_int(s, 7);
        v->players = sqlite3_column_int(s, 8);
        v->maxplayers = sqlite3_column_int(s, 9);
        v->deleting = sqlite3_column_int(s, 10);
}

int servers_list(DbIter *it, sqlite3 *db, const User *u) {
        return db_iter_owned(it, db,
                             "SELECT " ROW_COLUMNS FROM "WHERE " DB_OWNED("s.user_id") " ORDER BY s.name, s.id", u);
}

int servers_of_blueprint(DbIter *it, sqlite3 *db, int64_t blueprint_id) {
        return db_iter_id(it, db, "SELECT " ROW_COLUMNS FROM "WHERE s.blueprint_id = ?1 ORDER BY s.name, s.id",
                          blueprint_id);
}

bool server_row_next(DbIter *it, ServerRow *ret) {
        return db_iter_row(it, list_row, ret);
}

int server_create(sqlite3 *db, int64_t user_id, int64_t blueprint_id, const char *name, int64_t *ret_id) {
        /* The count, the row and its instance name: together or not at all. */
        if (db_begin(db) < 0)
                return -EIO;
        _cleanup_stmt_ sqlite3_stmt *c = NULL, *s = NULL, *u = NULL;
        int k = db_prepare(db, "SELECT count(*) FROM servers WHERE user_id = ?", &c);
        if (k == 0) {
                sqlite3_bind_int64(c, 1, user_id);
                k = sqlite3_step(c) != SQLITE_ROW ? -EIO : sqlite3_column_int(c, 0) >= SERVERS_PER_USER_MAX ? -EDQUOT : 0;
        }
        if (k == 0 && (k = db_prepare(db, "INSERT INTO servers (user_id, blueprint_id, name, created_at) "
                                          "VALUES (?, ?, ?, ?)", &s)) == 0) {
                sqlite3_bind_int64(s, 1, user_id);
                sqlite3_bind_int64(s, 2, blueprint_id);
                db_bind_text(s, 3, name);
                sqlite3_bind_int64(s, 4, now_sec());
                k = db_step_done(s);
        }
        int64_t id = sqlite3_last_insert_rowid(db);
        if (k == 0 && (k = db_prepare(db, "UPDATE servers SET instance = 's' || id WHERE id = ?", &u)) == 0) {
                sqlite3_bind_int64(u, 1, id);
                k = db_step_done(u);
        }
        if (k == 0 && (k = db_commit(db)) == 0) {
                *ret_id = id;
                return 0;
        }
        db_rollback(db);
        return k;
}

/* One UPDATE of this file with (value, id). */
static int set_int(sqlite3 *db, const char *sql, int64_t v, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, sql, &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, v);
        sqlite3_bind_int64(s, 2, id);
        return db_step_done(s);
}

int server_set_blueprint(sqlite3 *db, int64_t id, int64_t blueprint_id) {
        return set_int(db, "UPDATE servers SET blueprint_id = ?1 WHERE id = ?2", blueprint_id, id);
}

int server_set_deleting(sqlite3 *db, int64_t id, bool deleting) {
        return set_int(db, "UPDATE servers SET deleting = ?1 WHERE id = ?2", deleting, id);
}

int server_remove(sqlite3 *db, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "DELETE FROM servers WHERE id = ?", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, id);
        return db_step_done(s);
}

int server_set_desired(sqlite3 *db, int64_t id, const char *desired) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "UPDATE servers SET desired = ?, drift = '' WHERE id = ?", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, desired);
        sqlite3_bind_int64(s, 2, id);
        return db_step_done(s);
}

int server_note_ports(sqlite3 *db, int64_t id, int game_port, int tv_port) {
        if (game_port <= 0)
                return 0;
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "UPDATE servers SET game_port = ?1, tv_port = ?2 WHERE id = ?3 "
                           "AND (game_port IS NOT ?1 OR tv_port IS NOT ?2)", &s) < 0)
                return -EIO;
        sqlite3_bind_int(s, 1, game_port);
        if (tv_port > 0)
                sqlite3_bind_int(s, 2, tv_port);
        sqlite3_bind_int64(s, 3, id);
        return db_step_done(s);
}

/* The server of an instance, what the owner asked for, what was stored,
 * and whether a job has the server in hand or changed it since `since`. */
typedef struct Known {
        int64_t id;
        char desired[16], state[16], drift[256];
        int restarts;
        bool busy, job_since;
} Known;

static int known(sqlite3 *db, const char *instance, int64_t since, Known *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db,
                       "SELECT s.id, s.desired, s.state, s.drift, s.restarts, "
                       "EXISTS (SELECT 1 FROM jobs j WHERE j.server_id = s.id AND j.state IN ('queued','running')), "
                       "EXISTS (SELECT 1 FROM jobs j WHERE j.server_id = s.id AND j.finished_at >= ?2) "
                       "FROM servers s WHERE s.instance = ?1 AND s.deleting = 0", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, instance);
        sqlite3_bind_int64(s, 2, since);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        Known k = { .id = sqlite3_column_int64(s, 0), .restarts = sqlite3_column_int(s, 4),
                    .busy = sqlite3_column_int(s, 5), .job_since = sqlite3_column_int(s, 6) };
        db_col_copy(s, 1, k.desired, sizeof k.desired);
        db_col_copy(s, 2, k.state, sizeof k.state);
        db_col_copy(s, 3, k.drift, sizeof k.drift);
        *ret = k;
        return 0;
}

/* Sets the drift text when it changed; a new drift is an event too. */
static int set_drift(sqlite3 *db, const Known *k, const char *state, int restarts) {
        char drift[256];
        server_drift(k->desired, state, restarts, drift, sizeof drift);
        if (streq(drift, k->drift))
                return 0;
        _cleanup_stmt_ sqlite3_stmt *u = NULL;
        if (db_prepare(db, "UPDATE servers SET drift = ? WHERE id = ?", &u) < 0)
                return -EIO;
        db_bind_text(u, 1, drift);
        sqlite3_bind_int64(u, 2, k->id);
        int r = db_step_done(u);
        if (r == 0 && drift[0])
                r = server_event(db, k->id, "drift", drift);
        return r;
}

static void bind_int_or_null(sqlite3_stmt *s, int i, int v) {
        if (v >= 0)
                sqlite3_bind_int(s, i, v);
        else
                sqlite3_bind_null(s, i);
}

int server_observe(sqlite3 *db, const ServerObservation *o) {
        if (db_begin(db) < 0)
                return -EIO;
        Known k;
        int r = known(db, o->instance, o->time, &k);
        if (r < 0) {
                db_rollback(db);
                return r == -ENOENT ? 0 : r; /* not one of the panel's servers */
        }
        /* The engine counts bots as players; people want humans. */
        int humans = o->players >= 0 ? (o->players > o->bots && o->bots >= 0 ? o->players - o->bots
                                                                              : o->bots >= 0 ? 0 : o->players)
                                     : -1;
        /* Only what changed is written: the database does not grow while
         * nothing happens. A map or player limit that is not known now
         * (a stopped server) keeps the last one seen. */
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        r = db_prepare(db,
                       "UPDATE servers SET state = ?1, health = ?2, map = coalesce(?3, map), players = ?4, "
                       "maxplayers = coalesce(?5, maxplayers), restarts = ?6, game_port = coalesce(?7, game_port), "
                       "tv_port = coalesce(?8, tv_port), detail = ?9, state_since = ?10, observed_at = ?11 "
                       "WHERE id = ?12 AND (state IS NOT ?1 OR health IS NOT ?2 OR (?3 IS NOT NULL AND map IS NOT ?3) "
                       "OR players IS NOT ?4 OR (?5 IS NOT NULL AND maxplayers IS NOT ?5) OR restarts IS NOT ?6 "
                       "OR (?7 IS NOT NULL AND game_port IS NOT ?7) OR (?8 IS NOT NULL AND tv_port IS NOT ?8) "
                       "OR detail IS NOT ?9 OR state_since IS NOT ?10)", &s);
        if (r == 0) {
                db_bind_text(s, 1, o->state);
                db_bind_text(s, 2, o->health ? o->health : "");
                db_bind_text(s, 3, o->map && *o->map ? o->map : NULL);
                bind_int_or_null(s, 4, humans);
                bind_int_or_null(s, 5, o->maxplayers);
                sqlite3_bind_int(s, 6, o->restarts);
                bind_int_or_null(s, 7, o->game_port > 0 ? o->game_port : -1);
                bind_int_or_null(s, 8, o->tv_port > 0 ? o->tv_port : -1);
                db_bind_text(s, 9, o->detail ? o->detail : "");
                if (o->since > 0)
                        sqlite3_bind_int64(s, 10, o->since);
                sqlite3_bind_int64(s, 11, now_sec());
                sqlite3_bind_int64(s, 12, k.id);
                r = db_step_done(s);
        }
        /* Drift and crash events only from news newer than the last job of
         * the server: an observation made before a job finished (a stop
         * seen just before the panel's own start) is no disagreement. The
         * rest is servers_reconcile()'s, once things settled. */
        if (r == 0 && !k.busy && !k.job_since) {
                if (o->restarts > k.restarts && streq(o->state, "running")) {
                        char msg[128];
                        snprintf(msg, sizeof msg, "The game server crashed and was restarted (restart %d).",
                                 o->restarts);
                        r = server_event(db, k.id, "crash", msg);
                }
                if (r == 0)
                        r = set_drift(db, &k, o->state, o->restarts);
        }
        if (r == 0 && (r = db_commit(db)) == 0)
                return 0;
        db_rollback(db);
        return r;
}

int servers_sync(sqlite3 *db, char *const *instances, size_t n, int64_t time) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT instance FROM servers WHERE deleting = 0 AND state NOT IN ('new', 'absent')", &s) < 0)
                return -EIO;
        _cleanup_strv_ char **gone = NULL;
        size_t n_gone = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
                const char *inst = db_col_text(s, 0);
                bool found = false;
                for (size_t i = 0; i < n && !found; i++)
                        found = streq(instances[i], inst);
                if (!found && strv_push_dup(&gone, &n_gone, inst) < 0)
                        return -ENOMEM;
        }
        db_stmt_release(TAKE_PTR(s));
        for (size_t i = 0; i < n_gone; i++) {
                int r = server_observe(db, &(ServerObservation) { .instance = gone[i], .state = "absent",
                                                                  .health = "none", .players = -1, .bots = -1,
                                                                  .maxplayers = -1, .time = time });
                if (r < 0)
                        return r;
        }
        return 0;
}

int servers_reconcile(sqlite3 *db, int64_t settled_before) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db,
                       "SELECT s.instance, s.state, s.restarts FROM servers s WHERE s.deleting = 0 AND s.state <> 'new' "
                       "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.server_id = s.id AND "
                       "(j.state IN ('queued','running') OR j.finished_at >= ?))", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, settled_before);
        while (sqlite3_step(s) == SQLITE_ROW) {
                Known k;
                if (known(db, db_col_text(s, 0), settled_before, &k) < 0)
                        continue;
                char drift[256];
                server_drift(k.desired, k.state, k.restarts, drift, sizeof drift);
                if (!streq(drift, k.drift) && set_drift(db, &k, k.state, k.restarts) < 0)
                        return -EIO;
        }
        return 0;
}

int server_event(sqlite3 *db, int64_t server_id, const char *kind, const char *message) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "INSERT INTO server_events (server_id, at, kind, message) VALUES (?, ?, ?, ?)", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, server_id);
        sqlite3_bind_int64(s, 2, now_sec());
        db_bind_text(s, 3, kind);
        db_bind_text(s, 4, message);
        int r = db_step_done(s);
        /* Keep the newest SERVER_EVENTS_MAX events of a server. */
        _cleanup_stmt_ sqlite3_stmt *d = NULL;
        if (r == 0 && db_prepare(db, "DELETE FROM server_events WHERE server_id = ?1 AND id <= "
                                     "(SELECT id FROM server_events WHERE server_id = ?1 ORDER BY id DESC "
                                     "LIMIT 1 OFFSET ?2)", &d) == 0) {
                sqlite3_bind_int64(d, 1, server_id);
                sqlite3_bind_int(d, 2, SERVER_EVENTS_MAX);
                (void) db_step_done(d);
        }
        return r;
}

static void event_row(sqlite3_stmt *s, void *ret) {
        ServerEvent v = { .at = sqlite3_column_int64(s, 0) };
        db_col_copy(s, 1, v.kind, sizeof v.kind);
        db_col_copy(s, 2, v.message, sizeof v.message);
        *(ServerEvent *) ret = v;
}

int server_events(DbIter *it, sqlite3 *db, int64_t id) {
        return db_iter_id(it, db, "SELECT at, kind, message FROM server_events WHERE server_id = ?1 "
                                  "ORDER BY id DESC LIMIT 20", id);
}

bool server_event_next(DbIter *it, ServerEvent *ret) {
        return db_iter_row(it, event_row, ret);
}

int servers_count_of_user(sqlite3 *db, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT count(*) FROM servers WHERE user_id = ?", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, user_id);
        return sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -EIO;
}

/* ---- game builds (issue 14) ---- */

int server_observe_build(sqlite3 *db, const char *instance, const char *build) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "UPDATE servers SET build = ?1 WHERE instance = ?2 AND build IS NOT ?1", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, build ? build : "");
        db_bind_text(s, 2, instance);
        return db_step_done(s);
}

int server_event_instance(sqlite3 *db, const char *instance, const char *kind, const char *message) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT id FROM servers WHERE instance = ? AND deleting = 0", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, instance);
        if (sqlite3_step(s) != SQLITE_ROW)
                return 0; /* not one of the panel's servers (a canary, a hand-made instance) */
        int64_t id = sqlite3_column_int64(s, 0);
        db_stmt_release(TAKE_PTR(s));
        return server_event(db, id, kind, message);
}

static void build_row(sqlite3_stmt *s, void *ret) {
        ServerBuild *b = ret;
        db_col_copy(s, 0, b->build, sizeof b->build);
        db_col_copy(s, 1, b->pin, sizeof b->pin);
}

int server_build(sqlite3 *db, int64_t id, ServerBuild *ret) {
        return db_load_row(db, "SELECT build, build_pin FROM servers WHERE id = ?1", id, NULL, build_row, ret);
}

int server_set_build_pin(sqlite3 *db, int64_t id, const char *pin) {
        if (*pin && !build_id_is_valid(pin))
                return -EINVAL;
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "UPDATE servers SET build_pin = ?1 WHERE id = ?2 AND build_pin IS NOT ?1", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, pin);
        sqlite3_bind_int64(s, 2, id);
        return db_step_done(s);
}
