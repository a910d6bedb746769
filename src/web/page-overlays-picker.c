/* The overlays of a blueprint, picked and ordered: the field of the
 * blueprint form (page-blueprints.c). The blueprint stores host names, a
 * name a line, the first on top (src/rules checks them like every spec
 * value); the picker offers what the blueprint's owner may stack, their own
 * overlays and the global ones (svc-overlays: overlays_usable), and the save
 * checks every name again (overlays_check_usable), whatever the browser sent.
 *
 * In the page the list is one hidden input `overlays` per entry, in order,
 * so the form posts the list as it is shown. app.js reorders it by dragging
 * (pointer events: mouse, pen and touch) and by its buttons, which also work
 * without JavaScript: each is a submit button (pick=up:N, down:N, remove:N,
 * add, add-name) that shows the form again with the list changed, saving
 * nothing (overlay_picker_apply). */
#include <stdio.h>
#include <string.h>

#include "html.h"
#include "layout.h"
#include "page-overlays.h"
#include "pages.h"
#include "spec-rules.h"

char *overlay_picker_join(const Req *r) {
        /* The whole form is at most BODY_MAX bytes and FORM_FIELDS_MAX
         * fields, so every value fits: nothing is cut, and a list too long
         * is refused by the field's length check, never saved shorter. */
        Buf b = BUF_INIT(BODY_MAX + FORM_FIELDS_MAX + 1);
        bool any = false;
        for (size_t i = 0; i < r->form.n; i++) {
                if (!streq(r->form.f[i].key, "overlays"))
                        continue;
                if (any)
                        (void) buf_puts(&b, "\n");
                (void) buf_puts(&b, r->form.f[i].value);
                any = true;
        }
        return b.data ? b.data : strdup("");
}

/* The entries of a list, empty lines left out; at most SPEC_MAX_OVERLAYS + 1
 * (the check says when there are too many). */
static int split(const char *lines, char ***ret, size_t *ret_n) {
        _cleanup_strv_ char **all = NULL, **v = NULL;
        size_t n_all, n = 0;
        if (strv_split_lines(lines ? lines : "", SPEC_MAX_OVERLAYS, &all, &n_all) < 0)
                return -ENOMEM;
        v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n_all; i++)
                if (all[i][0] && strv_push_dup(&v, &n, all[i]) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

static char *join(char **v, size_t n) {
        Buf b = BUF_INIT(TEXTAREA_MAX + 2);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        (void) buf_puts(&b, "\n");
                (void) buf_puts(&b, v[i]);
        }
        return b.data ? b.data : strdup("");
}

bool overlay_picker_apply(const Req *r, char **lines) {
        const char *pick = form_get(r, "pick");
        if (!pick)
                return false;
        _cleanup_strv_ char **v = NULL;
        size_t n = 0;
        if (split(*lines, &v, &n) < 0)
                return true;
        long i = -1;
        const char *colon = strchr(pick, ':');
        if (colon && parse_long(colon + 1, 0, (long) n - 1, &i) < 0)
                i = -1;
        if (startswith(pick, "up:") && i > 0) {
                char *t = v[i - 1];
                v[i - 1] = v[i];
                v[i] = t;
        } else if (startswith(pick, "down:") && i >= 0 && (size_t) i + 1 < n) {
                char *t = v[i + 1];
                v[i + 1] = v[i];
                v[i] = t;
        } else if (startswith(pick, "remove:") && i >= 0) {
                free(v[i]);
                memmove(v + i, v + i + 1, (n - (size_t) i) * sizeof *v); /* with the NULL at the end */
                n--;
        } else if (streq(pick, "add") || streq(pick, "add-name")) {
                const char *name = form_get(r, streq(pick, "add") ? "overlay_add" : "overlay_add_name");
                if (name && *name && strv_push_dup(&v, &n, name) < 0)
                        return true;
        }
        char *joined = join(v, n);
        if (joined) {
                free(*lines);
                *lines = joined;
        }
        return true;
}

/* One entry of the list. */
static void entry(Req *r, size_t i, size_t n, const char *name, int64_t owner_id) {
        Buf *b = &r->out;
        Overlay o;
        bool known = overlay_find_host_name(r->db, name, &o) == 0;
        const char *label = known ? o.name : name;
        html_raw(b, "<li class=\"pick\" data-name=\"");
        html_attr(b, name);
        html_raw(b, "\"><input type=\"hidden\" name=\"overlays\" value=\"");
        html_attr(b, name);
        html_raw(b, "\"><span class=\"grip\" title=\"Drag to reorder\" aria-hidden=\"true\">&#10303;</span> "
                    "<span class=\"pick-name\">");
        html_txt(b, label);
        html_raw(b, "</span> <span class=\"hint\">");
        if (!known)
                html_raw(b, "not managed by the panel");
        else {
                const OverlayKind *k = overlay_kind(o.kind);
                html_txt(b, k ? k->label : o.kind);
                if (!o.user_id)
                        html_raw(b, ", global");
                else if (o.user_id != owner_id) {
                        html_raw(b, ", ");
                        html_txt(b, o.owner);
                        html_raw(b, "'s");
                }
        }
        html_raw(b, "</span> <span class=\"pick-buttons\">");
        static const struct {
                const char *op, *aria;
        } buttons[] = { { "up", "Move up: " }, { "down", "Move down: " }, { "remove", "Remove: " } };
        for (size_t k = 0; k < ELEMENTSOF(buttons); k++) {
                char value[32];
                snprintf(value, sizeof value, "%s:%zu", buttons[k].op, i);
                html_raw(b, "<button type=\"submit\" class=\"small\" name=\"pick\" value=\"");
                html_attr(b, value);
                html_raw(b, "\" aria-label=\"");
                html_attr(b, buttons[k].aria);
                html_attr(b, label);
                html_raw(b, "\"");
                if ((k == 0 && i == 0) || (k == 1 && i + 1 == n))
                        html_raw(b, " disabled");
                html_raw(b, ">");
                if (k == 0)
                        html_raw(b, "&#8593;");
                else if (k == 1)
                        html_raw(b, "&#8595;");
                else
                        html_raw(b, "&#10005;");
                html_raw(b, "</button>");
        }
        html_raw(b, "</span></li>\n");
}

