/* /servers: the list of servers with state, map, players and ports at a
 * glance (the table body refreshes itself through htmx), and creating one. */
#include <string.h>

#include "html.h"
#include "jobs.h"
#include "layout.h"
#include "pages.h"
#include "svc-blueprints.h"
#include "svc-servers.h"

/* A server's state in a server owner's words (the class keeps l4d2ctl's). */
const char *server_state_words(const char *state) {
        static const struct {
                const char *state, *words;
        } words[] = {
                { "new", "never started" },   { "unresponsive", "not responding" },
                { "absent", "missing on the host" },
        };
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (streq(state, words[i].state))
                        return words[i].words;
        return state;
}

void server_state_badge(Buf *b, const char *state, bool deleting, const char *drift) {
        if (deleting)
                state = "deleting";
        html_raw(b, "<span class=\"badge state-");
        html_attr(b, state);
        html_raw(b, "\">");
        html_txt(b, server_state_words(state));
        html_raw(b, "</span>");
        if (drift[0]) {
                html_raw(b, " <span class=\"badge drift\" title=\"");
                html_attr(b, drift);
                html_raw(b, "\">unexpected</span>");
        }
}

static void rows(Req *r) {
        Buf *b = &r->out;
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (servers_list(&it, r->db, &r->user) < 0)
                return;
        html_raw(b, "<tbody id=\"server-rows\" data-hx-get=\"/servers/rows\" data-hx-trigger=\"every 5s\" "
                    "data-hx-swap=\"outerHTML\">\n");
        int n = 0;
        char href[64];
        ServerRow v;
        while (server_row_next(&it, &v)) {
                n++;
                html_raw(b, "<tr>\n<td data-label=\"Name\"><a href=\"");
                html_attr(b, path_id(href, sizeof href, "/servers", v.id, NULL));
                html_raw(b, "\">");
                html_txt(b, v.name);
                html_raw(b, "</a></td>\n<td data-label=\"State\">");
                server_state_badge(b, v.state, v.deleting, v.drift);
                html_raw(b, "</td>\n<td data-label=\"Map\">");
                html_txt(b, v.map[0] ? v.map : "–");
                html_raw(b, "</td>\n<td data-label=\"Players\">");
                if (v.players >= 0)
                        html_int(b, v.players);
                else
                        html_raw(b, "–");
                html_raw(b, " / ");
                if (v.maxplayers >= 0)
                        html_int(b, v.maxplayers);
                else
                        html_raw(b, "–");
                html_raw(b, "</td>\n<td data-label=\"Port\">");
                if (v.game_port > 0)
                        html_int(b, v.game_port);
                else
                        html_raw(b, "–");
                html_raw(b, "</td>\n<td data-label=\"Blueprint\">");
                html_txt(b, v.blueprint_name);
                html_raw(b, "</td>\n");
                if (r->user.is_admin) {
                        html_raw(b, "<td data-label=\"Owner\">");
                        html_txt(b, v.owner);
                        html_raw(b, "</td>\n");
                }
                html_raw(b, "</tr>\n");
        }
        if (n == 0) {
                html_raw(b, "<tr><td colspan=\"7\">No servers yet.");
                if (r->user.is_admin)
                        html_raw(b, " Servers you and your users create show here.");
                html_raw(b, "</td></tr>\n");
        }
        html_raw(b, "</tbody>\n");
}

/* What a first visit needs: the game installed, a blueprint, a server. */
static void first_steps(Req *r) {
        Buf *b = &r->out;
        JobRow j;
        bool installed = job_latest_succeeded(r->db, job_install.name, &j) == 0;
        bool has_blueprint = blueprints_count_of_user(r->db, r->user.id) > 0;
        if (installed && has_blueprint)
                return;
        html_raw(b, "<section class=\"card first-steps\" id=\"first-steps\">\n<h2>Getting started</h2>\n<ol>\n");
        if (!installed) {
                html_raw(b, "<li>The game has not been installed from this panel yet, and servers cannot start "
                            "without it. ");
                if (r->user.is_admin)
                        html_raw(b, "<a href=\"/admin/install\">Install the game</a> (a few GB; it takes a "
                                    "while).");
                else
                        html_raw(b, "An administrator installs it.");
                html_raw(b, "</li>\n");
        }
        if (!has_blueprint)
                html_raw(b, "<li>A server runs a blueprint: its map, player count and settings. "
                            "<a href=\"/blueprints/new\">Create a blueprint</a>.</li>\n");
        html_raw(b, "<li>Then create a server from it here, and start it.</li>\n</ol>\n</section>\n");
}

