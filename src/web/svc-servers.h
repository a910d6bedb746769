/* The servers and server_events tables: their SQL and their owner check,
 * written once. This is the one module that writes `servers`: pages (what
 * the owner asks for), jobs (what l4d2ctl answered) and the watch (what the
 * host reports) all go through it. */
#pragma once

#include <jansson.h>
#include <sqlite3.h>

#include "db.h"
#include "model.h"

#define SERVERS_PER_USER_MAX 100
#define SERVER_EVENTS_MAX 100

/* -ENOENT for an id that does not exist or is not u's (u NULL: any). */
int server_load(sqlite3 *db, int64_t id, const User *u, Server *ret);
/* A server as a list shows it: the few columns a row needs, and its
 * strings are not copies but the statement's own, valid until the next
 * server_row_next() (the list is rendered again each time the watch
 * reports a change: copying every row was a visible part of it). */
typedef struct ServerRow {
        int64_t id;
        const char *name, *owner, *blueprint_name, *state, *map, *drift;
        int game_port, players, maxplayers; /* -1: unknown */
        bool deleting;
} ServerRow;
/* The servers u may see, by name. */
int servers_list(DbIter *it, sqlite3 *db, const User *u);
/* How many servers a user owns. */
int servers_count_of_user(sqlite3 *db, int64_t user_id);
/* The servers that use a blueprint, by name. */
int servers_of_blueprint(DbIter *it, sqlite3 *db, int64_t blueprint_id);
bool server_row_next(DbIter *it, ServerRow *ret);

/* A new server of user_id from one of their blueprints, with its instance
 * name ('s<id>'), in one transaction. -EEXIST: the user has a server of
 * that name; -EDQUOT: they have SERVERS_PER_USER_MAX already. */
int server_create(sqlite3 *db, int64_t user_id, int64_t blueprint_id, const char *name, int64_t *ret_id);
int server_set_blueprint(sqlite3 *db, int64_t id, int64_t blueprint_id);
/* What the owner asked for ("running", "stopped"); clears the drift, which
 * compared against the old wish. */
int server_set_desired(sqlite3 *db, int64_t id, const char *desired);
int server_set_deleting(sqlite3 *db, int64_t id, bool deleting);
int server_remove(sqlite3 *db, int64_t id);
/* The ports l4d2ctl allocated (a job's answer), shown before the watch
 * reports the instance. Written only when they differ. */
int server_note_ports(sqlite3 *db, int64_t id, int game_port, int tv_port);

/* What the host reports about one instance (`l4d2ctl watch`). */
typedef struct ServerObservation {
        const char *instance;
        const char *state;       /* stopped, starting, running, crashed, unresponsive; absent */
        const char *health;      /* ok, no-answer, none */
        const char *map;         /* NULL: not known now (keeps the last one) */
        int players, bots, maxplayers; /* -1: not known */
        int restarts;
        int game_port, tv_port;  /* -1: not known */
        const char *detail;
        int64_t time;            /* when it was seen (the host's clock) */
        int64_t since;           /* since when the state holds; 0: not known */
} ServerObservation;
/* Writes what changed (nothing when nothing did), and the drift and crash
 * events that follow when the news is newer than the server's last job.
 * An instance that is none of the panel's servers is ignored. */
int server_observe(sqlite3 *db, const ServerObservation *o);
/* After the watch's first round: servers whose instances it did not list
 * are absent on the host (servers never started stay "new"). */
int servers_sync(sqlite3 *db, char *const *instances, size_t n, int64_t time);
/* Sets the drift of every server that no job touched since settled_before
 * from its stored state: what server_observe() left undecided because a job
 * was in the way. Writes only drift that changed. */
int servers_reconcile(sqlite3 *db, int64_t settled_before);

/* An event on the server's page; a server keeps its newest
 * SERVER_EVENTS_MAX. */
int server_event(sqlite3 *db, int64_t id, const char *kind, const char *message);
typedef struct ServerEvent {
        int64_t at;
        char kind[16];
        char message[256];
} ServerEvent;
/* The newest 20 events, newest first. */
int server_events(DbIter *it, sqlite3 *db, int64_t id);
bool server_event_next(DbIter *it, ServerEvent *ret);

/* ---- game builds (issue 14) ---- */

/* The build the host reports an instance runs ("" when none); written only
 * when it changed. */
int server_observe_build(sqlite3 *db, const char *instance, const char *build);
/* server_event() for the panel's server of an instance; nothing for an
 * instance that is none of them. */
int server_event_instance(sqlite3 *db, const char *instance, const char *kind, const char *message);

typedef struct ServerBuild {
        char build[24];   /* what it runs, "" unknown */
        char pin[24];     /* what its owner pinned it to, "" follows */
} ServerBuild;
int server_build(sqlite3 *db, int64_t id, ServerBuild *ret);
/* "" follows the newest build that passed its canary; else a build id. */
int server_set_build_pin(sqlite3 *db, int64_t id, const char *pin);
