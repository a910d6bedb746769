#include <stdio.h>
#include <string.h>

#include "svc-blueprints.h"
#include "svc-overlays.h"

static size_t prefix_of(int64_t owner_id, char prefix[24]) {
        if (owner_id > 0)
                return (size_t) snprintf(prefix, 24, "u%lld-", (long long) owner_id);
        return (size_t) snprintf(prefix, 24, "g-");
}

size_t overlay_name_max(int64_t owner_id) {
        char prefix[24];
        return OVERLAY_HOST_NAME_MAX - prefix_of(owner_id, prefix);
}

int overlay_host_name(int64_t owner_id, const char *name, char buf[OVERLAY_HOST_NAME_MAX + 1]) {
        char prefix[24];
        size_t max = OVERLAY_HOST_NAME_MAX - prefix_of(owner_id, prefix);
        /* The name the owner typed is an overlay name of its own (letters,
         * digits, '_' and '-', starting with a letter or digit), so the host
         * name is one too; and the prefix, which ends at its first '-', keeps
         * every owner's names apart ('u3-' and 'u31-' differ at 'u3'+1). */
        if (!name || !name_is_valid(name) || strlen(name) > max)
                return -EINVAL;
        snprintf(buf, OVERLAY_HOST_NAME_MAX + 1, "%s%s", prefix, name);
        return 0;
}

#define COLUMNS                                                                                          \
        "o.id, coalesce(o.user_id, 0), o.name, o.host_name, o.kind, coalesce(u.username, ''), o.deleting, " \
        "o.created_at"
#define FROM " FROM overlays o LEFT JOIN users u ON u.id = o.user_id "

static void from_row(sqlite3_stmt *s, void *ret) {
        Overlay *o = ret;
        o->id = sqlite3_column_int64(s, 0);
        o->user_id = sqlite3_column_int64(s, 1);
        db_col_copy(s, 2, o->name, sizeof o->name);
        db_col_copy(s, 3, o->host_name, sizeof o->host_name);
        db_col_copy(s, 4, o->kind, sizeof o->kind);
        db_col_copy(s, 5, o->owner, sizeof o->owner);
        o->deleting = sqlite3_column_int(s, 6);
        o->created_at = sqlite3_column_int64(s, 7);
}

static int count_of(sqlite3 *db, int64_t owner_id) {
        _cleanup_stmt_ sqlite3_stmt *c = NULL;
        if (db_prepare(db, "SELECT count(*) FROM overlays WHERE coalesce(user_id, 0) = ?", &c) < 0)
                return -EIO;
        sqlite3_bind_int64(c, 1, owner_id);
        return sqlite3_step(c) == SQLITE_ROW ? sqlite3_column_int(c, 0) : -EIO;
}

int overlay_create(sqlite3 *db, int64_t owner_id, const char *name, const char *kind, Overlay *ret) {
        char host[OVERLAY_HOST_NAME_MAX + 1];
        if (overlay_host_name(owner_id, name, host) < 0)
                return -EINVAL;
        /* The count and the row together: two tabs cannot both pass the limit. */
        if (db_begin(db) < 0)
                return -EIO;
        int n = count_of(db, owner_id), r;
        if (n < 0)
                r = n;
        else if (n >= (owner_id ? OVERLAYS_PER_USER_MAX : OVERLAYS_GLOBAL_MAX))
                r = -EDQUOT;
        else {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                r = db_prepare(db, "INSERT INTO overlays (user_id, name, host_name, kind, created_at) "
                                   "VALUES (?, ?, ?, ?, ?)", &s);
                if (r == 0) {
                        if (owner_id)
                                sqlite3_bind_int64(s, 1, owner_id);
                        db_bind_text(s, 2, name);
                        db_bind_text(s, 3, host);
                        db_bind_text(s, 4, kind);
                        sqlite3_bind_int64(s, 5, now_sec());
                        r = db_step_done(s);
                }
        }
        int64_t id = r == 0 ? sqlite3_last_insert_rowid(db) : 0;
        if (r == 0)
                r = db_commit(db);
        if (r < 0) {
                db_rollback(db);
                return r;
        }
        return overlay_load(db, id, NULL, ret);
}

int overlay_remove(sqlite3 *db, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "DELETE FROM overlays WHERE id = ?", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, id);
        return db_step_done(s);
}

int overlay_load(sqlite3 *db, int64_t id, const User *u, Overlay *ret) {
        /* Seeing is DB_OWNED or global; changing is overlay_writable(). */
        return db_load_row(db, "SELECT " COLUMNS FROM "WHERE o.id = ?1 AND (" DB_OWNED("o.user_id")
                               " OR o.user_id IS NULL)", id, u, from_row, ret);
}

bool overlay_writable(const Overlay *o, const User *u) {
        return u->is_admin || (o->user_id != 0 && o->user_id == u->id);
}

