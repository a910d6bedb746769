/* /overlays: a user's own overlays and the global ones (an admin sees every
 * overlay), with what the host says about each (one `l4d2ctl overlay list
 * --json`), creating one, and for admins the Workshop refresh. The page of
 * one overlay is page-overlays-show.c; the kinds' views are
 * page-overlays-<kind>.c (page-overlays.h says how they plug in). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hostlink.h"
#include "html.h"
#include "jobs.h"
#include "layout.h"
#include "page-overlays.h"
#include "pages.h"

/* The kinds an overlay can be created as, in the order the form offers
 * them. A kind without a view yet (.view NULL) can be created and built;
 * its page shows the frame only. */
const OverlayKind overlay_kinds[] = {
        { "workshop", "Steam Workshop",
          "Add-ons and collections from the Steam Workshop, by ID or link; downloaded and kept up to date for you.",
          &overlay_view_workshop },
        { "files", "Files", "A folder of your own files: configs, maps, plugins.", &overlay_view_files },
        { "script", "Script", "Made by a build script in a sandbox, e.g. one that installs SourceMod.",
          &overlay_view_script },
};
const size_t n_overlay_kinds = ELEMENTSOF(overlay_kinds);

const OverlayKind *overlay_kind(const char *kind) {
        for (size_t i = 0; kind && i < n_overlay_kinds; i++)
                if (streq(overlay_kinds[i].kind, kind))
                        return &overlay_kinds[i];
        return NULL;
}

void overlay_size_txt(Buf *b, json_int_t bytes) {
        if (bytes < 0) {
                html_raw(b, "–");
                return;
        }
        if (bytes < 1024 * 1024) {
                html_fixed(b, (double) bytes / 1024.0, 1);
                html_raw(b, " KiB");
        } else if (bytes < (json_int_t) 1024 * 1024 * 1024) {
                html_fixed(b, (double) bytes / (1024.0 * 1024.0), 1);
                html_raw(b, " MiB");
        } else {
                html_fixed(b, (double) bytes / (1024.0 * 1024.0 * 1024.0), 2);
                html_raw(b, " GiB");
        }
}

const char *overlay_host_message(const char *line) {
        return startswith(line, "error: ") ? line + 7 : line;
}

void overlay_state_badge(Buf *b, json_t *host) {
        const char *state = json_string_value(json_object_get(host, "state"));
        if (!host) {
                html_raw(b, "<span class=\"badge overlay-missing\">unknown</span>");
                return;
        }
        if (json_is_true(json_object_get(host, "building")))
                state = "building";
        if (!state)
                state = "unknown";
        html_raw(b, "<span class=\"badge overlay-");
        html_attr(b, state);
        html_raw(b, "\">");
        html_txt(b, streq(state, "new") ? "not built yet" : state);
        html_raw(b, "</span>");
}

/* Every overlay of the host by name (`overlay list --json`): NULL (and err)
 * when the host did not answer. */
static json_t *host_overlays(char *err, size_t errsize) {
        const char *args[] = { "overlay", "list", "--json", NULL };
        json_t *j = NULL;
        if (hostlink_run_json(host(), args, NULL, &j, err, errsize) < 0)
                return NULL;
        json_t *by_name = json_object(), *v;
        size_t i;
        json_array_foreach(json_object_get(j, "overlays"), i, v) {
                const char *name = json_string_value(json_object_get(v, "name"));
                if (name)
                        json_object_set(by_name, name, v);
        }
        json_decref(j);
        return by_name;
}

static void refresh_section(Req *r) {
        Buf *b = &r->out;
        html_raw(b, "<section class=\"card\" id=\"workshop-refresh\">\n<h2>Workshop refresh</h2>\n<p>Every Workshop "
                    "overlay is brought up to date once a day (left4me-workshop-refresh.timer): only items that "
                    "changed on the Workshop are downloaded, and servers get them at their next start.</p>\n");
        JobRow j;
        if (job_latest(r->db, job_workshop_refresh.name, &j) == 0) {
                char href[64];
                html_raw(b, "<p>Last refresh: <a href=\"");
                html_attr(b, path_id(href, sizeof href, "/jobs", j.id, NULL));
                html_raw(b, "\">job #");
                html_int(b, j.id);
                html_raw(b, "</a>, ");
                html_utc(b, j.created_at, false);
                html_raw(b, " <span class=\"badge job-");
                html_attr(b, j.state);
                html_raw(b, "\">");
                html_txt(b, j.state);
                html_raw(b, "</span> ");
                html_txt(b, j.result);
                html_raw(b, "</p>\n");
        }
        form_open(r, "/overlays/refresh", NULL);
        html_raw(b, "<button type=\"submit\">Refresh Workshop overlays now</button>\n");
        form_close(r);
        html_raw(b, "</section>\n");
}

static void owner_txt(Buf *b, const Overlay *o, const User *u) {
        if (!o->user_id)
                html_raw(b, "global");
        else if (o->user_id == u->id)
                html_raw(b, "you");
        else
                html_txt(b, o->owner);
}

