/* The durable job queue. A job is a row in `jobs` (queued -> running ->
 * succeeded | failed) with its log in `job_lines`; worker threads claim
 * queued jobs oldest first, never two at once for one server. A job that
 * was running when the panel stopped is found at the next start: it is
 * re-queued with a line in its log saying so, or failed with a reason after
 * JOB_MAX_ATTEMPTS. */
#pragma once

#include <sqlite3.h>
#include <stdint.h>

#define JOB_MAX_ATTEMPTS 3
#define JOB_LINES_MAX 5000
#define JOBS_QUEUED_PER_USER_MAX 20  /* past it enqueueing answers -EAGAIN */
#define JOBS_KEEP_DAYS 30            /* finished jobs older than this are deleted */
#define JOBS_KEEP_PER_USER 200       /* and those past a user's newest 200 */

/* kind: install, start, stop, restart, delete. server_id 0: none.
 * -EAGAIN when the user has JOBS_QUEUED_PER_USER_MAX jobs waiting. */
int jobs_enqueue(sqlite3 *db, int64_t user_id, int64_t server_id, const char *kind, const char *target,
                 int64_t *ret_id);
void job_log(sqlite3 *db, int64_t job_id, const char *line);

/* Recovers interrupted jobs, then starts n worker threads. */
int jobs_start(sqlite3 *db, unsigned n, int *ret_requeued, int *ret_failed);
/* Asks workers to stop after their current job and waits up to timeout_ms;
 * a job still running then is recovered at the next start. */
void jobs_stop(unsigned timeout_ms);
