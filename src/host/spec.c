#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "spec.h"
#include "strutil.h"

void spec_free(Spec *s) {
        free(s->map);
        free(s->hostname);
        free(s->rcon_password);
        strv_free(s->overlays);
        strv_free(s->cvar_names);
        strv_free(s->cvar_values);
        strv_free(s->server_cfg);
        strv_free(s->args);
        free(s->build);
        *s = (Spec) { 0 };
}

static void spec_freep(Spec *s) {
        spec_free(s);
}

/* ---- YAML ---- */
/* What a value may be is decided in src/rules/spec-rules.c, which the panel
 * asks too; this part only walks the YAML and names the line at fault. */

typedef struct Ctx {
        yaml_document_t *doc;
        const char *source;
        Error *err;
} Ctx;

static int fail(Ctx *x, yaml_node_t *n, int code, const char *fmt, ...) _printf_(4, 5);
static int fail(Ctx *x, yaml_node_t *n, int code, const char *fmt, ...) {
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        return error_set(x->err, code, "%s:%zu: %s", x->source, n ? n->start_mark.line + 1 : 1, msg);
}

static const char *scalar(yaml_node_t *n) {
        return n && n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

/* echo: name the value in the message (not for passwords). */
static int get_string(Ctx *x, const char *key, yaml_node_t *n, const char *(*check)(const char *), bool echo,
                      char **ret) {
        const char *v = scalar(n);
        if (!v)
                return fail(x, n, -EINVAL, "'%s' must be a string", key);
        const char *problem = check(v);
        if (problem && echo)
                return fail(x, n, -EINVAL, "'%s': '%.80s' %s", key, v, problem);
        if (problem)
                return fail(x, n, -EINVAL, "'%s' %s", key, problem);
        char *d = strdup(v);
        if (!d)
                return -ENOMEM;
        free(*ret);
        *ret = d;
        return 0;
}

static int get_long(Ctx *x, const char *key, yaml_node_t *n, long min, long max, long *ret) {
        const char *v = scalar(n);
        if (!v || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return fail(x, n, -EINVAL, "'%s' must be a whole number", key);
        int r = parse_long(v, min, max, ret);
        if (r == -ERANGE)
                return fail(x, n, -ERANGE, "'%s': %.40s is not between %ld and %ld", key, v, min, max);
        if (r < 0)
                return fail(x, n, -EINVAL, "'%s': '%.40s' is not a whole number", key, v);
        return 0;
}

/* Checks a list read from the YAML and names the entry at fault. */
static int check_list(Ctx *x, SpecList l, yaml_node_t *list, yaml_node_t **items, char **v, size_t n) {
        size_t bad;
        const char *problem = spec_check_list(l, v, n, &bad);
        if (!problem)
                return 0;
        const char *key = spec_list_key(l);
        if (bad == n)
                return fail(x, list, -E2BIG, "'%s' %s", key, problem);
        if (l == SPEC_SERVER_CFG)
                return fail(x, items ? items[bad] : list, -EINVAL, "'%s': line %zu %s", key, bad + 1, problem);
        return fail(x, items[bad], -EINVAL, "'%s': '%.80s' %s", key, v[bad], problem);
}

static int get_list(Ctx *x, SpecList l, yaml_node_t *n, char ***ret, size_t *ret_n) {
        const char *key = spec_list_key(l);
        if (n->type != YAML_SEQUENCE_NODE)
                return fail(x, n, -EINVAL, "'%s' must be a list", key);
        size_t count = (size_t) (n->data.sequence.items.top - n->data.sequence.items.start);
        if (count > spec_list_max(l))
                return fail(x, n, -E2BIG, "'%s' has %zu entries; at most %zu are allowed", key, count,
                            spec_list_max(l));
        _cleanup_strv_ char **v = NULL;
        _cleanup_free_ yaml_node_t **nodes = calloc(count + 1, sizeof *nodes);
        size_t k = 0;
        if (!nodes)
                return -ENOMEM;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
                yaml_node_t *item = yaml_document_get_node(x->doc, *it);
                const char *s = scalar(item);
                if (!s)
                        return fail(x, item, -EINVAL, "'%s' entries must be strings", key);
                nodes[k] = item;
                if (strv_push_dup(&v, &k, s) < 0)
                        return -ENOMEM;
        }
        if (!v && !(v = calloc(1, sizeof(char *))))
                return -ENOMEM;
        int r = check_list(x, l, n, nodes, v, k);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        *ret_n = k;
        return 0;
}

static int get_cvars(Ctx *x, yaml_node_t *n, Spec *s) {
        if (n->type != YAML_MAPPING_NODE)
                return fail(x, n, -EINVAL, "'cvars' must be a mapping of name: value");
        size_t count = (size_t) (n->data.mapping.pairs.top - n->data.mapping.pairs.start);
        if (count > SPEC_MAX_CVARS)
                return fail(x, n, -E2BIG, "'cvars': at most %d are allowed", SPEC_MAX_CVARS);
        _cleanup_strv_ char **names = NULL, **values = NULL;
        size_t k = 0, kv = 0;
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
                yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
                const char *name = scalar(kn), *v = scalar(vn);
                if (!name)
                        return fail(x, kn, -EINVAL, "'cvars': a cvar name must be a string");
                if (!v)
                        return fail(x, vn, -EINVAL, "'cvars': '%.80s' must have a single value", name);
                if (strv_push_dup(&names, &k, name) < 0 || strv_push_dup(&values, &kv, v) < 0)
                        return -ENOMEM;
        }
        size_t bad;
        bool in_value;
        const char *problem = spec_check_cvars(names, values, k, &bad, &in_value);
        if (problem) {
                yaml_node_pair_t *p = n->data.mapping.pairs.start + bad;
                if (in_value)
                        return fail(x, yaml_document_get_node(x->doc, p->value), -EINVAL,
                                    "'cvars': the value of '%s' %s", names[bad], problem);
                return fail(x, yaml_document_get_node(x->doc, p->key), -EINVAL, "'cvars': '%.80s' %s", names[bad],
                            problem);
        }
        s->cvar_names = k ? TAKE_PTR(names) : NULL;
        s->cvar_values = k ? TAKE_PTR(values) : NULL;
        s->n_cvars = k;
        return 0;
}

