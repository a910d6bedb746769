/* The panel's objects as the pages and jobs see them, loaded with the owner
 * check built in: a user gets their own objects, an admin every object, and
 * anyone else -ENOENT, the same answer as for an id that does not exist. */
#pragma once

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "web.h"

typedef struct Blueprint {
        int64_t id, user_id;
        char name[TITLE_MAX * 4 + 1];
        char map[65];
        long maxplayers, tickrate;
        char *overlays, *server_cfg, *cvars, *args; /* normalized: lines joined by '\n' */
} Blueprint;

void blueprint_free(Blueprint *b);
int blueprint_load(sqlite3 *db, int64_t id, const User *u, Blueprint *ret);

/* Reads the blueprint form into b (keeping what was typed) and fills e with
 * a message per bad field. Returns true if everything is valid. */
bool blueprint_from_form(const Req *r, Blueprint *b, FieldErrors *e);

/* The instance spec l4d2ctl initialize reads. JSON is valid YAML, and
 * jansson's escaping keeps every user value a plain string. The hostname is
 * made from the server's name (spec_make_hostname). */
char *blueprint_spec(const Blueprint *b, const char *server_name, int game_port);

typedef struct Server {
        int64_t id, user_id, blueprint_id;
        char name[TITLE_MAX * 4 + 1];
        char instance[16];
        char owner[USERNAME_MAX + 1];
        char blueprint_name[TITLE_MAX * 4 + 1];
        char desired[16], state[16];
        char map[65];
        char drift[256], detail[256];
        int game_port, tv_port, players, maxplayers, restarts; /* -1: unknown */
        bool deleting;
        int64_t observed_at;
} Server;

#define SERVER_COLUMNS                                                                               \
        "s.id, s.user_id, s.blueprint_id, s.name, s.instance, u.username, b.name, s.desired, s.state, " \
        "s.map, s.drift, s.detail, s.game_port, s.tv_port, s.players, s.maxplayers, s.restarts, "      \
        "s.deleting, s.observed_at"
#define SERVER_FROM " FROM servers s JOIN users u ON u.id = s.user_id JOIN blueprints b ON b.id = s.blueprint_id "

void server_from_row(sqlite3_stmt *s, Server *ret);
int server_load(sqlite3 *db, int64_t id, const User *u, Server *ret);

/* True if a job for the server is queued or running. */
bool server_busy(sqlite3 *db, int64_t server_id);

/* Applies an l4d2ctl status object to the server's row. */
int server_apply_status(sqlite3 *db, int64_t server_id, json_t *status);
#define SERVER_EVENTS_MAX 100
int server_event(sqlite3 *db, int64_t server_id, const char *kind, const char *message);

/* Title fields (server and blueprint names): 1-64 characters, no control
 * characters, not only spaces. NULL or a message. */
const char *title_problem(const char *s);
