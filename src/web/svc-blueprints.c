#include <string.h>

#include "svc-blueprints.h"

/* The row of blueprint_load: copies that outlive the statement. */
typedef struct Loaded {
        Blueprint b;
        int r;
} Loaded;

static void load_row(sqlite3_stmt *s, void *ret) {
        Loaded *l = ret;
        Blueprint b = { .id = sqlite3_column_int64(s, 0), .user_id = sqlite3_column_int64(s, 1),
                        .maxplayers = sqlite3_column_int(s, 4), .tickrate = sqlite3_column_int(s, 5) };
        db_col_copy(s, 2, b.name, sizeof b.name);
        db_col_copy(s, 3, b.map, sizeof b.map);
        b.overlays = strdup(db_col_text(s, 6));
        b.server_cfg = strdup(db_col_text(s, 7));
        b.cvars = strdup(db_col_text(s, 8));
        b.args = strdup(db_col_text(s, 9));
        db_col_copy(s, 10, b.update_build, sizeof b.update_build);
        db_col_copy(s, 11, b.on_canary_failure, sizeof b.on_canary_failure);
        db_col_copy(s, 12, b.update_deadline, sizeof b.update_deadline);
        l->b = b;
        l->r = b.overlays && b.server_cfg && b.cvars && b.args ? 0 : -ENOMEM;
}

int blueprint_load(sqlite3 *db, int64_t id, const User *u, Blueprint *ret) {
        Loaded l = { .r = 0 };
        int r = db_load_row(db,
                            "SELECT id, user_id, name, map, maxplayers, tickrate, overlays, server_cfg, cvars, args, "
                            "update_build, on_canary_failure, update_deadline "
                            "FROM blueprints WHERE id = ?1 AND " DB_OWNED("user_id"), id, u, load_row, &l);
        if (r == 0 && l.r < 0) {
                blueprint_free(&l.b);
                r = l.r;
        }
        if (r == 0)
                *ret = l.b;
        return r;
}

static int count_of(sqlite3 *db, int64_t owner_id) {
        _cleanup_stmt_ sqlite3_stmt *c = NULL;
        if (db_prepare(db, "SELECT count(*) FROM blueprints WHERE user_id = ?", &c) < 0)
                return -EIO;
        sqlite3_bind_int64(c, 1, owner_id);
        return sqlite3_step(c) == SQLITE_ROW ? sqlite3_column_int(c, 0) : -EIO;
}

int blueprint_save(sqlite3 *db, Blueprint *bp, int64_t owner_id) {
        if (!bp->id) {
                int n = count_of(db, owner_id);
                if (n < 0)
                        return n;
                if (n >= BLUEPRINTS_PER_USER_MAX)
                        return -EDQUOT;
        }
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int k;
        if (bp->id)
                k = db_prepare(db,
                               "UPDATE blueprints SET name = ?1, map = ?2, maxplayers = ?3, tickrate = ?4, overlays = ?5, "
                               "server_cfg = ?6, cvars = ?7, args = ?8, updated_at = ?9, update_build = ?11, "
                               "on_canary_failure = ?12, update_deadline = ?13 WHERE id = ?10",
                               &s);
        else
                k = db_prepare(db,
                               "INSERT INTO blueprints (name, map, maxplayers, tickrate, overlays, server_cfg, cvars, "
                               "args, updated_at, user_id, created_at, update_build, on_canary_failure, update_deadline) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?9, ?11, ?12, ?13)",
                               &s);
        if (k < 0)
                return k;
        db_bind_text(s, 1, bp->name);
        db_bind_text(s, 2, bp->map);
        sqlite3_bind_int(s, 3, (int) bp->maxplayers);
        sqlite3_bind_int(s, 4, (int) bp->tickrate);
        db_bind_text(s, 5, bp->overlays);
        db_bind_text(s, 6, bp->server_cfg);
        db_bind_text(s, 7, bp->cvars);
        db_bind_text(s, 8, bp->args);
        sqlite3_bind_int64(s, 9, now_sec());
        sqlite3_bind_int64(s, 10, bp->id ? bp->id : owner_id);
        db_bind_text(s, 11, bp->update_build);
        db_bind_text(s, 12, bp->on_canary_failure[0] ? bp->on_canary_failure : "hold");
        db_bind_text(s, 13, bp->update_deadline);
        k = db_step_done(s);
        if (k == 0 && !bp->id)
                bp->id = sqlite3_last_insert_rowid(db);
        return k;
}

int blueprint_save_checked(sqlite3 *db, Blueprint *bp, int64_t owner_id, blueprint_check_fn check, void *userdata) {
        if (db_begin(db) < 0)
                return -EIO;
        int64_t id = bp->id;
        int k = check ? check(db, userdata) : 0;
        if (k == 0)
                k = blueprint_save(db, bp, owner_id);
        if (k == 0)
                k = db_commit(db);
        if (k < 0) {
                db_rollback(db);
                bp->id = id; /* a new blueprint stays new */
        }
        return k;
}

int blueprint_delete(sqlite3 *db, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "DELETE FROM blueprints WHERE id = ?", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, id);
        return db_step_done(s); /* -EBUSY: the foreign key of a linked server */
}

int blueprints_list(DbIter *it, sqlite3 *db, const User *u) {
        return db_iter_owned(it, db,
                             "SELECT b.id, b.name, b.map, b.maxplayers, b.tickrate, u.username, "
                             "(SELECT count(*) FROM servers s WHERE s.blueprint_id = b.id) "
                             "FROM blueprints b JOIN users u ON u.id = b.user_id WHERE " DB_OWNED("b.user_id")
                             " ORDER BY b.name, b.id", u);
}

static void list_row(sqlite3_stmt *s, void *ret) {
        BlueprintRow v = { .id = sqlite3_column_int64(s, 0), .maxplayers = sqlite3_column_int(s, 3),
                           .tickrate = sqlite3_column_int(s, 4), .servers = sqlite3_column_int(s, 6) };
        db_col_copy(s, 1, v.name, sizeof v.name);
        db_col_copy(s, 2, v.map, sizeof v.map);
        db_col_copy(s, 5, v.owner, sizeof v.owner);
        *(BlueprintRow *) ret = v;
}

bool blueprint_next(DbIter *it, BlueprintRow *ret) {
        return db_iter_row(it, list_row, ret);
}

int blueprints_count_of_user(sqlite3 *db, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT count(*) FROM blueprints WHERE user_id = ?", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, user_id);
        return sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -EIO;
}

int blueprints_using_overlay(DbIter *it, sqlite3 *db, const char *overlay) {
        /* The list is names a line: a whole line must be the name (instr on
         * newline-framed text; LIKE would take '_' in a name as a wildcard). */
        db_iter_end(it);
        if (db_prepare(db,
                       "SELECT b.id, b.name, b.map, b.maxplayers, b.tickrate, u.username, "
                       "(SELECT count(*) FROM servers s WHERE s.blueprint_id = b.id) "
                       "FROM blueprints b JOIN users u ON u.id = b.user_id "
                       "WHERE instr(char(10) || b.overlays || char(10), char(10) || :name || char(10)) > 0 "
                       "ORDER BY u.username, b.name, b.id", &it->stmt) < 0)
                return -EIO;
        return db_bind_text(it->stmt, 1, overlay);
}
