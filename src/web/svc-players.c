#include <stdlib.h>
#include <string.h>

#include "svc-players.h"

/* ---- what a stream reported ---- */

typedef struct Reported {
        int64_t session;
        int64_t samples, ping_sum, loss_sum;
} Reported;

struct PlayersStream {
        Reported *v;
        size_t n, cap;
};

PlayersStream *players_stream_new(void) {
        return calloc(1, sizeof(PlayersStream));
}

void players_stream_free(PlayersStream *ps) {
        if (!ps)
                return;
        free(ps->v);
        free(ps);
}

static Reported *reported(PlayersStream *ps, int64_t session, bool add) {
        if (!ps)
                return NULL;
        for (size_t i = 0; i < ps->n; i++)
                if (ps->v[i].session == session)
                        return &ps->v[i];
        if (!add)
                return NULL;
        if (ps->n == ps->cap) {
                size_t cap = ps->cap ? ps->cap * 2 : 64;
                Reported *v = realloc(ps->v, cap * sizeof *v);
                if (!v)
                        return NULL;
                ps->v = v;
                ps->cap = cap;
        }
        ps->v[ps->n] = (Reported) { .session = session };
        return &ps->v[ps->n++];
}

static void forget(PlayersStream *ps, int64_t session) {
        for (size_t i = 0; i < ps->n; i++)
                if (ps->v[i].session == session) {
                        ps->v[i] = ps->v[--ps->n];
                        return;
                }
}

/* ---- writing ---- */

static int server_of(sqlite3 *db, const char *instance, int64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT id FROM servers WHERE instance = ? AND deleting = 0", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, instance);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        *ret = sqlite3_column_int64(s, 0);
        return 0;
}

/* The newest snapshot's players (NULL: an error row) and error; 0, or
 * -ENOENT when there is none. */
static int last_snapshot(sqlite3 *db, int64_t server_id, char **ret_players, char **ret_error) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT players, error FROM roster_snapshots WHERE server_id = ? "
                           "ORDER BY at DESC, id DESC LIMIT 1", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, server_id);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        *ret_players = sqlite3_column_type(s, 0) == SQLITE_NULL ? NULL : strdup(db_col_text(s, 0));
        *ret_error = strdup(db_col_text(s, 1));
        if (!*ret_error || (sqlite3_column_type(s, 0) != SQLITE_NULL && !*ret_players)) {
                free(*ret_players);
                free(*ret_error);
                return -ENOMEM;
        }
        return 0;
}

static int snapshot_insert(sqlite3 *db, int64_t server_id, int64_t at, int humans, int bots, const char *players,
                           const char *error) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "INSERT INTO roster_snapshots (server_id, at, humans, bots, players, error) "
                           "VALUES (?, ?, ?, ?, ?, ?)", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, server_id);
        sqlite3_bind_int64(s, 2, at);
        if (players) {
                sqlite3_bind_int(s, 3, humans);
                sqlite3_bind_int(s, 4, bots);
        }
        db_bind_text(s, 5, players);
        db_bind_text(s, 6, error ? error : "");
        return db_step_done(s);
}

/* Notes the roster (players JSON, or an error) unless it is what the newest
 * row already says: run-length encoding. */
static int snapshot_note(sqlite3 *db, int64_t server_id, int64_t at, int humans, int bots, const char *players,
                         const char *error) {
        _cleanup_free_ char *lp = NULL, *le = NULL;
        int r = last_snapshot(db, server_id, &lp, &le);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0 && streq(le, error ? error : "") &&
            ((!players && !lp) || (players && lp && streq(players, lp))))
                return 0;
        return snapshot_insert(db, server_id, at, humans, bots, players, error);
}

/* A name as stored: cut at PLAYER_NAME_MAX bytes, on a character boundary
 * (the watch sends valid UTF-8). */
static void name_cut(const char *name, char *buf, size_t size) {
        size_t n = strlen(name);
        if (n >= size)
                n = size - 1;
        while (n > 0 && n < strlen(name) && ((unsigned char) name[n] & 0xc0) == 0x80)
                n--;
        memcpy(buf, name, n);
        buf[n] = '\0';
}