void overlay_picker(Req *r, int64_t owner_id, const char *lines, const FieldErrors *e) {
        Buf *b = &r->out;
        const char *err = e ? errors_get(e, "overlays") : NULL;
        _cleanup_strv_ char **v = NULL;
        size_t n = 0;
        if (split(lines, &v, &n) < 0)
                n = 0;
        html_raw(b, "<fieldset class=\"field overlay-picker");
        if (err)
                html_raw(b, " invalid");
        html_raw(b, "\" id=\"overlay-picker\">\n<legend>Overlays</legend>\n<p class=\"hint\">Stacked over the game, "
                    "the first on top: where two overlays hold the same file, the higher one wins. Drag an overlay "
                    "by its handle to move it, or use its arrows. <a href=\"/overlays\">Your overlays</a></p>\n"
                    "<ol id=\"overlays-picked\" class=\"picked\">\n");
        for (size_t i = 0; i < n; i++)
                entry(r, i, n, v[i], owner_id);
        html_raw(b, "</ol>\n<p class=\"hint\" id=\"overlays-none\"");
        if (n)
                html_raw(b, " hidden");
        html_raw(b, ">None: the servers run the game as installed.</p>\n");
        if (err) {
                html_raw(b, "<p class=\"field-error\" id=\"e-overlays\">");
                html_txt(b, err);
                html_raw(b, "</p>\n");
        }
        /* What the owner may add: theirs and the global ones not picked. */
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (overlays_usable(&it, r->db, owner_id) < 0) {
                html_raw(b, "</fieldset>\n");
                return;
        }
        /* The options first, into a part of their own: the select shows an
         * empty choice when none is left to add. */
        Buf opts = BUF_INIT(PAGE_MAX / 4);
        Overlay o;
        int offered = 0, usable = 0;
        while (overlay_next(&it, &o)) {
                bool picked = false;
                for (size_t i = 0; i < n && !picked; i++)
                        picked = streq(v[i], o.host_name);
                const OverlayKind *k = overlay_kind(o.kind);
                usable++;
                if (!picked)
                        offered++;
                html_raw(&opts, "<option value=\"");
                html_attr(&opts, o.host_name);
                html_raw(&opts, "\" data-label=\"");
                html_attr(&opts, o.name);
                html_raw(&opts, "\" data-about=\"");
                html_attr(&opts, k ? k->label : o.kind);
                if (!o.user_id)
                        html_raw(&opts, ", global");
                html_raw(&opts, "\"");
                if (picked)
                        html_raw(&opts, " hidden disabled");
                else if (offered == 1)
                        html_raw(&opts, " selected");
                html_raw(&opts, ">");
                html_txt(&opts, o.name);
                html_txt(&opts, o.user_id ? "" : " (global)");
                html_raw(&opts, "</option>\n");
        }
        html_raw(b, "<div class=\"inline-form pick-add\"><label for=\"f-overlay-add\">Add</label>\n"
                    "<select id=\"f-overlay-add\" name=\"overlay_add\"");
        if (err)
                html_raw(b, " aria-invalid=\"true\" aria-describedby=\"e-overlays\"");
        html_raw(b, ">\n");
        if (!offered)
                html_raw(b, "<option value=\"\" disabled selected>–</option>\n");
        html_built(b, &opts); /* every value went through an escaper above */
        buf_free(&opts);
        html_raw(b, "</select>\n<button type=\"submit\" class=\"small\" name=\"pick\" value=\"add\"");
        if (!offered)
                html_raw(b, " disabled");
        html_raw(b, ">Add</button></div>\n");
        if (!usable)
                html_raw(b, "<p class=\"hint\">No overlays to add yet: <a href=\"/overlays\">create one</a>.</p>\n");
        if (r->user.is_admin)
                html_raw(b, "<div class=\"inline-form pick-add\"><label for=\"f-overlay-add-name\">Add by host name"
                            "</label>\n<input type=\"text\" id=\"f-overlay-add-name\" name=\"overlay_add_name\" "
                            "maxlength=\"32\"><button type=\"submit\" class=\"small\" name=\"pick\" value=\"add-name\">"
                            "Add</button></div>\n<p class=\"hint\">Administrators only: an overlay made on the host "
                            "by hand, or another user's.</p>\n");
        html_raw(b, "<p class=\"visually-hidden\" id=\"overlays-said\" aria-live=\"polite\"></p>\n</fieldset>\n");
}
