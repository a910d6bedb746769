/* /blueprints: a user's launch recipes. A blueprint is private to its
 * owner; servers link to it live, so editing one changes every linked server
 * at its next start, and deleting is refused while any server links to it. */
#include <string.h>

#include "html.h"
#include "layout.h"
#include "page-overlays.h"
#include "svc-overlays.h"
#include "pages.h"
#include "spec-rules.h"
#include "svc-blueprints.h"
#include "svc-servers.h"

void page_blueprints_list(Req *r) {
        Buf *b = &r->out;
        page_begin(r, "Blueprints");
        html_raw(b, "<p><a class=\"button\" href=\"/blueprints/new\">New blueprint</a></p>\n");
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (blueprints_list(&it, r->db, &r->user) < 0) {
                render_error(r, 500, "The database is busy; try again.");
                return;
        }
        html_raw(b, "<table class=\"list\">\n<thead><tr><th>Name</th><th>Map</th><th>Max players</th>"
                    "<th>Tickrate</th><th>Servers</th>");
        if (r->user.is_admin)
                html_raw(b, "<th>Owner</th>");
        html_raw(b, "</tr></thead>\n<tbody>\n");
        int n = 0;
        char href[64];
        BlueprintRow v;
        while (blueprint_next(&it, &v)) {
                n++;
                html_raw(b, "<tr><td data-label=\"Name\"><a href=\"");
                html_attr(b, path_id(href, sizeof href, "/blueprints", v.id, NULL));
                html_raw(b, "\">");
                html_txt(b, v.name);
                html_raw(b, "</a></td><td data-label=\"Map\">");
                html_txt(b, v.map);
                html_raw(b, "</td><td data-label=\"Max players\">");
                html_int(b, v.maxplayers);
                html_raw(b, "</td><td data-label=\"Tickrate\">");
                html_int(b, v.tickrate);
                html_raw(b, "</td><td data-label=\"Servers\">");
                html_int(b, v.servers);
                html_raw(b, "</td>");
                if (r->user.is_admin) {
                        html_raw(b, "<td data-label=\"Owner\">");
                        html_txt(b, v.owner);
                        html_raw(b, "</td>");
                }
                html_raw(b, "</tr>\n");
        }
        if (!n)
                html_raw(b, "<tr><td colspan=\"6\">No blueprints yet.</td></tr>\n");
        html_raw(b, "</tbody>\n</table>\n");
        page_end(r);
}

static void num_txt(char *buf, size_t size, long v) {
        if (v > 0)
                snprintf(buf, size, "%ld", v);
        else
                buf[0] = '\0';
}

/* Game updates (issue 14): which build the servers run, what a failed
 * trial run of a new build means for them, how long players may keep them
 * on an old one. */
static void update_fields(Req *r, const Blueprint *bp, const FieldErrors *e, bool typed) {
        Buf *b = &r->out;
        const char *pol = typed ? form_get(r, "on_canary_failure") : bp->on_canary_failure;
        bool degrade = pol && streq(pol, "degrade");
        html_raw(b, "<fieldset><legend>Game updates</legend>\n");
        field_input(r, "Game build", "update_build", "text", typed ? form_get(r, "update_build") : bp->update_build, e,
                    20, "Empty: the newest build that passed a trial run with these overlays. A build id pins "
                        "the servers to it (players whose game updated may be refused by an older build).");
        const char *err = e ? errors_get(e, "on_canary_failure") : NULL;
        html_raw(b, "<div class=\"field");
        if (err)
                html_raw(b, " invalid");
        html_raw(b, "\"><label for=\"f-on_canary_failure\">When a new build fails its trial run</label>\n"
                    "<select id=\"f-on_canary_failure\" name=\"on_canary_failure\"");
        if (err)
                html_raw(b, " aria-invalid=\"true\" aria-describedby=\"e-on_canary_failure\"");
        html_raw(b, ">\n<option value=\"hold\"");
        if (!degrade)
                html_raw(b, " selected");
        html_raw(b, ">stay on the last build that passed (try again every 30 minutes)</option>\n<option "
                    "value=\"degrade\"");
        if (degrade)
                html_raw(b, " selected");
        html_raw(b, ">move to it without the overlays whose plugins failed</option>\n</select>\n");
        if (err) {
                html_raw(b, "<p class=\"field-error\" id=\"e-on_canary_failure\">");
                html_txt(b, err);
                html_raw(b, "</p>\n");
        }
        html_raw(b, "</div>\n");
        field_input(r, "Update deadline", "update_deadline", "text",
                    typed ? form_get(r, "update_deadline") : bp->update_deadline, e, 12,
                    "Empty: servers move to a new build only when nobody plays or at their next restart. A "
                    "duration (e.g. 6h) moves them once it passed, players or not.");
        html_raw(b, "</fieldset>\n");
}