typedef struct Open {
        int64_t id, joined;
        int userid;
} Open;

static int open_session(sqlite3 *db, int64_t server_id, int64_t steamid64, Open *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT id, joined_at, userid FROM player_sessions WHERE server_id = ? AND left_at IS NULL "
                           "AND steamid64 = ? ORDER BY id DESC LIMIT 1", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, server_id);
        sqlite3_bind_int64(s, 2, steamid64);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        *ret = (Open) { .id = sqlite3_column_int64(s, 0), .joined = sqlite3_column_int64(s, 1),
                        .userid = sqlite3_column_int(s, 2) };
        return 0;
}

static void bind_or_null(sqlite3_stmt *s, int i, int v) {
        if (v >= 0)
                sqlite3_bind_int(s, i, v);
        else
                sqlite3_bind_null(s, i);
}

/* Adds what the stream reported since it last did (p's totals are since the
 * watch first saw the player), and the player's last name and ping. */
static int session_update(sqlite3 *db, PlayersStream *ps, int64_t id, const RosterPlayerIn *p) {
        Reported *was = reported(ps, id, true);
        if (!was)
                return -ENOMEM;
        int64_t dn = p->samples - was->samples, dp = p->ping_sum - was->ping_sum, dl = p->loss_sum - was->loss_sum;
        if (dn < 0 || dp < 0 || dl < 0) /* not this stream's totals: take them whole */
                dn = p->samples, dp = p->ping_sum, dl = p->loss_sum;
        char name[PLAYER_NAME_MAX + 1];
        name_cut(p->name, name, sizeof name);
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db,
                       "UPDATE player_sessions SET name = ?2, ping_now = ?3, loss_now = ?4, "
                       "ping_min = CASE WHEN ?5 IS NULL THEN ping_min ELSE min(coalesce(ping_min, ?5), ?5) END, "
                       "ping_max = CASE WHEN ?6 IS NULL THEN ping_max ELSE max(coalesce(ping_max, ?6), ?6) END, "
                       "loss_max = CASE WHEN ?7 IS NULL THEN loss_max ELSE max(coalesce(loss_max, ?7), ?7) END, "
                       "samples = samples + ?8, ping_sum = ping_sum + ?9, loss_sum = loss_sum + ?10 "
                       "WHERE id = ?1 AND (name IS NOT ?2 OR ping_now IS NOT ?3 OR loss_now IS NOT ?4 OR ?8 > 0)",
                       &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, id);
        db_bind_text(s, 2, name);
        bind_or_null(s, 3, p->ping);
        bind_or_null(s, 4, p->loss);
        bind_or_null(s, 5, p->ping_min);
        bind_or_null(s, 6, p->ping_max);
        bind_or_null(s, 7, p->loss_max);
        sqlite3_bind_int64(s, 8, dn);
        sqlite3_bind_int64(s, 9, dp);
        sqlite3_bind_int64(s, 10, dl);
        int r = db_step_done(s);
        if (r == 0) {
                was->samples = p->samples;
                was->ping_sum = p->ping_sum;
                was->loss_sum = p->loss_sum;
        }
        return r;
}

static int session_close(sqlite3 *db, PlayersStream *ps, int64_t id, int64_t at) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "UPDATE player_sessions SET left_at = max(?2, joined_at), ping_now = NULL, "
                           "loss_now = NULL WHERE id = ?1", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, at);
        if (ps)
                forget(ps, id);
        return db_step_done(s);
}

static int session_begin(sqlite3 *db, PlayersStream *ps, int64_t server_id, const RosterPlayerIn *p, int64_t now) {
        char name[PLAYER_NAME_MAX + 1];
        name_cut(p->name, name, sizeof name);
        /* Joined as the server says (its "connected" column), never in the
         * future. */
        int64_t joined = p->joined > 0 && p->joined <= now ? p->joined : now;
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "INSERT INTO player_sessions (server_id, steamid64, userid, name, joined_at) "
                           "VALUES (?, ?, ?, ?, ?)", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, server_id);
        sqlite3_bind_int64(s, 2, p->steamid64);
        sqlite3_bind_int(s, 3, p->userid);
        db_bind_text(s, 4, name);
        sqlite3_bind_int64(s, 5, joined);
        int r = db_step_done(s);
        if (r < 0)
                return r;
        return session_update(db, ps, sqlite3_last_insert_rowid(db), p);
}

