#include <string.h>

#include "svc-console.h"

/* Cut at max bytes, on a character boundary. */
static size_t kept_length(const char *s, size_t len, size_t max) {
        if (len <= max)
                return len;
        size_t n = max;
        while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                n--;
        return n;
}

int console_add(sqlite3 *db, int64_t server_id, const User *u, const char *command, const char *outcome,
                const char *response, size_t response_len, int64_t *ret_id) {
        if (db_begin(db) < 0)
                return -EIO;
        _cleanup_stmt_ sqlite3_stmt *s = NULL, *d = NULL;
        int r = db_prepare(db, "INSERT INTO console_history (server_id, user_id, username, at, command, outcome, "
                               "response, response_len) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &s);
        if (r == 0) {
                sqlite3_bind_int64(s, 1, server_id);
                sqlite3_bind_int64(s, 2, u->id);
                db_bind_text(s, 3, u->username);
                sqlite3_bind_int64(s, 4, now_sec());
                db_bind_text(s, 5, command);
                db_bind_text(s, 6, outcome);
                sqlite3_bind_text(s, 7, response, (int) kept_length(response, response_len, CONSOLE_RESPONSE_KEEP),
                                  SQLITE_TRANSIENT);
                sqlite3_bind_int64(s, 8, (int64_t) response_len);
                r = db_step_done(s);
        }
        int64_t id = sqlite3_last_insert_rowid(db);
        if (r == 0 && (r = db_prepare(db, "DELETE FROM console_history WHERE server_id = ?1 AND id <= "
                                          "(SELECT id FROM console_history WHERE server_id = ?1 ORDER BY id DESC "
                                          "LIMIT 1 OFFSET ?2)", &d)) == 0) {
                sqlite3_bind_int64(d, 1, server_id);
                sqlite3_bind_int(d, 2, CONSOLE_HISTORY_KEEP);
                r = db_step_done(d);
        }
        if (r == 0 && (r = db_commit(db)) == 0) {
                if (ret_id)
                        *ret_id = id;
                return 0;
        }
        db_rollback(db);
        return r;
}

int console_history(DbIter *it, sqlite3 *db, int64_t server_id, int limit) {
        db_iter_end(it);
        if (db_prepare(db, "SELECT id, at, username, command, outcome, response, response_len FROM console_history "
                           "WHERE server_id = ? ORDER BY id DESC LIMIT ?", &it->stmt) < 0)
                return -EIO;
        sqlite3_bind_int64(it->stmt, 1, server_id);
        sqlite3_bind_int(it->stmt, 2, limit);
        return 0;
}

static void entry_row(sqlite3_stmt *s, void *ret) {
        *(ConsoleEntry *) ret = (ConsoleEntry) {
                .id = sqlite3_column_int64(s, 0),
                .at = sqlite3_column_int64(s, 1),
                .username = db_col_text(s, 2),
                .command = db_col_text(s, 3),
                .outcome = db_col_text(s, 4),
                .response = db_col_text(s, 5),
                .response_kept = (size_t) sqlite3_column_bytes(s, 5),
                .response_len = (size_t) sqlite3_column_int64(s, 6),
        };
}

bool console_next(DbIter *it, ConsoleEntry *ret) {
        return db_iter_row(it, entry_row, ret);
}
