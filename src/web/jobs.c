#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "hostlink.h"
#include "jobs.h"
#include "svc-blueprints.h"
#include "svc-servers.h"

/* Every kind of job; jobs.kind names one of these. */
static const JobKind *const kinds[] = { &job_install, &job_start, &job_restart, &job_stop, &job_delete,
                                        &job_overlay_build, &job_workshop_refresh };

const JobKind *job_kind(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (streq(kinds[i]->name, name))
                        return kinds[i];
        return NULL;
}

/* Worker wake-ups. The database is the queue; this only says when to look. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static bool stopping;
static uint64_t wake_seq; /* bumped by every request: no wakeup is lost */
static unsigned n_workers, n_alive;
static pthread_t threads[16];

static void wake_workers(void) {
        pthread_mutex_lock(&lock);
        wake_seq++;
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&lock);
}

int jobs_request(sqlite3 *db, const User *u, const char *kind, const Server *srv, int64_t *ret_id) {
        const JobKind *k = job_kind(kind);
        if (!k || k->needs_server != (srv != NULL))
                return -EINVAL;
        /* The kind's own step (e.g. the delete mark) and the job are saved
         * together or not at all. */
        if (db_begin(db) < 0)
                return -EIO;
        int r = k->queued ? k->queued(db, srv) : 0;
        if (r == 0)
                r = job_insert(db, u->id, srv ? srv->id : 0, kind, srv ? srv->name : "", ret_id);
        if (r == 0)
                r = db_commit(db);
        if (r < 0) {
                db_rollback(db);
                return r;
        }
        wake_workers();
        return 0;
}

int jobs_request_for(sqlite3 *db, const User *u, const char *kind, const char *target, job_step_fn step,
                     void *userdata, int64_t *ret_id) {
        const JobKind *k = job_kind(kind);
        if (!k || k->needs_server)
                return -EINVAL;
        if (db_begin(db) < 0)
                return -EIO;
        int64_t id = 0;
        int r = job_insert(db, u->id, 0, kind, target, &id);
        if (r == 0 && step)
                r = step(db, id, userdata);
        if (r == 0)
                r = db_commit(db);
        if (r < 0) {
                db_rollback(db);
                return r;
        }
        if (ret_id)
                *ret_id = id;
        wake_workers();
        return 0;
}

bool job_fail(JobCtx *c, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->last_error, sizeof c->last_error, fmt, ap);
        va_end(ap);
        return false;
}

static void set_progress(JobCtx *c, double percent, const char *label) {
        if (percent < 0 || percent > 100)
                return;
        /* Write when the bar moves visibly or the phase changes, not per line. */
        if (percent - c->last_percent < 0.5 && percent >= c->last_percent && streq(label, c->last_label))
                return;
        c->last_percent = percent;
        snprintf(c->last_label, sizeof c->last_label, "%s", label);
        job_set_progress(c->db, c->job->id, percent, label);
}