/* Ends the open sessions of a server whose SteamIDs are not in keep. */
static int close_others(sqlite3 *db, PlayersStream *ps, int64_t server_id, const int64_t *keep, size_t n_keep,
                        int64_t at) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT id, steamid64 FROM player_sessions WHERE server_id = ? AND left_at IS NULL", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, server_id);
        int64_t gone[ROSTER_PLAYERS_MAX];
        size_t n_gone = 0;
        while (sqlite3_step(s) == SQLITE_ROW && n_gone < ELEMENTSOF(gone)) {
                int64_t id = sqlite3_column_int64(s, 0), sid = sqlite3_column_int64(s, 1);
                bool kept = false;
                for (size_t i = 0; i < n_keep && !kept; i++)
                        kept = keep[i] == sid;
                if (!kept)
                        gone[n_gone++] = id;
        }
        db_stmt_release(TAKE_PTR(s));
        for (size_t i = 0; i < n_gone; i++) {
                int r = session_close(db, ps, gone[i], at);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int by_userid(const void *a, const void *b) {
        int x = (*(const RosterPlayerIn *const *) a)->userid, y = (*(const RosterPlayerIn *const *) b)->userid;
        return x < y ? -1 : x > y;
}

/* The roster as a snapshot stores it: who, not how well, in userid order
 * (the order people came in), so that the same roster is the same text
 * whichever order a watch listed it in. */
static char *roster_text(const RosterIn *r, int *ret_humans, int *ret_bots) {
        const RosterPlayerIn *order[ROSTER_PLAYERS_MAX];
        size_t n = r->n_players < ROSTER_PLAYERS_MAX ? r->n_players : ROSTER_PLAYERS_MAX;
        for (size_t i = 0; i < n; i++)
                order[i] = &r->players[i];
        qsort(order, n, sizeof *order, by_userid);
        json_t *a = json_array();
        int humans = 0, bots = 0;
        for (size_t i = 0; a && i < n; i++) {
                const RosterPlayerIn *p = order[i];
                char sid[24] = "";
                if (p->steamid64)
                        snprintf(sid, sizeof sid, "%lld", (long long) p->steamid64);
                char name[PLAYER_NAME_MAX + 1];
                name_cut(p->name, name, sizeof name);
                json_array_append_new(a, json_pack("{s:i, s:s, s:o, s:b, s:s}", "u", p->userid, "n", name, "s",
                                                   p->steamid64 ? json_string(sid) : json_null(), "b", p->bot, "st",
                                                   p->state));
                if (p->bot)
                        bots++;
                else
                        humans++;
        }
        char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
        json_decref(a);
        *ret_humans = humans;
        *ret_bots = bots;
        return text;
}

static int apply(sqlite3 *db, PlayersStream *ps, int64_t server_id, const RosterIn *r) {
        if (r->error)
                return snapshot_note(db, server_id, r->time, 0, 0, NULL, r->error);
        int k;
        /* Who left first: a player who left and came back between two
         * polls is in both lists, with two userids. */
        for (size_t i = 0; i < r->n_left; i++) {
                const RosterPlayerIn *p = &r->left[i];
                Open o;
                if (p->bot || !p->steamid64 || open_session(db, server_id, p->steamid64, &o) < 0 || o.userid != p->userid)
                        continue;
                if ((k = session_update(db, ps, o.id, p)) < 0 ||
                    (k = session_close(db, ps, o.id, p->last_seen > 0 ? p->last_seen : r->time)) < 0)
                        return k;
        }
        int64_t on[ROSTER_PLAYERS_MAX];
        size_t n_on = 0;
        for (size_t i = 0; i < r->n_players; i++) {
                const RosterPlayerIn *p = &r->players[i];
                if (p->bot || !p->steamid64)
                        continue; /* no session without a SteamID */
                bool dup = false;
                for (size_t j = 0; j < n_on && !dup; j++)
                        dup = on[j] == p->steamid64;
                if (dup)
                        continue;
                on[n_on++] = p->steamid64;
                Open o;
                k = open_session(db, server_id, p->steamid64, &o);
                if (k == 0 && o.userid != p->userid) {
                        /* A new connection whose old one this stream never
                         * saw leave (the watch restarted in between). */
                        int64_t end = p->joined > 0 && p->joined < r->time ? p->joined : r->time;
                        if ((k = session_close(db, ps, o.id, end)) < 0)
                                return k;
                        k = -ENOENT;
                }
                if (k == -ENOENT)
                        k = session_begin(db, ps, server_id, p, r->time);
                else if (k == 0)
                        k = session_update(db, ps, o.id, p);
                if (k < 0)
                        return k;
        }
        if ((k = close_others(db, ps, server_id, on, n_on, r->time)) < 0)
                return k;
        int humans, bots;
        _cleanup_free_ char *text = roster_text(r, &humans, &bots);
        if (!text)
                return -ENOMEM;
        return snapshot_note(db, server_id, r->time, humans, bots, text, NULL);
}

int players_roster_apply(sqlite3 *db, PlayersStream *ps, const RosterIn *r) {
        if (db_begin(db) < 0)
                return -EIO;
        int64_t server_id;
        int k = server_of(db, r->instance, &server_id);
        if (k == 0)
                k = apply(db, ps, server_id, r);
        if (k == -ENOENT) {
                db_rollback(db);
                return 0; /* not one of the panel's servers */
        }
        if (k == 0 && (k = db_commit(db)) == 0)
                return 0;
        db_rollback(db);
        return k;
}

int players_server_down(sqlite3 *db, const char *instance, int64_t time) {
        if (db_begin(db) < 0)
                return -EIO;
        int64_t server_id;
        int k = server_of(db, instance, &server_id);
        _cleanup_free_ char *lp = NULL, *le = NULL;
        if (k == 0 && (k = close_others(db, NULL, server_id, NULL, 0, time)) == 0) {
                k = last_snapshot(db, server_id, &lp, &le);
                /* Nobody is on a stopped server: said once. */
                if (k == 0 && !(lp && streq(lp, "[]") && !le[0]))
                        k = snapshot_insert(db, server_id, time, 0, 0, "[]", NULL);
                else if (k == -ENOENT)
                        k = 0; /* never reported: it stays unknown */
        }
        if (k == -ENOENT) {
                db_rollback(db);
                return 0;
        }
        if (k == 0 && (k = db_commit(db)) == 0)
                return 0;
        db_rollback(db);
        return k;
}

/* ---- reading ---- */

void roster_view_done(RosterView *v) {
        free(v->rows);
        v->rows = NULL;
        v->n = 0;
}

/* The newest snapshot that is a roster, and the error after it, if any. */
static int roster_rows(sqlite3 *db, int64_t server_id, RosterView *v, json_t **ret_players) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT at, players, error FROM roster_snapshots WHERE server_id = ? "
                           "ORDER BY at DESC, id DESC LIMIT 8", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, server_id);
        while (sqlite3_step(s) == SQLITE_ROW) {
                if (sqlite3_column_type(s, 1) == SQLITE_NULL) {
                        /* An error row: the newest one says what is wrong now,
                         * the oldest of the run since when. */
                        if (!v->at) {
                                if (!v->error[0])
                                        db_col_copy(s, 2, v->error, sizeof v->error);
                                v->error_since = sqlite3_column_int64(s, 0);
                        }
                        continue;
                }
                v->at = sqlite3_column_int64(s, 0);
                *ret_players = json_loads(db_col_text(s, 1), 0, NULL);
                break;
        }
        return 0;
}

