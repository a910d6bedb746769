/* /servers/<id>: one server. Its state and drift (refreshed through htmx),
 * the lifecycle buttons (each a background job), the blueprint switch, recent
 * jobs and events, and the live console over SSE. */
#include <string.h>
#include <time.h>

#include "html.h"
#include "jobs.h"
#include "layout.h"
#include "page-overlays.h"
#include "page-players.h"
#include "pages.h"
#include "streams.h"
#include "svc-blueprints.h"
#include "svc-servers.h"


static void time_txt(Buf *b, int64_t t) {
        if (t <= 0) {
                html_raw(b, "–");
                return;
        }
        char s[32];
        time_t tt = (time_t) t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S UTC", &tm);
        html_txt(b, s);
}

static void jobs_table(Req *r, const Server *v);

/* The part of the server page that htmx refreshes every few seconds: state,
 * drift, facts and the server's recent jobs. */
static void status_section(Req *r, const Server *v) {
        Buf *b = &r->out;
        char href[64];
        html_raw(b, "<section id=\"status\" class=\"card\" data-hx-get=\"");
        html_attr(b, path_id(href, sizeof href, "/servers", v->id, "/status"));
        html_raw(b, "\" data-hx-trigger=\"every 3s\" data-hx-swap=\"outerHTML\">\n");
        if (v->drift[0]) {
                html_raw(b, "<p class=\"error drift-text\" role=\"alert\">");
                html_txt(b, v->drift);
                html_raw(b, "</p>\n");
        }
        html_raw(b, "<dl class=\"facts\">\n<dt>State</dt><dd id=\"state\">");
        server_state_badge(b, v->state, v->deleting, v->drift);
        if (v->health[0] && !streq(v->health, "none")) {
                html_raw(b, " <span class=\"badge health-");
                html_attr(b, v->health);
                html_raw(b, "\">");
                html_txt(b, streq(v->health, "ok") ? "answers queries" : "no answer to queries");
                html_raw(b, "</span>");
        }
        html_raw(b, "</dd>\n<dt>Asked for</dt><dd>");
        html_txt(b, v->desired);
        html_raw(b, "</dd>\n<dt>Map</dt><dd>");
        html_txt(b, v->map[0] ? v->map : "–");
        html_raw(b, "</dd>\n<dt>Players</dt><dd>");
        if (v->players >= 0)
                html_int(b, v->players);
        else
                html_raw(b, "–");
        html_raw(b, " / ");
        if (v->maxplayers >= 0)
                html_int(b, v->maxplayers);
        else
                html_raw(b, "–");
        html_raw(b, "</dd>\n<dt>Game port</dt><dd>");
        if (v->game_port > 0)
                html_int(b, v->game_port);
        else
                html_raw(b, "allocated at the first start");
        html_raw(b, "</dd>\n<dt>SourceTV port</dt><dd>");
        if (v->tv_port > 0)
                html_int(b, v->tv_port);
        else
                html_raw(b, "–");
        html_raw(b, "</dd>\n<dt>Restarts</dt><dd>");
        html_int(b, v->restarts);
        html_raw(b, "</dd>\n<dt>Instance</dt><dd><code>");
        html_txt(b, v->instance);
        html_raw(b, "</code></dd>\n<dt>State since</dt><dd>");
        time_txt(b, v->state_since);
        html_raw(b, "</dd>\n");
        if (v->detail[0]) {
                html_raw(b, "<dt>Detail</dt><dd>");
                html_txt(b, v->detail);
                html_raw(b, "</dd>\n");
        }
        html_raw(b, "</dl>\n");
        jobs_table(r, v);
        html_raw(b, "</section>\n");
}

static bool load(Req *r, Server *v) {
        if (server_load(r->db, r->id, &r->user, v) < 0) {
                render_not_found(r);
                return false;
        }
        return true;
}

void page_server_status(Req *r) {
        Server v;
        if (load(r, &v))
                status_section(r, &v);
}

static void jobs_table(Req *r, const Server *v) {
        Buf *b = &r->out;
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (jobs_of_server(&it, r->db, v->id) < 0)
                return;
        html_raw(b, "<h2>Recent jobs</h2>\n<ul class=\"jobs\">\n");
        char href[64];
        int n = 0;
        JobRow j;
        while (job_next(&it, &j)) {
                n++;
                html_raw(b, "<li><a href=\"");
                html_attr(b, path_id(href, sizeof href, "/jobs", j.id, NULL));
                html_raw(b, "\">");
                html_txt(b, j.kind);
                html_raw(b, "</a> <span class=\"badge job-");
                html_attr(b, j.state);
                html_raw(b, "\">");
                html_txt(b, j.state);
                html_raw(b, "</span> ");
                html_txt(b, j.result);
                html_raw(b, "</li>\n");
        }
        if (!n)
                html_raw(b, "<li>None yet.</li>\n");
        html_raw(b, "</ul>\n");
}

static void events_list(Req *r, const Server *v) {
        Buf *b = &r->out;
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (server_events(&it, r->db, v->id) < 0)
                return;
        html_raw(b, "<h2>Events</h2>\n<ul class=\"events\">\n");
        int n = 0;
        ServerEvent ev;
        while (server_event_next(&it, &ev)) {
                n++;
                html_raw(b, "<li>");
                time_txt(b, ev.at);
                html_raw(b, " — ");
                html_txt(b, ev.message);
                html_raw(b, "</li>\n");
        }
        if (!n)
                html_raw(b, "<li>Nothing unusual so far.</li>\n");
        html_raw(b, "</ul>\n");
}

