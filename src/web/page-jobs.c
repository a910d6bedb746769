/* /jobs: background jobs with their live log, progress and final state. A
 * user sees their own jobs, an admin every job. */
#include <string.h>
#include <time.h>

#include "html.h"
#include "jobs.h"
#include "layout.h"
#include "page-players.h"
#include "pages.h"
#include "streams.h"

#define JOB_PAGE_LINES 1000

/* A job kind as people say it. */
static const char *kind_title(const char *kind) {
        static const struct {
                const char *kind, *title;
        } titles[] = {
                { "install", "Install the game" }, { "start", "Start" }, { "stop", "Stop" },
                { "restart", "Restart" },          { "delete", "Delete" },
        };
        for (size_t i = 0; i < ELEMENTSOF(titles); i++)
                if (streq(kind, titles[i].kind))
                        return titles[i].title;
        return kind;
}

/* How long it ran, or how long it has waited / run so far (as of the
 * render: the list is cached, so no "ago"). */
static void took(Buf *b, const JobRow *j) {
        if (j->finished_at && j->started_at)
                html_duration(b, j->finished_at - j->started_at);
        else if (streq(j->state, "running"))
                html_raw(b, "running");
        else if (streq(j->state, "queued"))
                html_raw(b, "waiting");
        else
                html_raw(b, "–");
}

void page_jobs_list(Req *r) {
        Buf *b = &r->out;
        page_begin(r, "Jobs");
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (jobs_list(&it, r->db, &r->user) < 0) {
                render_error(r, 500, "The database is busy; try again.");
                return;
        }
        html_raw(b, "<p class=\"hint\">What you asked the panel to do, newest first: each start, stop or install "
                    "runs in the background.</p>\n<table class=\"list\">\n<thead><tr><th>Job</th><th>What</th>"
                    "<th>For</th><th>When</th><th>Took</th><th>State</th><th>Result</th></tr></thead>\n<tbody>\n");
        int n = 0;
        char href[64];
        JobRow j;
        while (job_next(&it, &j)) {
                n++;
                html_raw(b, "<tr><td data-label=\"Job\"><a href=\"");
                html_attr(b, path_id(href, sizeof href, "/jobs", j.id, NULL));
                html_raw(b, "\">#");
                html_int(b, j.id);
                html_raw(b, "</a></td><td data-label=\"What\">");
                html_txt(b, kind_title(j.kind));
                html_raw(b, " ");
                html_txt(b, j.target);
                html_raw(b, "</td><td data-label=\"For\">");
                html_txt(b, j.owner);
                html_raw(b, "</td><td data-label=\"When\">");
                html_time(b, j.started_at ? j.started_at : j.created_at);
                html_raw(b, "</td><td data-label=\"Took\">");
                took(b, &j);
                html_raw(b, "</td><td data-label=\"State\"><span class=\"badge job-");
                html_attr(b, j.state);
                html_raw(b, "\">");
                html_txt(b, j.state);
                html_raw(b, "</span></td><td data-label=\"Result\">");
                html_txt(b, j.result);
                html_raw(b, "</td></tr>\n");
        }
        if (!n)
                html_raw(b, "<tr><td colspan=\"7\">No jobs yet.</td></tr>\n");
        html_raw(b, "</tbody>\n</table>\n");
        page_end(r);
}

