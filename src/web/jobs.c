#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hostlink.h"
#include "db.h"
#include "jobs.h"
#include "model.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static bool stopping;
static uint64_t wake_seq; /* bumped by every enqueue: no wakeup is lost */
static unsigned n_workers, n_alive;
static pthread_t threads[16];

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

int jobs_enqueue(sqlite3 *db, int64_t user_id, int64_t server_id, const char *kind, const char *target,
                 int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *q = NULL;
        if (db_prepare(db, "SELECT count(*) FROM jobs WHERE user_id = ? AND state = 'queued'", &q) < 0)
                return -EIO;
        sqlite3_bind_int64(q, 1, user_id);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) >= JOBS_QUEUED_PER_USER_MAX)
                return -EAGAIN;
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
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
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(db);
        pthread_mutex_lock(&lock);
        wake_seq++;
        pthread_cond_signal(&wake);
        pthread_mutex_unlock(&lock);
        return 0;
}

typedef struct Job {
        int64_t id, user_id, server_id;
        char kind[16];
        int attempts;
} Job;

/* Claims the oldest queued job whose server has no running job. The jobs
 * mutex serializes claims inside this process; BEGIN IMMEDIATE does so
 * against another process on the same database. */
static int claim(sqlite3 *db, Job *ret) {
        if (db_begin(db) < 0)
                return -EIO;
        _cleanup_stmt_ sqlite3_stmt *s = NULL, *u = NULL;
        if (db_prepare(db,
                       "SELECT id, user_id, coalesce(server_id, 0), kind, attempts FROM jobs j WHERE state = 'queued' "
                       "AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.state = 'running' AND "
                       "(k.server_id = j.server_id OR (k.kind = 'install' AND j.kind = 'install'))) "
                       "ORDER BY id LIMIT 1", &s) < 0)
                goto fail;
        if (sqlite3_step(s) != SQLITE_ROW) {
                db_rollback(db);
                return 0;
        }
        Job j = { .id = sqlite3_column_int64(s, 0), .user_id = sqlite3_column_int64(s, 1),
                  .server_id = sqlite3_column_int64(s, 2), .attempts = sqlite3_column_int(s, 4) + 1 };
        snprintf(j.kind, sizeof j.kind, "%s", db_col_text(s, 3));
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

/* Old finished jobs go, with their logs (ON DELETE CASCADE): after
 * JOBS_KEEP_DAYS, and past a user's newest JOBS_KEEP_PER_USER, so that
 * clicking start and stop in a loop cannot fill the disk. */
static void prune(sqlite3 *db, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL, *u = NULL;
        if (db_prepare(db, "DELETE FROM jobs WHERE state IN ('succeeded', 'failed') AND finished_at < ?", &s) == 0) {
                sqlite3_bind_int64(s, 1, now_sec() - (int64_t) JOBS_KEEP_DAYS * 86400);
                (void) db_step_done(s);
        }
        if (db_prepare(db, "DELETE FROM jobs WHERE user_id = ?1 AND state IN ('succeeded', 'failed') AND id <= "
                           "(SELECT id FROM jobs WHERE user_id = ?1 AND state IN ('succeeded', 'failed') "
                           "ORDER BY id DESC LIMIT 1 OFFSET ?2)", &u) == 0) {
                sqlite3_bind_int64(u, 1, user_id);
                sqlite3_bind_int(u, 2, JOBS_KEEP_PER_USER);
                (void) db_step_done(u);
        }
}

static void finish(sqlite3 *db, const Job *j, bool ok, const char *result) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "UPDATE jobs SET state = ?, result = ?, finished_at = ?, "
                           "progress = CASE WHEN ?1 = 'succeeded' AND progress IS NOT NULL THEN 100 ELSE progress END "
                           "WHERE id = ?", &s) < 0)
                return;
        db_bind_text(s, 1, ok ? "succeeded" : "failed");
        db_bind_text(s, 2, result);
        sqlite3_bind_int64(s, 3, now_sec());
        sqlite3_bind_int64(s, 4, j->id);
        (void) db_step_done(s);
        prune(db, j->user_id);
}