static int on_line(const char *line, void *userdata) {
        JobCtx *c = userdata;
        json_t *j = hostlink_parse_object(line);
        if (!j) {
                job_log(c->db, c->job->id, line);
                if (startswith(line, "error:"))
                        snprintf(c->last_error, sizeof c->last_error, "%s", line);
                return 0;
        }
        const char *event = json_string_value(json_object_get(j, "event"));
        if (c->on_event && c->on_event(c, j, c->event_userdata)) {
                /* the kind's own */
        } else if (event && streq(event, "progress")) {
                const char *phase = json_string_value(json_object_get(j, "phase"));
                const char *state = json_string_value(json_object_get(j, "state"));
                json_t *items = json_object_get(j, "items_total");
                double percent = json_number_value(json_object_get(j, "percent"));
                char label[64];
                const JobKind *k = job_kind(c->job->kind);
                if (!phase && json_is_integer(items))
                        /* A build: bytes of all its downloads, and items. */
                        snprintf(label, sizeof label, "%.1f of %.1f MiB, %" JSON_INTEGER_FORMAT " of %"
                                 JSON_INTEGER_FORMAT " items",
                                 (double) json_integer_value(json_object_get(j, "done")) / 1048576.0,
                                 (double) json_integer_value(json_object_get(j, "total")) / 1048576.0,
                                 json_integer_value(json_object_get(j, "items_done")), json_integer_value(items));
                else if (k && k->progress)
                        percent = k->progress(c, phase ? phase : "", state ? state : "", percent, label, sizeof label);
                else
                        snprintf(label, sizeof label, "%s%s%s", phase ? phase : "", phase && state ? ": " : "",
                                 state ? state : "");
                set_progress(c, percent, label);
        } else if (event && streq(event, "line")) {
                const char *l = json_string_value(json_object_get(j, "line"));
                job_log(c->db, c->job->id, l ? l : "");
        } else if (event && streq(event, "done")) {
                c->done_ok = json_is_true(json_object_get(j, "ok"));
                const char *error = json_string_value(json_object_get(j, "error"));
                if (error && *error)
                        snprintf(c->last_error, sizeof c->last_error, "%s", error);
        } else if (event && streq(event, "build") && json_is_string(json_object_get(j, "id"))) {
                /* install: the build it installed (or found up to date). */
                snprintf(c->build, sizeof c->build, "%s", json_string_value(json_object_get(j, "id")));
                job_log(c->db, c->job->id, line);
        } else if (event && json_is_string(json_object_get(j, "line"))) {
                /* Build events (item, problem, resolved, overlay): their line
                 * for people is what the log shows. */
                job_log(c->db, c->job->id, json_string_value(json_object_get(j, "line")));
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

bool job_ctl(JobCtx *c, const char *const args[], const char *stdin_data) {
        char cmdline[256] = "$ l4d2ctl";
        for (size_t i = 0; args[i]; i++) {
                strncat(cmdline, " ", sizeof cmdline - strlen(cmdline) - 1);
                strncat(cmdline, args[i], sizeof cmdline - strlen(cmdline) - 1);
        }
        job_log(c->db, c->job->id, cmdline);
        int exit_code = -1;
        int r = hostlink_run(host(), args, stdin_data, on_line, c, &exit_code);
        if (r < 0) {
                job_fail(c, "could not run l4d2ctl on %s: %s", hostlink_name(host()), strerror(-r));
                job_log(c->db, c->job->id, c->last_error);
                return false;
        }
        if (exit_code != 0) {
                if (!c->last_error[0])
                        job_fail(c, "l4d2ctl %s exited with status %d", args[0], exit_code);
                return false;
        }
        return true;
}

bool job_initialize(JobCtx *c) {
        const Server *srv = c->server;
        Blueprint b;
        if (blueprint_load(c->db, srv->blueprint_id, NULL, &b) < 0)
                return job_fail(c, "the server's blueprint is gone");
        /* No port: l4d2ctl keeps the one it allocated, and may move it
         * when another program took it; a port named here would be the
         * user's choice, never moved. The build its owner pinned it to
         * (issue 14), else it follows. */
        ServerBuild sb = { 0 };
        (void) server_build(c->db, srv->id, &sb);
        _cleanup_free_ char *spec = blueprint_spec(&b, srv->name, sb.pin);
        blueprint_free(&b);
        if (!spec)
                return job_fail(c, "out of memory writing the spec");
        const char *args[] = { "initialize", srv->instance, "-f", "-", "--json", NULL };
        return job_ctl(c, args, spec);
}

/* Runs a claimed job by its kind. */
static bool run(JobCtx *c, const char **ret_result) {
        const JobKind *k = job_kind(c->job->kind);
        if (!k)
                return job_fail(c, "unknown job kind '%s'", c->job->kind);
        Server srv;
        if (k->needs_server) {
                if (!c->job->server_id || server_load(c->db, c->job->server_id, NULL, &srv) < 0)
                        return job_fail(c, "the server no longer exists");
                c->server = &srv;
        }
        bool ok = k->run(c, ret_result);
        /* The ports l4d2ctl allocated show at once; the state is the
         * watch's to report (it may have newer news than this answer). */
        if (c->server && c->status) {
                json_t *ports = json_object_get(c->status, "ports");
                (void) server_note_ports(c->db, c->server->id,
                                         (int) json_integer_value(json_object_get(ports, "game")),
                                         (int) json_integer_value(json_object_get(ports, "sourcetv")));
        }
        if (!ok && k->failed)
                k->failed(c->db, c->job->server_id);
        c->server = NULL;
        return ok;
}

static void gave_up(sqlite3 *db, const char *kind, int64_t server_id) {
        const JobKind *k = job_kind(kind);
        if (k && k->failed)
                k->failed(db, server_id);
}

static void *worker(void *arg) {
        for (;;) {
                /* Claiming needs no mutex: BEGIN IMMEDIATE in job_claim() lets
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
                int r = job_claim(db, &j);
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

                JobCtx c = { .db = db, .job = &j, .last_percent = -1 };
                const char *result = NULL;
                bool ok = run(&c, &result);
                job_finish(db, &j, ok, ok ? result : (c.last_error[0] ? c.last_error : "failed"));
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

int jobs_start(sqlite3 *db, unsigned n, int *ret_requeued, int *ret_failed) {
        int r = jobs_recover(db, gave_up, ret_requeued, ret_failed);
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
