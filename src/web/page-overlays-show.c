/* /overlays/<id>: one overlay, the frame every kind shares (page-overlays.h):
 * its facts from the host (`l4d2ctl overlay show --json`), its build job
 * (progress bar and live log while it runs, the log of the last one after),
 * the kind's view, and deleting it (refused while a blueprint names it, and
 * by the host while a running server stacks it). */
#include <string.h>

#include "hostlink.h"
#include "html.h"
#include "jobs.h"
#include "layout.h"
#include "page-overlays.h"
#include "pages.h"
#include "svc-blueprints.h"
#include "svc-servers.h"

#define BUILD_LOG_LINES 300

bool overlay_from_request(Req *r, bool write, Overlay *ret) {
        if (overlay_load(r->db, r->id, &r->user, ret) < 0) {
                render_not_found(r);
                return false;
        }
        if (write && !overlay_writable(ret, &r->user)) {
                render_error(r, 403, "Only administrators change global overlays; you may use it in your "
                                     "blueprints as it is.");
                return false;
        }
        if (write && ret->deleting) {
                render_error(r, 409, "This overlay is being deleted.");
                return false;
        }
        return true;
}

static int link_job(sqlite3 *db, int64_t job_id, void *userdata) {
        return overlay_job_link(db, job_id, ((const Overlay *) userdata)->id);
}

int overlay_request_build(Req *r, const Overlay *o, int64_t *ret_job) {
        int k = overlay_job_queued(r->db, o->id, job_overlay_build.name, ret_job);
        if (k != 0)
                return k < 0 ? k : 0;
        return jobs_request_for(r->db, &r->user, job_overlay_build.name, o->name, link_job, (void *) o, ret_job);
}

void overlay_build_and_show(Req *r, const Overlay *o) {
        int64_t job;
        int k = overlay_request_build(r, o, &job);
        if (k == -EAGAIN) {
                render_error(r, 429, "The change is saved, but you have 20 jobs waiting already: build the overlay "
                                     "once they have finished.");
                return;
        }
        if (k < 0) {
                render_error(r, 500, "The change is saved, but its build could not be queued; build it again.");
                return;
        }
        char href[64];
        req_redirect(r, path_id(href, sizeof href, "/overlays", o->id, "?notice=queued"));
}

/* What the host says about the overlay, into p. */
static void load_host(OverlayPage *p) {
        const char *args[] = { "overlay", "show", p->row.host_name, "--json", NULL };
        if (hostlink_run_json(host(), args, NULL, &p->host, p->host_error, sizeof p->host_error) < 0)
                p->host = NULL;
}

/* The servers that run with the overlay stacked; which of them would get
 * newer content by a restart. */
static void running_on(Req *r, json_t *running) {
        Buf *b = &r->out;
        size_t i, others = 0;
        json_t *v;
        int n = 0;
        json_array_foreach(running, i, v) {
                const char *inst = json_string_value(json_object_get(v, "instance"));
                long id;
                Server s;
                /* The panel names its instances s<server id> (svc-servers). */
                if (!inst || inst[0] != 's' || parse_long(inst + 1, 1, INT64_MAX, &id) < 0 ||
                    server_load(r->db, id, &r->user, &s) < 0) {
                        others++;
                        continue;
                }
                char href[64];
                html_txt(b, n++ ? ", " : "");
                html_raw(b, "<a href=\"");
                html_attr(b, path_id(href, sizeof href, "/servers", s.id, NULL));
                html_raw(b, "\">");
                html_txt(b, s.name);
                html_raw(b, "</a>");
                if (json_is_true(json_object_get(v, "outdated")))
                        html_raw(b, " <span class=\"badge overlay-outdated\">a restart picks up newer content</span>");
        }
        if (others) {
                html_txt(b, n ? ", and " : "");
                html_int(b, (int64_t) others);
                html_txt(b, others == 1 ? " server of another user" : " servers of other users");
        }
        if (!n && !others)
                html_raw(b, "none");
}

/* The blueprints that name it: links to those the viewer may open, a count
 * of the others (in_alert: the list of a refused delete). Returns how many
 * there are. */
