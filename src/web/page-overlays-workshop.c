/* The Workshop view of an overlay's page: add items and collections by ID or
 * by the link of their Workshop page (pasted, several at once), remove them,
 * and every item the last build resolved with its title, preview image, size,
 * last update and state; problems (a cycle, a removed item, an item of
 * another game) shown at the item. Adding or removing queues the overlay's
 * build. Everything goes through `l4d2ctl workshop NAME add|remove|items`.
 *
 * What the Steam Web API said (titles, preview URLs, messages) is data from
 * outside: every value is escaped for its context, and a preview URL becomes
 * an <img> only when it is https to Steam's image hosts (steam-cdn.h), the
 * same hosts the Content-Security-Policy allows. */
#include <string.h>
#include <strings.h>

#include "hostlink.h"
#include "html.h"
#include "layout.h"
#include "page-overlays.h"
#include "pages.h"
#include "steam-cdn.h"

#define ADD_MAX 100        /* sources in one paste */
#define SOURCE_TEXT_MAX 300 /* bytes of one ID or link */
#define ID_MAX 20           /* digits of a Workshop ID (a 64-bit number) */

static bool is_id(const char *s) {
        size_t n = strspn(s, "0123456789");
        return n > 0 && n <= ID_MAX && s[n] == '\0';
}

/* The item's Workshop page, made from its ID (never a URL the API gave). */
static void workshop_link_open(Buf *b, const char *id) {
        html_raw(b, "<a rel=\"noreferrer\" href=\"https://steamcommunity.com/sharedfiles/filedetails/?id=");
        html_url_arg(b, id);
        html_raw(b, "\">");
}

/* An item's or a source's state, and what went wrong with it, at it. */
static void state_cell(Buf *b, json_t *v) {
        const char *state = json_string_value(json_object_get(v, "state"));
        const char *msg = json_string_value(json_object_get(v, "message"));
        if (!state)
                state = "unknown";
        html_raw(b, "<td data-label=\"State\"><span class=\"badge item-");
        html_attr(b, state);
        html_raw(b, "\">");
        html_txt(b, streq(state, "wrong-app") ? "another game" : state);
        html_raw(b, "</span>");
        if (msg && *msg) {
                html_raw(b, " <span class=\"item-message\">");
                html_txt(b, msg);
                html_raw(b, "</span>");
        }
        html_raw(b, "</td>");
}

static void add_form(Req *r, const Overlay *o, const FieldErrors *e) {
        char action[64];
        form_open(r, path_id(action, sizeof action, "/overlays", o->id, "/workshop/add"), "card");
        field_textarea(r, "Add items or collections", "sources", e && e->n ? form_get(r, "sources") : "", e,
                       ADD_MAX * SOURCE_TEXT_MAX,
                       "Workshop IDs, or links to their pages (https://steamcommunity.com/sharedfiles/filedetails/"
                       "?id=…): paste one or many, separated by lines or spaces. A collection brings every item in "
                       "it, and collections in it.");
        html_raw(&r->out, "<button type=\"submit\">Add and build</button>\n");
        form_close(r);
}

static void sources_table(Req *r, const OverlayPage *p, json_t *sources, const FieldErrors *e) {
        Buf *b = &r->out;
        html_raw(b, "<h3>What you added</h3>\n");
        const char *err = e ? errors_get(e, "source") : NULL;
        if (err) {
                html_raw(b, "<p class=\"error\" role=\"alert\">");
                html_txt(b, err);
                html_raw(b, "</p>\n");
        }
        html_raw(b, "<table class=\"list\" id=\"workshop-sources\">\n<thead><tr><th>ID</th><th>Kind</th><th>Title</th>"
                    "<th>State</th>");
        if (p->writable)
                html_raw(b, "<th></th>");
        html_raw(b, "</tr></thead>\n<tbody>\n");
        size_t i;
        json_t *v;
        char action[64];
        json_array_foreach(sources, i, v) {
                const char *id = json_string_value(json_object_get(v, "id"));
                const char *kind = json_string_value(json_object_get(v, "kind"));
                if (!id || !is_id(id))
                        continue;
                html_raw(b, "<tr><td data-label=\"ID\">");
                workshop_link_open(b, id);
                html_txt(b, id);
                html_raw(b, "</a></td><td data-label=\"Kind\">");
                html_txt(b, kind && streq(kind, "unknown") ? "not resolved yet" : kind);
                html_raw(b, "</td><td data-label=\"Title\">");
                html_txt(b, json_string_value(json_object_get(v, "title")));
                html_raw(b, "</td>");
                state_cell(b, v);
                if (p->writable) {
                        html_raw(b, "<td>");
                        form_open(r, path_id(action, sizeof action, "/overlays", p->row.id, "/workshop/remove"),
                                  "inline");
                        html_raw(b, "<input type=\"hidden\" name=\"source\" value=\"");
                        html_attr(b, id);
                        html_raw(b, "\"><button type=\"submit\" class=\"link\">Remove ");
                        html_txt(b, id);
                        html_raw(b, "</button>\n");
                        form_close(r);
                        html_raw(b, "</td>");
                }
                html_raw(b, "</tr>\n");
        }
        if (!json_array_size(sources))
                html_raw(b, "<tr><td colspan=\"5\">Nothing yet.</td></tr>\n");
        html_raw(b, "</tbody>\n</table>\n");
}

