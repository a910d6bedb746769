#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "watch-state.h"

const char *watch_state_to_string(WatchState s) {
        static const char *const names[] = {
                [WATCH_STOPPED] = "stopped", [WATCH_STARTING] = "starting",         [WATCH_RUNNING] = "running",
                [WATCH_CRASHED] = "crashed", [WATCH_UNRESPONSIVE] = "unresponsive",
        };
        return (unsigned) s < sizeof names / sizeof *names ? names[s] : "stopped";
}

const char *watch_health_to_string(WatchHealth h) {
        static const char *const names[] = {
                [WATCH_HEALTH_NONE] = "none",
                [WATCH_HEALTH_OK] = "ok",
                [WATCH_HEALTH_NO_ANSWER] = "no-answer",
        };
        return (unsigned) h < sizeof names / sizeof *names ? names[h] : "none";
}

/* The backend runs the server. A backend with hang detection of its own
 * (the supervisor's A2S probe) may say "unresponsive": the process is up
 * all the same, and watch's state follows its own polls. */
static bool backend_up(const WatchStatus *st) {
        return st->state && (strcmp(st->state, "starting") == 0 || strcmp(st->state, "running") == 0 ||
                             strcmp(st->state, "unresponsive") == 0);
}

bool watch_round_begin(WatchTracker *t, const WatchStatus *st) {
        long long pid = backend_up(st) ? st->pid : 0;
        if (pid != t->run_pid) {
                /* Another process (or none): what the old one answered does
                 * not carry over. */
                t->run_pid = pid;
                t->answered_run = false;
                t->misses = 0;
                t->info.have = false;
        }
        /* Not polled: stopped, or between two runs (a restart backoff). */
        t->polled = pid > 0 && st->port > 0 && st->port <= 65535;
        return t->polled;
}

void watch_round_end(WatchTracker *t, const WatchInfo *answer) {
        if (!t->polled)
                return;
        if (answer) {
                t->misses = 0;
                t->answered_run = true;
                t->info = *answer;
                t->info.have = true;
        } else if (t->misses < UINT_MAX)
                t->misses++;
}

static void report_for(const WatchTracker *t, const WatchStatus *st, unsigned misses_max, WatchReport *r) {
        *r = (WatchReport) { .restarts = st->restarts, .pid = st->pid, .port = st->port };
        snprintf(r->detail, sizeof r->detail, "%s", st->detail ? st->detail : "");
        if (!backend_up(st)) {
                r->state = st->state && strcmp(st->state, "crashed") == 0 ? WATCH_CRASHED : WATCH_STOPPED;
                r->health = WATCH_HEALTH_NONE;
                return;
        }
        r->info = t->info;
        if (!t->polled) {
                r->state = WATCH_STARTING; /* no process to ask */
                r->health = WATCH_HEALTH_NONE;
        } else if (t->misses >= misses_max) {
                r->state = WATCH_UNRESPONSIVE;
                r->health = WATCH_HEALTH_NO_ANSWER;
        } else if (t->answered_run) {
                /* Fewer than misses_max misses in a row: the last answer
                 * stands. */
                r->state = WATCH_RUNNING;
                r->health = WATCH_HEALTH_OK;
        } else {
                /* Up, but never answered: still loading. */
                r->state = WATCH_STARTING;
                r->health = WATCH_HEALTH_NO_ANSWER;
        }
}

static bool report_differs(const WatchReport *a, const WatchReport *b) {
        return a->state != b->state || a->health != b->health || a->info.have != b->info.have ||
               (a->info.have && (strcmp(a->info.map, b->info.map) != 0 || a->info.players != b->info.players ||
                                 a->info.bots != b->info.bots || a->info.maxplayers != b->info.maxplayers)) ||
               a->restarts != b->restarts || a->pid != b->pid || a->port != b->port ||
               strcmp(a->detail, b->detail) != 0;
}

bool watch_decide(WatchTracker *t, const WatchStatus *st, unsigned misses_max, bool snapshot, long long now,
                  WatchReport *ret) {
        WatchReport r;
        report_for(t, st, misses_max, &r);
        bool news;
        long long since = now;
        if (snapshot) {
                news = true;
                /* The state began when the server did, as far as its uptime
                 * says. */
                if (backend_up(st) && st->uptime >= 0 && st->uptime <= now)
                        since = now - st->uptime;
        } else if (r.state != WATCH_STARTING) {
                t->held = false;
                news = !t->reported || report_differs(&t->last, &r);
        } else if (t->reported && t->last.state == WATCH_STARTING) {
                news = false; /* still starting: the end of it is the news */
        } else if ((!t->reported || t->last.state == WATCH_STOPPED || t->last.state == WATCH_CRASHED) && !t->held) {
                /* A start: wait one round to see whether it is over by then. */
                t->held = true;
                t->held_since = now;
                news = false;
        } else {
                news = true;
                if (t->held)
                        since = t->held_since;
        }
        *ret = r;
        if (!news)
                return false;
        if (!t->reported || r.state != t->last.state)
                t->since = since;
        t->held = false;
        t->last = r;
        t->reported = true;
        return true;
}
