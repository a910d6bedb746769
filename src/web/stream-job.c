/* A job's log lines, progress and end, read from the database every 250 ms.
 * Resumes after Last-Event-ID (the line number) on reconnect. */
#include <stdio.h>

#include "db.h"
#include "html.h"
#include "streams.h"
#include "svc-jobs.h"

#define JOB_STREAMS_MAX 64 /* each polls the database */
#define LINES_BATCH 500

typedef struct JobView {
        int64_t job_id, seq;
        double percent;
        char label[64];
} JobView;

static int open_job(Stream *s, void *state, const void *arg) {
        const StreamJobArg *a = arg;
        JobView *v = state;
        *v = (JobView) { .job_id = a->job_id, .seq = a->after_seq, .percent = -1 };
        return 0;
}

static bool pump_job(Stream *s, void *state) {
        JobView *v = state;
        sqlite3 *db = db_acquire();
        /* The job first, then its lines: a job seen finished has written
         * every line already, so the lines read next are all of them. */
        JobRow j;
        bool finished = true;
        if (job_load(db, v->job_id, NULL, &j) == 0) {
                finished = streq(j.state, "succeeded") || streq(j.state, "failed");
                _cleanup_iter_ DbIter it = DB_ITER_INIT;
                JobLine line;
                int n = 0;
                if (job_lines_after(&it, db, v->job_id, v->seq, LINES_BATCH) == 0)
                        for (; job_line_next(&it, &line); n++) {
                                char id[24];
                                snprintf(id, sizeof id, "%lld", (long long) line.seq);
                                v->seq = line.seq;
                                stream_event(s, "line", id, line.text);
                        }
                if (n == LINES_BATCH)
                        finished = false; /* more lines to send first */
                if (j.has_progress && (j.progress != v->percent || !streq(j.progress_label, v->label))) {
                        v->percent = j.progress;
                        snprintf(v->label, sizeof v->label, "%s", j.progress_label);
                        _cleanup_buf_ Buf d = BUF_INIT(512);
                        (void) buf_printf(&d, "{\"percent\":%.2f,\"label\":", j.progress);
                        json_str(&d, j.progress_label);
                        (void) buf_puts(&d, "}");
                        stream_event(s, "progress", NULL, d.data);
                }
                if (finished) {
                        _cleanup_buf_ Buf d = BUF_INIT(2048);
                        (void) buf_puts(&d, "{\"state\":");
                        json_str(&d, j.state);
                        (void) buf_puts(&d, ",\"result\":");
                        json_str(&d, j.result);
                        (void) buf_puts(&d, "}");
                        stream_event(s, "done", NULL, d.data);
                }
        }
        db_release(db);
        return finished;
}

StreamSource stream_job = { .name = "job", .max_open = JOB_STREAMS_MAX, .state_size = sizeof(JobView),
                            .open = open_job, .pump = pump_job, .poll_ms = 250 };
