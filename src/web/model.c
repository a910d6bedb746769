#include <string.h>
#include <strings.h>

#include "db.h"
#include "model.h"
#include "spec-rules.h"

const char *title_problem(const char *s) {
        size_t chars = 0;
        bool visible = false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if ((*p & 0xc0) != 0x80)
                        chars++;
                if (*p != ' ')
                        visible = true;
        }
        if (!visible)
                return "Enter a name.";
        if (chars > TITLE_MAX)
                return "A name has at most 64 characters.";
        if (has_control_chars(s))
                return "A name cannot contain control characters such as tabs or newlines.";
        return NULL;
}

void blueprint_free(Blueprint *b) {
        free(b->overlays);
        free(b->server_cfg);
        free(b->cvars);
        free(b->args);
        b->overlays = b->server_cfg = b->cvars = b->args = NULL;
}

int blueprint_load(sqlite3 *db, int64_t id, const User *u, Blueprint *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db,
                       "SELECT id, user_id, name, map, maxplayers, tickrate, overlays, server_cfg, cvars, args "
                       "FROM blueprints WHERE id = ? AND (user_id = ? OR ?)", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, u ? u->id : 0);
        sqlite3_bind_int(s, 3, u ? u->is_admin : 1);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        Blueprint b = { 0 };
        b.id = sqlite3_column_int64(s, 0);
        b.user_id = sqlite3_column_int64(s, 1);
        snprintf(b.name, sizeof b.name, "%s", db_col_text(s, 2));
        snprintf(b.map, sizeof b.map, "%s", db_col_text(s, 3));
        b.maxplayers = sqlite3_column_int(s, 4);
        b.tickrate = sqlite3_column_int(s, 5);
        b.overlays = strdup(db_col_text(s, 6));
        b.server_cfg = strdup(db_col_text(s, 7));
        b.cvars = strdup(db_col_text(s, 8));
        b.args = strdup(db_col_text(s, 9));
        if (!b.overlays || !b.server_cfg || !b.cvars || !b.args) {
                blueprint_free(&b);
                return -ENOMEM;
        }
        *ret = b;
        return 0;
}

/* Splits text into lines, drops '\r', trailing spaces and empty lines, and
 * returns them joined by '\n'. Counts lines into *ret_lines. */
static char *normalize_lines(const char *text, size_t *ret_lines) {
        size_t n = strlen(text), lines = 0;
        char *out = malloc(n + 1), *o = out;
        if (!out)
                return NULL;
        const char *p = text;
        while (*p) {
                const char *end = strchr(p, '\n');
                if (!end)
                        end = p + strlen(p);
                const char *e = end;
                while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                const char *b = p;
                while (b < e && (*b == ' ' || *b == '\t'))
                        b++;
                if (e > b) {
                        if (o != out)
                                *o++ = '\n';
                        memcpy(o, b, (size_t) (e - b));
                        o += e - b;
                        lines++;
                }
                p = *end ? end + 1 : end;
        }
        *o = '\0';
        *ret_lines = lines;
        return out;
}

/* Reads a textarea into *dst, normalized; false (with the error added)
 * when it is too long. */
static bool take_text(const Req *r, const char *field, char **dst, FieldErrors *e, const char *what) {
        const char *v = form_get(r, field);
        if (!v)
                v = "";
        free(*dst);
        if (strlen(v) > TEXTAREA_MAX) {
                *dst = strdup("");
                errors_add(e, field, "%s: at most %d characters.", what, TEXTAREA_MAX);
                return false;
        }
        size_t lines;
        *dst = normalize_lines(v, &lines);
        if (!*dst) {
                errors_add(e, field, "Out of memory.");
                return false;
        }
        return true;
}

/* A list field (one entry a line), checked by the spec rules l4d2ctl uses. */
static void take_list(const Req *r, const char *field, SpecList l, char **dst, FieldErrors *e, const char *what) {
        if (!take_text(r, field, dst, e, what))
                return;
        _cleanup_strv_ char **v = NULL;
        size_t n, bad;
        if (strv_split_lines(*dst, spec_list_max(l), &v, &n) < 0) {
                errors_add(e, field, "Out of memory.");
                return;
        }
        const char *problem = spec_check_list(l, v, n, &bad);
        if (!problem)
                return;
        if (bad == n)
                errors_add(e, field, "%s: at most %zu lines.", what, spec_list_max(l));
        else if (l == SPEC_SERVER_CFG)
                errors_add(e, field, "%s: line %zu %s.", what, bad + 1, problem);
        else
                errors_add(e, field, "%s: '%.60s' %s.", what, v[bad], problem);
}