int overlay_find_host_name(sqlite3 *db, const char *host_name, Overlay *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT " COLUMNS FROM "WHERE o.host_name = ?", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, host_name);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        from_row(s, ret);
        return 0;
}

int overlays_list(DbIter *it, sqlite3 *db, const User *u) {
        return db_iter_owned(it, db,
                             "SELECT " COLUMNS FROM "WHERE " DB_OWNED("o.user_id") " OR o.user_id IS NULL "
                             "ORDER BY o.user_id IS NOT NULL, u.username, o.name, o.id", u);
}

int overlays_usable(DbIter *it, sqlite3 *db, int64_t owner_id) {
        return db_iter_id(it, db,
                          "SELECT " COLUMNS FROM "WHERE (o.user_id = ?1 OR o.user_id IS NULL) AND NOT o.deleting "
                          "ORDER BY o.name, o.user_id IS NULL, o.id", owner_id);
}

bool overlay_next(DbIter *it, Overlay *ret) {
        return db_iter_row(it, from_row, ret);
}

int overlays_check_usable(sqlite3 *db, int64_t owner_id, bool editor_admin, const char *lines, char *bad,
                          size_t badsize) {
        const char *p = lines ? lines : "";
        while (*p) {
                const char *end = strchrnul(p, '\n');
                char name[OVERLAY_HOST_NAME_MAX + 2];
                size_t n = (size_t) (end - p);
                snprintf(name, sizeof name, "%.*s", (int) (n < sizeof name - 1 ? n : sizeof name - 1), p);
                Overlay o;
                int r = overlay_find_host_name(db, name, &o);
                if (r == -EIO)
                        return r;
                bool ok;
                if (r == -ENOENT)
                        ok = editor_admin; /* not the panel's: made on the host by hand */
                else
                        ok = !o.deleting && (o.user_id == 0 || o.user_id == owner_id || editor_admin);
                if (!ok) {
                        snprintf(bad, badsize, "%s", name);
                        return -EPERM;
                }
                p = *end ? end + 1 : end;
        }
        return 0;
}

int overlays_usable_check(sqlite3 *db, void *userdata) {
        OverlayUsable *u = userdata;
        return overlays_check_usable(db, u->owner_id, u->admin, u->overlays, u->bad, sizeof u->bad);
}

static int set_deleting(sqlite3 *db, int64_t id, bool deleting) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "UPDATE overlays SET deleting = ? WHERE id = ?", &s) < 0)
                return -EIO;
        sqlite3_bind_int(s, 1, deleting);
        sqlite3_bind_int64(s, 2, id);
        return db_step_done(s);
}

int overlay_begin_delete(sqlite3 *db, const Overlay *o) {
        if (db_begin(db) < 0)
                return -EIO;
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        BlueprintRow b;
        int r = blueprints_using_overlay(&it, db, o->host_name);
        if (r == 0 && blueprint_next(&it, &b))
                r = -EBUSY;
        db_iter_end(&it);
        if (r == 0)
                r = set_deleting(db, o->id, true);
        if (r == 0)
                r = db_commit(db);
        if (r < 0)
                db_rollback(db);
        return r;
}

int overlay_cancel_delete(sqlite3 *db, int64_t id) {
        return set_deleting(db, id, false);
}

int overlay_job_link(sqlite3 *db, int64_t job_id, int64_t overlay_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "INSERT INTO overlay_jobs (job_id, overlay_id) VALUES (?, ?)", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, job_id);
        sqlite3_bind_int64(s, 2, overlay_id);
        return db_step_done(s);
}

/* The first row's id of s: 1 (*ret), 0 no row, -EIO. */
static int first_id(sqlite3_stmt *s, int64_t *ret) {
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
                *ret = sqlite3_column_int64(s, 0);
                return 1;
        }
        return r == SQLITE_DONE ? 0 : -EIO;
}

int overlay_job_queued(sqlite3 *db, int64_t overlay_id, const char *kind, int64_t *ret_job) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT j.id FROM overlay_jobs oj JOIN jobs j ON j.id = oj.job_id "
                           "WHERE oj.overlay_id = ? AND j.kind = ? AND j.state = 'queued' ORDER BY j.id LIMIT 1",
                       &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, overlay_id);
        db_bind_text(s, 2, kind);
        return first_id(s, ret_job);
}

int overlay_job_latest(sqlite3 *db, int64_t overlay_id, int64_t *ret_job) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT job_id FROM overlay_jobs WHERE overlay_id = ? ORDER BY job_id DESC LIMIT 1", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, overlay_id);
        return first_id(s, ret_job);
}

int overlay_of_job(sqlite3 *db, int64_t job_id, Overlay *ret) {
        return db_load_row(db, "SELECT " COLUMNS FROM "JOIN overlay_jobs oj ON oj.overlay_id = o.id WHERE oj.job_id = ?1",
                           job_id, NULL, from_row, ret);
}
