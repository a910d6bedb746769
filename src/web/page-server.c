/* /servers/<id>: one server. Its status (refreshed through htmx): what is
 * happening to it (the newest job, a failure in words), its state, the
 * address players connect to, the lifecycle buttons that fit the state
 * (each a background job) and its recent jobs; then the blueprint switch,
 * the events and the live console over SSE. */
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

#define RECENT_JOBS 10

/* The server's newest jobs, newest first. */
typedef struct Recent {
        JobRow jobs[RECENT_JOBS];
        size_t n;
} Recent;

static void recent_load(Req *r, const Server *v, Recent *ret) {
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        ret->n = 0;
        if (jobs_of_server(&it, r->db, v->id) < 0)
                return;
        while (ret->n < RECENT_JOBS && job_next(&it, &ret->jobs[ret->n]))
                ret->n++;
}

static bool job_busy(const JobRow *j) {
        return streq(j->state, "queued") || streq(j->state, "running");
}

static bool server_up(const Server *v) {
        return streq(v->state, "running") || streq(v->state, "starting") || streq(v->state, "unresponsive");
}

/* A job kind as a button says it, and while it runs. */
static const struct {
        const char *kind, *word, *doing;
} kind_words[] = {
        { "start", "Start", "Starting" },
        { "stop", "Stop", "Stopping" },
        { "restart", "Restart", "Restarting" },
        { "delete", "Delete", "Deleting" },
};

static const char *kind_word(const char *kind, bool doing) {
        for (size_t i = 0; i < ELEMENTSOF(kind_words); i++)
                if (streq(kind, kind_words[i].kind))
                        return doing ? kind_words[i].doing : kind_words[i].word;
        return kind;
}

static void job_link(Req *r, const JobRow *j) {
        char href[64];
        html_raw(&r->out, " <a href=\"");
        html_attr(&r->out, path_id(href, sizeof href, "/jobs", j->id, NULL));
        html_raw(&r->out, "\">Job #");
        html_int(&r->out, j->id);
        html_raw(&r->out, "</a>");
}

/* What is happening to the server, from its newest job: waiting, running,
 * or a failure that still explains its state (nothing changed since). */
static bool activity(Req *r, const Server *v, const Recent *rj) {
        Buf *b = &r->out;
        if (!rj->n)
                return false;
        const JobRow *j = &rj->jobs[0];
        if (job_busy(j)) {
                html_raw(b, "<p class=\"notice activity\" role=\"status\" id=\"activity\">");
                if (streq(j->state, "queued")) {
                        html_txt(b, kind_word(j->kind, false));
                        html_raw(b, ": waiting for the job before it to finish…");
                } else {
                        html_txt(b, kind_word(j->kind, true));
                        html_raw(b, "…");
                }
                job_link(r, j);
                html_raw(b, "</p>\n");
                return false;
        }
        /* A failure stays said while the state it left holds: a start
         * that failed until the server runs, a stop until it stops. */
        if (!streq(j->state, "failed") || (streq(j->kind, "stop") ? !server_up(v) : server_up(v) &&
                                                                                      !streq(j->kind, "delete")))
                return false;
        html_raw(b, "<p class=\"error activity\" role=\"alert\" id=\"activity\">");
        html_txt(b, kind_word(j->kind, false));
        html_raw(b, " failed: ");
        html_txt(b, j->result);
        if (streq(j->result, JOB_RESULT_NOT_INSTALLED)) {
                if (r->user.is_admin)
                        html_raw(b, " <a href=\"/admin/install\">Install the game</a>, then start the server.");
                else
                        html_raw(b, " An administrator has to install it before servers can start.");
        }
        job_link(r, j);
        html_raw(b, "</p>\n");
        return true;
}

/* Where players connect: this panel's host name as the browser reached it
 * (or the SSH host l4d2ctl runs on), never more than a host name. */
static void connect_host(Req *r, char *buf, size_t size) {
        const char *h = config.host_ssh;
        if (h) {
                const char *at = strrchr(h, '@');
                h = at ? at + 1 : h;
        } else
                h = header_get(r, "Host");
        size_t n = 0;
        if (h && h[0] == '[')
                n = strcspn(h, "]") + 1; /* [v6]:port */
        else if (h)
                n = strcspn(h, ":");
        bool ok = h && n > 0 && n < size && h[n - 1] != '\0';
        for (size_t i = 0; ok && i < n; i++)
                ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]", h[i]) != NULL;
        if (!ok) {
                snprintf(buf, size, "%s", config.listen_host);
                return;
        }
        memcpy(buf, h, n);
        buf[n] = '\0';
}