static int get_server_cfg(Ctx *x, yaml_node_t *n, Spec *s) {
        if (n->type == YAML_SEQUENCE_NODE)
                return get_list(x, SPEC_SERVER_CFG, n, &s->server_cfg, &s->n_server_cfg);
        const char *v = scalar(n);
        if (!v)
                return fail(x, n, -EINVAL, "'server_cfg' must be a block of lines or a list of lines");
        /* A block of text: its lines, checked as the list's entries. */
        _cleanup_strv_ char **lines = NULL;
        size_t k;
        if (strv_split_lines(v, SPEC_MAX_CFG_LINES, &lines, &k) < 0)
                return -ENOMEM;
        int r = check_list(x, SPEC_SERVER_CFG, n, NULL, lines, k);
        if (r < 0)
                return r;
        s->server_cfg = TAKE_PTR(lines);
        s->n_server_cfg = k;
        return 0;
}

static const char *const known_keys[] = { "port", "map", "maxplayers", "tickrate", "hostname", "rcon_password",
                                          "overlays", "cvars", "server_cfg", "args", "build", "on_canary_failure",
                                          "update_deadline" };

int spec_parse_yaml(const char *text, size_t len, const char *source, long port_min, long port_max, Spec *ret,
                    Error *err) {
        if (len > SPEC_MAX_BYTES)
                return error_set(err, -EFBIG, "%s: the spec is larger than %d KiB", source, SPEC_MAX_BYTES / 1024);
        if (memchr(text, '\0', len))
                return error_set(err, -EINVAL, "%s: the spec contains a NUL byte; it must be YAML text", source);
        /* YAML takes U+0085, U+2028 and U+2029 as line breaks and folds
         * them into spaces inside quotes: the value would silently differ
         * from the one written (and from the one the panel showed). */
        for (size_t i = 0; i + 1 < len; i++) {
                const unsigned char *u = (const unsigned char *) text + i;
                if ((u[0] == 0xc2 && u[1] == 0x85) || (i + 2 < len && u[0] == 0xe2 && u[1] == 0x80 &&
                                                       (u[2] == 0xa8 || u[2] == 0xa9)))
                        return error_set(err, -EINVAL,
                                         "%s: the spec contains a Unicode line break (U+0085, U+2028 or U+2029); "
                                         "write a newline or leave it out", source);
        }
        /* libyaml's scanner is quadratic in the depth of flow collections
         * ([[[[...): refuse absurd nesting before it burns seconds of CPU.
         * Brackets inside quoted strings count too; 32 is far above any spec. */
        int depth = 0;
        for (size_t i = 0; i < len; i++) {
                if (text[i] == '[' || text[i] == '{')
                        depth++;
                else if ((text[i] == ']' || text[i] == '}') && depth > 0)
                        depth--;
                if (depth > 32)
                        return error_set(err, -EINVAL, "%s: brackets are nested more than 32 deep", source);
        }

        yaml_parser_t parser;
        yaml_document_t doc;
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
        if (!yaml_parser_load(&parser, &doc)) {
                int r = error_set(err, -EINVAL, "%s:%zu: malformed YAML: %s", source,
                                  parser.problem_mark.line + 1, parser.problem ? parser.problem : "parse error");
                yaml_parser_delete(&parser);
                return r;
        }
        yaml_parser_delete(&parser);

        Ctx x = { .doc = &doc, .source = source, .err = err };
        _cleanup_(spec_freep) Spec s = { .maxplayers = 8 };
        int r = 0;
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root && root->type == YAML_SCALAR_NODE && !*root->data.scalar.value)
                root = NULL; /* an empty document: all defaults */
        if (root && root->type != YAML_MAPPING_NODE) {
                r = fail(&x, root, -EINVAL, "the spec must be a mapping of keys (port, map, ...)");
                goto out;
        }

        bool seen[ELEMENTSOF(known_keys)] = { 0 };
        for (yaml_node_pair_t *p = root ? root->data.mapping.pairs.start : NULL; root && p < root->data.mapping.pairs.top;
             p++) {
                yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
                yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
                const char *k = scalar(kn);
                size_t i;
                for (i = 0; k && i < ELEMENTSOF(known_keys); i++)
                        if (streq(k, known_keys[i]))
                                break;
                if (!k || i == ELEMENTSOF(known_keys)) {
                        r = fail(&x, kn, -EINVAL,
                                 "unknown key '%s' (known: port, map, maxplayers, tickrate, hostname, rcon_password, "
                                 "overlays, cvars, server_cfg, args, build, on_canary_failure, update_deadline)",
                                 k ? k : "?");
                        goto out;
                }
                if (seen[i]) {
                        r = fail(&x, kn, -EINVAL, "'%s' is given twice", k);
                        goto out;
                }
                seen[i] = true;
                if (vn->type == YAML_SCALAR_NODE && vn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                    (!*vn->data.scalar.value || streq((char *) vn->data.scalar.value, "null") ||
                     streq((char *) vn->data.scalar.value, "~")))
                        continue; /* "key:" with no value keeps the default */

                if (streq(k, "port")) {
                        r = get_long(&x, k, vn, 1, 65535, &s.port);
                        if (r == 0 && (s.port < port_min || s.port + 1 > port_max))
                                r = fail(&x, vn, -ERANGE,
                                         "'port': %ld is outside the port range %ld-%ld (the SourceTV port %ld must fit too)",
                                         s.port, port_min, port_max, s.port + 1);
                } else if (streq(k, "map"))
                        r = get_string(&x, k, vn, spec_check_map, true, &s.map);
                else if (streq(k, "maxplayers"))
                        r = get_long(&x, k, vn, SPEC_MAXPLAYERS_MIN, SPEC_MAXPLAYERS_MAX, &s.maxplayers);
                else if (streq(k, "tickrate"))
                        r = get_long(&x, k, vn, SPEC_TICKRATE_MIN, SPEC_TICKRATE_MAX, &s.tickrate);
                else if (streq(k, "hostname"))
                        r = get_string(&x, k, vn, spec_check_hostname, false, &s.hostname);
                else if (streq(k, "rcon_password"))
                        r = get_string(&x, k, vn, spec_check_rcon_password, false, &s.rcon_password);
                else if (streq(k, "overlays"))
                        r = get_list(&x, SPEC_OVERLAYS, vn, &s.overlays, &s.n_overlays);
                else if (streq(k, "cvars"))
                        r = get_cvars(&x, vn, &s);
                else if (streq(k, "server_cfg"))
                        r = get_server_cfg(&x, vn, &s);
                else if (streq(k, "args"))
                        r = get_list(&x, SPEC_ARGS, vn, &s.args, &s.n_args);
                else if (streq(k, "build")) {
                        r = get_string(&x, k, vn, spec_check_build, true, &s.build);
                        if (r == 0 && streq(s.build, SPEC_BUILD_FOLLOW)) {
                                free(s.build);
                                s.build = NULL;
                        }
                } else if (streq(k, "on_canary_failure")) {
                        _cleanup_free_ char *v = NULL;
                        r = get_string(&x, k, vn, spec_check_canary_failure, true, &v);
                        s.canary_degrade = r == 0 && streq(v, "degrade");
                } else if (streq(k, "update_deadline")) {
                        const char *v = scalar(vn), *problem = v ? spec_parse_deadline(v, &s.update_deadline) : NULL;
                        if (!v)
                                r = fail(&x, vn, -EINVAL, "'%s' must be a duration", k);
                        else if (problem)
                                r = fail(&x, vn, -EINVAL, "'%s': '%.40s' %s", k, v, problem);
                }
                if (r < 0)
                        goto out;
        }
        if (!s.map && !(s.map = strdup(SPEC_DEFAULT_MAP))) {
                r = -ENOMEM;
                goto out;
        }
        *ret = s;
        s = (Spec) { 0 };
