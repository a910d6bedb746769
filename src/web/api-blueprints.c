/* /api/blueprints: a blueprint created from a JSON body. The first row of
 * the JSON API the panel will grow: the same validation (model.c, the spec
 * rules l4d2ctl enforces) and the same table module (svc-blueprints.c) as
 * the pages, a streamed body (the route's cap), JSON answers, errors by
 * field. Like the pages it holds no SQL. */
#include <string.h>

#include "fs.h"
#include "layout.h"
#include "pages.h"
#include "svc-blueprints.h"
#include "svc-overlays.h"

/* A field as text: a string, or a whole number written as one; another
 * type is an error at the field. */
static const char *field(json_t *o, const char *key, char *buf, size_t size, FieldErrors *e) {
        json_t *v = json_object_get(o, key);
        if (json_is_string(v))
                return json_string_value(v);
        if (json_is_integer(v)) {
                snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                return buf;
        }
        if (v && !json_is_null(v))
                errors_add(e, key, "'%s' must be a string (lines joined by \\n) or a number.", key);
        return NULL;
}

void api_blueprint_create(Req *r) {
        const char *ct = header_get(r, "Content-Type");
        if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
                render_error(r, 415, "Send the blueprint as application/json.");
                return;
        }
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (read_fd(r->body_fd, r->body_max, &text, &len) < 0) {
                render_error(r, 400, "The body could not be read.");
                return;
        }
        json_error_t je;
        json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(j)) {
                json_decref(j);
                char msg[256];
                snprintf(msg, sizeof msg, "The body is not a JSON object (%s).", je.text[0] ? je.text : "another value");
                render_error(r, 400, msg);
                return;
        }
        char b[11][24];
        Blueprint bp = { 0 };
        FieldErrors e = { 0 }, types = { 0 };
        BlueprintFields in = { field(j, "name", b[0], 24, &types), field(j, "map", b[1], 24, &types),
                               field(j, "maxplayers", b[2], 24, &types), field(j, "tickrate", b[3], 24, &types),
                               field(j, "overlays", b[4], 24, &types), field(j, "cvars", b[5], 24, &types),
                               field(j, "server_cfg", b[6], 24, &types), field(j, "args", b[7], 24, &types),
                               field(j, "update_build", b[8], 24, &types),
                               field(j, "on_canary_failure", b[9], 24, &types),
                               field(j, "update_deadline", b[10], 24, &types) };
        if (types.n)
                e = types;
        else if (blueprint_validate(&in, &bp, &e)) {
                /* Only overlays the user may stack, as on the form. */
                OverlayUsable u = { .owner_id = r->user.id, .admin = r->user.is_admin, .overlays = bp.overlays };
                int k = blueprint_save_checked(r->db, &bp, r->user.id, overlays_usable_check, &u);
                if (k == -EEXIST)
                        errors_add(&e, "name", "There is already a blueprint with this name.");
                else if (k == -EDQUOT)
                        errors_add(&e, "name", "You have %d blueprints, the most one account may have.",
                                   BLUEPRINTS_PER_USER_MAX);
                else if (k == -EPERM)
                        errors_add(&e, "overlays", "Overlays: '%s' is not one of your overlays or a global one.",
                                   u.bad);
                else if (k < 0)
                        render_error(r, 500, "Could not save the blueprint; try again.");
                else {
                        char url[64];
                        snprintf(url, sizeof url, "/blueprints/%lld", (long long) bp.id);
                        req_json(r, 201, json_pack("{s:I, s:s}", "id", (json_int_t) bp.id, "url", url));
                }
        }
        if (e.n) {
                json_t *errors = json_object();
                for (size_t i = 0; i < e.n; i++)
                        json_object_set_new(errors, e.field[i], json_string(e.msg[i]));
                req_json(r, 422, json_pack("{s:o}", "errors", errors));
        }
        blueprint_free(&bp);
        json_decref(j);
}