static void session_of(sqlite3 *db, int64_t server_id, RosterRow *row) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT s.joined_at, coalesce(s.ping_now, -1), "
                           "CASE WHEN s.samples > 0 THEN (s.ping_sum + s.samples / 2) / s.samples ELSE -1 END, "
                           "p.persona, p.profile_url, p.avatar IS NOT NULL "
                           "FROM player_sessions s LEFT JOIN steam_profiles p ON p.steamid64 = s.steamid64 "
                           "WHERE s.server_id = ? AND s.left_at IS NULL AND s.steamid64 = ? ORDER BY s.id DESC LIMIT 1",
                       &s) < 0)
                return;
        sqlite3_bind_int64(s, 1, server_id);
        sqlite3_bind_int64(s, 2, row->steamid64);
        if (sqlite3_step(s) != SQLITE_ROW)
                return;
        row->joined = sqlite3_column_int64(s, 0);
        row->ping = sqlite3_column_int(s, 1);
        row->ping_avg = sqlite3_column_int(s, 2);
        db_col_copy(s, 3, row->persona, sizeof row->persona);
        db_col_copy(s, 4, row->profile_url, sizeof row->profile_url);
        row->avatar = sqlite3_column_int(s, 5);
}

int players_roster_load(sqlite3 *db, int64_t server_id, RosterView *ret) {
        RosterView v = { 0 };
        json_t *players = NULL;
        int k = roster_rows(db, server_id, &v, &players);
        if (k < 0)
                return k;
        size_t n = json_array_size(players);
        if (n > ROSTER_PLAYERS_MAX)
                n = ROSTER_PLAYERS_MAX;
        v.rows = calloc(n ? n : 1, sizeof *v.rows);
        if (!v.rows) {
                json_decref(players);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                json_t *p = json_array_get(players, i);
                RosterRow *row = &v.rows[v.n++];
                const char *name = json_string_value(json_object_get(p, "n"));
                const char *state = json_string_value(json_object_get(p, "st"));
                snprintf(row->name, sizeof row->name, "%s", name ? name : "");
                snprintf(row->state, sizeof row->state, "%s", state ? state : "");
                row->bot = json_is_true(json_object_get(p, "b"));
                row->steamid64 = steamid64_parse(json_string_value(json_object_get(p, "s")));
                row->ping = row->ping_avg = -1;
                if (row->bot)
                        v.bots++;
                else
                        v.humans++;
                if (row->steamid64)
                        session_of(db, server_id, row);
        }
        json_decref(players);
        *ret = v;
        return 0;
}