static int used_by(Req *r, const Overlay *o, bool in_alert) {
        Buf *b = &r->out;
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (blueprints_using_overlay(&it, r->db, o->host_name) < 0)
                return 0;
        int n = 0, others = 0;
        BlueprintRow bp;
        if (in_alert)
                html_raw(b, "<ul id=\"delete-blockers\">\n");
        else
                html_raw(b, "<ul id=\"used-by\">\n");
        while (blueprint_next(&it, &bp)) {
                if (!r->user.is_admin && !streq(bp.owner, r->user.username)) {
                        others++;
                        continue;
                }
                char href[64];
                n++;
                html_raw(b, "<li><a href=\"");
                html_attr(b, path_id(href, sizeof href, "/blueprints", bp.id, NULL));
                html_raw(b, "\">");
                html_txt(b, bp.name);
                html_raw(b, "</a>");
                if (r->user.is_admin && !streq(bp.owner, r->user.username)) {
                        html_raw(b, " (");
                        html_txt(b, bp.owner);
                        html_raw(b, ")");
                }
                html_raw(b, "</li>\n");
        }
        if (others) {
                html_raw(b, "<li>");
                html_int(b, others);
                html_txt(b, others == 1 ? " blueprint of another user" : " blueprints of other users");
                html_raw(b, "</li>\n");
        }
        if (!n && !others)
                html_raw(b, "<li>none</li>\n");
        html_raw(b, "</ul>\n");
        return n + others;
}

static void facts(Req *r, const OverlayPage *p) {
        Buf *b = &r->out;
        const Overlay *o = &p->row;
        json_t *h = p->host;
        const OverlayKind *k = overlay_kind(o->kind);
        html_raw(b, "<section id=\"overlay-facts\" class=\"card\">\n");
        if (!h) {
                html_raw(b, "<p class=\"error\" role=\"alert\">");
                if (strstr(p->host_error, "unknown overlay"))
                        html_raw(b, "This overlay is missing on the host (its folder was removed there). Delete "
                                    "it here, and create it again if you need it.");
                else {
                        html_raw(b, "The host did not answer: ");
                        html_txt(b, overlay_host_message(p->host_error));
                }
                html_raw(b, "</p>\n");
        }
        html_raw(b, "<dl class=\"facts\">\n<dt>Kind</dt><dd>");
        html_txt(b, k ? k->label : o->kind);
        html_raw(b, "</dd>\n<dt>Owner</dt><dd>");
        if (!o->user_id)
                html_raw(b, "global: every user may use it; administrators change it");
        else if (o->user_id == r->user.id)
                html_raw(b, "you");
        else
                html_txt(b, o->owner);
        html_raw(b, "</dd>\n<dt>Host name</dt><dd><code>");
        html_txt(b, o->host_name);
        html_raw(b, "</code></dd>\n<dt>State</dt><dd id=\"overlay-state\">");
        if (o->deleting)
                html_raw(b, "<span class=\"badge overlay-failed\">deleting</span>");
        else
                overlay_state_badge(b, h);
        json_t *ws = json_object_get(h, "workshop"), *files = json_object_get(h, "files");
        if (json_is_true(json_object_get(ws, "needs_build")) || json_is_true(json_object_get(files, "pending")))
                html_raw(b, " <span class=\"badge overlay-pending\">changes not built yet</span>");
        html_raw(b, "</dd>\n<dt>Size</dt><dd>");
        overlay_size_txt(b, h ? json_integer_value(json_object_get(h, "size")) : -1);
        html_raw(b, "</dd>\n<dt>Last build</dt><dd id=\"overlay-last-build\">");
        json_t *build = json_object_get(h, "build");
        if (json_is_object(build)) {
                bool ok = json_is_true(json_object_get(build, "ok"));
                html_utc(b, json_integer_value(json_object_get(build, "started")), false);
                html_raw(b, ", ");
                html_fixed(b, (double) json_integer_value(json_object_get(build, "duration_ms")) / 1000.0, 1);
                html_raw(b, " s: ");
                if (ok)
                        html_txt(b, json_is_true(json_object_get(build, "changed")) ? "new content published"
                                                                                       : "nothing changed");
                else {
                        html_raw(b, "<span class=\"badge overlay-failed\">failed</span> ");
                        html_txt(b, json_string_value(json_object_get(build, "error")));
                        html_raw(b, " The overlay keeps its last good content.");
                }
        } else
                html_raw(b, "never");
        html_raw(b, "</dd>\n");
        if (json_is_object(ws)) {
                html_raw(b, "<dt>Items</dt><dd>");
                html_int(b, json_integer_value(json_object_get(ws, "items")));
                html_raw(b, " (");
                html_int(b, json_integer_value(json_object_get(ws, "ok")));
                html_raw(b, " ok");
                static const struct {
                        const char *key, *what;
                } more[] = { { "failed", " failed" }, { "missing", " missing" }, { "wrong_app", " of another game" },
                             { "pending", " added, not built yet" } };
                for (size_t i = 0; i < ELEMENTSOF(more); i++) {
                        json_int_t v = json_integer_value(json_object_get(ws, more[i].key));
                        if (v > 0) {
                                html_raw(b, ", ");
                                html_int(b, v);
                                html_txt(b, more[i].what);
                        }
                }
                html_raw(b, ")</dd>\n");
        }
        html_raw(b, "<dt>Running on</dt><dd id=\"overlay-running\">");
        running_on(r, json_object_get(h, "running"));
        html_raw(b, "</dd>\n<dt>Used by</dt><dd>");
        used_by(r, o, false);
        html_raw(b, "</dd>\n</dl>\n</section>\n");
}

