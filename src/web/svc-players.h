/* The player tables (roster_snapshots, player_sessions, steam_profiles):
 * their SQL, written once. What the watch reports about each server's
 * roster becomes:
 *   - a snapshot row only when who is on the server, or a player's name,
 *     SteamID or state, changed (run-length encoded: an unchanged roster
 *     polled a thousand times is one row), or when the roster could not be
 *     read;
 *   - a session per stay of a SteamID64 on a server: joined, left, ping
 *     min / average / max, loss. Userids and slots are reused by the
 *     server, so they never key anything; a new userid for a SteamID that
 *     is on is a new connection (they left and came back between polls).
 *     Bots and connecting players without a SteamID are no sessions.
 * Pages read through the functions below; the owner check is the server's
 * (server_load), done by the page before it asks about that server. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "players-roster.h"
#include "web.h"

#define PLAYER_NAME_MAX 128   /* bytes of a name kept (the engine allows fewer) */

/* What one watch stream has reported of each open session's statistics:
 * watch sends totals since it started, so a new stream (watch restarted)
 * starts from nothing, and only the growth is added to a session. One per
 * stream, used by the watch thread only. */
typedef struct PlayersStream PlayersStream;
PlayersStream *players_stream_new(void);
void players_stream_free(PlayersStream *ps);

/* Stores one roster event (in one transaction; nothing for an instance
 * that is none of the panel's servers). */
int players_roster_apply(sqlite3 *db, PlayersStream *ps, const RosterIn *r);
/* The server's process is gone (stopped, crashed, deleted): its open
 * sessions end at time, and an empty roster is noted if it was not. */
int players_server_down(sqlite3 *db, const char *instance, int64_t time);

/* ---- reading ---- */

/* The roster as last reported. */
typedef struct RosterRow {
        char name[PLAYER_NAME_MAX * 4 + 1];
        bool bot;
        int64_t steamid64;       /* 0: none */
        char state[24];
        int64_t joined;          /* 0: not known */
        int ping, ping_avg;      /* -1: not known */
        char persona[PLAYER_NAME_MAX * 4 + 1]; /* "" without a Steam profile */
        char profile_url[256];
        bool avatar;
} RosterRow;
typedef struct RosterView {
        int64_t at;              /* 0: never reported */
        char error[256];         /* why it cannot be read now ("" when it can) */
        int64_t error_since;
        RosterRow *rows;
        size_t n;
        int humans, bots;
} RosterView;
int players_roster_load(sqlite3 *db, int64_t server_id, RosterView *ret);
void roster_view_done(RosterView *v);

/* Sessions of the players seen on a server since `since`, the players most
 * recently there first (at most `players` of them), each player's sessions
 * newest first. */
typedef struct SessionRow {
        int64_t steamid64;
        const char *name, *persona, *profile_url; /* valid until the next session_next() */
        bool avatar;
        int64_t joined, left;    /* left 0: still on */
        int ping_min, ping_max, ping_avg, loss_max; /* -1: no samples */
        double loss_avg;
} SessionRow;
int players_sessions(DbIter *it, sqlite3 *db, int64_t server_id, int64_t since, int players);
bool session_next(DbIter *it, SessionRow *ret);

/* The number of people on the server over [from, to]: a step every time it
 * changed, the first at `from` (what held then); -1 where it was not known
 * (stopped and never read, or the roster could not be read). */
typedef struct CountPoint {
        int64_t at;
        int humans;
} CountPoint;
#define COUNT_POINTS_MAX 20000
int players_counts(sqlite3 *db, int64_t server_id, int64_t from, int64_t to, CountPoint **ret, size_t *ret_n);

/* ---- Steam profiles and retention (players-upkeep.c) ---- */

/* SteamIDs seen since `since` whose profile is missing or older than
 * stale_before, at most max. */
int players_profiles_due(sqlite3 *db, int64_t since, int64_t stale_before, int64_t *ids, size_t max, size_t *ret_n);
/* Stores a profile; avatar bytes are kept when avatar_url did not change
 * and none are given. */
int players_profile_store(sqlite3 *db, int64_t steamid64, const char *persona, const char *profile_url,
                          const char *avatar_url, int64_t fetched_at);
/* Profiles whose avatar_url has no bytes yet (at most max). */
typedef struct AvatarDue {
        int64_t steamid64;
        char url[512];
} AvatarDue;
int players_avatars_due(sqlite3 *db, AvatarDue *v, size_t max, size_t *ret_n);
int players_avatar_store(sqlite3 *db, int64_t steamid64, const char *url, const void *data, size_t len,
                         const char *type);
/* The avatar's bytes (caller frees *ret_data): -ENOENT without one, or
 * when the player never played on a server u may see. */
int players_avatar_load(sqlite3 *db, int64_t steamid64, const User *u, void **ret_data, size_t *ret_len, char *type,
                        size_t type_size);

/* Deletes player data older than before (sessions that ended, snapshot
 * rows, profiles no session refers to), at most batch rows a table per
 * call; *ret_deleted is how many went. */
int players_prune(sqlite3 *db, int64_t before, int batch, int *ret_deleted);