void page_job_show(Req *r) {
        Buf *b = &r->out;
        JobRow j;
        if (job_load(r->db, r->id, &r->user, &j) < 0) {
                render_not_found(r);
                return;
        }
        char title[TITLE_MAX * 4 + 64], href[64];
        snprintf(title, sizeof title, "Job #%lld: %s%s%s", (long long) r->id, kind_title(j.kind),
                 j.server_id || streq(j.kind, "delete") ? " " : "", j.server_id || streq(j.kind, "delete") ? j.target : "");
        page_begin(r, title);
        const char *state = j.state;
        const JobKind *kind = job_kind(j.kind);
        bool has_progress = j.has_progress || (kind && kind->shows_progress);
        bool failed = streq(state, "failed");
        html_raw(b, "<dl class=\"facts\">\n<dt>For</dt><dd>");
        int64_t server_id = j.server_id;
        if (server_id) {
                html_raw(b, "<a href=\"");
                html_attr(b, path_id(href, sizeof href, "/servers", server_id, NULL));
                html_raw(b, "\">");
                html_txt(b, j.target);
                html_raw(b, "</a>");
        } else
                html_txt(b, j.target[0] ? j.target : "the host");
        html_raw(b, "</dd>\n<dt>State</dt><dd><span id=\"job-state\" class=\"badge job-");
        html_attr(b, state);
        html_raw(b, "\">");
        html_txt(b, state);
        html_raw(b, "</span></dd>\n<dt>Asked</dt><dd>");
        html_time(b, j.created_at);
        html_raw(b, " by ");
        html_txt(b, j.owner);
        html_raw(b, "</dd>\n");
        if (j.finished_at && j.started_at) {
                html_raw(b, "<dt>Took</dt><dd>");
                html_duration(b, j.finished_at - j.started_at);
                html_raw(b, "</dd>\n");
        }
        if (j.attempts > 1) {
                /* The panel stopped while it ran, and it ran again. */
                html_raw(b, "<dt>Tries</dt><dd>");
                html_int(b, j.attempts);
                html_raw(b, "</dd>\n");
        }
        html_raw(b, "<dt>Result</dt><dd id=\"job-result\"");
        if (failed)
                html_raw(b, " class=\"failed-text\"");
        html_raw(b, ">");
        html_txt(b, j.result);
        html_raw(b, "</dd>\n</dl>\n");
        job_reach_section(r, &j);
        if (has_progress) {
                double p = j.progress;
                html_raw(b, "<div class=\"progress");
                if (failed)
                        html_raw(b, " failed");
                html_raw(b, "\">\n<progress id=\"job-progress\" max=\"100\" value=\"");
                html_fixed(b, p, 2);
                html_raw(b, "\"></progress>\n<span id=\"job-progress-text\">");
                html_fixed(b, p, 1);
                html_raw(b, "%");
                html_raw(b, "</span> <span id=\"job-progress-label\">");
                html_txt(b, failed ? "Failed" : j.progress_label);
                html_raw(b, "</span>\n</div>\n");
        }
        bool live = streq(state, "queued") || streq(state, "running");
        /* A failed install can be tried again from here (an administrator:
         * only they see install jobs); shown by app.js when a live one
         * fails. */
        if (streq(j.kind, job_install.name) && r->user.is_admin && (failed || live)) {
                form_open(r, "/admin/install", "retry");
                html_raw(b, "<button type=\"submit\" id=\"job-retry\"");
                if (!failed)
                        html_raw(b, " hidden");
                html_raw(b, ">Retry the installation</button>\n");
                form_close(r);
        }
        /* The lines so far are in the page (it works without JavaScript);
         * the stream continues after the last one. */
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        int64_t last = 0;
        html_raw(b, "<h2>Log</h2>\n<pre id=\"job-log\" class=\"log\"");
        Buf lines = BUF_INIT(PAGE_MAX / 2);
        /* The page shows the last JOB_PAGE_LINES lines; the stream goes on
         * from there. */
        JobLine line;
        if (job_lines_tail(&it, r->db, r->id, JOB_PAGE_LINES) == 0)
                while (job_line_next(&it, &line)) {
                        last = line.seq;
                        html_txt(&lines, line.text);
                        html_raw(&lines, "\n");
                }
        if (live) {
                char src[96];
                snprintf(src, sizeof src, "/jobs/%lld/events?after=%lld", (long long) r->id, (long long) last);
                html_raw(b, " data-sse-job=\"");
                html_attr(b, src);
                html_raw(b, "\"");
        }
        html_raw(b, ">");
        html_built(b, &lines); /* every line went through html_txt above */
        buf_free(&lines);
        html_raw(b, "</pre>\n");
        page_end(r);
}

void page_job_events(Req *r) {
        JobRow j;
        if (job_load(r->db, r->id, &r->user, &j) < 0) {
                render_not_found(r);
                return;
        }
        long after = 0;
        const char *last = header_get(r, "Last-Event-ID");
        if (!last || parse_long(last, 0, INT32_MAX, &after) < 0) {
                const char *q = query_get(r, "after");
                if (!q || parse_long(q, 0, INT32_MAX, &after) < 0)
                        after = 0;
        }
        StreamJobArg arg = { .job_id = r->id, .after_seq = after };
        stream_refused(r, stream_open(r->conn, &stream_job, &arg, r->user.id, &r->custom));
}