static void items_table(Req *r, json_t *items) {
        Buf *b = &r->out;
        html_raw(b, "<h3>Items</h3>\n<table class=\"list\" id=\"workshop-items\">\n<thead><tr><th>Preview</th>"
                    "<th>Title</th><th>ID</th><th>Size</th><th>Updated</th><th>State</th></tr></thead>\n<tbody>\n");
        size_t i;
        json_t *v;
        json_array_foreach(items, i, v) {
                const char *id = json_string_value(json_object_get(v, "id"));
                const char *title = json_string_value(json_object_get(v, "title"));
                const char *preview = json_string_value(json_object_get(v, "preview_url"));
                if (!id || !is_id(id))
                        continue;
                html_raw(b, "<tr id=\"item-");
                html_attr(b, id);
                html_raw(b, "\"><td data-label=\"Preview\">");
                if (steam_image_url_ok(preview)) {
                        html_raw(b, "<img class=\"preview\" src=\"");
                        html_attr(b, preview);
                        /* No referrer leaves (Referrer-Policy: same-origin). */
                        html_raw(b, "\" alt=\"\" width=\"64\" height=\"64\">");
                }
                html_raw(b, "</td><td data-label=\"Title\">");
                workshop_link_open(b, id);
                html_txt(b, title && *title ? title : "(no title)");
                html_raw(b, "</a></td><td data-label=\"ID\">");
                html_txt(b, id);
                html_raw(b, "</td><td data-label=\"Size\">");
                json_int_t size = json_integer_value(json_object_get(v, "size"));
                overlay_size_txt(b, size > 0 ? size : -1);
                html_raw(b, "</td><td data-label=\"Updated\">");
                html_utc(b, json_integer_value(json_object_get(v, "time_updated")), false);
                html_raw(b, "</td>");
                state_cell(b, v);
                html_raw(b, "</tr>\n");
        }
        if (!json_array_size(items))
                html_raw(b, "<tr><td colspan=\"6\">None yet: items show here after the first build.</td></tr>\n");
        html_raw(b, "</tbody>\n</table>\n");
}

static void render(Req *r, const OverlayPage *p, const FieldErrors *e) {
        Buf *b = &r->out;
        html_raw(b, "<h2>Steam Workshop</h2>\n");
        if (p->writable && !p->row.deleting)
                add_form(r, &p->row, e);
        const char *args[] = { "workshop", p->row.host_name, "items", "--json", NULL };
        json_t *j = NULL;
        char err[256];
        if (hostlink_run_json(host(), args, NULL, &j, err, sizeof err) < 0) {
                html_raw(b, "<p class=\"error\" role=\"alert\">The host did not list the items: ");
                html_txt(b, overlay_host_message(err));
                html_raw(b, "</p>\n");
                return;
        }
        sources_table(r, p, json_object_get(j, "sources"), e);
        json_t *problems = json_object_get(j, "problems"), *v;
        size_t i;
        if (json_array_size(problems)) {
                html_raw(b, "<h3>Problems</h3>\n<ul class=\"problems\" id=\"workshop-problems\">\n");
                json_array_foreach(problems, i, v) {
                        html_raw(b, "<li>");
                        html_txt(b, json_string_value(json_object_get(v, "id")));
                        html_raw(b, ": ");
                        html_txt(b, json_string_value(json_object_get(v, "message")));
                        html_raw(b, "</li>\n");
                }
                html_raw(b, "</ul>\n");
        }
        items_table(r, json_object_get(j, "items"));
        json_decref(j);
}