/* The form for a new blueprint (bp->id == 0) or an existing one, with
 * overlays the list its picker shows. With typed (a refused form, or one the
 * overlay picker changed) the other values are shown as they were sent, via
 * the raw form fields. */
static void blueprint_form(Req *r, const Blueprint *bp, const char *overlays, const FieldErrors *e, bool typed) {
        char action[64], mp[16], tr[16];
        const char *v_mp = typed ? form_get(r, "maxplayers") : NULL, *v_tr = typed ? form_get(r, "tickrate") : NULL;
        num_txt(mp, sizeof mp, bp->maxplayers);
        num_txt(tr, sizeof tr, bp->tickrate);
        form_open(r, bp->id ? path_id(action, sizeof action, "/blueprints", bp->id, NULL) : "/blueprints", "card");
        /* Enter in a text field presses a form's first submit button; the
         * overlay picker's buttons come before the visible save button. */
        html_raw(&r->out, "<button type=\"submit\" class=\"default-submit\" tabindex=\"-1\" aria-hidden=\"true\">"
                          "Save</button>\n");
        field_input(r, "Name", "name", "text", typed ? form_get(r, "name") : bp->name, e, TITLE_MAX, NULL);
        field_input(r, "Map", "map", "text", typed ? form_get(r, "map") : bp->map, e, 64, "The start map, e.g. c1m1_hotel.");
        field_number(r, "Max players", "maxplayers", v_mp ? v_mp : mp, e, SPEC_MAXPLAYERS_MIN, SPEC_MAXPLAYERS_MAX,
                     "1 to 32.");
        field_number(r, "Tickrate", "tickrate", v_tr ? v_tr : tr, e, SPEC_TICKRATE_MIN, SPEC_TICKRATE_MAX,
                     "10 to 128.");
        overlay_picker(r, bp->id ? bp->user_id : r->user.id, overlays, e);
        field_textarea(r, "Cvars", "cvars", typed ? form_get(r, "cvars") : bp->cvars, e, TEXTAREA_MAX,
                       "One a line: name value, e.g. sv_gametypes coop");
        field_textarea(r, "server.cfg", "server_cfg", typed ? form_get(r, "server_cfg") : bp->server_cfg, e,
                       TEXTAREA_MAX, "Lines written to server.cfg at each start.");
        field_textarea(r, "Extra launch arguments", "args", typed ? form_get(r, "args") : bp->args, e, TEXTAREA_MAX,
                       "One argument a line, e.g. -insecure.");
        update_fields(r, bp, e, typed);
        if (bp->id)
                html_raw(&r->out, "<button type=\"submit\">Save blueprint</button>\n");
        else
                html_raw(&r->out, "<button type=\"submit\">Create blueprint</button>\n");
        form_close(r);
}

void page_blueprint_new(Req *r) {
        Blueprint bp = { .maxplayers = 8, .tickrate = 30 };
        snprintf(bp.map, sizeof bp.map, "c1m1_hotel");
        bp.overlays = bp.server_cfg = bp.cvars = bp.args = (char *) "";
        snprintf(bp.on_canary_failure, sizeof bp.on_canary_failure, "hold");
        page_begin(r, "New blueprint");
        blueprint_form(r, &bp, bp.overlays, NULL, false);
        page_end(r);
}

/* Validates and saves; on a problem shows the form again with the errors.
 * A press of an overlay picker button shows the form again, changed. The
 * save checks, in its transaction, that every overlay is one the owner may
 * stack (svc-overlays), whatever the browser sent. */