static void overlay_rows(Req *r, json_t *hosts) {
        Buf *b = &r->out;
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (overlays_list(&it, r->db, &r->user) < 0)
                return;
        html_raw(b, "<table class=\"list\" id=\"overlays\">\n<thead><tr><th>Name</th><th>Kind</th><th>Owner</th>"
                    "<th>State</th><th>Size</th><th>Last build</th><th>Running on</th></tr></thead>\n<tbody>\n");
        int n = 0;
        char href[64];
        Overlay o;
        while (overlay_next(&it, &o)) {
                n++;
                json_t *h = json_object_get(hosts, o.host_name);
                const OverlayKind *k = overlay_kind(o.kind);
                html_raw(b, "<tr><td data-label=\"Name\"><a href=\"");
                html_attr(b, path_id(href, sizeof href, "/overlays", o.id, NULL));
                html_raw(b, "\">");
                html_txt(b, o.name);
                html_raw(b, "</a></td><td data-label=\"Kind\">");
                html_txt(b, k ? k->label : o.kind);
                html_raw(b, "</td><td data-label=\"Owner\">");
                owner_txt(b, &o, &r->user);
                html_raw(b, "</td><td data-label=\"State\">");
                if (o.deleting)
                        html_raw(b, "<span class=\"badge overlay-failed\">deleting</span>");
                else if (hosts && !h)
                        html_raw(b, "<span class=\"badge overlay-failed\">missing on the host</span>");
                else
                        overlay_state_badge(b, h);
                html_raw(b, "</td><td data-label=\"Size\">");
                overlay_size_txt(b, h ? json_integer_value(json_object_get(h, "size")) : -1);
                html_raw(b, "</td><td data-label=\"Last build\">");
                json_t *build = json_object_get(h, "build");
                if (json_is_object(build)) {
                        html_utc(b, json_integer_value(json_object_get(build, "started")), false);
                        html_txt(b, json_is_true(json_object_get(build, "ok")) ? " ok" : " failed");
                } else
                        html_raw(b, "–");
                html_raw(b, "</td><td data-label=\"Running on\">");
                size_t running = json_array_size(json_object_get(h, "running"));
                if (running) {
                        html_int(b, (int64_t) running);
                        html_txt(b, running == 1 ? " server" : " servers");
                } else
                        html_raw(b, "–");
                html_raw(b, "</td></tr>\n");
        }
        if (!n)
                html_raw(b, "<tr><td colspan=\"7\">No overlays yet: create one below.</td></tr>\n");
        html_raw(b, "</tbody>\n</table>\n");
}

/* Admins: overlays on the host the panel does not manage (made by hand in
 * the state dir); blueprints of admins may name them. */
static void hand_made(Req *r, json_t *hosts) {
        Buf *b = &r->out;
        const char *name;
        json_t *v;
        int n = 0;
        json_object_foreach(hosts, name, v) {
                Overlay o;
                if (overlay_find_host_name(r->db, name, &o) == 0)
                        continue;
                if (n++ == 0)
                        html_raw(b, "<h2>On the host, not managed here</h2>\n<p class=\"hint\">Made by hand in the "
                                    "state dir's overlays folder. Administrators may name them in a blueprint.</p>\n"
                                    "<ul id=\"hand-made\">\n");
                html_raw(b, "<li><code>");
                html_txt(b, name);
                html_raw(b, "</code> ");
                html_txt(b, json_string_value(json_object_get(v, "kind")));
                html_raw(b, ", ");
                overlay_size_txt(b, json_integer_value(json_object_get(v, "size")));
                html_raw(b, "</li>\n");
        }
        if (n)
                html_raw(b, "</ul>\n");
}

static void create_form(Req *r, const FieldErrors *e) {
        Buf *b = &r->out;
        bool typed = e && e->n;
        html_raw(b, "<h2>New overlay</h2>\n");
        form_open(r, "/overlays", "card");
        char hint[160];
        snprintf(hint, sizeof hint, "1-%zu of A-Z a-z 0-9 _ -, starting with a letter or digit.",
                 overlay_name_max(r->user.id));
        field_input(r, "Name", "name", "text", typed ? form_get(r, "name") : "", e, 32, hint);
        const char *kind = typed ? form_get(r, "kind") : NULL;
        const char *err = e ? errors_get(e, "kind") : NULL;
        html_raw(b, "<fieldset class=\"field kinds");
        if (err)
                html_raw(b, " invalid");
        html_raw(b, "\">\n<legend>Kind</legend>\n");
        for (size_t i = 0; i < n_overlay_kinds; i++) {
                const OverlayKind *k = &overlay_kinds[i];
                html_raw(b, "<div class=\"check\"><input type=\"radio\" name=\"kind\" id=\"f-kind-");
                html_attr(b, k->kind);
                html_raw(b, "\" value=\"");
                html_attr(b, k->kind);
                html_raw(b, "\"");
                if (kind ? streq(kind, k->kind) : i == 0)
                        html_raw(b, " checked");
                html_raw(b, "> <label for=\"f-kind-");
                html_attr(b, k->kind);
                html_raw(b, "\">");
                html_txt(b, k->label);
                html_raw(b, "</label> <span class=\"hint\">");
                html_txt(b, k->about);
                html_raw(b, "</span></div>\n");
        }
        if (err) {
                html_raw(b, "<p class=\"field-error\" id=\"e-kind\">");
                html_txt(b, err);
                html_raw(b, "</p>\n");
        }
        html_raw(b, "</fieldset>\n");
        if ((err = e ? errors_get(e, "global") : NULL)) {
                html_raw(b, "<p class=\"field-error\" id=\"e-global\">");
                html_txt(b, err);
                html_raw(b, "</p>\n");
        }
        if (r->user.is_admin) {
                const char *g = typed ? form_get(r, "global") : NULL;
                html_raw(b, "<div class=\"field check\"><input type=\"checkbox\" id=\"f-global\" name=\"global\" "
                            "value=\"1\"");
                if (g && streq(g, "1"))
                        html_raw(b, " checked");
                html_raw(b, "><label for=\"f-global\">Global: every user may use it in a blueprint; only "
                            "administrators change it</label></div>\n");
        }
        html_raw(b, "<button type=\"submit\">Create overlay</button>\n");
        form_close(r);
}

