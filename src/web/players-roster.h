/* A `roster` event of `l4d2ctl watch --json` (docs/l4d2ctl-contract.md), read
 * into a struct: who is on a server, who left since the last event, and each
 * player's ping and loss since watch first saw them. Pure (jansson only), so
 * the unit tests feed it what watch wrote. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROSTER_PLAYERS_MAX 256  /* more in one event: the event is refused */

typedef struct RosterPlayerIn {
        int userid;
        const char *name;        /* strings point into the event (valid while it is) */
        bool bot;
        int64_t steamid64;       /* 0: none (a bot, a connecting player) */
        const char *state;
        int64_t joined;          /* 0: not known (bots) */
        int64_t last_seen;       /* left entries: when watch last saw them; else 0 */
        int ping, loss;          /* -1: not known */
        int ping_min, ping_max, loss_max; /* -1: no samples */
        int64_t ping_sum, loss_sum, samples;
} RosterPlayerIn;

typedef struct RosterIn {
        const char *instance;
        int64_t time;
        const char *error;       /* NULL: a roster; else why there is none */
        RosterPlayerIn *players, *left;
        size_t n_players, n_left;
} RosterIn;

/* -EINVAL for an event that is not a roster event as the contract says;
 * -E2BIG past ROSTER_PLAYERS_MAX; -ENOMEM. */
int roster_in_parse(json_t *j, RosterIn *ret);
void roster_in_done(RosterIn *r);

/* A SteamID64 of an individual account ("76561197960265728" ...
 * "76561202255233023"); 0 for anything else. */
int64_t steamid64_parse(const char *s);