out:
        yaml_document_delete(&doc);
        return r;
}

/* ---- the stored form ---- */

static json_t *strv_to_json(char **v, size_t n) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

json_t *spec_to_json(const Spec *s) {
        json_t *cvars = json_object();
        for (size_t i = 0; cvars && i < s->n_cvars; i++)
                json_object_set_new(cvars, s->cvar_names[i], json_string(s->cvar_values[i]));
        return json_pack("{s:I, s:s, s:I, s:I, s:s*, s:s*, s:o, s:o, s:o, s:o, s:s, s:s, s:I}", "port",
                         (json_int_t) s->port, "map", s->map, "maxplayers", (json_int_t) s->maxplayers, "tickrate",
                         (json_int_t) s->tickrate, "hostname", s->hostname, "rcon_password", s->rcon_password,
                         "overlays", strv_to_json(s->overlays, s->n_overlays), "cvars", cvars, "server_cfg",
                         strv_to_json(s->server_cfg, s->n_server_cfg), "args", strv_to_json(s->args, s->n_args),
                         "build", s->build ? s->build : SPEC_BUILD_FOLLOW, "on_canary_failure",
                         s->canary_degrade ? "degrade" : "hold", "update_deadline", (json_int_t) s->update_deadline);
}

static int json_to_strv(json_t *a, char ***ret, size_t *ret_n) {
        if (!json_is_array(a))
                return -EINVAL;
        _cleanup_strv_ char **v = calloc(1, sizeof(char *));
        size_t n = 0;
        if (!v)
                return -ENOMEM;
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e) {
                const char *str = json_string_value(e);
                if (!str)
                        return -EINVAL;
                if (strv_push_dup(&v, &n, str) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

int spec_from_json(json_t *j, Spec *ret, Error *err) {
        _cleanup_(spec_freep) Spec s = { 0 };
        json_int_t port = 0, maxplayers = 8, tickrate = 0;
        const char *map = NULL, *hostname = NULL, *pw = NULL, *build = SPEC_BUILD_FOLLOW, *canary = "hold";
        json_t *overlays = NULL, *cvars = NULL, *cfg = NULL, *args = NULL;
        json_int_t deadline = 0;
        json_error_t je;
        /* The update keys came later: a spec stored before them follows. */
        if (json_unpack_ex(j, &je, 0, "{s:I, s:s, s:I, s:I, s?s, s?s, s:o, s:o, s:o, s:o, s?s, s?s, s?I}", "port", &port,
                           "map", &map, "maxplayers", &maxplayers, "tickrate", &tickrate, "hostname", &hostname,
                           "rcon_password", &pw, "overlays", &overlays, "cvars", &cvars, "server_cfg", &cfg, "args",
                           &args, "build", &build, "on_canary_failure", &canary, "update_deadline", &deadline) < 0)
                return error_set(err, -EBADMSG, "stored spec is damaged: %s", je.text);
        if (spec_check_build(build) || spec_check_canary_failure(canary) || deadline < 0 ||
            deadline > SPEC_DEADLINE_MAX)
                return error_set(err, -EBADMSG, "stored spec is damaged: bad build, on_canary_failure or update_deadline");
        if (!streq(build, SPEC_BUILD_FOLLOW) && !(s.build = strdup(build)))
                return -ENOMEM;
        s.canary_degrade = streq(canary, "degrade");
        s.update_deadline = (long) deadline;
        s.port = (long) port;
        s.maxplayers = (long) maxplayers;
        s.tickrate = (long) tickrate;
        if (spec_check_map(map) || (hostname && spec_check_hostname(hostname)) ||
            (pw && spec_check_rcon_password(pw)))
                return error_set(err, -EBADMSG, "stored spec is damaged: bad map, hostname or password");
        s.map = strdup(map);
        s.hostname = hostname ? strdup(hostname) : NULL;
        s.rcon_password = pw ? strdup(pw) : NULL;
        if (!s.map || (hostname && !s.hostname) || (pw && !s.rcon_password))
                return -ENOMEM;
        size_t bad;
        /* The overlay names become paths, the cvars lines of server.cfg:
         * those are checked again; the other lists are only strings. */
        if (json_to_strv(overlays, &s.overlays, &s.n_overlays) < 0 ||
            spec_check_list(SPEC_OVERLAYS, s.overlays, s.n_overlays, &bad) ||
            json_to_strv(cfg, &s.server_cfg, &s.n_server_cfg) < 0 || json_to_strv(args, &s.args, &s.n_args) < 0 ||
            !json_is_object(cvars))
                return error_set(err, -EBADMSG, "stored spec is damaged: bad overlays, server_cfg, args or cvars");
        const char *k;
        json_t *v;
        json_object_foreach(cvars, k, v) {
                const char *val = json_string_value(v);
                if (!val || spec_check_cvar_name(k) || spec_check_cvar_value(val))
                        return error_set(err, -EBADMSG, "stored spec is damaged: bad cvar '%s'", k);
                size_t n1 = s.n_cvars, n2 = s.n_cvars;
                if (strv_push_dup(&s.cvar_names, &n1, k) < 0 || strv_push_dup(&s.cvar_values, &n2, val) < 0)
                        return -ENOMEM;
                s.n_cvars++;
        }
        *ret = s;
        s = (Spec) { 0 };
        return 0;
}

char *spec_server_cfg(const Spec *s, const char *instance) {
        Buf b = BUF_INIT(0);
        int r = buf_puts(&b, "// Written by left4me at every start; edit the instance's spec instead.\n");
        if (s->hostname)
                r |= buf_printf(&b, "hostname \"%s\"\n", s->hostname);
        else
                r |= buf_printf(&b, "hostname \"left4me %s\"\n", instance);
        if (s->rcon_password)
                r |= buf_printf(&b, "rcon_password \"%s\"\n", s->rcon_password);
        for (size_t i = 0; i < s->n_cvars; i++)
                r |= buf_printf(&b, "%s \"%s\"\n", s->cvar_names[i], s->cvar_values[i]);
        for (size_t i = 0; i < s->n_server_cfg; i++)
                r |= buf_printf(&b, "%s\n", s->server_cfg[i]);
        if (r < 0) {
                buf_free(&b);
                return NULL;
        }
        return b.data;
}

int spec_launch_argv(const Spec *s, const char *srcds_run, char ***ret) {
        _cleanup_strv_ char **v = NULL;
        size_t n = 0;
        char num[32];
        int r = strv_push_dup(&v, &n, srcds_run);
        r |= strv_push_dup(&v, &n, "-game");
        r |= strv_push_dup(&v, &n, "left4dead2");
        snprintf(num, sizeof num, "%ld", s->port);
        r |= strv_push_dup(&v, &n, "-port");
        r |= strv_push_dup(&v, &n, num);
        r |= strv_push_dup(&v, &n, "+map");
        r |= strv_push_dup(&v, &n, s->map);
        snprintf(num, sizeof num, "%ld", s->maxplayers);
        r |= strv_push_dup(&v, &n, "-maxplayers");
        r |= strv_push_dup(&v, &n, num);
        if (s->tickrate > 0) {
                snprintf(num, sizeof num, "%ld", s->tickrate);
                r |= strv_push_dup(&v, &n, "-tickrate");
                r |= strv_push_dup(&v, &n, num);
        }
        /* SourceTV on the port reserved for it, not the engine's default. */
        snprintf(num, sizeof num, "%ld", s->port + 1);
        r |= strv_push_dup(&v, &n, "+tv_port");
        r |= strv_push_dup(&v, &n, num);
        /* srcds_run would otherwise restart a crashed server by itself, and
         * neither the supervisor nor systemd would ever see the crash. */
        r |= strv_push_dup(&v, &n, "-norestart");
        for (size_t i = 0; i < s->n_args; i++)
                r |= strv_push_dup(&v, &n, s->args[i]);
        if (r < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(v);
        return 0;
}