const OverlayKindView overlay_view_workshop = { .render = render };

static bool load_workshop(Req *r, Overlay *o) {
        if (!overlay_from_request(r, true, o))
                return false;
        if (!streq(o->kind, "workshop")) {
                render_not_found(r);
                return false;
        }
        return true;
}

/* Runs `l4d2ctl workshop NAME VERB --json -- ARGS...`; on a refusal puts
 * l4d2ctl's message at field. */
static bool change(Req *r, const Overlay *o, const char *verb, char **args, size_t n, const char *field,
                   FieldErrors *e) {
        _cleanup_strv_ char **argv = NULL;
        size_t k = 0;
        const char *head[] = { "workshop", o->host_name, verb, "--json", "--" };
        for (size_t i = 0; i < ELEMENTSOF(head); i++)
                if (strv_push_dup(&argv, &k, head[i]) < 0)
                        goto oom;
        for (size_t i = 0; i < n; i++)
                if (strv_push_dup(&argv, &k, args[i]) < 0)
                        goto oom;
        json_t *j = NULL;
        char err[256];
        if (hostlink_run_json(host(), (const char *const *) argv, NULL, &j, err, sizeof err) < 0) {
                errors_add(e, field, "%s", overlay_host_message(err));
                return false;
        }
        json_decref(j);
        return true;
oom:
        errors_add(e, field, "Out of memory.");
        return false;
}

void page_overlay_workshop_add(Req *r) {
        Overlay o;
        if (!load_workshop(r, &o))
                return;
        const char *text = form_get(r, "sources");
        FieldErrors e = { 0 };
        _cleanup_strv_ char **v = NULL;
        size_t n = 0;
        /* IDs and links, separated by whitespace or commas. Each passes a
         * first look here (the host checks each fully, all of them before it
         * writes anything), and goes to l4d2ctl as one argv word after "--". */
        for (const char *p = text ? text : ""; *p && !e.n;) {
                p += strspn(p, " \t\r\n,");
                size_t len = strcspn(p, " \t\r\n,");
                if (!len)
                        break;
                if (n >= ADD_MAX) {
                        errors_add(&e, "sources", "At most %d at once: add the rest in another paste.", ADD_MAX);
                        break;
                }
                char *word = strndup(p, len);
                if (!word || strv_push(&v, &n, word) < 0) {
                        free(word);
                        render_error(r, 500, "Out of memory.");
                        return;
                }
                bool link = strncasecmp(word, "https://", 8) == 0 || strncasecmp(word, "http://", 7) == 0 ||
                            strncasecmp(word, "steamcommunity.com/", 19) == 0;
                if (len > SOURCE_TEXT_MAX || has_control_chars(word) || (!is_id(word) && !link))
                        errors_add(&e, "sources", "'%.80s' is not a Workshop ID or link: give the number, or the "
                                                  "link of its page, https://steamcommunity.com/sharedfiles/"
                                                  "filedetails/?id=…", word);
                p += len;
        }
        if (!e.n && n == 0)
                errors_add(&e, "sources", "Enter a Workshop ID or the link of its page.");
        if (e.n || !change(r, &o, "add", v, n, "sources", &e)) {
                overlay_show_errors(r, &o, &e, 422);
                return;
        }
        overlay_build_and_show(r, &o);
}

void page_overlay_workshop_remove(Req *r) {
        Overlay o;
        if (!load_workshop(r, &o))
                return;
        const char *id = form_get(r, "source");
        FieldErrors e = { 0 };
        char *args[] = { (char *) (id ? id : "") };
        if (!id || !is_id(id))
                errors_add(&e, "source", "Choose an item or collection to remove.");
        if (e.n || !change(r, &o, "remove", args, 1, "source", &e)) {
                overlay_show_errors(r, &o, &e, 422);
                return;
        }
        overlay_build_and_show(r, &o);
}