/* What a running l4d2ctl tells us, line by line. */
typedef struct RunCtx {
        sqlite3 *db;
        const Job *job;
        json_t *status;         /* the last status object seen */
        bool done_ok;           /* install: {"event":"done","ok":true} */
        char last_error[256];
        double last_percent;
        char last_label[64];
} RunCtx;

static void set_progress(RunCtx *c, double percent, const char *label) {
        if (percent < 0 || percent > 100)
                return;
        /* Write when the bar moves visibly or the phase changes, not per line. */
        if (percent - c->last_percent < 0.5 && percent >= c->last_percent && streq(label, c->last_label))
                return;
        c->last_percent = percent;
        snprintf(c->last_label, sizeof c->last_label, "%s", label);
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(c->db, "UPDATE jobs SET progress = ?, progress_label = ? WHERE id = ?", &s) < 0)
                return;
        sqlite3_bind_double(s, 1, percent);
        db_bind_text(s, 2, label);
        sqlite3_bind_int64(s, 3, c->job->id);
        (void) db_step_done(s);
}

static int on_line(const char *line, void *userdata) {
        RunCtx *c = userdata;
        json_t *j = hostlink_parse_object(line);
        if (!j) {
                job_log(c->db, c->job->id, line);
                if (startswith(line, "error:"))
                        snprintf(c->last_error, sizeof c->last_error, "%s", line);
                return 0;
        }
        const char *event = json_string_value(json_object_get(j, "event"));
        if (event && streq(event, "progress")) {
                const char *phase = json_string_value(json_object_get(j, "phase"));
                const char *state = json_string_value(json_object_get(j, "state"));
                char label[64];
                snprintf(label, sizeof label, "%s%s%s", phase ? phase : "", phase && state ? ": " : "",
                         state ? state : "");
                set_progress(c, json_number_value(json_object_get(j, "percent")), label);
        } else if (event && streq(event, "line")) {
                const char *l = json_string_value(json_object_get(j, "line"));
                job_log(c->db, c->job->id, l ? l : "");
        } else if (event && streq(event, "done")) {
                c->done_ok = json_is_true(json_object_get(j, "ok"));
        } else if (json_object_get(j, "state") && json_object_get(j, "name")) {
                json_decref(c->status);
                c->status = json_incref(j);
                char summary[160];
                json_t *ports = json_object_get(j, "ports");
                snprintf(summary, sizeof summary, "state: %s, game port %" JSON_INTEGER_FORMAT,
                         json_string_value(json_object_get(j, "state")),
                         json_integer_value(json_object_get(ports, "game")));
                job_log(c->db, c->job->id, summary);
        } else
                job_log(c->db, c->job->id, line);
        json_decref(j);
        return 0;
}

/* Runs one l4d2ctl command for the job. Returns true on exit code 0. */
static bool run_ctl(RunCtx *c, const char *const args[], const char *stdin_data) {
        char cmdline[256] = "$ l4d2ctl";
        for (size_t i = 0; args[i]; i++) {
                strncat(cmdline, " ", sizeof cmdline - strlen(cmdline) - 1);
                strncat(cmdline, args[i], sizeof cmdline - strlen(cmdline) - 1);
        }
        job_log(c->db, c->job->id, cmdline);
        int exit_code = -1;
        int r = hostlink_run(host(), args, stdin_data, on_line, c, &exit_code);
        if (r < 0) {
                snprintf(c->last_error, sizeof c->last_error, "could not run l4d2ctl on %s: %s",
                         hostlink_name(host()), strerror(-r));
                job_log(c->db, c->job->id, c->last_error);
                return false;
        }
        if (exit_code != 0) {
                if (!c->last_error[0])
                        snprintf(c->last_error, sizeof c->last_error, "l4d2ctl %s exited with status %d", args[0],
                                 exit_code);
                return false;
        }
        return true;
}

