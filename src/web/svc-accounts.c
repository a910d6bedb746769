#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "svc-accounts.h"
#include "db.h"
#include "svc-sessions.h"
#include "throttle.h"

const char *username_problem(const char *name) {
        size_t n = strlen(name);
        if (n == 0)
                return "Enter a username.";
        if (n > USERNAME_MAX)
                return "A username has at most 32 characters.";
        if (!isalnum((unsigned char) name[0]))
                return "A username starts with a letter or digit.";
        for (const char *p = name; *p; p++)
                if (!(isalnum((unsigned char) *p) || *p == '_' || *p == '-' || *p == '.') ||
                    (unsigned char) *p >= 0x80)
                        return "A username may contain only letters, digits, '_', '-' and '.'.";
        return NULL;
}

const char *password_problem(const char *pw) {
        size_t n = strlen(pw);
        if (n < PASSWORD_MIN)
                return "A password has at least 10 characters.";
        if (n > PASSWORD_MAX)
                return "A password has at most 256 characters.";
        return NULL;
}

int account_create(sqlite3 *db, const char *username, const char *password, bool admin, int64_t *ret_id) {
        char hash[128];
        int r = pwhash_make(password, hash);
        if (r < 0)
                return r;
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db,
                       "INSERT INTO users (username, pw_hash, is_admin, password_changed_at, created_at) "
                       "VALUES (?, ?, ?, ?, ?)", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, username);
        db_bind_text(s, 2, hash);
        sqlite3_bind_int(s, 3, admin);
        sqlite3_bind_int64(s, 4, now_sec());
        sqlite3_bind_int64(s, 5, now_sec());
        r = db_step_done(s);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(db);
        return 0;
}

int account_set_password(sqlite3 *db, int64_t user_id, const char *password, int64_t keep_session) {
        char hash[128];
        int r = pwhash_make(password, hash);
        if (r < 0)
                return r;
        return account_set_password_hash(db, user_id, hash, keep_session);
}

int account_set_password_hash(sqlite3 *db, int64_t user_id, const char *hash, int64_t keep_session) {
        if (db_begin(db) < 0)
                return -EIO;
        _cleanup_stmt_ sqlite3_stmt *u = NULL;
        if (db_prepare(db, "UPDATE users SET pw_hash = ?, password_changed_at = ? WHERE id = ?", &u) < 0)
                goto fail;
        db_bind_text(u, 1, hash);
        sqlite3_bind_int64(u, 2, now_sec());
        sqlite3_bind_int64(u, 3, user_id);
        if (db_step_done(u) < 0 || sqlite3_changes(db) != 1 || sessions_end_user(db, user_id, keep_session) < 0 ||
            db_commit(db) < 0)
                goto fail;
        return 0;
fail:
        db_rollback(db);
        return -EIO;
}

int account_set_disabled(sqlite3 *db, int64_t user_id, bool disabled) {
        if (db_begin(db) < 0)
                return -EIO;
        _cleanup_stmt_ sqlite3_stmt *u = NULL;
        if (db_prepare(db, "UPDATE users SET disabled = ? WHERE id = ?", &u) < 0)
                goto fail;
        sqlite3_bind_int(u, 1, disabled);
        sqlite3_bind_int64(u, 2, user_id);
        if (db_step_done(u) < 0 || sqlite3_changes(db) != 1)
                goto fail;
        if (disabled && sessions_end_user(db, user_id, 0) < 0)
                goto fail;
        if (db_commit(db) < 0)
                goto fail;
        return 0;
fail:
        db_rollback(db);
        return -ENOENT;
}

int account_find(sqlite3 *db, const char *username, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT id FROM users WHERE username = ?", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, username);
        if (sqlite3_step(s) != SQLITE_ROW)
                return 0;
        *ret_id = sqlite3_column_int64(s, 0);
        return 1;
}

static void auth_row(sqlite3_stmt *s, void *ret) {
        AccountAuth *a = ret;
        *a = (AccountAuth) { .user.id = sqlite3_column_int64(s, 0), .user.is_admin = sqlite3_column_int(s, 3),
                             .disabled = sqlite3_column_int(s, 4) };
        db_col_copy(s, 1, a->user.username, sizeof a->user.username);
        db_col_copy(s, 2, a->hash, sizeof a->hash);
}

int account_auth_by_name(sqlite3 *db, const char *username, AccountAuth *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT id, username, pw_hash, is_admin, disabled FROM users WHERE username = ?", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, username);
        int k = sqlite3_step(s);
        if (k != SQLITE_ROW)
                return k == SQLITE_DONE ? -ENOENT : -EIO;
        auth_row(s, ret);
        return 0;
}

int account_auth_by_id(sqlite3 *db, int64_t id, AccountAuth *ret) {
        return db_load_row(db, "SELECT id, username, pw_hash, is_admin, disabled FROM users WHERE id = ?1", id, NULL,
                           auth_row, ret);
}

int account_count(sqlite3 *db, int64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT count(*) FROM users", &s) < 0 || sqlite3_step(s) != SQLITE_ROW)
                return -EIO;
        *ret = sqlite3_column_int64(s, 0);
        return 0;
}

int accounts_list(DbIter *it, sqlite3 *db) {
        int r = db_iter_id(it, db, "SELECT u.id, u.username, u.is_admin, u.disabled, "
                                   "(SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > ?1) "
                                   "FROM users u ORDER BY u.username", now_sec());
        return r;
}

static void account_row(sqlite3_stmt *s, void *ret) {
        AccountRow v = { .id = sqlite3_column_int64(s, 0), .is_admin = sqlite3_column_int(s, 2),
                         .disabled = sqlite3_column_int(s, 3), .sessions = sqlite3_column_int(s, 4) };
        db_col_copy(s, 1, v.username, sizeof v.username);
        *(AccountRow *) ret = v;
}

bool account_next(DbIter *it, AccountRow *ret) {
        return db_iter_row(it, account_row, ret);
}

int account_name(sqlite3 *db, int64_t id, char name[USERNAME_MAX + 1]) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT username FROM users WHERE id = ?", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, id);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        db_col_copy(s, 0, name, USERNAME_MAX + 1);
        return 0;
}

int account_delete(sqlite3 *db, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "DELETE FROM users WHERE id = ?", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, id);
        /* -EBUSY: a blueprint, server or job still names the user (their
         * foreign keys); sessions go with the account (ON DELETE CASCADE). */
        return db_step_done(s);
}
