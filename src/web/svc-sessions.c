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
                return 0;
        int64_t now = now_sec();
        db_bind_text(s, 1, key);
        sqlite3_bind_int64(s, 2, now - THROTTLE_WINDOW);
        sqlite3_bind_int(s, 3, max);
        if (sqlite3_step(s) != SQLITE_ROW || sqlite3_column_int(s, 0) < max)
                return 0;
        long wait = (long) (sqlite3_column_int64(s, 1) + THROTTLE_WINDOW - now);
        return wait > 0 ? wait : 1;
}

/* Usernames compare without case, so their keys are folded too: "Admin"
 * and "admin" share one counter. */
static void key_for(char *buf, size_t size, const char *kind, const char *v) {
        snprintf(buf, size, "%s:%s", kind, v);
        for (char *p = buf; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');
}

static int add_failure(sqlite3 *db, const char *key, int64_t *ret_row) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "INSERT INTO login_failures (key, at) VALUES (?, ?)", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, key);
        sqlite3_bind_int64(s, 2, now_sec());
        if (db_step_done(s) < 0)
                return -EIO;
        if (ret_row)
                *ret_row = sqlite3_last_insert_rowid(db);
        return 0;
}

long throttle_begin(sqlite3 *db, const char *username, const char *ip, int64_t *ret_ip_row) {
        char ku[80], ki[80];
        key_for(ku, sizeof ku, "u", username);
        key_for(ki, sizeof ki, "ip", ip);
        /* The check and the failure it counts in advance are one write
         * transaction: guesses sent in parallel cannot all pass the check
         * before the first of them is counted. */
        if (db_begin(db) < 0)
                return -EIO;
        long a = window_wait(db, ku, THROTTLE_USER_MAX), b = window_wait(db, ki, THROTTLE_IP_MAX);
        long wait = a > b ? a : b;
        if (wait > 0) {
                db_rollback(db);
                return wait;
        }
        if (add_failure(db, ku, NULL) < 0 || add_failure(db, ki, ret_ip_row) < 0 || db_commit(db) < 0) {
                db_rollback(db);
                return -EIO;
        }
        /* Old rows are worthless; keep the table small. */
        _cleanup_stmt_ sqlite3_stmt *d = NULL;
        if (db_prepare(db, "DELETE FROM login_failures WHERE at < ?", &d) == 0) {
                sqlite3_bind_int64(d, 1, now_sec() - THROTTLE_WINDOW);
                (void) db_step_done(d);
        }
        return 0;
}

void throttle_success(sqlite3 *db, const char *username, int64_t ip_row) {
        char ku[80];
        key_for(ku, sizeof ku, "u", username);
        _cleanup_stmt_ sqlite3_stmt *s = NULL, *i = NULL;
        if (db_prepare(db, "DELETE FROM login_failures WHERE key = ?", &s) == 0) {
                db_bind_text(s, 1, ku);
                (void) db_step_done(s);
        }
        /* The address keeps its earlier failures, not this attempt's. */
        if (db_prepare(db, "DELETE FROM login_failures WHERE id = ?", &i) == 0) {
                sqlite3_bind_int64(i, 1, ip_row);
                (void) db_step_done(i);
        }
}
