/* /servers: the list of servers with state, map, players and ports at a
 * glance (the table body refreshes itself through htmx), and creating one. */
#include <string.h>

#include "html.h"
#include "layout.h"
#include "pages.h"
#include "svc-blueprints.h"
#include "svc-servers.h"

void server_state_badge(Buf *b, const char *state, bool deleting, const char *drift) {
        if (deleting)
                state = "deleting";
        html_raw(b, "<span class=\"badge state-");
        html_attr(b, state);
        html_raw(b, "\">");
        html_txt(b, state);
        html_raw(b, "</span>");
        if (drift[0]) {
                html_raw(b, " <span class=\"badge drift\" title=\"");
                html_attr(b, drift);
                html_raw(b, "\">drift</span>");
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
                html_raw(b, "</td>\n<td data-label=\"Ports\">");
                if (v.game_port > 0) {
                        html_int(b, v.game_port);
                        if (v.tv_port > 0) {
                                html_raw(b, " / ");
                                html_int(b, v.tv_port);
                        }
                } else
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
                html_raw(b, "<tr><td colspan=\"7\">No servers yet.</td></tr>\n");
        }
        html_raw(b, "</tbody>\n");
}

void page_servers_list(Req *r) {
        Buf *b = &r->out;
        page_begin(r, "Servers");
        html_raw(b, "<p><a class=\"button\" href=\"/servers/new\">New server</a></p>\n"
                    "<table class=\"list\">\n<thead><tr><th>Name</th><th>State</th><th>Map</th><th>Players</th>"
                    "<th>Ports</th><th>Blueprint</th>");
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