/* After a delete: the notice follows the job (app.js) until it is done. */
static void deleting_notice(Req *r) {
        const char *code = query_get(r, "notice"), *job = query_get(r, "job");
        long id;
        JobRow j;
        if (!code || !streq(code, "deleting") || !job || parse_long(job, 1, INT64_MAX, &id) < 0 ||
            job_load(r->db, id, &r->user, &j) < 0)
                return;
        Buf *b = &r->out;
        bool done = streq(j.state, "succeeded") || streq(j.state, "failed");
        html_raw(b, "<p class=\"notice");
        if (streq(j.state, "failed"))
                html_raw(b, " error");
        html_raw(b, "\" role=\"status\" id=\"job-notice\"");
        if (!done) {
                char src[64], text[TITLE_MAX * 4 + 32];
                html_raw(b, " data-follow-job=\"");
                html_attr(b, path_id(src, sizeof src, "/jobs", j.id, "/events"));
                snprintf(text, sizeof text, "Deleted %s.", j.target);
                html_raw(b, "\" data-done-text=\"");
                html_attr(b, text);
                snprintf(text, sizeof text, "Deleting %s failed: ", j.target);
                html_raw(b, "\" data-fail-text=\"");
                html_attr(b, text);
                html_raw(b, "\"");
        }
        html_raw(b, "><span class=\"text\">");
        if (streq(j.state, "succeeded")) {
                html_raw(b, "Deleted ");
                html_txt(b, j.target);
                html_raw(b, ".");
        } else if (streq(j.state, "failed")) {
                html_raw(b, "Deleting ");
                html_txt(b, j.target);
                html_raw(b, " failed: ");
                html_txt(b, j.result);
        } else {
                html_raw(b, "Deleting ");
                html_txt(b, j.target);
                html_raw(b, "…");
        }
        char href[64];
        html_raw(b, "</span> <a href=\"");
        html_attr(b, path_id(href, sizeof href, "/jobs", j.id, NULL));
        html_raw(b, "\">Job #");
        html_int(b, j.id);
        html_raw(b, "</a></p>\n");
}

void page_servers_list(Req *r) {
        Buf *b = &r->out;
        page_begin(r, "Servers");
        deleting_notice(r);
        first_steps(r);
        html_raw(b, "<p><a class=\"button\" href=\"/servers/new\">New server</a></p>\n"
                    "<table class=\"list\">\n<thead><tr><th>Name</th><th>State</th><th>Map</th><th>Players</th>"
                    "<th>Port</th><th>Blueprint</th>");
        if (r->user.is_admin)
                html_raw(b, "<th>Owner</th>");
        html_raw(b, "</tr></thead>\n");
        rows(r);
        html_raw(b, "</table>\n");
        page_end(r);
}

void page_servers_rows(Req *r) {
        rows(r);
}

static void render_new(Req *r, const char *name, int64_t blueprint_id, const FieldErrors *e) {
        Buf *b = &r->out;
        page_begin(r, "New server");
        /* Only the user's own blueprints, even for an admin: a server and
         * its blueprint always have the same owner. */
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        BlueprintRow bp;
        User self = { .id = r->user.id };
        if (blueprints_list(&it, r->db, &self) < 0 || !blueprint_next(&it, &bp)) {
                html_raw(b, "<p>A server is made from a blueprint, and you have none yet. "
                            "<a href=\"/blueprints/new\">Create a blueprint</a> first.</p>\n");
                page_end(r);
                return;
        }
        form_open(r, "/servers", "card");
        field_input(r, "Name", "name", "text", name, e, TITLE_MAX, "Shown in the panel and as the server's hostname.");
        const char *err = e ? errors_get(e, "blueprint") : NULL;
        html_raw(b, "<div class=\"field");
        if (err)
                html_raw(b, " invalid");
        html_raw(b, "\">\n<label for=\"f-blueprint\">Blueprint</label>\n<select id=\"f-blueprint\" name=\"blueprint\">\n");
        do {
                html_raw(b, "<option value=\"");
                html_int(b, bp.id);
                html_raw(b, "\"");
                if (bp.id == blueprint_id)
                        html_raw(b, " selected");
                html_raw(b, ">");
                html_txt(b, bp.name);
                html_raw(b, "</option>\n");
        } while (blueprint_next(&it, &bp));
        html_raw(b, "</select>\n");
        if (err) {
                html_raw(b, "<p class=\"field-error\">");
                html_txt(b, err);
                html_raw(b, "</p>\n");
        }
        html_raw(b, "</div>\n<button type=\"submit\">Create server</button>\n");
        form_close(r);
        page_end(r);
}

void page_server_new(Req *r) {
        render_new(r, NULL, 0, NULL);
}

void page_server_create(Req *r) {
        const char *name = form_get(r, "name"), *bp = form_get(r, "blueprint");
        name = name ? name : "";
        FieldErrors e = { 0 };
        const char *m = title_problem(name);
        if (m)
                errors_add(&e, "name", "%s", m);
        long bid = 0;
        Blueprint b;
        /* Only the user's own blueprints, even for an admin: a server and its
         * blueprint always have the same owner. */
        User self = r->user;
        self.is_admin = false;
        if (parse_long(bp ? bp : "", 1, INT64_MAX, &bid) < 0 || blueprint_load(r->db, bid, &self, &b) < 0)
                errors_add(&e, "blueprint", "Choose one of your blueprints.");
        else
                blueprint_free(&b);

        if (e.n == 0) {
                int64_t id;
                int k = server_create(r->db, r->user.id, bid, name, &id);
                if (k == 0) {
                        char href[64];
                        req_redirect(r, path_id(href, sizeof href, "/servers", id, "?notice=created"));
                        return;
                }
                if (k == -EEXIST)
                        errors_add(&e, "name", "You already have a server with this name.");
                else if (k == -EDQUOT)
                        errors_add(&e, "name", "You have %d servers, the most one account may have; delete one first.",
                                   SERVERS_PER_USER_MAX);
                else {
                        render_error(r, 500, "Could not save the server; try again.");
                        return;
                }
        }
        r->status = 422;
        render_new(r, name, bid, &e);
}
