/* /admin/builds: the host's game builds (issue 14), their canary reports,
 * the last update check, and a button that runs the fleet's update now;
 * and the part of a server's page about its build (which one it runs,
 * pinning it to an older one). Rendered from the database (svc-builds,
 * svc-servers): the fleet job (updater.c) keeps it. */
#include <string.h>
#include <time.h>

#include "html.h"
#include "jobs.h"
#include "layout.h"
#include "pages.h"
#include "spec-rules.h"
#include "svc-builds.h"
#include "svc-servers.h"
#include "updater.h"


static const char *str(json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key)) ?: "";
}

static void check_section(Req *r) {
        Buf *b = &r->out;
        json_t *c = NULL;
        html_raw(b, "<section class=\"card\" id=\"update-check\">\n<h2>Update check</h2>\n");
        if (update_check_load(r->db, &c) < 0) {
                html_raw(b, "<p>No check yet: the panel checks every few minutes.</p>\n");
        } else {
                const char *state = str(c, "state");
                html_raw(b, "<p><span class=\"badge update-");
                html_attr(b, state);
                html_raw(b, "\">");
                html_txt(b, streq(state, "available") ? "an update is out"
                            : streq(state, "current")  ? "up to date"
                                                       : "unknown");
                html_raw(b, "</span> at ");
                html_utc(b, json_integer_value(json_object_get(c, "time")), false);
                html_raw(b, "; installed: build ");
                html_txt(b, str(json_object_get(c, "installed"), "build"));
                html_raw(b, " (PatchVersion ");
                html_txt(b, str(json_object_get(c, "installed"), "patch_version"));
                html_raw(b, ")</p>\n<ul class=\"sources\">\n");
                size_t i;
                json_t *s;
                json_array_foreach(json_object_get(c, "sources"), i, s) {
                        html_raw(b, "<li><strong>");
                        html_txt(b, str(s, "source"));
                        html_raw(b, "</strong> ");
                        html_txt(b, str(s, "state"));
                        html_raw(b, ": ");
                        html_txt(b, str(s, "detail"));
                        html_raw(b, "</li>\n");
                }
                html_raw(b, "</ul>\n");
                json_decref(c);
        }
        form_open(r, "/admin/builds/check", "inline-form");
        html_raw(b, "<button type=\"submit\">Check for an update now</button>\n");
        form_close(r);
        html_raw(b, "</section>\n");
}

static void names(Buf *b, json_t *a) {
        size_t i;
        json_t *n;
        json_array_foreach(a, i, n) {
                if (i)
                        html_raw(b, ", ");
                html_txt(b, json_string_value(n));
        }
        if (json_array_size(a) == 0)
                html_raw(b, "–");
}

/* One canary report: the verdict, its stack, and what failed. */
static void report(Buf *b, json_t *rep) {
        bool pass = streq(str(rep, "verdict"), "pass");
        html_raw(b, "<li><span class=\"badge verdict-");
        html_attr(b, pass ? "pass" : "fail");
        html_raw(b, "\">");
        html_txt(b, pass ? "passed" : "failed");
        html_raw(b, "</span> overlays: ");
        names(b, json_object_get(rep, "overlays"));
        html_raw(b, "; servers: ");
        names(b, json_object_get(rep, "instances"));
        html_raw(b, "; against build ");
        html_txt(b, str(rep, "baseline")[0] ? str(rep, "baseline") : "–");
        html_raw(b, ", ");
        html_utc(b, json_integer_value(json_object_get(rep, "finished")), false);
        json_t *failures = json_object_get(rep, "failures");
        if (json_array_size(failures)) {
                html_raw(b, "\n<ul class=\"failures\">\n");
                size_t i;
                json_t *f;
                json_array_foreach(failures, i, f) {
                        html_raw(b, "<li><code>");
                        html_txt(b, str(f, "check"));
                        html_raw(b, "</code> ");
                        html_txt(b, str(f, "detail"));
                        html_raw(b, "</li>\n");
                }
                html_raw(b, "</ul>\n");
        }
        html_raw(b, "</li>\n");
}

