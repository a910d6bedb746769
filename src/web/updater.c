/* The fleet's game updates, from the panel (issue 14): every
 * LEFT4ME_UPDATE_INTERVAL_MS (5 min) one `l4d2ctl update run --json` per
 * host (check; fetch when a build is available; canaries; one migration
 * pass), and while servers wait to move, `update migrate --json` every
 * LEFT4ME_UPDATE_MIGRATE_MS (10 s), so "no humans for 60 s" is seen in
 * time. Each call is short enough for the panel to wait for it at
 * shutdown; the policy itself is the host's (update-migrate.c).
 *
 * What it hears becomes rows: the check (update_checks), the builds
 * (builds, from `builds --json` after each run) and an event on every
 * server a canary verdict or a migration touches (server_events). */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "hostlink.h"
#include "server.h"
#include "svc-builds.h"
#include "svc-servers.h"
#include "updater.h"

static pthread_t thread;
static bool running;
static int wake_pipe[2] = { -1, -1 };

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct Run {
        unsigned pending;       /* servers still waiting to move (the done event) */
        bool done;
} Run;

/* A canary's verdict on every server of its stack. */
static void on_canary(sqlite3 *db, json_t *ev) {
        json_t *rep = json_object_get(ev, "report");
        const char *state = json_string_value(json_object_get(ev, "state"));
        if (!rep || !state || !streq(state, "done"))
                return;
        const char *build = json_string_value(json_object_get(rep, "build")) ?: "?";
        bool pass = streq(json_string_value(json_object_get(rep, "verdict")) ?: "", "pass");
        char msg[256];
        if (pass)
                snprintf(msg, sizeof msg, "Game build %s passed its trial run with this server's overlays.", build);
        else {
                json_t *f = json_array_get(json_object_get(rep, "failures"), 0);
                size_t n = json_array_size(json_object_get(rep, "failures"));
                snprintf(msg, sizeof msg, "Game build %s failed its trial run: %.150s%s", build,
                         json_string_value(json_object_get(f, "detail")) ?: "?", n > 1 ? " (and more)" : "");
        }
        size_t i;
        json_t *name;
        json_array_foreach(json_object_get(rep, "instances"), i, name)
                (void) server_event_instance(db, json_string_value(name), "update", msg);
}

static void on_migrated(sqlite3 *db, json_t *ev) {
        const char *name = json_string_value(json_object_get(ev, "name"));
        const char *reason = json_string_value(json_object_get(ev, "reason")) ?: "";
        char msg[256];
        snprintf(msg, sizeof msg, "Restarted onto game build %s (from %s): %s.",
                 json_string_value(json_object_get(ev, "to")) ?: "?", json_string_value(json_object_get(ev, "from")) ?: "?",
                 streq(reason, "deadline") ? "its update deadline had passed" : "nobody was playing");
        if (name)
                (void) server_event_instance(db, name, "update", msg);
}

static void on_failed(sqlite3 *db, json_t *ev) {
        const char *name = json_string_value(json_object_get(ev, "name"));
        char msg[256];
        snprintf(msg, sizeof msg, "Could not restart onto game build %s: %.180s",
                 json_string_value(json_object_get(ev, "to")) ?: "?",
                 json_string_value(json_object_get(ev, "error")) ?: "?");
        if (name)
                (void) server_event_instance(db, name, "update", msg);
}

static int on_line(const char *line, void *userdata) {
        Run *run = userdata;
        json_t *ev = hostlink_parse_object(line);
        const char *kind = json_string_value(json_object_get(ev, "event"));
        if (!kind) {
                json_decref(ev);
                return 0;
        }
        sqlite3 *db = db_acquire();
        if (streq(kind, "check"))
                (void) update_check_store(db, ev);
        else if (streq(kind, "canary"))
                on_canary(db, ev);
        else if (streq(kind, "migrated"))
                on_migrated(db, ev);
        else if (streq(kind, "migrate-failed"))
                on_failed(db, ev);
        else if (streq(kind, "done")) {
                run->done = true;
                run->pending = (unsigned) json_integer_value(json_object_get(ev, "pending"));
        }
        db_release(db);
        json_decref(ev);
        return 0;
}

/* One l4d2ctl call, its events into the database. Its lines are read
 * whole (a canary's report is longer than spawn_lines' 4 KiB), up to
 * 4 MiB. Returns true when the panel is shutting down (the call was
 * stopped: a canary removes its clones, a migration pass ends first). */