/* The overlay's newest build job: live while it waits or runs (the same
 * elements and stream as a job's page, which app.js drives), its log after. */
static void build_section(Req *r, const OverlayPage *p) {
        Buf *b = &r->out;
        html_raw(b, "<section id=\"overlay-build\">\n<h2>Build</h2>\n");
        int64_t job;
        JobRow j;
        if (overlay_job_latest(r->db, p->row.id, &job) != 1 || job_load(r->db, job, NULL, &j) < 0) {
                html_raw(b, "<p>No build from the panel yet.</p>\n</section>\n");
                return;
        }
        bool live = streq(j.state, "queued") || streq(j.state, "running");
        /* The job is its requester's; a viewer who may not open it (a user
         * looking at a global overlay) sees its log here, not its page. */
        JobRow mine;
        bool visible = job_load(r->db, job, &r->user, &mine) == 0;
        char href[96];
        html_raw(b, "<p>");
        if (visible) {
                html_raw(b, "<a href=\"");
                html_attr(b, path_id(href, sizeof href, "/jobs", j.id, NULL));
                html_raw(b, "\">Job #");
                html_int(b, j.id);
                html_raw(b, "</a>");
        } else {
                html_raw(b, "Job #");
                html_int(b, j.id);
        }
        html_raw(b, ", ");
        html_utc(b, j.created_at, false);
        html_raw(b, ": <span id=\"job-state\" class=\"badge job-");
        html_attr(b, j.state);
        html_raw(b, "\">");
        html_txt(b, j.state);
        html_raw(b, "</span> <span id=\"job-result\">");
        html_txt(b, j.result);
        html_raw(b, "</span></p>\n");
        if (live || j.has_progress) {
                html_raw(b, "<div class=\"progress\">\n<progress id=\"job-progress\" max=\"100\" value=\"");
                html_fixed(b, j.progress, 2);
                html_raw(b, "\"></progress>\n<span id=\"job-progress-text\">");
                html_fixed(b, j.progress, 1);
                html_raw(b, "%</span> <span id=\"job-progress-label\">");
                html_txt(b, j.progress_label);
                html_raw(b, "</span>\n</div>\n");
        }
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        Buf lines = BUF_INIT(PAGE_MAX / 4);
        int64_t last = 0;
        JobLine line;
        if (job_lines_tail(&it, r->db, j.id, BUILD_LOG_LINES) == 0)
                while (job_line_next(&it, &line)) {
                        last = line.seq;
                        html_txt(&lines, line.text);
                        html_raw(&lines, "\n");
                }
        html_raw(b, "<pre id=\"job-log\" class=\"log\"");
        if (live && visible) {
                snprintf(href, sizeof href, "/jobs/%lld/events?after=%lld", (long long) j.id, (long long) last);
                html_raw(b, " data-sse-job=\"");
                html_attr(b, href);
                html_raw(b, "\" data-overlay-refresh=\"1\"");
        }
        html_raw(b, ">");
        html_built(b, &lines); /* every line went through html_txt */
        buf_free(&lines);
        html_raw(b, "</pre>\n");
        if (live && !visible)
                html_raw(b, "<p class=\"hint\">An administrator's build is running; reload to see how far it got.</p>\n");
        if (streq(p->row.kind, "workshop"))
                html_raw(b, "<p class=\"hint\">The daily Workshop refresh builds outside these jobs: its results show "
                            "in the last build above and at each item.</p>\n");
        html_raw(b, "</section>\n");
}