static void set_desired(sqlite3 *db, int64_t server_id, const char *desired) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "UPDATE servers SET desired = ?, drift = '' WHERE id = ?", &s) < 0)
                return;
        db_bind_text(s, 1, desired);
        sqlite3_bind_int64(s, 2, server_id);
        (void) db_step_done(s);
}

/* Writes the instance spec from the server's current blueprint: blueprint
 * changes take effect here, at the server's next start. */
static bool initialize(RunCtx *c, const Server *srv) {
        Blueprint b;
        if (blueprint_load(c->db, srv->blueprint_id, NULL, &b) < 0) {
                snprintf(c->last_error, sizeof c->last_error, "the server's blueprint is gone");
                return false;
        }
        _cleanup_free_ char *spec = blueprint_spec(&b, srv->name, srv->game_port);
        blueprint_free(&b);
        if (!spec) {
                snprintf(c->last_error, sizeof c->last_error, "out of memory writing the spec");
                return false;
        }
        const char *args[] = { "initialize", srv->instance, "-f", "-", "--json", NULL };
        return run_ctl(c, args, spec);
}

static bool run_job(RunCtx *c, const char **ret_result) {
        const Job *j = c->job;
        if (streq(j->kind, "install")) {
                const char *args[] = { "install", "--json", NULL };
                bool ok = run_ctl(c, args, NULL) && c->done_ok;
                *ret_result = ok ? "The game is installed." : NULL;
                return ok;
        }
        Server srv;
        if (!j->server_id || server_load(c->db, j->server_id, NULL, &srv) < 0) {
                snprintf(c->last_error, sizeof c->last_error, "the server no longer exists");
                return false;
        }
        bool ok = false;
        if (streq(j->kind, "start") || streq(j->kind, "restart")) {
                set_desired(c->db, srv.id, "running");
                const char *args[] = { j->kind, srv.instance, "--json", NULL };
                ok = initialize(c, &srv) && run_ctl(c, args, NULL);
                *ret_result = streq(j->kind, "start") ? "Started." : "Restarted.";
        } else if (streq(j->kind, "stop")) {
                set_desired(c->db, srv.id, "stopped");
                const char *args[] = { "stop", srv.instance, "--json", NULL };
                ok = run_ctl(c, args, NULL);
                *ret_result = "Stopped.";
        } else if (streq(j->kind, "delete")) {
                set_desired(c->db, srv.id, "stopped");
                const char *args[] = { "delete", srv.instance, NULL };
                ok = run_ctl(c, args, NULL);
                if (ok) {
                        _cleanup_stmt_ sqlite3_stmt *s = NULL;
                        if (db_prepare(c->db, "DELETE FROM servers WHERE id = ?", &s) == 0) {
                                sqlite3_bind_int64(s, 1, srv.id);
                                ok = db_step_done(s) == 0;
                        } else
                                ok = false;
                }
                *ret_result = "Deleted.";
                return ok;
        } else {
                snprintf(c->last_error, sizeof c->last_error, "unknown job kind '%s'", j->kind);
                return false;
        }
        if (c->status)
                (void) server_apply_status(c->db, srv.id, c->status);
        return ok;
}

/* A failed delete leaves the server visible again, with its buttons. */
static void undelete(sqlite3 *db, int64_t server_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (!server_id || db_prepare(db, "UPDATE servers SET deleting = 0 WHERE id = ?", &s) < 0)
                return;
        sqlite3_bind_int64(s, 1, server_id);
        (void) db_step_done(s);
}