static void address(Req *r, const Server *v) {
        Buf *b = &r->out;
        html_raw(b, "<dt>Address</dt><dd>");
        if (v->game_port <= 0) {
                html_raw(b, "given at its first start");
        } else {
                char host[256], cmd[300];
                connect_host(r, host, sizeof host);
                snprintf(cmd, sizeof cmd, "connect %s:%d", host, v->game_port);
                html_raw(b, "<code id=\"connect\">");
                html_txt(b, cmd);
                html_raw(b, "</code> <button type=\"button\" class=\"copy small\" data-copy=\"");
                html_attr(b, cmd);
                html_raw(b, "\">Copy</button><span class=\"hint\"> Players type it in the game's console.");
                if (v->tv_port > 0) {
                        html_raw(b, " SourceTV: port ");
                        html_int(b, v->tv_port);
                        html_raw(b, ".");
                }
                html_raw(b, "</span>");
        }
        html_raw(b, "</dd>\n");
}

static void actions(Req *r, const Server *v, const Recent *rj) {
        if (v->deleting)
                return;
        Buf *b = &r->out;
        char action[64], confirm[TITLE_MAX * 4 + 200], busy[160] = "";
        bool up = server_up(v);
        if (rj->n && job_busy(&rj->jobs[0]))
                snprintf(busy, sizeof busy, "Wait until the %s job has finished.", rj->jobs[0].kind);
        const char *why = busy[0] ? busy : NULL;
        html_raw(b, "<div class=\"actions\" id=\"actions\">\n");
        button_form_opts(r, path_id(action, sizeof action, "/servers", v->id, "/start"), "Start",
                         &(ButtonOpts) { .disabled = why ? why : up ? "It is running already." : NULL });
        button_form_opts(r, path_id(action, sizeof action, "/servers", v->id, "/restart"), "Restart",
                         &(ButtonOpts) { .disabled = why ? why : !up ? "It is not running." : NULL });
        button_form_opts(r, path_id(action, sizeof action, "/servers", v->id, "/stop"), "Stop",
                         &(ButtonOpts) { .disabled = why ? why : !up ? "It is not running." : NULL });
        snprintf(confirm, sizeof confirm, "Delete the server \"%s\"? Its settings and files on the host are removed. "
                                          "This cannot be undone.", v->name);
        button_form_opts(r, path_id(action, sizeof action, "/servers", v->id, "/delete"), "Delete",
                         &(ButtonOpts) { .klass = "danger", .confirm = confirm,
                                         .disabled = why ? why : up ? "Stop it first." : NULL });
        html_raw(b, "</div>\n");
        if (up && !why)
                html_raw(b, "<p class=\"hint\">Stop the server before you delete it.</p>\n");
}

static void jobs_table(Req *r, const Recent *rj) {
        Buf *b = &r->out;
        html_raw(b, "<h2>Recent jobs</h2>\n<ul class=\"jobs\">\n");
        char href[64];
        for (size_t i = 0; i < rj->n; i++) {
                const JobRow *j = &rj->jobs[i];
                html_raw(b, "<li><a href=\"");
                html_attr(b, path_id(href, sizeof href, "/jobs", j->id, NULL));
                html_raw(b, "\">");
                html_txt(b, kind_word(j->kind, false));
                html_raw(b, "</a> <span class=\"badge job-");
                html_attr(b, j->state);
                html_raw(b, "\">");
                html_txt(b, j->state);
                html_raw(b, "</span> ");
                html_time(b, j->created_at);
                html_raw(b, " ");
                html_txt(b, j->result);
                html_raw(b, "</li>\n");
        }
        if (!rj->n)
                html_raw(b, "<li>None yet.</li>\n");
        html_raw(b, "</ul>\n");
}

/* The part of the server page that htmx refreshes every few seconds. Its
 * data-state tells the console (app.js) what the server is doing. */