enum { ALERT_NONE, ALERT_BLUEPRINTS, ALERT_HOST };

static void show_page(Req *r, const Overlay *o, const FieldErrors *e, int alert, const char *alert_text) {
        Buf *b = &r->out;
        OverlayPage p = { .row = *o, .writable = overlay_writable(o, &r->user) };
        load_host(&p);
        char title[64];
        snprintf(title, sizeof title, "%s%s", o->name, o->user_id ? "" : " (global)");
        page_begin(r, title);
        if (alert == ALERT_BLUEPRINTS) {
                html_raw(b, "<div class=\"error\" role=\"alert\" id=\"delete-refused\"><p>This overlay cannot be "
                            "deleted while blueprints use it; take it out of them first:</p>\n");
                used_by(r, o, true);
                html_raw(b, "</div>\n");
        } else if (alert == ALERT_HOST) {
                html_raw(b, "<div class=\"error\" role=\"alert\" id=\"delete-refused\"><p>The host did not delete it: ");
                html_txt(b, overlay_host_message(alert_text));
                html_raw(b, "</p></div>\n");
        }
        facts(r, &p);
        char action[64];
        if (p.writable && !o->deleting) {
                html_raw(b, "<div class=\"actions\">\n");
                button_form(r, path_id(action, sizeof action, "/overlays", o->id, "/build"), "Build now", NULL);
                html_raw(b, "</div>\n");
        }
        build_section(r, &p);
        const OverlayKind *k = overlay_kind(o->kind);
        html_raw(b, "<section id=\"overlay-view\">\n");
        if (k && k->view && p.host)
                k->view->render(r, &p, e);
        else if (k && !k->view)
                html_raw(b, "<p class=\"hint\">Its content cannot be edited in the panel yet; the host's "
                            "<code>l4d2ctl overlay</code> commands work meanwhile.</p>\n");
        html_raw(b, "</section>\n");
        if (p.writable && !o->deleting) {
                html_raw(b, "<h2>Delete</h2>\n<p class=\"hint\">Refused while a blueprint uses it, or a running "
                            "server stacks it.</p>\n");
                button_form(r, path_id(action, sizeof action, "/overlays", o->id, "/delete"), "Delete overlay",
                            "danger");
        }
        page_end(r);
        json_decref(p.host);
}

void overlay_show_errors(Req *r, const Overlay *o, const FieldErrors *e, unsigned status) {
        r->status = status;
        show_page(r, o, e, ALERT_NONE, NULL);
}

void page_overlay_show(Req *r) {
        Overlay o;
        if (overlay_from_request(r, false, &o))
                show_page(r, &o, NULL, ALERT_NONE, NULL);
}

void page_overlay_build(Req *r) {
        Overlay o;
        if (overlay_from_request(r, true, &o))
                overlay_build_and_show(r, &o);
}

/* Keeps l4d2ctl's "error: ..." line. */
static int error_line(const char *line, void *userdata) {
        if (startswith(line, "error:"))
                snprintf(userdata, 256, "%s", line);
        return 0;
}

void page_overlay_delete(Req *r) {
        Overlay o;
        if (!overlay_from_request(r, true, &o))
                return;
        int k = overlay_begin_delete(r->db, &o);
        if (k == -EBUSY) {
                r->status = 409;
                show_page(r, &o, NULL, ALERT_BLUEPRINTS, NULL);
                return;
        }
        if (k < 0) {
                render_error(r, 500, "Could not delete the overlay; try again.");
                return;
        }
        /* No blueprint can pick it now; the host refuses while a running
         * server stacks it (and a missing overlay is no error). */
        const char *args[] = { "overlay", "delete", o.host_name, NULL };
        char err[256] = "";
        int exit_code = -1;
        int q = hostlink_run(host(), args, NULL, error_line, err, &exit_code);
        if (q < 0 || exit_code != 0) {
                (void) overlay_cancel_delete(r->db, o.id);
                o.deleting = false;
                r->status = 409;
                show_page(r, &o, NULL, ALERT_HOST, err[0] ? err : "l4d2ctl could not be run");
                return;
        }
        if (overlay_remove(r->db, o.id) < 0) {
                render_error(r, 500, "The overlay is gone from the host, but not from the panel; try again.");
                return;
        }
        req_redirect(r, "/overlays?notice=deleted");
}
