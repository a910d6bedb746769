/* The rules of an instance spec, written once. l4d2ctl's spec reader
 * (src/host/spec.c) and the panel's blueprint form (src/web) both ask these
 * functions, so the panel refuses exactly what `l4d2ctl initialize` refuses,
 * at the field, instead of as a failed start later.
 *
 * Pure checks on strings: no I/O, no allocation, no messages printed; this
 * folder depends on basic only, so linking it drags neither the host
 * library into the panel nor the panel into the host.
 *
 * Every check returns NULL when the value is allowed, else a reason that
 * reads after the value or the key: "'c1m1.hotel' is not a map name (...)".
 * The reasons are static strings; each side frames them its own way. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define SPEC_DEFAULT_MAP "c1m1_hotel"
#define SPEC_MAP_MAX 64
#define SPEC_HOSTNAME_MAX 63 /* bytes */
#define SPEC_RCON_PASSWORD_MAX 64
#define SPEC_MAXPLAYERS_MIN 1
#define SPEC_MAXPLAYERS_MAX 32
#define SPEC_TICKRATE_MIN 10
#define SPEC_TICKRATE_MAX 128
#define SPEC_CVAR_NAME_MAX 64
#define SPEC_CVAR_VALUE_MAX 255
#define SPEC_MAX_CVARS 256
#define SPEC_MAX_OVERLAYS 32
#define SPEC_MAX_CFG_LINES 512
#define SPEC_CFG_LINE_MAX 256
#define SPEC_MAX_ARGS 32
#define SPEC_ARG_MAX 128

const char *spec_check_map(const char *v);
const char *spec_check_hostname(const char *v);
const char *spec_check_rcon_password(const char *v);
const char *spec_check_cvar_name(const char *v);
const char *spec_check_cvar_value(const char *v);

/* Game updates (issue 14). `build`: "follow" (the newest build that passed
 * the canary of the server's overlays) or a build id that pins one.
 * `on_canary_failure`: "hold" (the default: stay on the last passing build)
 * or "degrade" (move onto the new build without the overlays the canary
 * named). `update_deadline`: how long a server with players may stay on
 * the old build once a new one passed, as a number with s, m, h or d (or
 * none, "0"); parsed into seconds by spec_parse_deadline. */
#define SPEC_BUILD_FOLLOW "follow"
#define SPEC_DEADLINE_MAX (30L * 86400L) /* 30 days */
const char *spec_check_build(const char *v);
const char *spec_check_canary_failure(const char *v);
const char *spec_parse_deadline(const char *v, long *ret_seconds);

/* The spec's lists of strings. */
typedef enum SpecList {
        SPEC_OVERLAYS,   /* overlay names, first = highest precedence */
        SPEC_SERVER_CFG, /* extra server.cfg lines, verbatim */
        SPEC_ARGS,       /* extra launch arguments */
        _SPEC_LIST_N,
} SpecList;

/* The key in the spec ("overlays", "server_cfg", "args") and the most
 * entries the list may have. */
const char *spec_list_key(SpecList l);
size_t spec_list_max(SpecList l);

/* Checks a whole list: its length, every entry, and that no overlay is
 * listed twice. On a problem *ret_index is the entry at fault, or n when the
 * list has too many entries. */
const char *spec_check_list(SpecList l, char *const *v, size_t n, size_t *ret_index);

/* Checks the cvars (names[i] = values[i]): their number, every name and
 * value, and that no name is set twice (cvar names ignore case, as the
 * engine does). On a problem *ret_index is the cvar at fault (n: too many)
 * and *ret_in_value tells whether its value, not its name, is at fault. */
const char *spec_check_cvars(char *const *names, char *const *values, size_t n, size_t *ret_index,
                             bool *ret_in_value);

/* Writes into buf (size > SPEC_HOSTNAME_MAX) a hostname that passes
 * spec_check_hostname, made from free text such as a server's name:
 * control characters become spaces, '"' becomes '\'', and the text is cut
 * at SPEC_HOSTNAME_MAX bytes on a character boundary; an empty result
 * becomes fallback (itself a valid hostname). */
void spec_make_hostname(const char *text, const char *fallback, char *buf, size_t size);