static bool call(const char *const args[], Run *run) {
        HostStream st = HOST_STREAM_NULL;
        if (hostlink_spawn(host(), args, &st) < 0) {
                fprintf(stderr, "left4me: updates: cannot run l4d2ctl %s %s on %s\n", args[0], args[1],
                        hostlink_name(host()));
                return false;
        }
        Buf in = BUF_INIT(4 << 20);
        bool shutdown = false;
        for (;;) {
                struct pollfd p[2] = { { .fd = shutdown_fd(), .events = POLLIN }, { .fd = st.fd, .events = POLLIN } };
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
                if (p[0].revents) {
                        shutdown = true;
                        break;
                }
                if (!p[1].revents)
                        continue;
                char buf[16384];
                ssize_t n = read(st.fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (buf_append(&in, buf, (size_t) n) < 0)
                        in.len = 0; /* a line past 4 MiB is not one of ours */
                char *start = in.data, *nl;
                while (start && (nl = memchr(start, '\n', in.len - (size_t) (start - in.data)))) {
                        *nl = '\0';
                        on_line(start, run);
                        start = nl + 1;
                }
                if (start && start != in.data) {
                        size_t rest = in.len - (size_t) (start - in.data);
                        memmove(in.data, start, rest);
                        in.len = rest;
                        in.data[rest] = '\0';
                }
        }
        buf_free(&in);
        int exit_code = -1;
        hostlink_stream_close(&st, &exit_code);
        if (!shutdown && exit_code != 0)
                fprintf(stderr, "left4me: updates: l4d2ctl %s %s on %s failed (exit %d)\n", args[0], args[1],
                        hostlink_name(host()), exit_code);
        return shutdown;
}

static void refresh_builds(void) {
        const char *args[] = { "builds", "--json", NULL };
        json_t *j = NULL;
        char err[256];
        if (hostlink_run_json(host(), args, NULL, &j, err, sizeof err) < 0) {
                fprintf(stderr, "left4me: updates: l4d2ctl builds on %s: %s\n", hostlink_name(host()), err);
                return;
        }
        sqlite3 *db = db_acquire();
        (void) builds_store(db, json_object_get(j, "builds"));
        db_release(db);
        json_decref(j);
}

/* Waits until `until` (monotonic ms), a wake-up or shutdown; true on
 * shutdown. */
static bool wait_until(int64_t until, bool *ret_woken) {
        *ret_woken = false;
        for (;;) {
                int64_t left = until - mono_ms();
                if (left <= 0)
                        return false;
                struct pollfd p[2] = { { .fd = shutdown_fd(), .events = POLLIN }, { .fd = wake_pipe[0], .events = POLLIN } };
                int r = poll(p, 2, left > 60000 ? 60000 : (int) left);
                if (r < 0 && errno != EINTR)
                        return false;
                if (p[0].revents)
                        return true;
                if (p[1].revents) {
                        char buf[64];
                        while (read(wake_pipe[0], buf, sizeof buf) > 0)
                                ;
                        *ret_woken = true;
                        return false;
                }
        }
}

static void *loop(void *arg) {
        /* The first run a little after start: the watch settles first. */
        int64_t next_run = mono_ms() + (config.update_ms < 10000 ? config.update_ms : 10000);
        int64_t next_migrate = 0;
        unsigned pending = 0;
        for (;;) {
                int64_t until = pending && next_migrate < next_run ? next_migrate : next_run;
                bool woken;
                if (wait_until(until, &woken))
                        return NULL;
                int64_t now = mono_ms();
                if (woken || now >= next_run) {
                        Run run = { 0 };
                        const char *args[] = { "update", "run", "--json", NULL };
                        if (call(args, &run))
                                return NULL;
                        refresh_builds();
                        pending = run.done ? run.pending : 0;
                        next_run = mono_ms() + config.update_ms;
                        next_migrate = mono_ms() + config.update_migrate_ms;
                } else if (pending && now >= next_migrate) {
                        Run run = { 0 };
                        const char *args[] = { "update", "migrate", "--json", NULL };
                        if (call(args, &run))
                                return NULL;
                        if (run.done && run.pending != pending)
                                refresh_builds(); /* who runs which build changed */
                        pending = run.done ? run.pending : 0;
                        next_migrate = mono_ms() + config.update_migrate_ms;
                }
        }
}

int updater_start(void) {
        if (config.update_ms == 0)
                return 0; /* off */
        if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        if (pthread_create(&thread, NULL, loop, NULL) != 0)
                return -EAGAIN;
        running = true;
        return 0;
}

void updater_wake(void) {
        if (wake_pipe[1] >= 0)
                (void) !write(wake_pipe[1], "", 1);
}

void updater_stop(void) {
        if (running)
                pthread_join(thread, NULL);
        running = false;
        for (int i = 0; i < 2; i++)
                if (wake_pipe[i] >= 0)
                        close(wake_pipe[i]);
        wake_pipe[0] = wake_pipe[1] = -1;
}