/* Cvars: one "name value" a line. */
static void take_cvars(const Req *r, Blueprint *b, FieldErrors *e) {
        if (!take_text(r, "cvars", &b->cvars, e, "Cvars"))
                return;
        _cleanup_strv_ char **lines = NULL, **names = NULL, **values = NULL;
        size_t n, k = 0, kv = 0, bad;
        bool in_value;
        if (strv_split_lines(b->cvars, SPEC_MAX_CVARS, &lines, &n) < 0)
                goto oom;
        for (size_t i = 0; i < n; i++) {
                size_t nl = strcspn(lines[i], " \t");
                const char *v = lines[i] + nl + strspn(lines[i] + nl, " \t");
                char *name = strndup(lines[i], nl);
                if (!name || strv_push(&names, &k, name) < 0) {
                        free(name);
                        goto oom;
                }
                if (strv_push_dup(&values, &kv, v) < 0)
                        goto oom;
        }
        const char *problem = spec_check_cvars(names, values, k, &bad, &in_value);
        if (!problem)
                return;
        if (bad == k)
                errors_add(e, "cvars", "Cvars: at most %d lines.", SPEC_MAX_CVARS);
        else if (in_value)
                errors_add(e, "cvars", "Cvars: the value of '%s' %s.", names[bad], problem);
        else
                errors_add(e, "cvars", "Cvars: '%.60s' %s. Write one cvar a line: a name of letters, digits and "
                                       "'_', a space, then the value.", names[bad], problem);
        return;
oom:
        errors_add(e, "cvars", "Out of memory.");
}

bool blueprint_from_form(const Req *r, Blueprint *b, FieldErrors *e) {
        const char *name = form_get(r, "name");
        name = name ? name : "";
        const char *m = title_problem(name);
        if (m)
                errors_add(e, "name", "%s", m);
        snprintf(b->name, sizeof b->name, "%s", strlen(name) < sizeof b->name ? name : "");

        const char *map = form_get(r, "map");
        map = map ? map : "";
        if ((m = spec_check_map(map)))
                errors_add(e, "map", "Map: '%.60s' %s.", map, m);
        snprintf(b->map, sizeof b->map, "%s", strlen(map) < sizeof b->map ? map : "");

        const char *mp = form_get(r, "maxplayers");
        if (parse_long(mp ? mp : "", SPEC_MAXPLAYERS_MIN, SPEC_MAXPLAYERS_MAX, &b->maxplayers) < 0) {
                errors_add(e, "maxplayers", "Max players is a number from %d to %d.", SPEC_MAXPLAYERS_MIN,
                           SPEC_MAXPLAYERS_MAX);
                b->maxplayers = 0;
        }
        const char *tr = form_get(r, "tickrate");
        if (parse_long(tr ? tr : "", SPEC_TICKRATE_MIN, SPEC_TICKRATE_MAX, &b->tickrate) < 0) {
                errors_add(e, "tickrate", "Tickrate is a number from %d to %d.", SPEC_TICKRATE_MIN,
                           SPEC_TICKRATE_MAX);
                b->tickrate = 0;
        }
        take_list(r, "overlays", SPEC_OVERLAYS, &b->overlays, e, "Overlays");
        take_list(r, "server_cfg", SPEC_SERVER_CFG, &b->server_cfg, e, "server.cfg");
        take_cvars(r, b, e);
        take_list(r, "args", SPEC_ARGS, &b->args, e, "Launch arguments");
        return e->n == 0;
}

static json_t *lines_array(const char *text) {
        json_t *a = json_array();
        const char *p = text;
        while (a && *p) {
                const char *end = strchrnul(p, '\n');
                json_array_append_new(a, json_stringn(p, (size_t) (end - p)));
                p = *end ? end + 1 : end;
        }
        return a;
}

char *blueprint_spec(const Blueprint *b, const char *server_name, int game_port) {
        /* The server's name is free text; its hostname is one l4d2ctl takes. */
        char hostname[SPEC_HOSTNAME_MAX + 1];
        spec_make_hostname(server_name, "left4me", hostname, sizeof hostname);
        json_t *cvars = json_object();
        const char *p = b->cvars;
        while (cvars && *p) {
                const char *end = strchrnul(p, '\n');
                const char *sp = p;
                while (sp < end && *sp != ' ' && *sp != '\t')
                        sp++;
                const char *v = sp;
                while (v < end && (*v == ' ' || *v == '\t'))
                        v++;
                char key[65];
                size_t klen = (size_t) (sp - p) < sizeof key ? (size_t) (sp - p) : sizeof key - 1;
                memcpy(key, p, klen);
                key[klen] = '\0';
                json_object_set_new(cvars, key, json_stringn(v, (size_t) (end - v)));
                p = *end ? end + 1 : end;
        }
        json_t *spec = json_pack("{s:s, s:s, s:i, s:i, s:o, s:o, s:o, s:o}", "hostname", hostname, "map", b->map,
                                 "maxplayers", (int) b->maxplayers, "tickrate", (int) b->tickrate, "overlays",
                                 lines_array(b->overlays), "cvars", cvars, "server_cfg", lines_array(b->server_cfg),
                                 "args", lines_array(b->args));
        if (!spec)
                return NULL;
        if (game_port > 0)
                json_object_set_new(spec, "port", json_integer(game_port));
        /* UTF-8 as it is, not \u escapes: YAML takes no surrogate pairs, so
         * an escaped character past U+FFFF (an emoji) would not parse. */
        char *text = json_dumps(spec, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(spec);
        return text;
}

/* Copies a column into a fixed field, cut at the field's size. */
static void col_copy(char *dst, size_t size, sqlite3_stmt *s, int i) {
        const char *t = db_col_text(s, i);
        size_t n = (size_t) sqlite3_column_bytes(s, i);
        if (n >= size)
                n = size - 1;
        memcpy(dst, t, n);
        dst[n] = '\0';
}

void server_from_row(sqlite3_stmt *s, Server *ret) {
        Server v = { 0 };
        v.id = sqlite3_column_int64(s, 0);
        v.user_id = sqlite3_column_int64(s, 1);
        v.blueprint_id = sqlite3_column_int64(s, 2);
        col_copy(v.name, sizeof v.name, s, 3);
        col_copy(v.instance, sizeof v.instance, s, 4);
        col_copy(v.owner, sizeof v.owner, s, 5);
        col_copy(v.blueprint_name, sizeof v.blueprint_name, s, 6);
        col_copy(v.desired, sizeof v.desired, s, 7);
        col_copy(v.state, sizeof v.state, s, 8);
        col_copy(v.map, sizeof v.map, s, 9);
        col_copy(v.drift, sizeof v.drift, s, 10);
        col_copy(v.detail, sizeof v.detail, s, 11);
        v.game_port = sqlite3_column_type(s, 12) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 12);
        v.tv_port = sqlite3_column_type(s, 13) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 13);
        v.players = sqlite3_column_type(s, 14) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 14);
        v.maxplayers = sqlite3_column_type(s, 15) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 15);
        v.restarts = sqlite3_column_int(s, 16);
        v.deleting = sqlite3_column_int(s, 17);
        v.observed_at = sqlite3_column_int64(s, 18);
        *ret = v;
}