static void blueprint_switch(Req *r, const Server *v) {
        Buf *b = &r->out;
        /* The owner's blueprints (not an admin's own): a server and its
         * blueprint always have the same owner. */
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        User owner = { .id = v->user_id };
        if (blueprints_list(&it, r->db, &owner) < 0)
                return;
        char action[64];
        html_raw(b, "<h2>Blueprint</h2>\n");
        form_open(r, path_id(action, sizeof action, "/servers", v->id, "/blueprint"), "inline-form");
        html_raw(b, "<label for=\"f-blueprint\">Uses</label>\n<select id=\"f-blueprint\" name=\"blueprint\">\n");
        BlueprintRow bp;
        while (blueprint_next(&it, &bp)) {
                html_raw(b, "<option value=\"");
                html_int(b, bp.id);
                html_raw(b, "\"");
                if (bp.id == v->blueprint_id)
                        html_raw(b, " selected");
                html_raw(b, ">");
                html_txt(b, bp.name);
                html_raw(b, "</option>\n");
        }
        html_raw(b, "</select>\n<button type=\"submit\">Switch</button>\n");
        form_close(r);
        html_raw(b, "<p class=\"hint\">Blueprint changes apply at the server's next start or restart. <a href=\"");
        html_attr(b, path_id(action, sizeof action, "/blueprints", v->blueprint_id, NULL));
        html_raw(b, "\">Edit ");
        html_txt(b, v->blueprint_name);
        html_raw(b, "</a></p>\n");
}

void page_server_show(Req *r) {
        Server v;
        if (!load(r, &v))
                return;
        Buf *b = &r->out;
        page_begin(r, v.name);
        status_section(r, &v);
        server_overlay_news(r, &v);
        char action[64];
        if (!v.deleting) {
                html_raw(b, "<div class=\"actions\">\n");
                button_form(r, path_id(action, sizeof action, "/servers", v.id, "/start"), "Start", NULL);
                button_form(r, path_id(action, sizeof action, "/servers", v.id, "/restart"), "Restart", NULL);
                button_form(r, path_id(action, sizeof action, "/servers", v.id, "/stop"), "Stop", NULL);
                button_form(r, path_id(action, sizeof action, "/servers", v.id, "/delete"), "Delete", "danger");
                html_raw(b, "</div>\n");
        }
        players_section(r, &v);
        console_section(r, &v);
        html_raw(b, "<h2>Console</h2>\n<pre id=\"console\" class=\"log\" data-sse-log=\"");
        html_attr(b, path_id(action, sizeof action, "/servers", v.id, "/logs"));
        html_raw(b, "\" aria-live=\"polite\"></pre>\n<p class=\"hint\" id=\"console-state\">Connecting…</p>\n");
        blueprint_switch(r, &v);
        server_build_section(r, &v);
        events_list(r, &v);
        page_end(r);
}

static void enqueue(Req *r, const char *kind) {
        Server v;
        if (!load(r, &v))
                return;
        if (v.deleting) {
                render_error(r, 409, "This server is being deleted.");
                return;
        }
        int64_t job;
        int k = jobs_request(r->db, &r->user, kind, &v, &job);
        if (k < 0) {
                if (k == -EAGAIN)
                        render_error(r, 429, "You have 20 jobs waiting already; let them finish, then try again.");
                else
                        render_error(r, 500, "Could not queue the job; try again.");
                return;
        }
        char href[64];
        req_redirect(r, streq(kind, "delete") ? "/servers?notice=queued"
                                               : path_id(href, sizeof href, "/servers", v.id, "?notice=queued"));
}

void page_server_start(Req *r) {
        enqueue(r, "start");
}
void page_server_stop(Req *r) {
        enqueue(r, "stop");
}
void page_server_restart(Req *r) {
        enqueue(r, "restart");
}
void page_server_delete(Req *r) {
        enqueue(r, "delete");
}

void page_server_blueprint(Req *r) {
        Server v;
        if (!load(r, &v))
                return;
        const char *bp = form_get(r, "blueprint");
        long bid;
        Blueprint b;
        User owner = { .id = v.user_id, .is_admin = false };
        if (parse_long(bp ? bp : "", 1, INT64_MAX, &bid) < 0 || blueprint_load(r->db, bid, &owner, &b) < 0) {
                render_error(r, 422, "Choose one of the owner's blueprints.");
                return;
        }
        blueprint_free(&b);
        if (server_set_blueprint(r->db, v.id, bid) < 0) {
                render_error(r, 500, "Could not save; try again.");
                return;
        }
        char href[64];
        req_redirect(r, path_id(href, sizeof href, "/servers", v.id, "?notice=saved"));
}

void page_server_logs(Req *r) {
        Server v;
        if (!load(r, &v))
                return;
        /* Never started: there is no console yet; look again in 10 s
         * rather than running l4d2ctl every 2 s. */
        int k = 0;
        if (streq(v.state, "new"))
                r->custom = stream_message("end", "the server has not been started yet", 10000);
        else
                k = stream_open(r->conn, &stream_logs, v.instance, r->user.id, &r->custom);
        stream_refused(r, k);
}
