/* The jobs and job_lines tables: the durable queue's SQL and its owner
 * check, written once. A job is a row (queued -> running -> succeeded |
 * failed) with its log in job_lines. The workers that run them and the
 * kinds of job are jobs.c and job-<kind>.c. */
#pragma once

#include <sqlite3.h>
#include <stdint.h>

#include "db.h"
#include "web.h"

#define JOB_MAX_ATTEMPTS 3
#define JOB_LINES_MAX 5000
#define JOBS_QUEUED_PER_USER_MAX 20  /* past it a request answers -EAGAIN */
#define JOBS_KEEP_DAYS 30            /* finished jobs older than this are deleted */
#define JOBS_KEEP_PER_USER 200       /* and those past a user's newest 200 */

/* A job a worker claimed. */
typedef struct Job {
        int64_t id, user_id, server_id; /* server_id 0: a job for the host */
        char kind[32];
        int attempts;
} Job;

/* -EAGAIN when the user has JOBS_QUEUED_PER_USER_MAX jobs waiting. */
int job_insert(sqlite3 *db, int64_t user_id, int64_t server_id, const char *kind, const char *target,
               int64_t *ret_id);
void job_log(sqlite3 *db, int64_t job_id, const char *line);
/* The oldest job of kind (any user's) still waiting: 1 (*ret_id), 0 none, -EIO. */
int job_queued_of_kind(sqlite3 *db, const char *kind, int64_t *ret_id);
/* Claims the oldest queued job that may run now: one job at a time per
 * server, and one host job (no server) of a kind at a time. 1 claimed, 0
 * none waiting, -EIO. BEGIN IMMEDIATE makes the claim exclusive across
 * workers and processes. */
int job_claim(sqlite3 *db, Job *ret);
void job_set_progress(sqlite3 *db, int64_t id, double percent, const char *label);
/* Marks the job done and drops the user's old finished jobs, in one
 * transaction. */
void job_finish(sqlite3 *db, const Job *j, bool ok, const char *result);
/* Jobs that were running when the panel stopped: re-queued with a line in
 * their log, or failed after JOB_MAX_ATTEMPTS (gave_up is called for each
 * of those). */
typedef void (*job_gave_up_fn)(sqlite3 *db, const char *kind, int64_t server_id);
int jobs_recover(sqlite3 *db, job_gave_up_fn gave_up, int *ret_requeued, int *ret_failed);

typedef struct JobRow {
        int64_t id, user_id, server_id, created_at;
        int64_t started_at, finished_at; /* 0: not yet */
        char kind[32], state[16];
        char target[TITLE_MAX * 4 + 1];
        char owner[USERNAME_MAX + 1];
        char result[512];
        char progress_label[64];
        bool has_progress;
        double progress;
        int attempts;
} JobRow;
/* -ENOENT for an id that does not exist or is not u's (u NULL: any). */
int job_load(sqlite3 *db, int64_t id, const User *u, JobRow *ret);
/* The newest job of a kind (any user's); the newest that succeeded. */
int job_latest(sqlite3 *db, const char *kind, JobRow *ret);
int job_latest_succeeded(sqlite3 *db, const char *kind, JobRow *ret);
/* Deletes a user's finished jobs and their logs (before the account goes). */
int jobs_forget_user(sqlite3 *db, int64_t user_id);
/* The newest 100 jobs u may see; the newest 10 of a server. */
int jobs_list(DbIter *it, sqlite3 *db, const User *u);
int jobs_of_server(DbIter *it, sqlite3 *db, int64_t server_id);
bool job_next(DbIter *it, JobRow *ret);

typedef struct JobLine {
        int64_t seq;
        const char *text; /* valid until the next job_line_next() */
} JobLine;
/* The last n lines of a job's log; the lines after seq (at most limit). */
int job_lines_tail(DbIter *it, sqlite3 *db, int64_t job_id, int n);
int job_lines_after(DbIter *it, sqlite3 *db, int64_t job_id, int64_t after, int limit);
bool job_line_next(DbIter *it, JobLine *ret);
