/* On a server's page: whether a restart would pick up newer overlay content.
 * Changing an overlay never touches a running server (its mount keeps the
 * trees it stacked); the host knows which running instances mount an older
 * tree than the published one (`l4d2ctl overlay list --json`,
 * running[].outdated). That is asked here, and only while the server's
 * process is up: one l4d2ctl run per open server page every 15 s, on an
 * address of its own so that the cached server page never holds it. */
#include <string.h>

#include "hostlink.h"
#include "html.h"
#include "layout.h"
#include "page-overlays.h"
#include "pages.h"
#include "svc-servers.h"

#define NEWS_TRIGGER "every 15s"

static void section_open(Buf *b, const Server *v, const char *trigger) {
        char href[64];
        html_raw(b, "<section id=\"overlay-news\" data-hx-get=\"");
        html_attr(b, path_id(href, sizeof href, "/servers", v->id, "/overlay-news"));
        html_raw(b, "\" data-hx-trigger=\"");
        html_attr(b, trigger);
        html_raw(b, "\" data-hx-swap=\"outerHTML\">\n");
}

void server_overlay_news(Req *r, const Server *v) {
        section_open(&r->out, v, "load, " NEWS_TRIGGER);
        html_raw(&r->out, "</section>\n");
}

void page_server_overlay_news(Req *r) {
        Server v;
        if (server_load(r->db, r->id, &r->user, &v) < 0) {
                render_not_found(r);
                return;
        }
        Buf *b = &r->out;
        section_open(b, &v, NEWS_TRIGGER);
        bool up = streq(v.state, "running") || streq(v.state, "starting") || streq(v.state, "unresponsive");
        json_t *j = NULL;
        char err[256];
        const char *args[] = { "overlay", "list", "--json", NULL };
        if (!up || hostlink_run_json(host(), args, NULL, &j, err, sizeof err) < 0) {
                html_raw(b, "</section>\n");
                return;
        }
        size_t i, k;
        json_t *o, *run;
        int n = 0;
        json_array_foreach(json_object_get(j, "overlays"), i, o) {
                const char *name = json_string_value(json_object_get(o, "name"));
                json_array_foreach(json_object_get(o, "running"), k, run) {
                        const char *inst = json_string_value(json_object_get(run, "instance"));
                        if (!name || !inst || !streq(inst, v.instance) ||
                            !json_is_true(json_object_get(run, "outdated")))
                                continue;
                        if (n++ == 0)
                                html_raw(b, "<div class=\"notice\" role=\"status\"><p>Newer content is ready in ");
                        else
                                html_raw(b, ", ");
                        /* The name its owner gave it, when the viewer may see it. */
                        Overlay row;
                        html_raw(b, "<b>");
                        html_txt(b, overlay_find_host_name(r->db, name, &row) == 0 &&
                                                    (row.user_id == 0 || row.user_id == r->user.id || r->user.is_admin)
                                            ? row.name
                                            : name);
                        html_raw(b, "</b>");
                }
        }
        if (n) {
                char action[64];
                html_raw(b, ". The server keeps what it started with until it restarts (players are "
                            "disconnected).</p>\n");
                button_form(r, path_id(action, sizeof action, "/servers", v.id, "/restart"),
                            "Restart to pick it up", NULL);
                html_raw(b, "</div>\n");
        }
        json_decref(j);
        html_raw(b, "</section>\n");
}
