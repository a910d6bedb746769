#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "spec-rules.h"
#include "strutil.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static bool ascii_word(const char *s, const char *extra) {
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr(extra, *p)))
                        return false;
        return true;
}

const char *spec_check_map(const char *v) {
        size_t n = strlen(v);
        if (n == 0 || n > SPEC_MAP_MAX || !ascii_word(v, "_-"))
                return "is not a map name (1-" STR(SPEC_MAP_MAX) " letters, digits, '_' and '-', e.g. c1m1_hotel)";
        return NULL;
}

/* True if s holds a character that has no place in a value: a C0 control
 * (a tab only where allowed), DEL, a C1 control (U+0080-U+009F, NEL among
 * them), a line or paragraph separator (U+2028, U+2029: YAML folds them
 * into a space), or what YAML cannot carry at all (U+FEFF, U+FFFE,
 * U+FFFF). The spec travels as YAML, so this is what keeps the value the
 * panel shows the value the server gets. */
static bool has_unprintable(const char *s, bool allow_tab) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if ((*p < 0x20 && !(allow_tab && *p == '\t')) || *p == 0x7f)
                        return true;
                if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
                        return true;
                if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
                        return true;
                if (p[0] == 0xef && ((p[1] == 0xbb && p[2] == 0xbf) || (p[1] == 0xbf && p[2] >= 0xbe)))
                        return true;
        }
        return false;
}

/* A value that goes between double quotes in server.cfg. The engine's
 * command buffer keeps ';' inside quotes, so only the quote itself and
 * control characters could break out of it. */
static const char *quoted_value(const char *v, size_t max, const char *too_long) {
        if (strlen(v) > max)
                return too_long;
        if (has_unprintable(v, false))
                return "contains a control character (newline, tab, ...)";
        if (strchr(v, '"'))
                return "contains a double quote, which a value cannot contain";
        return NULL;
}

const char *spec_check_hostname(const char *v) {
        if (!*v)
                return "must not be empty";
        return quoted_value(v, SPEC_HOSTNAME_MAX, "is too long (at most " STR(SPEC_HOSTNAME_MAX) " bytes)");
}

const char *spec_check_rcon_password(const char *v) {
        if (!*v)
                return "must not be empty";
        const char *r = quoted_value(v, SPEC_RCON_PASSWORD_MAX,
                                     "is too long (at most " STR(SPEC_RCON_PASSWORD_MAX) " characters)");
        if (r)
                return r;
        /* rcon clients split on spaces; ';' would end the command. */
        if (strpbrk(v, " ;"))
                return "must not contain spaces or ';'";
        return NULL;
}

const char *spec_check_cvar_name(const char *v) {
        size_t n = strlen(v);
        if (n == 0 || n > SPEC_CVAR_NAME_MAX || !ascii_word(v, "_"))
                return "is not a valid cvar name (1-" STR(SPEC_CVAR_NAME_MAX) " of A-Z a-z 0-9 _)";
        /* The engine ignores case: RCON_PASSWORD would set rcon_password. */
        if (strcasecmp(v, "rcon_password") == 0 || strcasecmp(v, "hostname") == 0)
                return "is set by left4me, not as a cvar";
        return NULL;
}

const char *spec_check_cvar_value(const char *v) {
        return quoted_value(v, SPEC_CVAR_VALUE_MAX, "is too long (at most " STR(SPEC_CVAR_VALUE_MAX) " characters)");
}

const char *spec_check_build(const char *v) {
        if (streq(v, SPEC_BUILD_FOLLOW) || build_id_is_valid(v))
                return NULL;
        return "is not 'follow' or a build id (a number, as 'l4d2ctl builds' lists them)";
}

const char *spec_check_canary_failure(const char *v) {
        if (streq(v, "hold") || streq(v, "degrade"))
                return NULL;
        return "is not 'hold' or 'degrade'";
}

const char *spec_parse_deadline(const char *v, long *ret_seconds) {
        static const char *const bad = "is not a duration (a number with s, m, h or d, e.g. 6h; 0 for none) of at "
                                       "most 30 days";
        size_t n = strlen(v);
        if (n == 0 || n > 12)
                return bad;
        long unit = 1;
        char num[16];
        snprintf(num, sizeof num, "%s", v);
        switch (num[n - 1]) {
        case 's': unit = 1; num[--n] = '\0'; break;
        case 'm': unit = 60; num[--n] = '\0'; break;
        case 'h': unit = 3600; num[--n] = '\0'; break;
        case 'd': unit = 86400; num[--n] = '\0'; break;
        default: break;
        }
        long x;
        if (parse_long(num, 0, SPEC_DEADLINE_MAX, &x) < 0 || x > SPEC_DEADLINE_MAX / unit)
                return bad;
        *ret_seconds = x * unit;
        return NULL;
}

/* Launch arguments left4me sets itself (a server listening somewhere the
 * port check doesn't know about), and srcds_run's own options, which run or
 * write arbitrary files (-binary, -gdb, -debuglog, -pidfile, ...) or restart
 * the server behind the supervisor's back (-norestart is always passed). */
