#include <string.h>

#include "svc-builds.h"
#include "web.h"

/* Whether the stored rows are exactly these objects, in this order. */
static bool same(sqlite3 *db, json_t *builds) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT data FROM builds ORDER BY position", &s) < 0)
                return false;
        size_t i = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
                json_t *b = json_array_get(builds, i++);
                json_t *stored = json_loads(db_col_text(s, 0), 0, NULL);
                bool eq = b && stored && json_equal(b, stored);
                json_decref(stored);
                if (!eq)
                        return false;
        }
        return i == json_array_size(builds);
}

int builds_store(sqlite3 *db, json_t *builds) {
        if (!json_is_array(builds))
                return -EINVAL;
        if (same(db, builds))
                return 0; /* the database grows by nothing while nothing changes */
        if (db_begin(db) < 0)
                return -EIO;
        _cleanup_stmt_ sqlite3_stmt *d = NULL;
        int r = db_prepare(db, "DELETE FROM builds", &d);
        if (r == 0)
                r = db_step_done(d);
        size_t i;
        json_t *b;
        json_array_foreach(builds, i, b) {
                const char *id = json_string_value(json_object_get(b, "id"));
                _cleanup_free_ char *text = json_dumps(b, JSON_COMPACT);
                if (r < 0 || !id || !build_id_is_valid(id) || !text) {
                        r = r < 0 ? r : -EINVAL;
                        break;
                }
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                if ((r = db_prepare(db, "INSERT INTO builds (id, position, data) VALUES (?, ?, ?)", &s)) < 0)
                        break;
                db_bind_text(s, 1, id);
                sqlite3_bind_int64(s, 2, (sqlite3_int64) i);
                db_bind_text(s, 3, text);
                r = db_step_done(s);
        }
        if (r == 0 && (r = db_commit(db)) == 0)
                return 0;
        db_rollback(db);
        return r;
}

int builds_list(DbIter *it, sqlite3 *db) {
        return db_iter_owned(it, db, "SELECT data FROM builds ORDER BY position", NULL);
}

static void build_row(sqlite3_stmt *s, void *ret) {
        *(json_t **) ret = json_loads(db_col_text(s, 0), 0, NULL);
}

bool build_row_next(DbIter *it, json_t **ret) {
        for (;;) {
                json_t *j = NULL;
                if (!db_iter_row(it, build_row, &j))
                        return false;
                if (j) {
                        *ret = j;
                        return true;
                }
        }
}

int update_check_store(sqlite3 *db, json_t *check) {
        const char *state = json_string_value(json_object_get(check, "state"));
        _cleanup_free_ char *text = json_dumps(check, JSON_COMPACT);
        if (!state || !text)
                return -EINVAL;
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "INSERT INTO update_checks (id, at, state, data) VALUES (1, ?1, ?2, ?3) "
                           "ON CONFLICT (id) DO UPDATE SET at = ?1, state = ?2, data = ?3", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, json_integer_value(json_object_get(check, "time")));
        db_bind_text(s, 2, state);
        db_bind_text(s, 3, text);
        return db_step_done(s);
}

static void check_row(sqlite3_stmt *s, void *ret) {
        *(json_t **) ret = json_loads(db_col_text(s, 0), 0, NULL);
}

int update_check_load(sqlite3 *db, json_t **ret) {
        json_t *j = NULL;
        int r = db_load_row(db, "SELECT data FROM update_checks WHERE id = ?1", 1, NULL, check_row, &j);
        if (r < 0)
                return r;
        if (!j)
                return -EIO;
        *ret = j;
        return 0;
}