static void session_row(sqlite3_stmt *s, void *ret) {
        SessionRow *v = ret;
        int64_t samples = sqlite3_column_int64(s, 7);
        *v = (SessionRow) {
                .steamid64 = sqlite3_column_int64(s, 0),
                .name = db_col_text(s, 1),
                .joined = sqlite3_column_int64(s, 2),
                .left = db_col_int_or(s, 3, 0),
                .ping_min = (int) db_col_int_or(s, 4, -1),
                .ping_max = (int) db_col_int_or(s, 5, -1),
                .ping_avg = samples > 0 ? (int) ((sqlite3_column_int64(s, 6) + samples / 2) / samples) : -1,
                .loss_max = (int) db_col_int_or(s, 8, -1),
                .loss_avg = samples > 0 ? (double) sqlite3_column_int64(s, 9) / (double) samples : -1,
                .persona = db_col_text(s, 10),
                .profile_url = db_col_text(s, 11),
                .avatar = sqlite3_column_int(s, 12),
        };
}

int players_sessions(DbIter *it, sqlite3 *db, int64_t server_id, int64_t since, int players) {
        db_iter_end(it);
        if (db_prepare(db,
                       "WITH recent AS (SELECT steamid64, max(coalesce(left_at, ?4)) AS last FROM player_sessions "
                       "WHERE server_id = ?1 AND coalesce(left_at, ?4) >= ?2 GROUP BY steamid64 "
                       "ORDER BY last DESC LIMIT ?3) "
                       "SELECT s.steamid64, s.name, s.joined_at, s.left_at, s.ping_min, s.ping_max, s.ping_sum, "
                       "s.samples, s.loss_max, s.loss_sum, coalesce(p.persona, ''), coalesce(p.profile_url, ''), "
                       "p.avatar IS NOT NULL "
                       "FROM recent r JOIN player_sessions s ON s.server_id = ?1 AND s.steamid64 = r.steamid64 "
                       "AND coalesce(s.left_at, ?4) >= ?2 "
                       "LEFT JOIN steam_profiles p ON p.steamid64 = s.steamid64 "
                       "ORDER BY r.last DESC, s.steamid64, s.joined_at DESC",
                       &it->stmt) < 0)
                return -EIO;
        sqlite3_bind_int64(it->stmt, 1, server_id);
        sqlite3_bind_int64(it->stmt, 2, since);
        sqlite3_bind_int(it->stmt, 3, players);
        sqlite3_bind_int64(it->stmt, 4, now_sec());
        return 0;
}