static void *worker(void *arg) {
        for (;;) {
                /* Claiming needs no mutex: BEGIN IMMEDIATE in claim() lets
                 * one worker at a time pick, and the next sees the row taken.
                 * The mutex only guards the sleep, so enqueueing never waits
                 * for a worker that waits for the database. */
                pthread_mutex_lock(&lock);
                bool stop = stopping;
                uint64_t seen = wake_seq;
                pthread_mutex_unlock(&lock);
                if (stop)
                        break;
                sqlite3 *db = db_acquire();
                Job j;
                int r = claim(db, &j);
                if (r <= 0) {
                        db_release(db);
                        pthread_mutex_lock(&lock);
                        if (!stopping && wake_seq == seen) {
                                struct timespec ts;
                                clock_gettime(CLOCK_REALTIME, &ts);
                                ts.tv_sec += 1;
                                pthread_cond_timedwait(&wake, &lock, &ts);
                        }
                        pthread_mutex_unlock(&lock);
                        continue;
                }

                RunCtx c = { .db = db, .job = &j, .last_percent = -1 };
                const char *result = NULL;
                bool ok = run_job(&c, &result);
                if (!ok && streq(j.kind, "delete"))
                        undelete(db, j.server_id);
                finish(db, &j, ok, ok ? result : (c.last_error[0] ? c.last_error : "failed"));
                json_decref(c.status);
                db_release(db);
                /* Another job may now be eligible (same server). */
                pthread_mutex_lock(&lock);
                pthread_cond_broadcast(&wake);
                pthread_mutex_unlock(&lock);
        }
        pthread_mutex_lock(&lock);
        n_alive--;
        pthread_cond_broadcast(&idle_cond);
        pthread_mutex_unlock(&lock);
        return NULL;
}

static int recover(sqlite3 *db, int *ret_requeued, int *ret_failed) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT id, attempts, kind, coalesce(server_id, 0) FROM jobs WHERE state = 'running'",
                       &s) < 0)
                return -EIO;
        int requeued = 0, failed = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(s, 0);
                int attempts = sqlite3_column_int(s, 1);
                _cleanup_stmt_ sqlite3_stmt *u = NULL;
                bool give_up = attempts >= JOB_MAX_ATTEMPTS;
                if (db_prepare(db, give_up ? "UPDATE jobs SET state = 'failed', finished_at = ?, result = "
                                             "'interrupted by panel restarts too often; gave up' WHERE id = ?"
                                           : "UPDATE jobs SET state = 'queued', started_at = NULL "
                                             "WHERE id = ?2", &u) < 0)
                        return -EIO;
                sqlite3_bind_int64(u, 1, now_sec());
                sqlite3_bind_int64(u, 2, id);
                if (db_step_done(u) < 0)
                        return -EIO;
                if (give_up && streq(db_col_text(s, 2), "delete"))
                        undelete(db, sqlite3_column_int64(s, 3));
                job_log(db, id, give_up ? "interrupted: the panel stopped while this job ran; failed after "
                                          "too many attempts"
                                        : "interrupted: the panel stopped while this job ran; re-queued");
                if (give_up)
                        failed++;
                else
                        requeued++;
        }
        /* A re-queued delete finishes the server off; one given up leaves
         * it visible again (undelete above), as a failed delete does. */
        *ret_requeued = requeued;
        *ret_failed = failed;
        return 0;
}

int jobs_start(sqlite3 *db, unsigned n, int *ret_requeued, int *ret_failed) {
        int r = recover(db, ret_requeued, ret_failed);
        if (r < 0)
                return r;
        if (n > ELEMENTSOF(threads))
                n = ELEMENTSOF(threads);
        for (unsigned i = 0; i < n; i++) {
                if (pthread_create(&threads[i], NULL, worker, NULL) != 0)
                        return -EAGAIN;
                pthread_mutex_lock(&lock);
                n_workers++;
                n_alive++;
                pthread_mutex_unlock(&lock);
        }
        return 0;
}

void jobs_stop(unsigned timeout_ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&lock);
        stopping = true;
        pthread_cond_broadcast(&wake);
        while (n_alive > 0)
                if (pthread_cond_timedwait(&idle_cond, &lock, &ts) != 0)
                        break;
        unsigned alive = n_alive;
        pthread_mutex_unlock(&lock);
        /* Join only when every worker ended; a worker still inside a job is
         * left to the process exit, and its job to the next start's recovery. */
        if (alive == 0)
                for (unsigned i = 0; i < n_workers; i++)
                        pthread_join(threads[i], NULL);
}