int server_load(sqlite3 *db, int64_t id, const User *u, Server *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT " SERVER_COLUMNS SERVER_FROM "WHERE s.id = ? AND (s.user_id = ? OR ?)", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, u ? u->id : 0);
        sqlite3_bind_int(s, 3, u ? u->is_admin : 1);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        server_from_row(s, ret);
        return 0;
}

bool server_busy(sqlite3 *db, int64_t server_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT 1 FROM jobs WHERE server_id = ? AND state IN ('queued', 'running') LIMIT 1",
                       &s) < 0)
                return false;
        sqlite3_bind_int64(s, 1, server_id);
        return sqlite3_step(s) == SQLITE_ROW;
}

static int json_int_or(json_t *o, const char *k, int dflt) {
        json_t *v = json_object_get(o, k);
        return json_is_integer(v) ? (int) json_integer_value(v) : dflt;
}

int server_apply_status(sqlite3 *db, int64_t server_id, json_t *st) {
        const char *state = json_string_value(json_object_get(st, "state"));
        if (!state)
                return -EINVAL;
        json_t *ports = json_object_get(st, "ports");
        int game = json_int_or(ports, "game", -1), tv = json_int_or(ports, "sourcetv", -1);
        const char *map = json_string_value(json_object_get(st, "map"));
        const char *detail = json_string_value(json_object_get(st, "detail"));
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db,
                       "UPDATE servers SET state = ?, game_port = coalesce(?, game_port), "
                       "tv_port = coalesce(?, tv_port), map = coalesce(?, map), players = ?, maxplayers = ?, "
                       "restarts = ?, detail = ?, observed_at = ? WHERE id = ?", &s) < 0)
                return -EIO;
        db_bind_text(s, 1, state);
        if (game > 0)
                sqlite3_bind_int(s, 2, game);
        if (tv > 0)
                sqlite3_bind_int(s, 3, tv);
        db_bind_text(s, 4, map);
        int players = json_int_or(st, "players", -1);
        if (players >= 0 && streq(state, "running"))
                sqlite3_bind_int(s, 5, players);
        int mp = json_int_or(st, "maxplayers", -1);
        if (mp >= 0)
                sqlite3_bind_int(s, 6, mp);
        sqlite3_bind_int(s, 7, json_int_or(st, "restarts", 0));
        db_bind_text(s, 8, detail ? detail : "");
        sqlite3_bind_int64(s, 9, now_sec());
        sqlite3_bind_int64(s, 10, server_id);
        return db_step_done(s);
}

int server_event(sqlite3 *db, int64_t server_id, const char *kind, const char *message) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "INSERT INTO server_events (server_id, at, kind, message) VALUES (?, ?, ?, ?)", &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, server_id);
        sqlite3_bind_int64(s, 2, now_sec());
        db_bind_text(s, 3, kind);
        db_bind_text(s, 4, message);
        int r = db_step_done(s);
        /* Keep the newest SERVER_EVENTS_MAX events of a server. */
        _cleanup_stmt_ sqlite3_stmt *d = NULL;
        if (r == 0 && db_prepare(db, "DELETE FROM server_events WHERE server_id = ?1 AND id <= "
                                     "(SELECT id FROM server_events WHERE server_id = ?1 ORDER BY id DESC "
                                     "LIMIT 1 OFFSET ?2)", &d) == 0) {
                sqlite3_bind_int64(d, 1, server_id);
                sqlite3_bind_int(d, 2, SERVER_EVENTS_MAX);
                (void) db_step_done(d);
        }
        return r;
}