static void list_page(Req *r, const FieldErrors *e) {
        Buf *b = &r->out;
        page_begin(r, "Overlays");
        html_raw(b, "<p>An overlay is a layer of content over the game: Workshop add-ons, config files, plugins. "
                    "A blueprint stacks the overlays you pick, the first on top. Global overlays are the "
                    "administrators'; everyone may use them. Changes reach a server at its next start, never "
                    "while it runs.</p>\n");
        char err[256] = "";
        json_t *hosts = host_overlays(err, sizeof err);
        if (!hosts) {
                html_raw(b, "<p class=\"error\" role=\"alert\">The host did not say how its overlays are: ");
                html_txt(b, overlay_host_message(err));
                html_raw(b, "</p>\n");
        }
        overlay_rows(r, hosts);
        create_form(r, e);
        if (r->user.is_admin) {
                refresh_section(r);
                if (hosts)
                        hand_made(r, hosts);
        }
        json_decref(hosts);
        page_end(r);
}

void page_overlays_list(Req *r) {
        list_page(r, NULL);
}

void page_overlay_create(Req *r) {
        const char *name = form_get(r, "name"), *kind = form_get(r, "kind"), *g = form_get(r, "global");
        bool global = g && streq(g, "1");
        FieldErrors e = { 0 };
        const OverlayKind *k = overlay_kind(kind);
        if (!k)
                errors_add(&e, "kind", "Choose what kind of overlay it is.");
        if (global && !r->user.is_admin)
                errors_add(&e, "global", "Only administrators make global overlays.");
        int64_t owner = global ? 0 : r->user.id;
        char host_name[OVERLAY_HOST_NAME_MAX + 1];
        if (overlay_host_name(owner, name, host_name) < 0)
                errors_add(&e, "name", "A name is 1-%zu of A-Z a-z 0-9 _ -, starting with a letter or digit.",
                           overlay_name_max(owner));
        if (!e.n) {
                Overlay o;
                int q = overlay_create(r->db, owner, name, k->kind, &o);
                if (q == -EEXIST)
                        errors_add(&e, "name", global ? "There is a global overlay of this name already."
                                                      : "You have an overlay of this name already.");
                else if (q == -EDQUOT)
                        errors_add(&e, "name", "%s %d overlays, the most there may be.",
                                   global ? "There are" : "You have", global ? OVERLAYS_GLOBAL_MAX : OVERLAYS_PER_USER_MAX);
                else if (q < 0) {
                        render_error(r, 500, "Could not save the overlay; try again.");
                        return;
                } else {
                        /* The row first (it holds the name), then the host. */
                        const char *args[] = { "overlay", "create", o.host_name, "--kind", k->kind, "--json", NULL };
                        json_t *j = NULL;
                        char err[256];
                        if (hostlink_run_json(host(), args, NULL, &j, err, sizeof err) < 0) {
                                (void) overlay_remove(r->db, o.id);
                                errors_add(&e, "name", "The host did not create it: %s",
                                           overlay_host_message(err));
                        } else {
                                json_decref(j);
                                char href[64];
                                req_redirect(r, path_id(href, sizeof href, "/overlays", o.id, "?notice=created"));
                                return;
                        }
                }
        }
        r->status = 422;
        list_page(r, &e);
}

void page_overlays_refresh(Req *r) {
        int64_t id;
        int k = workshop_refresh_request(r->db, &r->user, "every Workshop overlay", &id);
        if (k < 0) {
                render_error(r, k == -EAGAIN ? 429 : 500,
                             k == -EAGAIN ? "You have 20 jobs waiting already; let them finish, then try again."
                                          : "Could not queue the refresh; try again.");
                return;
        }
        char href[64];
        req_redirect(r, path_id(href, sizeof href, "/jobs", id, NULL));
}
