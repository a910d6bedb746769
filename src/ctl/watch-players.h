/* `l4d2ctl watch`'s player roster of one server: `status` over an RCON
 * connection kept open between polls, for as long as the server runs and
 * answers A2S; the roster events (watch-roster.h) that follow.
 *
 * The connection belongs to one server process: when the pid changes (a
 * restart, a crash the backend restarted) it is closed, the old roster is
 * reported gone, and the next poll connects again with the port and
 * password read afresh from the instance's state. A connection
 * authenticates once. A refused password, or a server that hangs up during
 * authentication (what srcds does to an address it banned for wrong
 * passwords), is reported as a roster error and nothing is tried again for
 * a long while (PLAYERS_BACKOFF_MIN_S, doubling to PLAYERS_BACKOFF_MAX_S),
 * or until the server process changes: never a retry loop that gets the
 * host banned. Other failures (connection refused, timeouts) are tried
 * again at the next poll, and reported once they repeat. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "rcon-async.h"
#include "watch-roster.h"

#define PLAYERS_BACKOFF_MIN_S 600
#define PLAYERS_BACKOFF_MAX_S 3600
#define PLAYERS_PING_EVERY_S 60   /* pings alone are news at most this often */
#define PLAYERS_FAILURES_SAID 3   /* polls in a row that failed before it is said */
#define PLAYERS_CONNECT_TIMEOUT_MS 5000
#define PLAYERS_STATUS_TIMEOUT_MS 10000

/* Writes one event line; returns what watch's writer returned (non-zero
 * ends watch). Takes o. */
typedef int (*players_emit_fn)(json_t *o, void *userdata);

typedef struct WatchPlayers {
        RconAsync rcon;
        RosterTracker roster;
        long long pid;           /* the server process the connection and roster belong to */
        int64_t next_ms;         /* the next poll (monotonic ms); 0: not scheduled */
        int64_t backoff_until;   /* no connection before this */
        int64_t backoff_ms;
        unsigned failures;       /* polls in a row that failed */
        bool polling;            /* a poll is under way (connect, auth, status) */
} WatchPlayers;

typedef struct WatchPlayersCtx {
        const HostConfig *c;
        const char *name;
        int64_t interval_ms;     /* 0: no rosters */
        players_emit_fn emit;
        void *userdata;
} WatchPlayersCtx;

void watch_players_init(WatchPlayers *p);
void watch_players_done(WatchPlayers *p);

/* After each of watch's rounds: what watch decided about the server. pid is
 * the server process (0: none), answering whether it is running and
 * answering A2S (only then is it polled; a hung server keeps its roster). */
int watch_players_follow(WatchPlayers *p, const WatchPlayersCtx *x, long long pid, bool answering, int64_t now_ms,
                         long long now);

/* The fd and events to poll (-1: none), and when tick() is due next
 * (INT64_MAX: not before an fd event). */
int watch_players_fd(const WatchPlayers *p);
short watch_players_events(const WatchPlayers *p);
int64_t watch_players_next(const WatchPlayers *p);

/* Progress: after poll() (revents, 0 when only time passed). Starts a due
 * poll (to the game port, port), handles the connection, writes the
 * events. */
int watch_players_tick(WatchPlayers *p, const WatchPlayersCtx *x, short revents, long long port, int64_t now_ms,
                       long long now);
