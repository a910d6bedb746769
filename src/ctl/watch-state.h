/* What `l4d2ctl watch` reports about one instance, and when: decided from
 * what each round observed (the backend's status, whether the server
 * answered A2S). Pure: no I/O and no clock (times are passed in), so the
 * unit tests can play whole histories without waiting.
 *
 * A round, for each instance:
 *   1. watch_round_begin() with the status just read: whether to poll;
 *   2. the caller polls (or not) and calls watch_round_end() with the answer;
 *   3. watch_decide(): whether an event is due, and what it says.
 *
 * The rules (docs/l4d2ctl-contract.md):
 * - a server is polled while its process is up (the backend says starting or
 *   running and names a pid); a stopped one never;
 * - a server that answered once is running (health ok) until it misses
 *   misses_max polls in a row: then it is unresponsive; one lost answer is
 *   not news. One that never answered since its process started is starting;
 * - starting is a passing state: a start (from stopped, crashed, or a new
 *   instance) is reported as starting only when it is still starting one
 *   round later, so a server that answers within one interval is exactly one
 *   event; a running server going down (a crash the backend restarts) is
 *   reported at once; while starting, changes of pid, detail and restarts
 *   are not events of their own. */
#pragma once

#include <stdbool.h>

typedef enum WatchState {
        WATCH_STOPPED,
        WATCH_STARTING,
        WATCH_RUNNING,
        WATCH_CRASHED,
        WATCH_UNRESPONSIVE,
} WatchState;

typedef enum WatchHealth {
        WATCH_HEALTH_NONE, /* not polled: no server process */
        WATCH_HEALTH_OK,
        WATCH_HEALTH_NO_ANSWER,
} WatchHealth;

const char *watch_state_to_string(WatchState s);
const char *watch_health_to_string(WatchHealth h);

#define WATCH_MAP_MAX 128    /* a longer map name from A2S is cut */
#define WATCH_DETAIL_MAX 256

/* What the server said in its last A2S_INFO answer. */
typedef struct WatchInfo {
        bool have;
        char map[WATCH_MAP_MAX];
        unsigned players, bots, maxplayers;
} WatchInfo;

/* The backend's view this round: fields of the status object. */
typedef struct WatchStatus {
        const char *state;   /* stopped, starting, running, crashed (, unresponsive) */
        long long pid;       /* 0: none */
        long long restarts;
        long long port;      /* the game port */
        long long uptime;    /* seconds, -1: none */
        const char *detail;  /* may be NULL */
} WatchStatus;

/* What an event says; an event is due when one of these changes. */
typedef struct WatchReport {
        WatchState state;
        WatchHealth health;
        WatchInfo info;      /* info.have false: map .. maxplayers are null */
        long long restarts, pid, port;
        char detail[WATCH_DETAIL_MAX];
} WatchReport;

/* Everything watch remembers about one instance between rounds. Zero it to
 * start. */
typedef struct WatchTracker {
        /* About the server process run_pid; they restart with it. */
        long long run_pid;
        bool polled;         /* this round */
        bool answered_run;   /* it has answered at least once */
        unsigned misses;     /* polls in a row without an answer */
        WatchInfo info;      /* its last answer */
        /* What was reported. */
        bool reported;
        WatchReport last;
        long long since;     /* unix seconds: when last.state began */
        bool held;           /* a start seen once and not reported yet */
        long long held_since;
} WatchTracker;

/* Step 1: returns whether to poll the server this round (its process is up). */
bool watch_round_begin(WatchTracker *t, const WatchStatus *st);

/* Step 2: answer is the A2S_INFO it sent, NULL when it did not answer (or
 * was not polled). */
void watch_round_end(WatchTracker *t, const WatchInfo *answer);

/* Step 3: fills *ret with what to report now and returns whether that is
 * news, i.e. an event is due; the tracker then counts it as written.
 * snapshot: the startup round, where every instance is reported. */
bool watch_decide(WatchTracker *t, const WatchStatus *st, unsigned misses_max, bool snapshot, long long now,
                  WatchReport *ret);
