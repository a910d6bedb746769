#include <string.h>

#include "db.h"
#include "svc-sessions.h"

int session_insert(sqlite3 *db, int64_t user_id, const uint8_t token_hash[32], const char *csrf, int64_t now,
                   int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db,
                       "INSERT INTO sessions (user_id, token_hash, csrf, created_at, last_seen, expires_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, user_id);
        sqlite3_bind_blob(s, 2, token_hash, 32, SQLITE_TRANSIENT);
        db_bind_text(s, 3, csrf);
        sqlite3_bind_int64(s, 4, now);
        sqlite3_bind_int64(s, 5, now);
        sqlite3_bind_int64(s, 6, now + SESSION_MAX_SECONDS);
        if (db_step_done(s) < 0)
                return -EIO;
        *ret_id = sqlite3_last_insert_rowid(db);
        return 0;
}

int session_find(sqlite3 *db, const uint8_t token_hash[32], int64_t now, SessionRow *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db,
                       "SELECT s.id, s.csrf, s.last_seen, u.id, u.username, u.is_admin, s.expires_at "
                       "FROM sessions s JOIN users u ON u.id = s.user_id "
                       "WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND s.last_seen > ?3 "
                       "AND u.disabled = 0", &s) < 0)
                return -EIO;
        sqlite3_bind_blob(s, 1, token_hash, 32, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, now);
        sqlite3_bind_int64(s, 3, now - SESSION_IDLE_SECONDS);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        SessionRow v = { .id = sqlite3_column_int64(s, 0), .last_seen = sqlite3_column_int64(s, 2),
                         .expires_at = sqlite3_column_int64(s, 6) };
        db_col_copy(s, 1, v.csrf, sizeof v.csrf);
        v.user.id = sqlite3_column_int64(s, 3);
        db_col_copy(s, 4, v.user.username, sizeof v.user.username);
        v.user.is_admin = sqlite3_column_int(s, 5);
        *ret = v;
        return 0;
}

/* Runs one of this file's writes that take one or two integers (?1, ?2;
 * b is not bound when the SQL has no ?2). */
static int exec2(sqlite3 *db, const char *sql, int64_t a, int64_t b) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, sql, &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, a);
        if (sqlite3_bind_parameter_count(s) >= 2)
                sqlite3_bind_int64(s, 2, b);
        return db_step_done(s);
}

int session_touch(sqlite3 *db, int64_t id, int64_t now) {
        return exec2(db, "UPDATE sessions SET last_seen = ?2 WHERE id = ?1", id, now);
}

int session_delete(sqlite3 *db, int64_t id) {
        return exec2(db, "DELETE FROM sessions WHERE id = ?1", id, 0);
}

int sessions_end_user(sqlite3 *db, int64_t user_id, int64_t keep) {
        return exec2(db, "DELETE FROM sessions WHERE user_id = ?1 AND id <> ?2", user_id, keep);
}

static long window_wait(sqlite3 *db, const char *key, int max) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT count(*), min(at) FROM "
                           "(SELECT at FROM login_failures WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?)",
                       &s) < 0)
                return -EIO;
        int64_t now = now_sec();
        db_bind_text(s, 1, key);
        sqlite3_bind_int64(s, 2, now - THROTTLE_WINDOW);
        sqlite3_bind_int(s, 3, max);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -EIO;
        if (sqlite3_column_int(s, 0) < max)
                return 0;
        long wait = (long) (sqlite3_column_int64(s, 1) + THROTTLE_WINDOW - now);
        return wait > 0 ? wait : 1;
}

static void key_for(char *buf, size_t size, const char *kind, const char *v, const char *v2) {
        snprintf(buf, size, "%s:%s%s%s", kind, v, v2 ? ":" : "", v2 ? v2 : "");
        for (char *p = buf; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');
}

void throttle_keys(ThrottleKeys *k, const char *username, const char *ip, const char *device_nonce) {
        *k = (ThrottleKeys) { 0 };
        key_for(k->account, sizeof k->account, "u", username, NULL);
        key_for(k->address, sizeof k->address, "ip", ip, NULL);
        if (device_nonce)
                key_for(k->device, sizeof k->device, "d", username, device_nonce);
}

static int add_failure(sqlite3 *db, const char *key, int64_t *ret_row) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "INSERT INTO login_failures (key, at) VALUES (?, ?)", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, key);
        sqlite3_bind_int64(s, 2, now_sec());
        if (db_step_done(s) < 0)
                return -EIO;
        *ret_row = sqlite3_last_insert_rowid(db);
        return 0;
}

static long max_wait(long a, long b) {
        return a < 0 || b < 0 ? -EIO : a > b ? a : b;
}

long throttle_begin(sqlite3 *db, ThrottleKeys *k, bool on_device) {
        if (on_device && !k->device[0])
                return -EIO;
        k->on_device = on_device;
        k->n_rows = 0;
        if (db_begin(db) < 0)
                return -EIO;
        long wait = on_device ? window_wait(db, k->device, THROTTLE_DEVICE_MAX)
                              : max_wait(window_wait(db, k->account, THROTTLE_USER_MAX),
                                         window_wait(db, k->address, THROTTLE_IP_MAX));
        if (wait != 0) {
                db_rollback(db);
                return wait;
        }
        if (on_device ? add_failure(db, k->device, &k->rows[0]) < 0
                      : add_failure(db, k->account, &k->rows[0]) < 0 || add_failure(db, k->address, &k->rows[1]) < 0) {
                db_rollback(db);
                return -EIO;
        }
        if (db_commit(db) < 0) {
                db_rollback(db);
                return -EIO;
        }
        k->n_rows = on_device ? 1 : 2;
        /* Old rows are worthless; keep the table small. */
        _cleanup_stmt_ sqlite3_stmt *d = NULL;
        if (db_prepare(db, "DELETE FROM login_failures WHERE at < ?", &d) == 0) {
                sqlite3_bind_int64(d, 1, now_sec() - THROTTLE_WINDOW);
                (void) db_step_done(d);
        }
        return 0;
}

void throttle_forget(sqlite3 *db, const ThrottleKeys *k) {
        for (size_t i = 0; i < k->n_rows; i++) {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                if (db_prepare(db, "DELETE FROM login_failures WHERE id = ?", &s) == 0) {
                        sqlite3_bind_int64(s, 1, k->rows[i]);
                        (void) db_step_done(s);
                }
        }
}

void throttle_success(sqlite3 *db, const ThrottleKeys *k) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "DELETE FROM login_failures WHERE key = ?", &s) == 0) {
                db_bind_text(s, 1, k->on_device ? k->device : k->account);
                (void) db_step_done(s);
        }
        throttle_forget(db, k);
}

int attempts_recent(DbIter *it, sqlite3 *db, int limit) {
        int r = db_iter_id(it, db, "SELECT key, count(*), max(at) FROM login_failures WHERE at > ?1 "
                                   "GROUP BY key ORDER BY count(*) DESC, max(at) DESC LIMIT ?2",
                           now_sec() - THROTTLE_WINDOW);
        if (r == 0)
                sqlite3_bind_int(it->stmt, 2, limit);
        return r;
}

static void attempt_row(sqlite3_stmt *s, void *ret) {
        AttemptRow v = { .count = sqlite3_column_int(s, 1), .last = sqlite3_column_int64(s, 2) };
        db_col_copy(s, 0, v.key, sizeof v.key);
        *(AttemptRow *) ret = v;
}

bool attempt_next(DbIter *it, AttemptRow *ret) {
        return db_iter_row(it, attempt_row, ret);
}