void page_admin_builds(Req *r) {
        Buf *b = &r->out;
        page_begin(r, "Game builds");
        notice_from_query(r);
        check_section(r);
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (builds_list(&it, r->db) < 0) {
                render_error(r, 500, "The database is busy; try again.");
                return;
        }
        html_raw(b, "<table class=\"list\" id=\"builds\">\n<thead><tr><th>Build</th><th>Layer</th><th>Size</th>"
                    "<th>Servers</th><th>Canary</th></tr></thead>\n<tbody>\n");
        int n = 0;
        json_t *bd;
        while (build_row_next(&it, &bd)) {
                n++;
                html_raw(b, "<tr><td data-label=\"Build\"><strong>");
                html_txt(b, str(bd, "id"));
                html_raw(b, "</strong><br><span class=\"hint\">PatchVersion ");
                html_txt(b, str(bd, "patch_version")[0] ? str(bd, "patch_version") : "–");
                html_raw(b, ", ");
                html_utc(b, json_integer_value(json_object_get(bd, "created")), false);
                html_raw(b, "</span></td><td data-label=\"Layer\">");
                html_txt(b, str(bd, "layer"));
                if (str(bd, "parent")[0]) {
                        html_raw(b, " over ");
                        html_txt(b, str(bd, "parent"));
                }
                html_raw(b, "</td><td data-label=\"Size\">");
                html_fixed(b, (double) json_integer_value(json_object_get(bd, "bytes")) / 1048576.0, 1);
                html_raw(b, " MiB</td><td data-label=\"Servers\">runs it: ");
                names(b, json_object_get(bd, "instances"));
                html_raw(b, "<br>pinned: ");
                names(b, json_object_get(bd, "pinned"));
                html_raw(b, "</td><td data-label=\"Canary\">");
                if (json_is_true(json_object_get(bd, "trusted"))) {
                        html_raw(b, "trusted: ");
                        html_txt(b, str(bd, "trusted_why"));
                }
                json_t *reports = json_object_get(bd, "canary");
                if (json_object_size(reports)) {
                        html_raw(b, "<ul class=\"reports\">\n");
                        const char *k;
                        json_t *rep;
                        json_object_foreach(reports, k, rep)
                                report(b, rep);
                        html_raw(b, "</ul>");
                } else if (!json_is_true(json_object_get(bd, "trusted")))
                        html_raw(b, "not tried yet");
                html_raw(b, "</td></tr>\n");
                json_decref(bd);
        }
        if (!n)
                html_raw(b, "<tr><td colspan=\"5\">No build is known yet: install the game, then wait for the next "
                            "check.</td></tr>\n");
        html_raw(b, "</tbody>\n</table>\n");
        page_end(r);
}

void page_admin_builds_check(Req *r) {
        updater_wake();
        req_redirect(r, "/admin/builds?notice=checking");
}

/* ---- a server's build ---- */

void server_build_section(Req *r, const Server *v) {
        Buf *b = &r->out;
        ServerBuild sb = { 0 };
        if (server_build(r->db, v->id, &sb) < 0)
                return;
        char action[64];
        html_raw(b, "<h2>Game build</h2>\n<p id=\"build\">");
        if (sb.build[0]) {
                html_raw(b, "Runs build <strong>");
                html_txt(b, sb.build);
                html_raw(b, "</strong>");
        } else
                html_raw(b, "Not running");
        if (sb.pin[0]) {
                html_raw(b, "; pinned to build <strong>");
                html_txt(b, sb.pin);
                html_raw(b, "</strong>.");
        } else
                html_raw(b, "; it follows the newest build that passed a trial run with its overlays, and moves "
                            "when nobody plays on it.");
        html_raw(b, "</p>\n");
        form_open(r, path_id(action, sizeof action, "/servers", v->id, "/pin"), "inline-form");
        html_raw(b, "<label for=\"f-pin\">Run</label>\n<select id=\"f-pin\" name=\"build\">\n<option value=\"\"");
        if (!sb.pin[0])
                html_raw(b, " selected");
        html_raw(b, ">the newest passing build</option>\n");
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        json_t *bd;
        if (builds_list(&it, r->db) == 0)
                while (build_row_next(&it, &bd)) {
                        const char *id = str(bd, "id");
                        html_raw(b, "<option value=\"");
                        html_attr(b, id);
                        html_raw(b, "\"");
                        if (streq(id, sb.pin))
                                html_raw(b, " selected");
                        html_raw(b, ">build ");
                        html_txt(b, id);
                        html_raw(b, " only</option>\n");
                        json_decref(bd);
                }
        html_raw(b, "</select>\n<button type=\"submit\">Pin</button>\n");
        form_close(r);
        html_raw(b, "<p class=\"hint warning\">Pinning to an older build rolls the server back at once (it "
                    "restarts). Players whose game already updated may be refused by a server on an older "
                    "build (\"running an older version of the game\").</p>\n");
}

void page_server_pin(Req *r) {
        Server v;
        if (server_load(r->db, r->id, &r->user, &v) < 0) {
                render_not_found(r);
                return;
        }
        const char *pin = form_get(r, "build");
        pin = pin ? pin : "";
        if (*pin && spec_check_build(pin)) {
                render_error(r, 422, "Choose one of the builds, or the newest passing one.");
                return;
        }
        if (server_set_build_pin(r->db, v.id, pin) < 0) {
                render_error(r, 500, "Could not save; try again.");
                return;
        }
        /* A running server moves now: the restart job initializes it with
         * the pin (job_initialize) and starts it on that build. */
        char href[64];
        if (streq(v.desired, "running") && !v.deleting) {
                int64_t job;
                int k = jobs_request(r->db, &r->user, "restart", &v, &job);
                if (k < 0) {
                        render_error(r, k == -EAGAIN ? 429 : 500, k == -EAGAIN ? "You have 20 jobs waiting already; "
                                                                                 "let them finish, then try again."
                                                                               : "Could not queue the restart; try "
                                                                                 "again.");
                        return;
                }
                /* The server page shows the restart job as it runs. */
                req_redirect(r, path_id(href, sizeof href, "/servers", v.id, NULL));
                return;
        }
        req_redirect(r, path_id(href, sizeof href, "/servers", v.id, "?notice=saved"));
}
