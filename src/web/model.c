#include <string.h>
#include <strings.h>

#include "db.h"
#include "model.h"

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

/* Calls fn for every line of a normalized text; stops at the first message. */
typedef const char *(*line_check_fn)(const char *line, size_t len);

static const char *check_lines(const char *text, line_check_fn fn) {
        const char *p = text;
        while (*p) {
                const char *end = strchr(p, '\n');
                size_t len = end ? (size_t) (end - p) : strlen(p);
                const char *m = fn(p, len);
                if (m)
                        return m;
                p += len + (end ? 1 : 0);
        }
        return NULL;
}

static bool printable(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

static const char *check_overlay(const char *line, size_t len) {
        char name[NAME_MAX_LEN + 2];
        if (len > NAME_MAX_LEN)
                return "An overlay name has at most 32 characters.";
        memcpy(name, line, len);
        name[len] = '\0';
        if (!name_is_valid(name))
                return "Overlay names use only letters, digits, '_' and '-', one a line.";
        return NULL;
}

static const char *check_cfg(const char *line, size_t len) {
        if (len > 256)
                return "A server.cfg line has at most 256 characters.";
        if (!printable(line, len))
                return "server.cfg lines cannot contain control characters.";
        return NULL;
}

static const char *check_cvar(const char *line, size_t len) {
        size_t k = 0;
        while (k < len && (line[k] == '_' || (line[k] >= 'a' && line[k] <= 'z') || (line[k] >= 'A' && line[k] <= 'Z') ||
                           (line[k] >= '0' && line[k] <= '9')))
                k++;
        if (k == 0 || k > 64 || (k < len && line[k] != ' ' && line[k] != '\t'))
                return "Write one cvar a line: a name of letters, digits and '_', a space, then the value.";
        if (len > 320 || !printable(line, len))
                return "A cvar line has at most 320 characters and no control characters.";
        for (size_t i = k; i < len; i++)
                if (line[i] == '"' || line[i] == ';')
                        return "A cvar value cannot contain '\"' or ';'.";
        /* As l4d2ctl's spec check (src/host/spec.c) has it. */
        if ((k == 13 && strncasecmp(line, "rcon_password", k) == 0) || (k == 8 && strncasecmp(line, "hostname", k) == 0))
                return "rcon_password and hostname are set by left4me (the hostname is the server's name).";
        size_t v = k;
        while (v < len && (line[v] == ' ' || line[v] == '\t'))
                v++;
        if (len - v > 255)
                return "A cvar value has at most 255 characters.";
        return NULL;
}

/* What l4d2ctl's spec check refuses (src/host/spec.c, managed_args and the
 * characters srcds_run would split or expand), refused here too: at its
 * field, when the blueprint is saved, not as a failed start later. */
static const char *const managed_args[] = { "-game", "-port", "+map", "-maxplayers", "+maxplayers", "-tickrate",
                                            "+hostport", "+rcon_password", "+hostname", "+tv_port", "-binary",
                                            "-debug", "-gdb", "-debuglog", "-pidfile", "-norestart",
                                            "-autoupdate", "-steam_dir", "-steamcmd_script", "-timeout",
                                            "-ip" };

static const char *check_arg(const char *line, size_t len) {
        if (len > 128)
                return "A launch argument has at most 128 characters.";
        if (!printable(line, len))
                return "Launch arguments cannot contain control characters.";
        for (size_t i = 0; i < len; i++)
                if (strchr(" \t*?[]\"'\\$`;&|<>(){}", line[i]))
                        return "One launch argument a line, without spaces, quotes or shell characters; "
                               "write a value on the next line.";
        for (size_t m = 0; m < ELEMENTSOF(managed_args); m++)
                if (strlen(managed_args[m]) == len && strncasecmp(line, managed_args[m], len) == 0)
                        return "This launch argument is set by left4me (map, players, tickrate, ports, name) "
                               "or not allowed; use the blueprint's own fields.";
        return NULL;
}

static bool map_is_valid(const char *m) {
        size_t n = strlen(m);
        if (n == 0 || n > 64)
                return false;
        for (const char *p = m; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_' || *p == '-' || *p == '.'))
                        return false;
        return true;
}

static void take_text(const Req *r, const char *field, char **dst, size_t max_lines, line_check_fn fn,
                      FieldErrors *e, const char *what) {
        const char *v = form_get(r, field);
        if (!v)
                v = "";
        free(*dst);
        if (strlen(v) > TEXTAREA_MAX) {
                *dst = strdup("");
                errors_add(e, field, "%s: at most %d characters.", what, TEXTAREA_MAX);
                return;
        }
        size_t lines;
        *dst = normalize_lines(v, &lines);
        if (!*dst) {
                errors_add(e, field, "Out of memory.");
                return;
        }
        if (lines > max_lines) {
                errors_add(e, field, "%s: at most %zu lines.", what, max_lines);
                return;
        }
        const char *m = check_lines(*dst, fn);
        if (m)
                errors_add(e, field, "%s", m);
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
        if (!map_is_valid(map))
                errors_add(e, "map", "Enter a map name such as c1m1_hotel (letters, digits, '_', '-', '.').");
        snprintf(b->map, sizeof b->map, "%s", strlen(map) < sizeof b->map ? map : "");

        const char *mp = form_get(r, "maxplayers");
        if (parse_long(mp ? mp : "", 1, 32, &b->maxplayers) < 0) {
                errors_add(e, "maxplayers", "Max players is a number from 1 to 32.");
                b->maxplayers = 0;
        }
        const char *tr = form_get(r, "tickrate");
        if (parse_long(tr ? tr : "", 10, 128, &b->tickrate) < 0) {
                errors_add(e, "tickrate", "Tickrate is a number from 10 to 128.");
                b->tickrate = 0;
        }
        take_text(r, "overlays", &b->overlays, 16, check_overlay, e, "Overlays");
        take_text(r, "server_cfg", &b->server_cfg, 200, check_cfg, e, "server.cfg");
        take_text(r, "cvars", &b->cvars, 200, check_cvar, e, "Cvars");
        take_text(r, "args", &b->args, 32, check_arg, e, "Launch arguments");
        if (!errors_get(e, "overlays")) {
                /* The same overlay twice would be a mistake; say so. */
                const char *p = b->overlays;
                while (*p) {
                        const char *end = strchrnul(p, '\n');
                        size_t len = (size_t) (end - p);
                        for (const char *q = *end ? end + 1 : end; *q;) {
                                const char *qe = strchrnul(q, '\n');
                                if ((size_t) (qe - q) == len && memcmp(p, q, len) == 0) {
                                        errors_add(e, "overlays", "Each overlay may appear once.");
                                        goto done;
                                }
                                q = *qe ? qe + 1 : qe;
                        }
                        p = *end ? end + 1 : end;
                }
        }
done:
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

char *blueprint_spec(const Blueprint *b, const char *hostname, int game_port) {
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
        char *text = json_dumps(spec, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
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
