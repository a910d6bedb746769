/* /jobs: background jobs with their live log, progress and final state. A
 * user sees their own jobs, an admin every job. */
#include <string.h>
#include <time.h>

#include "db.h"
#include "html.h"
#include "layout.h"
#include "pages.h"
#include "sse.h"

#define JOB_PAGE_LINES 1000

void page_jobs_list(Req *r) {
        Buf *b = &r->out;
        page_begin(r, "Jobs");
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(r->db,
                       "SELECT j.id, j.kind, j.target, j.state, j.progress, j.result, u.username FROM jobs j "
                       "JOIN users u ON u.id = j.user_id WHERE (j.user_id = ? OR ?) ORDER BY j.id DESC LIMIT 100",
                       &s) < 0)
                return;
        sqlite3_bind_int64(s, 1, r->user.id);
        sqlite3_bind_int(s, 2, r->user.is_admin);
        html_raw(b, "<table class=\"list\">\n<thead><tr><th>Job</th><th>What</th><th>For</th><th>State</th>"
                    "<th>Result</th></tr></thead>\n<tbody>\n");
        int n = 0;
        char href[64];
        while (sqlite3_step(s) == SQLITE_ROW) {
                n++;
                html_raw(b, "<tr><td data-label=\"Job\"><a href=\"");
                html_attr(b, path_id(href, sizeof href, "/jobs", sqlite3_column_int64(s, 0), NULL));
                html_raw(b, "\">#");
                html_int(b, sqlite3_column_int64(s, 0));
                html_raw(b, "</a></td><td data-label=\"What\">");
                html_txt(b, db_col_text(s, 1));
                html_raw(b, " ");
                html_txt(b, db_col_text(s, 2));
                html_raw(b, "</td><td data-label=\"For\">");
                html_txt(b, db_col_text(s, 6));
                html_raw(b, "</td><td data-label=\"State\"><span class=\"badge job-");
                html_attr(b, db_col_text(s, 3));
                html_raw(b, "\">");
                html_txt(b, db_col_text(s, 3));
                html_raw(b, "</span></td><td data-label=\"Result\">");
                html_txt(b, db_col_text(s, 5));
                html_raw(b, "</td></tr>\n");
        }
        if (!n)
                html_raw(b, "<tr><td colspan=\"5\">No jobs yet.</td></tr>\n");
        html_raw(b, "</tbody>\n</table>\n");
        page_end(r);
}

void page_job_show(Req *r) {
        Buf *b = &r->out;
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(r->db,
                       "SELECT id, kind, target, state, progress, progress_label, result, coalesce(server_id, 0), "
                       "attempts FROM jobs WHERE id = ? AND (user_id = ? OR ?)", &s) < 0)
                return;
        sqlite3_bind_int64(s, 1, r->id);
        sqlite3_bind_int64(s, 2, r->user.id);
        sqlite3_bind_int(s, 3, r->user.is_admin);
        if (sqlite3_step(s) != SQLITE_ROW) {
                render_not_found(r);
                return;
        }
        char title[160], href[64];
        snprintf(title, sizeof title, "Job #%lld: %s", (long long) r->id, db_col_text(s, 1));
        page_begin(r, title);
        const char *state = db_col_text(s, 3);
        bool has_progress = sqlite3_column_type(s, 4) != SQLITE_NULL || streq(db_col_text(s, 1), "install");
        html_raw(b, "<dl class=\"facts\">\n<dt>For</dt><dd>");
        int64_t server_id = sqlite3_column_int64(s, 7);
        if (server_id) {
                html_raw(b, "<a href=\"");
                html_attr(b, path_id(href, sizeof href, "/servers", server_id, NULL));
                html_raw(b, "\">");
                html_txt(b, db_col_text(s, 2));
                html_raw(b, "</a>");
        } else
                html_txt(b, db_col_text(s, 2)[0] ? db_col_text(s, 2) : "the host");
        html_raw(b, "</dd>\n<dt>State</dt><dd><span id=\"job-state\" class=\"badge job-");
        html_attr(b, state);
        html_raw(b, "\">");
        html_txt(b, state);
        html_raw(b, "</span></dd>\n<dt>Attempts</dt><dd>");
        html_int(b, sqlite3_column_int(s, 8));
        html_raw(b, "</dd>\n<dt>Result</dt><dd id=\"job-result\">");
        html_txt(b, db_col_text(s, 6));
        html_raw(b, "</dd>\n</dl>\n");
        if (has_progress) {
                double p = sqlite3_column_double(s, 4);
                html_raw(b, "<div class=\"progress\">\n<progress id=\"job-progress\" max=\"100\" value=\"");
                html_fixed(b, p, 2);
                html_raw(b, "\"></progress>\n<span id=\"job-progress-text\">");
                html_fixed(b, p, 1);
                html_raw(b, "%");
                html_raw(b, "</span> <span id=\"job-progress-label\">");
                html_txt(b, db_col_text(s, 5));
                html_raw(b, "</span>\n</div>\n");
        }
        /* The lines so far are in the page (it works without JavaScript);
         * the stream continues after the last one. */
        _cleanup_stmt_ sqlite3_stmt *l = NULL;
        int64_t last = 0;
        html_raw(b, "<h2>Log</h2>\n<pre id=\"job-log\" class=\"log\"");
        bool live = streq(state, "queued") || streq(state, "running");
        Buf lines = BUF_INIT(PAGE_MAX / 2);
        /* The page shows the last JOB_PAGE_LINES lines; the stream goes on
         * from there. */
        if (db_prepare(r->db, "SELECT seq, line FROM job_lines WHERE job_id = ?1 AND seq > "
                              "(SELECT coalesce(max(seq), 0) FROM job_lines WHERE job_id = ?1) - ?2 ORDER BY seq",
                       &l) == 0) {
                sqlite3_bind_int64(l, 1, r->id);
                sqlite3_bind_int(l, 2, JOB_PAGE_LINES);
                while (sqlite3_step(l) == SQLITE_ROW) {
                        last = sqlite3_column_int64(l, 0);
                        html_txt(&lines, db_col_text(l, 1));
                        html_raw(&lines, "\n");
                }
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
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(r->db, "SELECT 1 FROM jobs WHERE id = ? AND (user_id = ? OR ?)", &s) < 0)
                return;
        sqlite3_bind_int64(s, 1, r->id);
        sqlite3_bind_int64(s, 2, r->user.id);
        sqlite3_bind_int(s, 3, r->user.is_admin);
        if (sqlite3_step(s) != SQLITE_ROW) {
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
        sse_refused(r, sse_job_events(r->conn, r->id, after, r->user.id, &r->custom));
}
