#include <string.h>
#include <time.h>

#include "svc-jobs.h"

int job_insert(sqlite3 *db, int64_t user_id, int64_t server_id, const char *kind, const char *target,
               int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *q = NULL, *s = NULL;
        if (db_prepare(db, "SELECT count(*) FROM jobs WHERE user_id = ? AND state = 'queued'", &q) < 0)
                return -EIO;
        sqlite3_bind_int64(q, 1, user_id);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) >= JOBS_QUEUED_PER_USER_MAX)
                return -EAGAIN;
        if (db_prepare(db, "INSERT INTO jobs (user_id, server_id, kind, target, created_at) VALUES (?, ?, ?, ?, ?)",
                       &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, user_id);
        if (server_id)
                sqlite3_bind_int64(s, 2, server_id);
        db_bind_text(s, 3, kind);
        db_bind_text(s, 4, target);
        sqlite3_bind_int64(s, 5, now_sec());
        int r = db_step_done(s);
        if (r == 0 && ret_id)
                *ret_id = sqlite3_last_insert_rowid(db);
        return r;
}

void job_log(sqlite3 *db, int64_t job_id, const char *line) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        /* seq is the next number for this job; past the cap, lines are
         * dropped (the last line says so). */
        if (db_prepare(db,
                       "INSERT INTO job_lines (job_id, seq, at, line) "
                       "SELECT ?1, coalesce(max(seq), 0) + 1, ?2, "
                       "CASE WHEN coalesce(max(seq), 0) + 1 = ?3 THEN '(log truncated here)' ELSE ?4 END "
                       "FROM job_lines WHERE job_id = ?1 HAVING coalesce(max(seq), 0) < ?3", &s) < 0)
                return;
        sqlite3_bind_int64(s, 1, job_id);
        sqlite3_bind_int64(s, 2, now_sec());
        sqlite3_bind_int(s, 3, JOB_LINES_MAX);
        db_bind_text(s, 4, line);
        (void) db_step_done(s);
}

int job_queued_of_kind(sqlite3 *db, const char *kind, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT id FROM jobs WHERE kind = ? AND state = 'queued' ORDER BY id LIMIT 1", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, kind);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
                *ret_id = sqlite3_column_int64(s, 0);
                return 1;
        }
        return r == SQLITE_DONE ? 0 : -EIO;
}

int job_claim(sqlite3 *db, Job *ret) {
        if (db_begin(db) < 0)
                return -EIO;
        _cleanup_stmt_ sqlite3_stmt *s = NULL, *u = NULL;
        if (db_prepare(db,
                       "SELECT id, user_id, coalesce(server_id, 0), kind, attempts FROM jobs j WHERE state = 'queued' "
                       "AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.state = 'running' AND "
                       "(k.server_id = j.server_id OR (j.server_id IS NULL AND k.server_id IS NULL AND k.kind = j.kind))) "
                       "ORDER BY id LIMIT 1", &s) < 0)
                goto fail;
        if (sqlite3_step(s) != SQLITE_ROW) {
                db_rollback(db);
                return 0;
        }
        Job j = { .id = sqlite3_column_int64(s, 0), .user_id = sqlite3_column_int64(s, 1),
                  .server_id = sqlite3_column_int64(s, 2), .attempts = sqlite3_column_int(s, 4) + 1 };
        db_col_copy(s, 3, j.kind, sizeof j.kind);
        if (db_prepare(db, "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ? WHERE id = ?",
                       &u) < 0)
                goto fail;
        sqlite3_bind_int64(u, 1, now_sec());
        sqlite3_bind_int64(u, 2, j.id);
        if (db_step_done(u) < 0 || db_commit(db) < 0)
                goto fail;
        *ret = j;
        return 1;
fail:
        db_rollback(db);
        return -EIO;
}

void job_set_progress(sqlite3 *db, int64_t id, double percent, const char *label) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "UPDATE jobs SET progress = ?, progress_label = ? WHERE id = ?", &s) < 0)
                return;
        sqlite3_bind_double(s, 1, percent);
        db_bind_text(s, 2, label);
        sqlite3_bind_int64(s, 3, id);
        (void) db_step_done(s);
}

/* Old finished jobs go, with their logs (ON DELETE CASCADE): after
 * JOBS_KEEP_DAYS, and past a user's newest JOBS_KEEP_PER_USER, so that
 * clicking start and stop in a loop cannot fill the disk. */