static void status_section(Req *r, const Server *v) {
        Buf *b = &r->out;
        Recent rj;
        recent_load(r, v, &rj);
        char href[64];
        html_raw(b, "<section id=\"status\" class=\"card\" data-state=\"");
        html_attr(b, v->deleting ? "deleting" : v->state);
        html_raw(b, "\" data-hx-get=\"");
        html_attr(b, path_id(href, sizeof href, "/servers", v->id, "/status"));
        html_raw(b, "\" data-hx-trigger=\"every 3s\" data-hx-swap=\"outerHTML\">\n");
        bool failed = activity(r, v, &rj);
        /* A failed start explains a stopped server better than "stopped
         * outside the panel" would. */
        if (v->drift[0] && !failed) {
                html_raw(b, "<p class=\"error drift-text\" role=\"alert\">");
                html_txt(b, v->drift);
                html_raw(b, "</p>\n");
        }
        html_raw(b, "<dl class=\"facts\">\n<dt>State</dt><dd id=\"state\">");
        server_state_badge(b, v->state, v->deleting, failed ? "" : v->drift);
        if (v->health[0] && !streq(v->health, "none")) {
                html_raw(b, " <span class=\"badge health-");
                html_attr(b, v->health);
                html_raw(b, "\">");
                html_txt(b, streq(v->health, "ok") ? "answers players" : "does not answer");
                html_raw(b, "</span>");
        }
        if (v->state_since > 0) {
                html_raw(b, " <span class=\"hint\">since ");
                html_time(b, v->state_since);
                html_raw(b, "</span>");
        }
        html_raw(b, "</dd>\n");
        if (v->detail[0]) {
                html_raw(b, "<dt>Why</dt><dd>");
                html_txt(b, v->detail);
                html_raw(b, "</dd>\n");
        }
        address(r, v);
        html_raw(b, "<dt>Map</dt><dd>");
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
        html_raw(b, "</dd>\n");
        if (v->restarts > 0) {
                html_raw(b, "<dt>Restarted after crashes</dt><dd>");
                html_int(b, v->restarts);
                html_raw(b, " times</dd>\n");
        }
        if (r->user.is_admin) {
                /* What l4d2ctl calls it, for an administrator at the host. */
                html_raw(b, "<dt>On the host</dt><dd><code>l4d2ctl status ");
                html_txt(b, v->instance);
                html_raw(b, "</code></dd>\n");
        }
        html_raw(b, "</dl>\n");
        actions(r, v, &rj);
        jobs_table(r, &rj);
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

static void events_list(Req *r, const Server *v) {
        Buf *b = &r->out;
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (server_events(&it, r->db, v->id) < 0)
                return;
        /* Kept up to date by asking for the page again and taking this
         * section from it (cached until the server's tables change). */
        char href[64];
        html_raw(b, "<section id=\"events\" data-hx-get=\"");
        html_attr(b, path_id(href, sizeof href, "/servers", v->id, NULL));
        html_raw(b, "\" data-hx-select=\"#events\" data-hx-trigger=\"every 5s\" data-hx-swap=\"outerHTML\">\n"
                    "<h2>Events</h2>\n<ul class=\"events\">\n");
        int n = 0;
        ServerEvent ev;
        while (server_event_next(&it, &ev)) {
                n++;
                html_raw(b, "<li>");
                html_time(b, ev.at);
                html_raw(b, " — ");
                html_txt(b, ev.message);
                html_raw(b, "</li>\n");
        }
        if (!n)
                html_raw(b, "<li>Nothing yet. Crashes, failed starts and other surprises show here.</li>\n");
        html_raw(b, "</ul>\n</section>\n");
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
        players_section(r, &v);
        console_section(r, &v);
        html_raw(b, "<h2>Console</h2>\n<pre id=\"console\" class=\"log\" data-sse-log=\"");
        html_attr(b, path_id(action, sizeof action, "/servers", v.id, "/logs"));
        html_raw(b, "\" aria-live=\"polite\"></pre>\n<p class=\"hint\" id=\"console-state\">");
        /* app.js says what the console shows as the state changes. */
        if (streq(v.state, "new"))
                html_raw(b, "Not started yet: its console shows here once it runs.");
        else
                html_raw(b, "Connecting…");
        html_raw(b, "</p>\n");
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
        /* The server's page follows the job (its status section shows the
         * newest job); the list after a delete follows it too (app.js). */
        char href[64];
        if (streq(kind, "delete")) {
                snprintf(href, sizeof href, "/servers?notice=deleting&job=%lld", (long long) job);
                req_redirect(r, href);
        } else
                req_redirect(r, path_id(href, sizeof href, "/servers", v.id, NULL));
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
