#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "db.h"
#include "session.h"

static void token_hash(const char *token, unsigned char out[32]) {
        crypto_generichash(out, 32, (const unsigned char *) token, strlen(token), NULL, 0);
}

int session_create(Req *r, const User *user) {
        unsigned char raw[32], hash[32], craw[32];
        char token[65], csrf[65];
        randombytes_buf(raw, sizeof raw);
        randombytes_buf(craw, sizeof craw);
        sodium_bin2hex(token, sizeof token, raw, sizeof raw);
        sodium_bin2hex(csrf, sizeof csrf, craw, sizeof craw);
        token_hash(token, hash);

        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(r->db,
                       "INSERT INTO sessions (user_id, token_hash, csrf, created_at, last_seen, expires_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", &s) < 0)
                return -EIO;
        int64_t now = now_sec();
        sqlite3_bind_int64(s, 1, user->id);
        sqlite3_bind_blob(s, 2, hash, sizeof hash, SQLITE_TRANSIENT);
        db_bind_text(s, 3, csrf);
        sqlite3_bind_int64(s, 4, now);
        sqlite3_bind_int64(s, 5, now);
        sqlite3_bind_int64(s, 6, now + SESSION_MAX_SECONDS);
        if (db_step_done(s) < 0)
                return -EIO;
        r->authed = true;
        r->user = *user;
        r->session_id = sqlite3_last_insert_rowid(r->db);
        memcpy(r->csrf, csrf, sizeof csrf);
        req_set_cookie(r, SESSION_COOKIE, token, SESSION_MAX_SECONDS);
        return 0;
}

bool session_load_cached(Req *r) {
        const char *token = cookie_get(r, SESSION_COOKIE);
        if (!token || strlen(token) != 64)
                return false;
        unsigned char hash[32];
        token_hash(token, hash);
        return session_cache_get(hash, r->gen, r);
}

void session_load(Req *r) {
        const char *token = cookie_get(r, SESSION_COOKIE);
        if (!token || strlen(token) != 64)
                return;
        unsigned char hash[32];
        token_hash(token, hash);
        if (session_cache_get(hash, r->gen, r))
                return;
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        /* The join re-checks the user on every request: a disabled user or a
         * session older than the last password change is not logged in, even
         * if the row was somehow left behind. */
        if (db_prepare(r->db,
                       "SELECT s.id, s.csrf, s.last_seen, u.id, u.username, u.is_admin, s.expires_at "
                       "FROM sessions s JOIN users u ON u.id = s.user_id "
                       "WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND s.last_seen > ?3 "
                       "AND u.disabled = 0", &s) < 0)
                return;
        int64_t now = now_sec();
        sqlite3_bind_blob(s, 1, hash, sizeof hash, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, now);
        sqlite3_bind_int64(s, 3, now - SESSION_IDLE_SECONDS);
        if (sqlite3_step(s) != SQLITE_ROW)
                return;
        r->authed = true;
        r->session_id = sqlite3_column_int64(s, 0);
        snprintf(r->csrf, sizeof r->csrf, "%s", db_col_text(s, 1));
        int64_t last_seen = sqlite3_column_int64(s, 2);
        r->user.id = sqlite3_column_int64(s, 3);
        snprintf(r->user.username, sizeof r->user.username, "%s", db_col_text(s, 4));
        r->user.is_admin = sqlite3_column_int(s, 5);
        int64_t expires_at = sqlite3_column_int64(s, 6);

        /* Refresh the idle timer at most once a minute: a page view is then
         * a read, not a write. */
        if (now - last_seen > 60) {
                _cleanup_stmt_ sqlite3_stmt *u = NULL;
                if (db_prepare(r->db, "UPDATE sessions SET last_seen = ? WHERE id = ?", &u) == 0) {
                        sqlite3_bind_int64(u, 1, now);
                        sqlite3_bind_int64(u, 2, r->session_id);
                        (void) db_step_done(u);
                }
                return; /* that write made this generation stale anyway */
        }
        session_cache_put(hash, r->gen, r, expires_at, last_seen);
}

void session_end(Req *r) {
        if (r->session_id) {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                if (db_prepare(r->db, "DELETE FROM sessions WHERE id = ?", &s) == 0) {
                        sqlite3_bind_int64(s, 1, r->session_id);
                        (void) db_step_done(s);
                }
        }
        r->authed = false;
        r->session_id = 0;
        req_set_cookie(r, SESSION_COOKIE, "", 0);
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