static int prune(sqlite3 *db, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL, *u = NULL;
        if (db_prepare(db, "DELETE FROM jobs WHERE state IN ('succeeded', 'failed') AND finished_at < ?", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, now_sec() - (int64_t) JOBS_KEEP_DAYS * 86400);
        if (db_step_done(s) < 0)
                return -EIO;
        if (db_prepare(db, "DELETE FROM jobs WHERE user_id = ?1 AND state IN ('succeeded', 'failed') AND id <= "
                           "(SELECT id FROM jobs WHERE user_id = ?1 AND state IN ('succeeded', 'failed') "
                           "ORDER BY id DESC LIMIT 1 OFFSET ?2)", &u) < 0)
                return -EIO;
        sqlite3_bind_int64(u, 1, user_id);
        sqlite3_bind_int(u, 2, JOBS_KEEP_PER_USER);
        return db_step_done(u);
}

static int finish_once(sqlite3 *db, const Job *j, bool ok, const char *result) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_begin(db) < 0)
                return -EBUSY;
        int r = db_prepare(db, "UPDATE jobs SET state = ?, result = ?, finished_at = ?, "
                               "progress = CASE WHEN ?1 = 'succeeded' AND progress IS NOT NULL THEN 100 ELSE progress END "
                               "WHERE id = ?", &s);
        if (r == 0) {
                db_bind_text(s, 1, ok ? "succeeded" : "failed");
                db_bind_text(s, 2, result);
                sqlite3_bind_int64(s, 3, now_sec());
                sqlite3_bind_int64(s, 4, j->id);
                r = db_step_done(s);
        }
        if (r == 0)
                r = prune(db, j->user_id);
        if (r == 0)
                r = db_commit(db);
        if (r < 0)
                db_rollback(db);
        return r;
}

void job_finish(sqlite3 *db, const Job *j, bool ok, const char *result) {
        /* One transaction: whoever sees the job finished sees the old ones
         * gone. Never the two statements on their own when the database is
         * busy past its timeout (a loaded machine): try again instead. */
        for (int attempt = 0; attempt < 20; attempt++) {
                if (finish_once(db, j, ok, result) == 0)
                        return;
                struct timespec ts = { .tv_nsec = 100 * 1000000L };
                nanosleep(&ts, NULL);
        }
        /* Still running in the table: the next start's recovery finds it. */
}

int jobs_recover(sqlite3 *db, job_gave_up_fn gave_up, int *ret_requeued, int *ret_failed) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT id, attempts, kind, coalesce(server_id, 0) FROM jobs WHERE state = 'running'",
                       &s) < 0)
                return -EIO;
        int requeued = 0, failed = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(s, 0);
                bool give_up = sqlite3_column_int(s, 1) >= JOB_MAX_ATTEMPTS;
                _cleanup_stmt_ sqlite3_stmt *u = NULL;
                if (db_prepare(db, give_up ? "UPDATE jobs SET state = 'failed', finished_at = ?, result = "
                                             "'interrupted by panel restarts too often; gave up' WHERE id = ?"
                                           : "UPDATE jobs SET state = 'queued', started_at = NULL "
                                             "WHERE id = ?2", &u) < 0)
                        return -EIO;
                sqlite3_bind_int64(u, 1, now_sec());
                sqlite3_bind_int64(u, 2, id);
                if (db_step_done(u) < 0)
                        return -EIO;
                if (give_up && gave_up)
                        gave_up(db, db_col_text(s, 2), sqlite3_column_int64(s, 3));
                job_log(db, id, give_up ? "interrupted: the panel stopped while this job ran; failed after "
                                          "too many attempts"
                                        : "interrupted: the panel stopped while this job ran; re-queued");
                if (give_up)
                        failed++;
                else
                        requeued++;
        }
        *ret_requeued = requeued;
        *ret_failed = failed;
        return 0;
}

#define COLUMNS                                                                                          \
        "j.id, j.user_id, coalesce(j.server_id, 0), j.created_at, j.kind, j.state, j.target, u.username, " \
        "j.result, j.progress_label, j.progress, j.attempts, coalesce(j.started_at, 0), coalesce(j.finished_at, 0)"
