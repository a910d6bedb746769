#include <string.h>
#include <strings.h>

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
static bool take_text(const char *v, const char *field, char **dst, FieldErrors *e, const char *what) {
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
static void take_list(const char *text, const char *field, SpecList l, char **dst, FieldErrors *e,
                      const char *what) {
        if (!take_text(text, field, dst, e, what))
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
static void take_cvars(const char *text, Blueprint *b, FieldErrors *e) {
        if (!take_text(text, "cvars", &b->cvars, e, "Cvars"))
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

/* The update policy (issue 14), by the spec rules: empty fields keep the
 * defaults (follow, hold, no deadline). */
static void take_update(const BlueprintFields *in, Blueprint *b, FieldErrors *e) {
        const char *build = in->update_build && *in->update_build ? in->update_build : "follow";
        const char *m = spec_check_build(build);
        if (m || strlen(build) >= sizeof b->update_build)
                errors_add(e, "update_build", "Game build: '%.30s' %s.", build, m ? m : "is too long");
        snprintf(b->update_build, sizeof b->update_build, "%s", m || streq(build, "follow") ? "" : build);
        const char *pol = in->on_canary_failure && *in->on_canary_failure ? in->on_canary_failure : "hold";
        if ((m = spec_check_canary_failure(pol)))
                errors_add(e, "on_canary_failure", "When a trial run fails: '%.30s' %s.", pol, m);
        snprintf(b->on_canary_failure, sizeof b->on_canary_failure, "%s", m ? "hold" : pol);
        const char *dl = in->update_deadline ? in->update_deadline : "";
        long secs = 0;
        if (*dl && (m = spec_parse_deadline(dl, &secs)))
                errors_add(e, "update_deadline", "Update deadline: '%.30s' %s.", dl, m);
        snprintf(b->update_deadline, sizeof b->update_deadline, "%s", *dl && !m && secs > 0 ? dl : "");
}

bool blueprint_validate(const BlueprintFields *in, Blueprint *b, FieldErrors *e) {
        const char *name = in->name ? in->name : "";
        const char *m = title_problem(name);
        if (m)
                errors_add(e, "name", "%s", m);
        snprintf(b->name, sizeof b->name, "%s", strlen(name) < sizeof b->name ? name : "");

        const char *map = in->map ? in->map : "";
        if ((m = spec_check_map(map)))
                errors_add(e, "map", "Map: '%.60s' %s.", map, m);
        snprintf(b->map, sizeof b->map, "%s", strlen(map) < sizeof b->map ? map : "");

        if (parse_long(in->maxplayers ? in->maxplayers : "", SPEC_MAXPLAYERS_MIN, SPEC_MAXPLAYERS_MAX, &b->maxplayers) < 0) {
                errors_add(e, "maxplayers", "Max players is a number from %d to %d.", SPEC_MAXPLAYERS_MIN,
                           SPEC_MAXPLAYERS_MAX);
                b->maxplayers = 0;
        }
        if (parse_long(in->tickrate ? in->tickrate : "", SPEC_TICKRATE_MIN, SPEC_TICKRATE_MAX, &b->tickrate) < 0) {
                errors_add(e, "tickrate", "Tickrate is a number from %d to %d.", SPEC_TICKRATE_MIN,
                           SPEC_TICKRATE_MAX);
                b->tickrate = 0;
        }
        take_list(in->overlays, "overlays", SPEC_OVERLAYS, &b->overlays, e, "Overlays");
        take_list(in->server_cfg, "server_cfg", SPEC_SERVER_CFG, &b->server_cfg, e, "server.cfg");
        take_cvars(in->cvars, b, e);
        take_list(in->args, "args", SPEC_ARGS, &b->args, e, "Launch arguments");
        take_update(in, b, e);
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

char *blueprint_spec(const Blueprint *b, const char *server_name, const char *build_pin) {
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
        /* The server's own pin wins over its blueprint's. */
        const char *build = build_pin && *build_pin ? build_pin : b->update_build;
        if (*build && !spec_check_build(build))
                json_object_set_new(spec, "build", json_string(build));
        if (streq(b->on_canary_failure, "degrade"))
                json_object_set_new(spec, "on_canary_failure", json_string("degrade"));
        if (b->update_deadline[0])
                json_object_set_new(spec, "update_deadline", json_string(b->update_deadline));
        /* UTF-8 as it is, not \u escapes: YAML takes no surrogate pairs, so
         * an escaped character past U+FFFF (an emoji) would not parse. */
        char *text = json_dumps(spec, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(spec);
        return text;
}


void server_drift(const char *desired, const char *state, int restarts, char *buf, size_t size) {
        buf[0] = '\0';
        if (streq(desired, "running")) {
                if (streq(state, "crashed"))
                        snprintf(buf, size,
                                 restarts >= 3 ? "Crash loop: the server crashed %d times in a row and is no longer "
                                                 "restarted. Check its log, then start it again."
                                               : "Crashed: the game server exited unexpectedly (%d restarts). Check its "
                                                 "log, then start it again.",
                                 restarts);
                else if (streq(state, "stopped"))
                        snprintf(buf, size, "Stopped outside the panel (or killed, e.g. out of memory). Start it "
                                            "again to bring it back.");
                else if (streq(state, "absent"))
                        snprintf(buf, size, "The instance is missing on the host. Start it again to recreate it.");
                else if (streq(state, "unresponsive"))
                        snprintf(buf, size, "Unresponsive: the game server runs but has not answered queries for a "
                                            "while (hung, or busy loading). Restart it if this lasts.");
        } else if (streq(desired, "stopped") && (streq(state, "running") || streq(state, "starting") ||
                                                 streq(state, "unresponsive"))) {
                snprintf(buf, size, "Running, although it was stopped in the panel: it was started outside the panel.");
        }
}