static const char *const managed_args[] = { "-game", "-port", "+map", "-maxplayers", "+maxplayers", "-tickrate",
                                            "+hostport", "+rcon_password", "+hostname", "+tv_port", "-binary",
                                            "-debug", "-gdb", "-debuglog", "-pidfile", "-norestart",
                                            "-autoupdate", "-steam_dir", "-steamcmd_script", "-timeout",
                                            "-ip" };

static const char *check_overlay(const char *v) {
        if (!name_is_valid(v))
                return "is not a valid name (1-32 of A-Z a-z 0-9 _ -, starting with a letter or digit)";
        return NULL;
}

static const char *check_cfg_line(const char *v) {
        if (strlen(v) > SPEC_CFG_LINE_MAX)
                return "is too long (at most " STR(SPEC_CFG_LINE_MAX) " characters)";
        /* A line is written verbatim; a tab inside it is harmless. */
        if (has_unprintable(v, true))
                return "contains a control character";
        return NULL;
}

static const char *check_arg(const char *v) {
        if (strlen(v) > SPEC_ARG_MAX)
                return "is too long (at most " STR(SPEC_ARG_MAX) " characters)";
        if (has_unprintable(v, false))
                return "contains a control character";
        /* srcds_run joins its arguments with $* and splits them again: a
         * space or a glob in one would become several arguments the checks
         * below never saw. */
        if (!*v || strpbrk(v, " \t*?[]\"'\\$`;&|<>(){}"))
                return "is empty or contains a space, quote or shell character (one argument per entry, without "
                       "spaces, quotes or shell characters)";
        for (size_t m = 0; m < ELEMENTSOF(managed_args); m++)
                if (strcasecmp(v, managed_args[m]) == 0)
                        return "is set by left4me (map, players, tickrate, ports, name) or not allowed";
        return NULL;
}

static const struct {
        const char *key;
        size_t max;
        const char *(*check)(const char *v);
        const char *too_many;
} lists[_SPEC_LIST_N] = {
        [SPEC_OVERLAYS] = { "overlays", SPEC_MAX_OVERLAYS, check_overlay,
                            "has more than " STR(SPEC_MAX_OVERLAYS) " entries" },
        [SPEC_SERVER_CFG] = { "server_cfg", SPEC_MAX_CFG_LINES, check_cfg_line,
                              "has more than " STR(SPEC_MAX_CFG_LINES) " lines" },
        [SPEC_ARGS] = { "args", SPEC_MAX_ARGS, check_arg, "has more than " STR(SPEC_MAX_ARGS) " entries" },
};

const char *spec_list_key(SpecList l) {
        return lists[l].key;
}

size_t spec_list_max(SpecList l) {
        return lists[l].max;
}

const char *spec_check_list(SpecList l, char *const *v, size_t n, size_t *ret_index) {
        if (n > lists[l].max) {
                *ret_index = n;
                return lists[l].too_many;
        }
        for (size_t i = 0; i < n; i++) {
                const char *r = lists[l].check(v[i]);
                /* The same overlay twice is a mistake: its files would be
                 * both the highest and a lower layer. */
                for (size_t j = 0; !r && l == SPEC_OVERLAYS && j < i; j++)
                        if (streq(v[j], v[i]))
                                r = "is listed twice";
                if (r) {
                        *ret_index = i;
                        return r;
                }
        }
        return NULL;
}

const char *spec_check_cvars(char *const *names, char *const *values, size_t n, size_t *ret_index,
                             bool *ret_in_value) {
        *ret_in_value = false;
        if (n > SPEC_MAX_CVARS) {
                *ret_index = n;
                return "has more than " STR(SPEC_MAX_CVARS) " entries";
        }
        for (size_t i = 0; i < n; i++) {
                const char *r = spec_check_cvar_name(names[i]);
                for (size_t j = 0; !r && j < i; j++)
                        if (strcasecmp(names[j], names[i]) == 0)
                                r = "is set twice";
                if (!r && (r = spec_check_cvar_value(values[i])))
                        *ret_in_value = true;
                if (r) {
                        *ret_index = i;
                        return r;
                }
        }
        return NULL;
}

void spec_make_hostname(const char *text, const char *fallback, char *buf, size_t size) {
        size_t k = 0, limit = size - 1 < SPEC_HOSTNAME_MAX ? size - 1 : SPEC_HOSTNAME_MAX;
        for (const unsigned char *p = (const unsigned char *) text; *p;) {
                /* The whole UTF-8 sequence fits, or the text ends here. */
                size_t len = 1;
                while ((p[len] & 0xc0) == 0x80)
                        len++;
                if (k + len > limit)
                        break;
                for (size_t i = 0; i < len; i++) {
                        unsigned char c = p[i];
                        buf[k++] = (char) (c < 0x20 || c == 0x7f ? ' ' : c == '"' ? '\'' : c);
                }
                p += len;
        }
        buf[k] = '\0';
        bool visible = false;
        for (size_t i = 0; i < k; i++)
                visible |= buf[i] != ' ';
        if (!visible)
                snprintf(buf, size, "%s", fallback);
}