#define FROM " FROM jobs j JOIN users u ON u.id = j.user_id "

/* Straight into *ret, every field set: no zeroed 1.2 KB copy per row of a
 * 100-row list. */
static void from_row(sqlite3_stmt *s, void *ret) {
        JobRow *v = ret;
        v->id = sqlite3_column_int64(s, 0);
        v->user_id = sqlite3_column_int64(s, 1);
        v->server_id = sqlite3_column_int64(s, 2);
        v->created_at = sqlite3_column_int64(s, 3);
        db_col_copy(s, 4, v->kind, sizeof v->kind);
        db_col_copy(s, 5, v->state, sizeof v->state);
        db_col_copy(s, 6, v->target, sizeof v->target);
        db_col_copy(s, 7, v->owner, sizeof v->owner);
        db_col_copy(s, 8, v->result, sizeof v->result);
        db_col_copy(s, 9, v->progress_label, sizeof v->progress_label);
        v->has_progress = sqlite3_column_type(s, 10) != SQLITE_NULL;
        v->progress = sqlite3_column_double(s, 10);
        v->attempts = sqlite3_column_int(s, 11);
        v->started_at = sqlite3_column_int64(s, 12);
        v->finished_at = sqlite3_column_int64(s, 13);
}

int job_load(sqlite3 *db, int64_t id, const User *u, JobRow *ret) {
        return db_load_row(db, "SELECT " COLUMNS FROM "WHERE j.id = ?1 AND " DB_OWNED("j.user_id"), id, u, from_row,
                           ret);
}

/* The newest job of a kind, in any state (state NULL) or in one. */
static int latest(sqlite3 *db, const char *kind, const char *state, JobRow *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT " COLUMNS FROM "WHERE j.kind = ?1 AND (?2 IS NULL OR j.state = ?2) "
                           "ORDER BY j.id DESC LIMIT 1", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, kind);
        if (state)
                db_bind_text(s, 2, state);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        from_row(s, ret);
        return 0;
}

int job_latest(sqlite3 *db, const char *kind, JobRow *ret) {
        return latest(db, kind, NULL, ret);
}

int job_latest_succeeded(sqlite3 *db, const char *kind, JobRow *ret) {
        return latest(db, kind, "succeeded", ret);
}

int jobs_list(DbIter *it, sqlite3 *db, const User *u) {
        return db_iter_owned(it, db, "SELECT " COLUMNS FROM "WHERE " DB_OWNED("j.user_id") " ORDER BY j.id DESC LIMIT 100",
                             u);
}

int jobs_of_server(DbIter *it, sqlite3 *db, int64_t server_id) {
        return db_iter_id(it, db, "SELECT " COLUMNS FROM "WHERE j.server_id = ?1 ORDER BY j.id DESC LIMIT 10",
                          server_id);
}

bool job_next(DbIter *it, JobRow *ret) {
        return db_iter_row(it, from_row, ret);
}

int job_lines_tail(DbIter *it, sqlite3 *db, int64_t job_id, int n) {
        int r = db_iter_id(it, db, "SELECT seq, line FROM job_lines WHERE job_id = ?1 AND seq > "
                                   "(SELECT coalesce(max(seq), 0) FROM job_lines WHERE job_id = ?1) - ?2 ORDER BY seq",
                           job_id);
        if (r == 0)
                sqlite3_bind_int(it->stmt, 2, n);
        return r;
}

int job_lines_after(DbIter *it, sqlite3 *db, int64_t job_id, int64_t after, int limit) {
        int r = db_iter_id(it, db, "SELECT seq, line FROM job_lines WHERE job_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                           job_id);
        if (r == 0) {
                sqlite3_bind_int64(it->stmt, 2, after);
                sqlite3_bind_int(it->stmt, 3, limit);
        }
        return r;
}

static void line_row(sqlite3_stmt *s, void *ret) {
        *(JobLine *) ret = (JobLine) { .seq = sqlite3_column_int64(s, 0), .text = db_col_text(s, 1) };
}

bool job_line_next(DbIter *it, JobLine *ret) {
        return db_iter_row(it, line_row, ret);
}

int jobs_forget_user(sqlite3 *db, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "DELETE FROM jobs WHERE user_id = ? AND state IN ('succeeded', 'failed')", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, user_id);
        return db_step_done(s);
}
