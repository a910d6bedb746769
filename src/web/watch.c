#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "hostlink.h"
#include "players-config.h"
#include "players-roster.h"
#include "server.h"
#include "svc-players.h"
#include "svc-servers.h"
#include "watch.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 60000 /* a stream that lived this long resets the backoff */

static pthread_t thread;
static bool running;

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One stream's reading state. */
typedef struct Follow {
        bool synced;             /* the first round is in */
        char **listed;           /* the instances of the first round */
        size_t n_listed;
        PlayersStream *players;  /* what this stream reported of each player (svc-players.h) */
} Follow;

static int int_or(json_t *o, const char *key, int dflt) {
        json_t *v = json_object_get(o, key);
        return json_is_integer(v) ? (int) json_integer_value(v) : dflt;
}

static void on_instance(sqlite3 *db, Follow *f, json_t *j) {
        const char *name = json_string_value(json_object_get(j, "name"));
        const char *state = json_string_value(json_object_get(j, "state"));
        if (!name || !state)
                return;
        json_t *ports = json_object_get(j, "ports");
        ServerObservation o = {
                .instance = name,
                .state = state,
                .health = json_string_value(json_object_get(j, "health")),
                .map = json_string_value(json_object_get(j, "map")),
                .players = int_or(j, "players", -1),
                .bots = int_or(j, "bots", -1),
                .maxplayers = int_or(j, "maxplayers", -1),
                .restarts = int_or(j, "restarts", 0),
                .game_port = int_or(ports, "game", -1),
                .tv_port = int_or(ports, "sourcetv", -1),
                .detail = json_string_value(json_object_get(j, "detail")),
                .time = json_integer_value(json_object_get(j, "time")),
                .since = json_integer_value(json_object_get(j, "since")),
        };
        if (server_observe(db, &o) < 0 ||
            server_observe_build(db, name, json_string_value(json_object_get(j, "build"))) < 0)
                fprintf(stderr, "left4me: watch: could not store what happened to '%s'\n", name);
        /* No process, nobody on it: sessions end even when the watch that
         * saw the players leave is not this one. */
        if (!streq(state, "running") && !streq(state, "unresponsive") && !streq(state, "starting") &&
            players_server_down(db, name, o.time) < 0)
                fprintf(stderr, "left4me: watch: could not end the player sessions of '%s'\n", name);
        if (!f->synced)
                (void) strv_push_dup(&f->listed, &f->n_listed, name);
}

static void on_removed(sqlite3 *db, Follow *f, json_t *j) {
        const char *name = json_string_value(json_object_get(j, "name"));
        if (name)
                (void) players_server_down(db, name, json_integer_value(json_object_get(j, "time")));
        if (name)
                (void) server_observe(db, &(ServerObservation) {
                        .instance = name, .state = "absent", .health = "none", .players = -1, .bots = -1,
                        .maxplayers = -1, .time = json_integer_value(json_object_get(j, "time")) });
}

/* Steam's master server asked the server to restart for a game update
 * (the fleet job fetches and tries the build; this says why it will). */
static void on_update(sqlite3 *db, Follow *f, json_t *j) {
        const char *name = json_string_value(json_object_get(j, "name"));
        if (name)
                (void) server_event_instance(db, name, "update",
                                             "Steam asks this server to restart: a game update is out.");
}

/* Who is on a server (`roster`): sessions, snapshots (svc-players.c). */
static void on_roster(sqlite3 *db, Follow *f, json_t *j) {
        RosterIn r;
        if (roster_in_parse(j, &r) < 0) {
                fprintf(stderr, "left4me: watch: a roster line that is not one; skipped\n");
                return;
        }
        if (players_roster_apply(db, f->players, &r) < 0)
                fprintf(stderr, "left4me: watch: could not store the players of '%s'\n", r.instance);
        roster_in_done(&r);
}

static void on_synced(sqlite3 *db, Follow *f, json_t *j) {
        if (f->synced)
                return;
        f->synced = true;
        (void) servers_sync(db, f->listed, f->n_listed, json_integer_value(json_object_get(j, "time")));
        strv_free(f->listed);
        f->listed = NULL;
        f->n_listed = 0;
}

/* The events of the stream (docs/l4d2ctl-contract.md, `watch`); unknown
 * ones are skipped, so the host may add some. */
static const struct {
        const char *event;
        void (*fn)(sqlite3 *db, Follow *f, json_t *j);
} handlers[] = {
        { "instance", on_instance },
        { "removed", on_removed },
        { "synced", on_synced },
        { "update", on_update },
        { "roster", on_roster },
};

