/* The player roster `l4d2ctl watch` reports for one server: what each poll
 * of `status` (over RCON) saw, folded into who is on the server now, who
 * left since the last report, and each player's ping and loss statistics
 * since watch first saw them. Pure: no I/O and no clock (times are passed
 * in), so the unit tests can play whole sequences of `status` outputs.
 *
 * A player is one connection: the server's userid, which it never gives
 * twice while it runs (a player who leaves and comes back gets a new one).
 * The panel keys its sessions on the SteamID64; the userid only tells it
 * that a SteamID it saw before is a new connection.
 *
 * News (an event is due) is a change of the roster or of a player's state:
 * someone joined or left, or a player's name, SteamID (a connecting player
 * gets theirs), bot flag or `state` column changed. Pings and loss change at
 * every poll and are not news of their own: they ride along, and are sent
 * on their own at most every ping_every seconds, and only when one moved.
 * So a server whose players sit still is silent. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "status.h"

#define ROSTER_STATE_MAX 24

typedef struct RosterPlayer {
        int userid;
        char *name;
        bool bot;
        uint64_t steamid64;        /* 0: none (a bot, or STEAM_ID_PENDING) */
        char state[ROSTER_STATE_MAX];
        long long joined;          /* unix s: the poll's time minus its "connected", at first sight */
        int ping, loss;            /* the last poll's; -1 for bots */
        int ping_min, ping_max, loss_max;
        long long ping_sum, loss_sum, samples;
        long long last_seen;
        int sent_ping, sent_loss;  /* as last reported */
        bool seen;                 /* scratch: in the current poll */
} RosterPlayer;

typedef struct RosterTracker {
        RosterPlayer *v;           /* on the server now, in status order */
        size_t n;
        RosterPlayer *left;        /* gone since the last report */
        size_t n_left;
        bool have;                 /* a roster is known (read, or empty after a stop) */
        bool reported;             /* ... and was reported */
        bool changed;              /* news since the last report */
        long long pings_sent_at;
        char map[128];
        int humans, bots, max_players; /* -1: not reported by the server */
        char error[256];           /* the last error reported; "" after a good read */
} RosterTracker;

/* Folds one poll's parsed `status` in (0, or -ENOMEM, after which the
 * tracker still holds a consistent roster). */
int roster_update(RosterTracker *t, const Status *st, long long now);

/* The server is down (stopped, crashed, restarted): everyone left. A
 * roster that was never read stays unknown. */
void roster_down(RosterTracker *t, long long now);

/* Whether a roster event is due now. */
bool roster_due(const RosterTracker *t, long long now, long long ping_every);

/* The roster event (docs/l4d2ctl-contract.md) for instance name; the
 * tracker then counts it as reported (the left list is emptied). NULL on
 * -ENOMEM. */
json_t *roster_event(RosterTracker *t, const char *name, long long now);

/* An error event when msg differs from the last one reported (NULL: not
 * due). A good read later clears it. */
json_t *roster_error_event(RosterTracker *t, const char *name, const char *msg, long long now);

void roster_done(RosterTracker *t);
