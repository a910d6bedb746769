#include <string.h>

#include "db.h"
#include "svc-overlay-scripts.h"

int overlay_script_get(sqlite3 *db, int64_t overlay_id, OverlayScript *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db,
                       "SELECT s.script, s.version, s.host_version, s.updated_at, coalesce(u.username, '') "
                       "FROM overlay_scripts s LEFT JOIN users u ON u.id = s.updated_by WHERE s.overlay_id = ?",
                       &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, overlay_id);
        int r = sqlite3_step(s);
        if (r == SQLITE_DONE)
                return -ENOENT;
        if (r != SQLITE_ROW)
                return -EIO;
        size_t n = (size_t) sqlite3_column_bytes(s, 0);
        char *text = malloc(n + 1);
        if (!text)
                return -ENOMEM;
        memcpy(text, db_col_text(s, 0), n);
        text[n] = '\0';
        *ret = (OverlayScript) { .text = text, .len = n, .version = sqlite3_column_int64(s, 1),
                                 .host_version = sqlite3_column_int64(s, 2), .updated_at = sqlite3_column_int64(s, 3) };
        db_col_copy(s, 4, ret->updated_by, sizeof ret->updated_by);
        return 0;
}

void overlay_script_free(OverlayScript *s) {
        free(s->text);
        s->text = NULL;
}

int overlay_script_put(sqlite3 *db, int64_t overlay_id, int64_t user_id, const char *text, int64_t *ret_version) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db,
                       "INSERT INTO overlay_scripts (overlay_id, script, version, updated_at, updated_by) "
                       "VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT (overlay_id) DO UPDATE SET script = excluded.script, "
                       "version = version + 1, updated_at = excluded.updated_at, updated_by = excluded.updated_by "
                       "RETURNING version", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, overlay_id);
        db_bind_text(s, 2, text);
        sqlite3_bind_int64(s, 3, now_sec());
        sqlite3_bind_int64(s, 4, user_id);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -EIO;
        int64_t v = sqlite3_column_int64(s, 0);
        /* RETURNING: the row is written when the statement is done. */
        if (sqlite3_step(s) != SQLITE_DONE)
                return -EIO;
        if (ret_version)
                *ret_version = v;
        return 0;
}

int overlay_script_mark_handed_over(sqlite3 *db, int64_t overlay_id, int64_t version) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "UPDATE overlay_scripts SET host_version = ?2 WHERE overlay_id = ?1 AND host_version < ?2",
                       &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, overlay_id);
        sqlite3_bind_int64(s, 2, version);
        return db_step_done(s);
}
