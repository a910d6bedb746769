/* Background jobs: kinds, requests and the workers that run them. The
 * queue itself is the jobs table (svc-jobs.c); worker threads claim queued
 * jobs oldest first, never two at once for one server. A job that was
 * running when the panel stopped is found at the next start: re-queued with
 * a line in its log saying so, or failed with a reason after
 * JOB_MAX_ATTEMPTS.
 *
 * Kinds are a table (jobs.c), one file each (job-<kind>.c): adding one is
 * adding a row and a file. A kind talks to the host only through job_ctl()
 * (the host link) and to the database only through the svc-*.c modules. */
#pragma once

#include <jansson.h>
#include <sqlite3.h>

#include "model.h"
#include "svc-jobs.h"

/* What a running job knows. */
typedef struct JobCtx JobCtx;
struct JobCtx {
        sqlite3 *db;
        const Job *job;
        const Server *server;   /* NULL for a host job */
        json_t *status;         /* the last l4d2ctl status object printed */
        bool done_ok;           /* {"event":"done","ok":true} was printed */
        char last_error[512];   /* the result of a failed job */
        double last_percent;
        char last_label[64];
        char build[32];         /* install: the build l4d2ctl reported */
        char phase[16];         /* a kind's progress hook: the phase seen last */
        int part, parts;        /* and which part of how many it is in */
        char result[512];       /* a result a kind wrote (for *ret_result) */
        /* A kind's own look at each JSON event of job_ctl()'s l4d2ctl (may
         * be NULL): true when it handled the event, which is then neither
         * logged nor read by the generic code. */
        bool (*on_event)(struct JobCtx *c, json_t *event, void *userdata);
        void *event_userdata;
};

typedef struct JobKind {
        const char *name;       /* the jobs.kind column */
        bool needs_server;      /* a server job; else a job for the host */
        bool shows_progress;    /* its page has a progress bar from the start */
        /* In the transaction that queues the job (may be NULL). */
        int (*queued)(sqlite3 *db, const Server *srv);
        /* Runs the job: true on success, with *ret_result the line shown. */
        bool (*run)(JobCtx *c, const char **ret_result);
        /* After a failed run, or when recovery gave up on it (may be NULL). */
        void (*failed)(sqlite3 *db, int64_t server_id);
        /* The bar for one progress event of l4d2ctl (may be NULL: its
         * percent as it is, labelled "phase: state"): the percent of the
         * whole job, and the label into label. */
        double (*progress)(JobCtx *c, const char *phase, const char *state, double percent, char *label,
                           size_t size);
} JobKind;

extern const JobKind job_install, job_start, job_restart, job_stop, job_delete, job_overlay_build,
        job_workshop_refresh;
/* The kind of that name, or NULL. */
const JobKind *job_kind(const char *name);

/* For kinds: runs `l4d2ctl args` on the host, its output into the job's
 * log (and progress, status, done events into c). Events other than these
 * that carry a "line" for people (build events) log that line. True on exit
 * code 0. */
bool job_ctl(JobCtx *c, const char *const args[], const char *stdin_data);
/* For kinds: `l4d2ctl initialize` from the server's current blueprint;
 * blueprint changes take effect here, at the server's next start. */
bool job_initialize(JobCtx *c);
/* For kinds: sets the failed job's result; returns false. */
bool job_fail(JobCtx *c, const char *fmt, ...) _printf_(2, 3);
/* For start and restart (job-start.c): the result in a server owner's
 * words, the server's events (a failed start, a port that moved), and a
 * failed start leaves the server wanted stopped: no drift. */
bool job_start_done(JobCtx *c, bool ok, const char *done, const char **ret_result);
/* What a start's failure (l4d2ctl's error line) means for the person who
 * pressed Start, in their words. */
void job_start_failure_words(const char *error, char *buf, size_t size);
void job_start_gave_up(sqlite3 *db, int64_t server_id);
/* The result of a start that failed because the game is not installed. */
#define JOB_RESULT_NOT_INSTALLED "The game is not installed yet."

/* Queues a job of a kind for the user (srv: the server, NULL for a host
 * job), in one transaction with the kind's own step. -EAGAIN when the user
 * has JOBS_QUEUED_PER_USER_MAX jobs waiting; -EINVAL for an unknown kind or
 * a missing server. */
int jobs_request(sqlite3 *db, const User *u, const char *kind, const Server *srv, int64_t *ret_id);
/* As jobs_request, for a host job about something that is not a server (an
 * overlay): target is what the job lists show it is for, and step (may be
 * NULL) runs in the enqueue transaction with the new job's id (e.g. the row
 * that ties the job to its overlay). */
typedef int (*job_step_fn)(sqlite3 *db, int64_t job_id, void *userdata);
int jobs_request_for(sqlite3 *db, const User *u, const char *kind, const char *target, job_step_fn step,
                     void *userdata, int64_t *ret_id);

/* Queues the Workshop refresh (job-workshop-refresh.c) for u, unless one
 * waits already: 0 queued, 1 one was waiting (its id in *ret_id). The check
 * and the row are one transaction, whoever asks (the panel's button, the
 * daily `left4me workshop refresh`). */
int workshop_refresh_request(sqlite3 *db, const User *u, const char *target, int64_t *ret_id);

/* Recovers interrupted jobs, then starts n worker threads. */
int jobs_start(sqlite3 *db, unsigned n, int *ret_requeued, int *ret_failed);
/* Asks workers to stop after their current job and waits up to timeout_ms;
 * a job still running then is recovered at the next start. */
void jobs_stop(unsigned timeout_ms);
