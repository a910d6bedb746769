/* An instance's spec: what the user writes in spec.yaml, validated, and how
 * it is stored (instance.json) and turned into server.cfg and a command line. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "spec-rules.h" /* what a value may be: shared with the panel */

#define SPEC_MAX_BYTES (64 * 1024)

typedef struct Spec {
        long port;             /* 0: allocate one at initialize */
        char *map;
        long maxplayers;
        long tickrate;         /* 0: the engine's default, no -tickrate */
        char *hostname;        /* NULL: "left4me <name>" */
        char *rcon_password;   /* NULL: generate one */
        char **overlays;       /* NULL-terminated; first = highest precedence */
        size_t n_overlays;
        char **cvar_names, **cvar_values;
        size_t n_cvars;
        char **server_cfg;     /* extra lines, verbatim */
        size_t n_server_cfg;
        char **args;           /* extra launch arguments */
        size_t n_args;
        /* Game updates (build.h): */
        char *build;           /* NULL: follow the newest passing build; else a pinned build id */
        bool canary_degrade;   /* on_canary_failure: degrade (false: hold) */
        long update_deadline;  /* seconds a server with players may stay on an old build; 0 = no deadline */
} Spec;

void spec_free(Spec *s);

/* Parses and validates YAML. `source` names the file in messages, which look
 * like "spec.yaml:3: 'port': 80 is outside the port range 27000-27999".
 * port_min/port_max is the host's range (the SourceTV port, port+1, must fit
 * too). On failure nothing is written to *ret. */
int spec_parse_yaml(const char *text, size_t len, const char *source, long port_min, long port_max, Spec *ret,
                    Error *err);

/* The stored form, and back. spec_from_json trusts only what it checks. */
json_t *spec_to_json(const Spec *s);
int spec_from_json(json_t *j, Spec *ret, Error *err);

/* The staged left4dead2/cfg/server.cfg: hostname, rcon_password, cvars, then
 * the extra lines. Returns a malloc'ed string. */
char *spec_server_cfg(const Spec *s, const char *instance);

/* The server's argv (NULL-terminated, malloc'ed strings): srcds_run -game
 * left4dead2 -port P +map M -maxplayers N [-tickrate T] args... */
int spec_launch_argv(const Spec *s, const char *srcds_run, char ***ret);
