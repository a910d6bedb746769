/* The panel's objects as pages, jobs and the watch see them, and the rules
 * that need no database: validating a blueprint, the spec l4d2ctl gets
 * from it, the drift text of a server. Where they are stored is the
 * svc-*.c modules' business (one per table). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "web.h"

typedef struct Blueprint {
        int64_t id, user_id;
        char name[TITLE_MAX * 4 + 1];
        char map[65];
        long maxplayers, tickrate;
        char *overlays, *server_cfg, *cvars, *args; /* normalized: lines joined by '\n' */
        /* Game updates (issue 14), the spec keys: */
        char update_build[24];       /* "" follows the newest passing build; else a build id */
        char on_canary_failure[16];  /* "hold" or "degrade" */
        char update_deadline[16];    /* "" none; else a duration as typed (6h) */
} Blueprint;

void blueprint_free(Blueprint *b);

/* A blueprint as typed (a form, later a JSON body); NULL fields are empty. */
typedef struct BlueprintFields {
        const char *name, *map, *maxplayers, *tickrate, *overlays, *cvars, *server_cfg, *args;
        const char *update_build, *on_canary_failure, *update_deadline; /* NULL/empty: the defaults */
} BlueprintFields;

/* Reads the fields into b (keeping what was typed) and fills e with a
 * message per bad field, by the spec rules l4d2ctl enforces
 * (src/rules/spec-rules.h). Returns true if everything is valid. */
bool blueprint_validate(const BlueprintFields *in, Blueprint *b, FieldErrors *e);

/* The instance spec l4d2ctl initialize reads. JSON is valid YAML, and
 * jansson's escaping keeps every user value a plain string. The hostname is
 * made from the server's name (spec_make_hostname). No port: l4d2ctl
 * allocates one (and may move it). build_pin: the game build the server is
 * pinned to ("" or NULL: the blueprint's update_build). */
char *blueprint_spec(const Blueprint *b, const char *server_name, const char *build_pin);

typedef struct Server {
        int64_t id, user_id, blueprint_id;
        char name[TITLE_MAX * 4 + 1];
        char instance[16];
        char owner[USERNAME_MAX + 1];
        char blueprint_name[TITLE_MAX * 4 + 1];
        char desired[16], state[16], health[16];
        char map[65];
        char drift[256], detail[256];
        int game_port, tv_port, players, maxplayers, restarts; /* -1: unknown */
        bool deleting;
        int64_t observed_at, state_since;
} Server;

/* What a difference between what the owner asked for (desired) and what
 * the host reports (state) means, for the server's page; "" when there is
 * none. */
void server_drift(const char *desired, const char *state, int restarts, char *buf, size_t size);

/* Title fields (server and blueprint names): 1-64 characters, no control
 * characters, not only spaces. NULL or a message. */
const char *title_problem(const char *s);