static int on_line(const char *line, void *userdata) {
        Follow *f = userdata;
        json_t *j = hostlink_parse_object(line);
        if (!j) {
                /* watch's own warnings (stderr shares the pipe), said once
                 * per problem: the panel's log is where an admin sees them. */
                char clean[512];
                snprintf(clean, sizeof clean, "%s", line);
                for (char *p = clean; *p; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f)
                                *p = ' ';
                fprintf(stderr, "left4me: watch on %s: %s\n", hostlink_name(host()), clean);
                return 0;
        }
        const char *event = json_string_value(json_object_get(j, "event"));
        for (size_t i = 0; event && i < ELEMENTSOF(handlers); i++)
                if (streq(event, handlers[i].event)) {
                        sqlite3 *db = db_acquire();
                        handlers[i].fn(db, f, j);
                        db_release(db);
                        break;
                }
        json_decref(j);
        return 0;
}

/* Waits up to ms for shutdown; true if the panel is shutting down. */
static bool sleep_or_shutdown(int64_t ms) {
        struct pollfd p = { .fd = shutdown_fd(), .events = POLLIN };
        return poll(&p, 1, (int) ms) > 0;
}

/* The drift decisions an observation had to leave to later (a job was in
 * the way), taken once the server had an interval and a bit to settle. */
static void reconcile(unsigned interval_ms) {
        sqlite3 *db = db_acquire();
        (void) servers_reconcile(db, (int64_t) time(NULL) - (int64_t) (interval_ms / 1000 + 3));
        db_release(db);
}

/* Follows one stream to its end. Returns true on shutdown. */
static bool follow(const HostStream *st, Follow *f) {
        LineSplitter l = { 0 };
        int64_t next_reconcile = mono_ms() + config.poll_ms;
        for (;;) {
                int64_t wait = next_reconcile - mono_ms();
                struct pollfd p[2] = { { .fd = shutdown_fd(), .events = POLLIN }, { .fd = st->fd, .events = POLLIN } };
                int r = poll(p, 2, wait > 0 ? (int) wait : 0);
                if (r < 0 && errno != EINTR)
                        return false;
                if (p[0].revents)
                        return true;
                if (p[1].revents) {
                        char buf[8192];
                        ssize_t n = read(st->fd, buf, sizeof buf);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                (void) line_splitter_end(&l, on_line, f);
                                return false;
                        }
                        (void) line_splitter_feed(&l, buf, (size_t) n, on_line, f);
                }
                if (mono_ms() >= next_reconcile) {
                        if (f->synced)
                                reconcile(config.poll_ms);
                        next_reconcile = mono_ms() + config.poll_ms;
                }
        }
}

static void *loop(void *arg) {
        char interval[32], roster[32];
        snprintf(interval, sizeof interval, "%u.%03u", config.poll_ms / 1000, config.poll_ms % 1000);
        unsigned rms = players_config.roster_interval_ms;
        snprintf(roster, sizeof roster, "%u.%03u", rms / 1000, rms % 1000);
        const char *args[] = { "watch", "--json", "--interval", interval, "--roster-interval", roster, NULL };
        int64_t backoff = BACKOFF_MIN_MS;
        bool said = false;
        for (;;) {
                HostStream st = HOST_STREAM_NULL;
                Follow f = { .players = players_stream_new() };
                int64_t started = mono_ms();
                bool shutdown = false;
                int r = hostlink_spawn(host(), args, &st);
                if (r == 0)
                        shutdown = follow(&st, &f);
                int exit_code = -1;
                hostlink_stream_close(&st, &exit_code);
                strv_free(f.listed);
                players_stream_free(f.players);
                if (shutdown)
                        return NULL;
                if (mono_ms() - started >= STABLE_MS) {
                        backoff = BACKOFF_MIN_MS;
                        said = false;
                }
                /* Said once per run of failures, not at every retry. */
                if (!said)
                        fprintf(stderr, "left4me: watch: l4d2ctl watch on %s %s; retrying with backoff (up to %d s)\n",
                                hostlink_name(host()),
                                r < 0 ? "could not start" : exit_code == 0 ? "ended" : "failed", BACKOFF_MAX_MS / 1000);
                said = true;
                if (sleep_or_shutdown(backoff))
                        return NULL;
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        }
}

int watch_start(void) {
        if (pthread_create(&thread, NULL, loop, NULL) != 0)
                return -EAGAIN;
        running = true;
        return 0;
}

void watch_stop(void) {
        if (running)
                pthread_join(thread, NULL);
        running = false;
}