bool session_next(DbIter *it, SessionRow *ret) {
        return db_iter_row(it, session_row, ret);
}

int players_counts(sqlite3 *db, int64_t server_id, int64_t from, int64_t to, CountPoint **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *before = NULL, *s = NULL;
        _cleanup_free_ CountPoint *v = NULL;
        size_t n = 0, cap = 0;
        if (db_prepare(db, "SELECT coalesce(humans, -1) FROM roster_snapshots WHERE server_id = ? AND at <= ? "
                           "ORDER BY at DESC, id DESC LIMIT 1", &before) < 0 ||
            db_prepare(db, "SELECT at, coalesce(humans, -1) FROM roster_snapshots WHERE server_id = ? AND at > ? "
                           "AND at <= ? ORDER BY at, id", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(before, 1, server_id);
        sqlite3_bind_int64(before, 2, from);
        int first = sqlite3_step(before) == SQLITE_ROW ? sqlite3_column_int(before, 0) : -1;
        sqlite3_bind_int64(s, 1, server_id);
        sqlite3_bind_int64(s, 2, from);
        sqlite3_bind_int64(s, 3, to);
        CountPoint p = { .at = from, .humans = first };
        for (;;) {
                if (n == cap) {
                        if (cap >= COUNT_POINTS_MAX)
                                break; /* the rest is cut: the chart shows what fits */
                        cap = cap ? cap * 2 : 64;
                        CountPoint *nv = realloc(v, cap * sizeof *nv);
                        if (!nv)
                                return -ENOMEM;
                        v = nv;
                }
                v[n++] = p;
                if (sqlite3_step(s) != SQLITE_ROW)
                        break;
                p = (CountPoint) { .at = sqlite3_column_int64(s, 0), .humans = sqlite3_column_int(s, 1) };
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

/* ---- profiles ---- */

int players_profiles_due(sqlite3 *db, int64_t since, int64_t stale_before, int64_t *ids, size_t max, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db,
                       "SELECT DISTINCT s.steamid64 FROM player_sessions s "
                       "LEFT JOIN steam_profiles p ON p.steamid64 = s.steamid64 "
                       "WHERE (s.left_at IS NULL OR s.left_at >= ?1) AND (p.steamid64 IS NULL OR p.fetched_at < ?2) "
                       "LIMIT ?3", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, since);
        sqlite3_bind_int64(s, 2, stale_before);
        sqlite3_bind_int64(s, 3, (int64_t) max);
        size_t n = 0;
        while (n < max && sqlite3_step(s) == SQLITE_ROW)
                ids[n++] = sqlite3_column_int64(s, 0);
        *ret_n = n;
        return 0;
}

int players_profile_store(sqlite3 *db, int64_t steamid64, const char *persona, const char *profile_url,
                          const char *avatar_url, int64_t fetched_at) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        /* A new avatar URL drops the old bytes (they are fetched again). */
        if (db_prepare(db,
                       "INSERT INTO steam_profiles (steamid64, persona, profile_url, avatar_url, fetched_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (steamid64) DO UPDATE SET persona = ?2, "
                       "profile_url = ?3, fetched_at = ?5, "
                       "avatar = CASE WHEN avatar_url IS ?4 THEN avatar ELSE NULL END, "
                       "avatar_type = CASE WHEN avatar_url IS ?4 THEN avatar_type ELSE '' END, avatar_url = ?4", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, steamid64);
        db_bind_text(s, 2, persona);
        db_bind_text(s, 3, profile_url);
        db_bind_text(s, 4, avatar_url);
        sqlite3_bind_int64(s, 5, fetched_at);
        return db_step_done(s);
}

int players_avatars_due(sqlite3 *db, AvatarDue *v, size_t max, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT steamid64, avatar_url FROM steam_profiles WHERE avatar IS NULL AND avatar_url <> '' "
                           "AND avatar_type = '' LIMIT ?", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, (int64_t) max);
        size_t n = 0;
        while (n < max && sqlite3_step(s) == SQLITE_ROW) {
                v[n].steamid64 = sqlite3_column_int64(s, 0);
                db_col_copy(s, 1, v[n].url, sizeof v[n].url);
                n++;
        }
        *ret_n = n;
        return 0;
}

int players_avatar_store(sqlite3 *db, int64_t steamid64, const char *url, const void *data, size_t len,
                         const char *type) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        /* Only for the URL it was fetched from; a failed fetch is noted
         * (type "none") so that it is not tried again until the URL
         * changes. */
        if (db_prepare(db, "UPDATE steam_profiles SET avatar = ?3, avatar_type = ?4 WHERE steamid64 = ?1 "
                           "AND avatar_url = ?2", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, steamid64);
        db_bind_text(s, 2, url);
        if (data)
                sqlite3_bind_blob(s, 3, data, (int) len, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(s, 3);
        db_bind_text(s, 4, data ? type : "none");
        return db_step_done(s);
}

int players_avatar_load(sqlite3 *db, int64_t steamid64, const User *u, void **ret_data, size_t *ret_len, char *type,
                        size_t type_size) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        /* Only of someone who played on a server u may see: no asking
         * whether a SteamID played anywhere on this panel. */
        if (db_prepare(db, "SELECT p.avatar, p.avatar_type FROM steam_profiles p WHERE p.steamid64 = ?1 "
                           "AND p.avatar IS NOT NULL AND EXISTS (SELECT 1 FROM player_sessions s JOIN servers v "
                           "ON v.id = s.server_id WHERE s.steamid64 = ?1 AND " DB_OWNED("v.user_id") ")", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, steamid64);
        db_bind_owner(s, u);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        size_t n = (size_t) sqlite3_column_bytes(s, 0);
        void *d = malloc(n ? n : 1);
        if (!d)
                return -ENOMEM;
        memcpy(d, sqlite3_column_blob(s, 0), n);
        db_col_copy(s, 1, type, type_size);
        *ret_data = d;
        *ret_len = n;
        return 0;
}

/* ---- retention ---- */

static int delete_batch(sqlite3 *db, const char *sql, int64_t before, int batch, int *count) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, sql, &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, before);
        sqlite3_bind_int(s, 2, batch);
        int r = db_step_done(s);
        if (r == 0)
                *count += sqlite3_changes(db);
        return r;
}

int players_prune(sqlite3 *db, int64_t before, int batch, int *ret_deleted) {
        int n = 0, r;
        if (db_begin(db) < 0)
                return -EIO;
        /* Snapshot rows before the cut, except each server's newest one
         * before it: it says what held at the cut. */
        if ((r = delete_batch(db,
                              "DELETE FROM roster_snapshots WHERE id IN (SELECT s.id FROM roster_snapshots s WHERE "
                              "s.at < ?1 AND EXISTS (SELECT 1 FROM roster_snapshots t WHERE t.server_id = s.server_id "
                              "AND t.at < ?1 AND (t.at > s.at OR (t.at = s.at AND t.id > s.id))) LIMIT ?2)",
                              before, batch, &n)) < 0 ||
            (r = delete_batch(db,
                              "DELETE FROM player_sessions WHERE id IN (SELECT id FROM player_sessions WHERE "
                              "left_at < ?1 LIMIT ?2)",
                              before, batch, &n)) < 0 ||
            (r = delete_batch(db,
                              "DELETE FROM steam_profiles WHERE steamid64 IN (SELECT p.steamid64 FROM steam_profiles p "
                              "WHERE p.fetched_at < ?1 AND NOT EXISTS (SELECT 1 FROM player_sessions s WHERE "
                              "s.steamid64 = p.steamid64) LIMIT ?2)",
                              before, batch, &n)) < 0 ||
            (r = db_commit(db)) < 0) {
                db_rollback(db);
                return r;
        }
        *ret_deleted = n;
        return 0;
}