static void submit(Req *r, Blueprint *bp, const char *saved_title) {
        char title[sizeof bp->name];
        snprintf(title, sizeof title, "%s", saved_title); /* bp->name changes below */
        FieldErrors e = { 0 };
        _cleanup_free_ char *overlays = overlay_picker_join(r);
        if (!overlays) {
                render_error(r, 500, "Out of memory.");
                return;
        }
        if (overlay_picker_apply(r, &overlays)) {
                page_begin(r, title);
                blueprint_form(r, bp, overlays, NULL, true);
                page_end(r);
                return;
        }
        BlueprintFields in = { form_get(r, "name"), form_get(r, "map"), form_get(r, "maxplayers"),
                               form_get(r, "tickrate"), overlays, form_get(r, "cvars"),
                               form_get(r, "server_cfg"), form_get(r, "args"), form_get(r, "update_build"),
                               form_get(r, "on_canary_failure"), form_get(r, "update_deadline") };
        if (blueprint_validate(&in, bp, &e)) {
                OverlayUsable u = { .owner_id = bp->id ? bp->user_id : r->user.id, .admin = r->user.is_admin,
                                  .overlays = bp->overlays };
                int k = blueprint_save_checked(r->db, bp, r->user.id, overlays_usable_check, &u);
                if (k == 0) {
                        char href[64];
                        req_redirect(r, path_id(href, sizeof href, "/blueprints", bp->id, "?notice=saved"));
                        return;
                }
                if (k == -EEXIST)
                        errors_add(&e, "name", "There is already a blueprint with this name.");
                else if (k == -EDQUOT)
                        errors_add(&e, "name", "You have %d blueprints, the most one account may have.",
                                   BLUEPRINTS_PER_USER_MAX);
                else if (k == -EPERM)
                        errors_add(&e, "overlays", "Overlays: '%s' is not one of the owner's overlays or a global "
                                                   "one (or it is being deleted); pick from the list.", u.bad);
                else {
                        render_error(r, 500, "Could not save the blueprint; try again.");
                        return;
                }
        }
        r->status = 422;
        page_begin(r, title);
        blueprint_form(r, bp, overlays, &e, true);
        page_end(r);
}

void page_blueprint_create(Req *r) {
        Blueprint bp = { 0 };
        submit(r, &bp, "New blueprint");
        blueprint_free(&bp);
}

static void linked_servers(Req *r, int64_t id, bool as_error) {
        Buf *b = &r->out;
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (servers_of_blueprint(&it, r->db, id) < 0)
                return;
        int n = 0;
        char href[64];
        ServerRow v;
        while (server_row_next(&it, &v)) {
                if (n++ == 0) {
                        if (as_error)
                                html_raw(b, "<div class=\"error\" role=\"alert\"><p>This blueprint cannot be deleted while "
                                            "these servers use it; switch them to another blueprint or delete them "
                                            "first:</p>\n<ul id=\"linked\">\n");
                        else
                                html_raw(b, "<h2>Servers using it</h2>\n<ul id=\"linked\">\n");
                }
                html_raw(b, "<li><a href=\"");
                html_attr(b, path_id(href, sizeof href, "/servers", v.id, NULL));
                html_raw(b, "\">");
                html_txt(b, v.name);
                html_raw(b, "</a></li>\n");
        }
        if (n)
                html_raw(b, "</ul>\n");
        if (n && as_error)
                html_raw(b, "</div>\n");
}

static void show(Req *r, Blueprint *bp, bool delete_blocked) {
        char action[64];
        page_begin(r, bp->name);
        if (delete_blocked)
                linked_servers(r, bp->id, true);
        blueprint_form(r, bp, bp->overlays, NULL, false);
        if (!delete_blocked)
                linked_servers(r, bp->id, false);
        html_raw(&r->out, "<h2>Delete</h2>\n");
        button_form(r, path_id(action, sizeof action, "/blueprints", bp->id, "/delete"), "Delete blueprint", "danger");
        page_end(r);
}

void page_blueprint_show(Req *r) {
        Blueprint bp;
        if (blueprint_load(r->db, r->id, &r->user, &bp) < 0) {
                render_not_found(r);
                return;
        }
        show(r, &bp, false);
        blueprint_free(&bp);
}

void page_blueprint_update(Req *r) {
        Blueprint bp;
        if (blueprint_load(r->db, r->id, &r->user, &bp) < 0) {
                render_not_found(r);
                return;
        }
        submit(r, &bp, bp.name);
        blueprint_free(&bp);
}

void page_blueprint_delete(Req *r) {
        Blueprint bp;
        if (blueprint_load(r->db, r->id, &r->user, &bp) < 0) {
                render_not_found(r);
                return;
        }
        int k = blueprint_delete(r->db, bp.id);
        if (k == -EBUSY) {
                /* The foreign key refused: servers still link to it. */
                r->status = 409;
                show(r, &bp, true);
        } else if (k < 0)
                render_error(r, 500, "Could not delete the blueprint; try again.");
        else
                req_redirect(r, "/blueprints?notice=deleted");
        blueprint_free(&bp);
}
