/* l4d2ctl watch: one long-running process per host that follows every
 * instance and writes a line when something about one changes. The panel
 * reads it (`l4d2ctl watch --json`); the contract is in
 * docs/l4d2ctl-contract.md.
 *
 * One round per interval:
 *   1. list the instances and read each one's status through the host
 *      library (the object `status --json` prints);
 *   2. send A2S_INFO to every server whose process is up, all from one UDP
 *      socket, at once (src/proto/a2s-probe.c);
 *   3. collect the answers in the poll loop until every server has answered
 *      or the answer window (half the interval, at most 2 s) is over, so a
 *      dead or slow server never delays the others;
 *   4. decide what each instance's state is (the rules are in watch-state.c)
 *      and write an event for each one that is news, and `removed` for each
 *      one that is gone.
 * Beside the rounds, each server that runs and answers has its player
 * roster read over RCON every --roster-interval (watch-players.c), on a
 * connection kept open between polls, in the same poll loop; a `roster`
 * event is written when the roster changed.
 * Between rounds the loop only waits: for the next round, a roster poll's
 * next step, a signal, or its reader going away (POLLERR/POLLHUP on
 * stdout). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "a2s-probe.h"
#include "ctl.h"
#include "instance.h"
#include "lock.h"
#include "strutil.h"
#include "watch-players.h"
#include "watch-state.h"
#include "watch-update.h"

#define ANSWER_WINDOW_MAX_MS 2000
#define RECV_BURST_MAX 4096 /* datagrams read per wakeup, so a flood cannot stall the loop */
/* Rounds an instance's report waits while an l4d2ctl holds its lock: about
 * the 30 s another l4d2ctl waits for that lock before it gives up. */
#define BUSY_ROUNDS_MAX 6

typedef struct Watched {
        char name[NAME_MAX_LEN + 1];
        json_t *status;       /* the last status object read; NULL until one was */
        bool listed;          /* in this round's listing */
        bool failing;         /* its status could not be read last round */
        WatchTracker t;       /* what the rounds saw and what was reported */
        A2sProbe probe;
        bool settled;         /* this round's query was answered, or failed for good */
        bool answered;
        WatchInfo answer;
        WatchPlayers players; /* its roster over RCON */
        unsigned busy_rounds; /* rounds its report waited for an l4d2ctl at work on it */
} Watched;

typedef struct Watch {
        const HostConfig *c;
        bool json;
        int64_t interval_ms, window_ms, roster_ms;
        unsigned misses_max;
        int udp;
        Watched **v;          /* sorted by name */
        size_t n, cap;
        Watched **polled;     /* this round's queries, sorted by port */
        struct pollfd *pfd;   /* the poll set, and whose roster connection each entry is */
        Watched **pfd_of;
        size_t n_pfd;
        size_t n_polled, outstanding;
        bool synced;
} Watch;

/* Why the loop ended: EXIT_READER_GONE and EXIT_SIGNAL are a normal end. */
enum { EXIT_READER_GONE = 1, EXIT_SIGNAL = 2 };

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long unix_now(void) {
        return (long long) time(NULL);
}

static void watched_free(Watched *x) {
        if (!x)
                return;
        json_decref(x->status);
        a2s_probe_done(&x->probe);
        watch_players_done(&x->players);
        free(x);
}

/* SIGTERM, SIGINT, SIGHUP end watch. Not through a signalfd: a blocked
 * signal could not interrupt a write() to a reader that stopped reading, and
 * watch must end on SIGTERM even then. The handler (no SA_RESTART) sets a
 * flag, which makes a blocked write() return EINTR, and writes to a pipe the
 * poll loop watches, so a signal between two checks is not missed either. */
static volatile sig_atomic_t got_signal;
static int signal_pipe = -1;

static void on_signal(int sig) {
        int saved = errno;
        got_signal = sig;
        if (signal_pipe >= 0)
                (void) !write(signal_pipe, "", 1);
        errno = saved;
}

static int signals_catch(int *ret_fd) {
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return negative_errno();
        signal_pipe = p[1];
        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        int sigs[] = { SIGTERM, SIGINT, SIGHUP };
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                if (sigaction(sigs[i], &sa, NULL) < 0)
                        return negative_errno();
        *ret_fd = p[0];
        return 0;
}

/* ---- output ---- */

/* Writes one whole line. EXIT_READER_GONE when the reader closed its end. */
static int write_line(const char *s, size_t len) {
        while (len > 0) {
                /* A reader that stopped reading blocks us here; SIGTERM
                 * still ends watch (EINTR, or a short write). */
                if (got_signal)
                        return EXIT_SIGNAL;
                ssize_t k = write(STDOUT_FILENO, s, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EPIPE ? EXIT_READER_GONE : negative_errno();
                }
                s += k;
                len -= (size_t) k;
        }
        return 0;
}

static int emit_json(json_t *o) {
        if (!o)
                return -ENOMEM;
        _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!text)
                return -ENOMEM;
        size_t len = strlen(text);
        /* The line and its newline in one write. */
        char *line = realloc(text, len + 2);
        if (!line)
                return -ENOMEM;
        text = line;
        line[len] = '\n';
        return write_line(line, len + 1);
}

/* One human line: the local time, then the text. */
static int emit_human(const char *fmt, ...) _printf_(1, 2);
static int emit_human(const char *fmt, ...) {
        char line[4096];
        time_t t = time(NULL);
        struct tm tm;
        size_t n = strftime(line, sizeof line, "%H:%M:%S ", localtime_r(&t, &tm));
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -EINVAL;
        n += (size_t) k < sizeof line - n - 1 ? (size_t) k : sizeof line - n - 2;
        line[n++] = '\n';
        return write_line(line, n);
}

static int emit_instance(Watch *w, const Watched *x, const WatchReport *rep, long long now) {
        const WatchInfo *i = &rep->info;
        if (!w->json) {
                char what[512] = "";
                size_t o = 0;
                if (rep->health == WATCH_HEALTH_NO_ANSWER)
                        o += (size_t) snprintf(what + o, sizeof what - o, ", not answering");
                if (i->have && o < sizeof what)
                        o += (size_t) snprintf(what + o, sizeof what - o, ", map %s, %u/%u players", ctl_shown(i->map),
                                               i->players, i->maxplayers);
                if (i->have && i->bots && o < sizeof what)
                        o += (size_t) snprintf(what + o, sizeof what - o, " (%u bot%s)", i->bots, i->bots == 1 ? "" : "s");
                if (rep->pid && o < sizeof what)
                        o += (size_t) snprintf(what + o, sizeof what - o, ", pid %lld", rep->pid);
                if (rep->restarts && o < sizeof what)
                        o += (size_t) snprintf(what + o, sizeof what - o, ", %lld restart%s", rep->restarts,
                                               rep->restarts == 1 ? "" : "s");
                if (rep->detail[0] && o < sizeof what)
                        snprintf(what + o, sizeof what - o, " (%s)", ctl_shown(rep->detail));
                return emit_human("%s: %s%s", x->name, watch_state_to_string(rep->state), what);
        }
        json_t *o = json_pack("{s:s, s:I}", "event", "instance", "time", (json_int_t) now);
        if (!o || json_object_update(o, x->status) < 0) {
                json_decref(o);
                return -ENOMEM;
        }
        json_object_set_new(o, "state", json_string(watch_state_to_string(rep->state)));
        json_object_set_new(o, "health", json_string(watch_health_to_string(rep->health)));
        json_object_set_new(o, "map", i->have ? ctl_json_text(i->map) : json_null());
        json_object_set_new(o, "players", i->have ? json_integer(i->players) : json_null());
        json_object_set_new(o, "bots", i->have ? json_integer(i->bots) : json_null());
        json_object_set_new(o, "maxplayers", i->have ? json_integer(i->maxplayers) : json_null());
        json_object_set_new(o, "since", json_integer(x->t.since));
        return emit_json(o);
}

static int emit_removed(Watch *w, const char *name, long long now) {
        if (!w->json)
                return emit_human("%s: removed", name);
        return emit_json(json_pack("{s:s, s:I, s:s}", "event", "removed", "time", (json_int_t) now, "name", name));
}

static int emit_update(Watch *w, json_t *ev) {
        if (!ev)
                return 0;
        if (w->json)
                return emit_json(ev);
        int r = emit_human("%s: the master server asks it to restart for a game update (MasterRequestRestart)",
                           json_string_value(json_object_get(ev, "name")));
        json_decref(ev);
        return r;
}

/* A roster event (watch-players.c): the JSON line, or a human one. */
static int emit_roster(json_t *o, void *userdata) {
        Watch *w = userdata;
        if (w->json)
                return emit_json(o);
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *error = json_string_value(json_object_get(o, "error"));
        int r;
        if (error)
                r = emit_human("%s: players: %s", ctl_shown(name), ctl_shown(error));
        else {
                char who[1024] = "";
                size_t off = 0, k;
                json_t *p;
                json_array_foreach(json_object_get(o, "players"), k, p)
                        if (off < sizeof who - 1)
                                off += (size_t) snprintf(who + off, sizeof who - off, "%s%s", off ? ", " : ": ",
                                                         ctl_shown(json_string_value(json_object_get(p, "name"))));
                r = emit_human("%s: players: %zu on the server%s", ctl_shown(name),
                               json_array_size(json_object_get(o, "players")), who);
        }
        json_decref(o);
        return r;
}

static WatchPlayersCtx players_ctx(Watch *w, const Watched *x) {
        return (WatchPlayersCtx) { .c = w->c, .name = x->name, .interval_ms = w->roster_ms, .emit = emit_roster,
                                   .userdata = w };
}

static int emit_synced(Watch *w, long long now) {
        if (!w->json)
                return emit_human("synced: following %zu instance%s", w->n, w->n == 1 ? "" : "s");
        return emit_json(json_pack("{s:s, s:I}", "event", "synced", "time", (json_int_t) now));
}

/* ---- the instances ---- */

static int cmp_name(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, (*(Watched *const *) b)->name);
}

/* The instance called name; added (sorted) if new. */
static int watched_get(Watch *w, const char *name, Watched **ret) {
        Watched **hit = w->n ? bsearch(&name, w->v, w->n, sizeof *w->v, cmp_name) : NULL;
        if (hit) {
                *ret = *hit;
                return 0;
        }
        if (w->n == w->cap) {
                size_t cap = w->cap ? w->cap * 2 : 64;
                Watched **v = realloc(w->v, cap * sizeof *v);
                if (!v)
                        return -ENOMEM;
                w->v = v;
                w->cap = cap;
                /* Every polled server is also in v: one size fits both. */
                Watched **p = realloc(w->polled, cap * sizeof *p);
                if (!p)
                        return -ENOMEM;
                w->polled = p;
        }
        Watched *x = calloc(1, sizeof *x);
        if (!x)
                return -ENOMEM;
        snprintf(x->name, sizeof x->name, "%s", name);
        watch_players_init(&x->players);
        size_t i = 0;
        while (i < w->n && strcmp(w->v[i]->name, name) < 0)
                i++;
        memmove(w->v + i + 1, w->v + i, (w->n - i) * sizeof *w->v);
        w->v[i] = x;
        w->n++;
        *ret = x;
        return 0;
}

static long long json_int_or(json_t *j, long long dflt) {
        return json_is_integer(j) ? (long long) json_integer_value(j) : dflt;
}

/* The fields of a status object watch decides on (pointers into it). */
static WatchStatus status_of(json_t *st) {
        return (WatchStatus) {
                .state = json_string_value(json_object_get(st, "state")),
                .pid = json_int_or(json_object_get(st, "pid"), 0),
                .restarts = json_int_or(json_object_get(st, "restarts"), 0),
                .port = json_int_or(json_object_get(json_object_get(st, "ports"), "game"), 0),
                .uptime = json_int_or(json_object_get(st, "uptime"), -1),
                .detail = json_string_value(json_object_get(st, "detail")),
        };
}

static int cmp_port(const void *a, const void *b) {
        unsigned pa = ntohs((*(Watched *const *) a)->probe.addr.sin_port);
        unsigned pb = ntohs((*(Watched *const *) b)->probe.addr.sin_port);
        return pa < pb ? -1 : pa > pb;
}

static Watched *polled_by_port(Watch *w, uint16_t port) {
        size_t lo = 0, hi = w->n_polled;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                unsigned p = ntohs(w->polled[mid]->probe.addr.sin_port);
                if (p == port)
                        return w->polled[mid];
                if (p < port)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* Steps 1 and 2: read every instance's status, query every server that is
 * up. */
static int round_start(Watch *w, Error *err) {
        _cleanup_strv_ char **names = NULL;
        int r = instance_list_visible(w->c, &names, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < w->n; i++)
                w->v[i]->listed = false;
        for (char **n = names; *n; n++) {
                Watched *x;
                if ((r = watched_get(w, *n, &x)) < 0)
                        return r;
                json_t *st = NULL;
                Error e = { 0 };
                r = instance_status(w->c, *n, &st, &e);
                /* No instance.json: being created or being deleted. */
                if (r == -ENOENT)
                        continue;
                x->listed = true;
                /* Unreadable for now (a damaged instance.json, a backend
                 * error): keep what we knew, read it again next round, and
                 * say so once on stderr. */
                if (r < 0) {
                        if (!x->failing)
                                fprintf(stderr, "warning: %s\n", ctl_shown(error_msg(&e)));
                        x->failing = true;
                        continue;
                }
                if (x->failing)
                        fprintf(stderr, "warning: instance '%s' can be read again\n", x->name);
                x->failing = false;
                json_decref(x->status);
                x->status = st;
        }

        w->n_polled = w->outstanding = 0;
        for (size_t i = 0; i < w->n; i++) {
                Watched *x = w->v[i];
                x->settled = x->answered = false;
                if (!x->listed || !x->status)
                        continue;
                WatchStatus st = status_of(x->status);
                if (!watch_round_begin(&x->t, &st))
                        continue;
                a2s_probe_set_port(&x->probe, (uint16_t) st.port);
                /* A send that fails counts as a round without an answer. */
                if (a2s_probe_send(w->udp, &x->probe) < 0) {
                        x->settled = true;
                        continue;
                }
                w->polled[w->n_polled++] = x;
                w->outstanding++;
        }
        if (w->n_polled > 1)
                qsort(w->polled, w->n_polled, sizeof *w->polled, cmp_port);
        return 0;
}

static void take_info(Watched *x, const A2sInfo *info) {
        x->answer = (WatchInfo) {
                .have = true,
                .players = info->players,
                .bots = info->bots,
                .maxplayers = info->max_players,
        };
        snprintf(x->answer.map, sizeof x->answer.map, "%s", info->map ? info->map : "");
}

/* Step 3: every datagram waiting. Outside a round's window they are read
 * and dropped. */
static void receive(Watch *w, bool collecting) {
        uint8_t d[A2S_DATAGRAM_MAX + 1];
        for (unsigned i = 0; i < RECV_BURST_MAX; i++) {
                struct sockaddr_in from = { 0 };
                socklen_t fl = sizeof from;
                ssize_t n = recvfrom(w->udp, d, sizeof d, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *) &from, &fl);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return; /* EAGAIN: all read */
                }
                if (!collecting || fl != sizeof from)
                        continue;
                Watched *x = polled_by_port(w, ntohs(from.sin_port));
                if (!x || x->settled || !a2s_probe_is_from(&x->probe, &from))
                        continue;
                A2sInfo info = { 0 };
                int r = (size_t) n > A2S_DATAGRAM_MAX ? -EMSGSIZE : a2s_probe_feed(w->udp, &x->probe, d, (size_t) n, &info);
                if (r == 0)
                        continue;
                /* Answered, or a malformed reply, which counts as none. */
                x->settled = true;
                w->outstanding--;
                if (r == 1) {
                        x->answered = true;
                        take_info(x, &info);
                        a2s_info_done(&info);
                } else
                        a2s_probe_reset(&x->probe);
        }
}

/* Step 4. */
static int round_finish(Watch *w) {
        long long now = unix_now();
        int r;
        size_t k = 0;
        for (size_t i = 0; i < w->n; i++) {
                Watched *x = w->v[i];
                if (x->listed) {
                        w->v[k++] = x;
                        continue;
                }
                r = x->t.reported ? emit_removed(w, x->name, now) : 0;
                watched_free(x);
                if (r != 0) {
                        /* Keep v consistent for the caller's cleanup. */
                        memmove(w->v + k, w->v + i + 1, (w->n - i - 1) * sizeof *w->v);
                        w->n = k + (w->n - i - 1);
                        return r;
                }
        }
        w->n = k;
        w->n_polled = 0; /* the queries are over: late answers are dropped */

        for (size_t i = 0; i < w->n; i++) {
                Watched *x = w->v[i];
                if (!x->status)
                        continue;
                watch_round_end(&x->t, x->answered ? &x->answer : NULL);
                if (x->t.polled && !x->answered)
                        a2s_probe_reset(&x->probe); /* drop a half-assembled reply */
                /* An l4d2ctl at work on it (a start, a stop, the restart of a
                 * migration to a new build) holds its lock: a server seen
                 * stopped in the middle of a restart is a step of that work,
                 * not news. Its report waits until the work is over. */
                if (x->t.reported && x->busy_rounds < BUSY_ROUNDS_MAX && host_lock_is_held(w->c, x->name)) {
                        x->busy_rounds++;
                        continue;
                }
                x->busy_rounds = 0;
                WatchStatus st = status_of(x->status);
                WatchReport rep;
                if (watch_decide(&x->t, &st, w->misses_max, !w->synced, now, &rep) &&
                    (r = emit_instance(w, x, &rep, now)) != 0)
                        return r;
                /* Game updates: MasterRequestRestart in its console. */
                if (st.pid > 0 && (r = emit_update(w, watch_update_scan(w->c, x->name, st.pid, now))) != 0)
                        return r;
                /* Its roster is read while it runs and answers; a hung
                 * server keeps the roster it had. */
                WatchPlayersCtx pc = players_ctx(w, x);
                bool answering = rep.state == WATCH_RUNNING && rep.health == WATCH_HEALTH_OK;
                if ((r = watch_players_follow(&x->players, &pc, x->t.run_pid, answering, mono_ms(), now)) != 0)
                        return r;
        }
        if (!w->synced) {
                w->synced = true;
                return emit_synced(w, now);
        }
        return 0;
}

/* Every roster connection that poll() woke, and every roster whose next
 * step is due. */
static int players_tick(Watch *w, const struct pollfd *p, size_t np) {
        int64_t now_ms = mono_ms();
        long long now = unix_now();
        size_t k = 3;
        for (size_t i = 0; i < w->n; i++) {
                Watched *x = w->v[i];
                short revents = 0;
                if (k < np && w->pfd_of[k] == x)
                        revents = p[k++].revents;
                if (!revents && watch_players_next(&x->players) > now_ms)
                        continue;
                WatchPlayersCtx pc = players_ctx(w, x);
                long long port = x->status ? status_of(x->status).port : 0;
                int r = watch_players_tick(&x->players, &pc, revents, port, now_ms, now);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int watch_loop(Watch *w, Error *err) {
        _cleanup_close_ int sfd = -1;
        int r = signals_catch(&sfd);
        if (r < 0)
                return error_set(err, r, "cannot catch signals: %s", strerror(-r));

        int64_t next = mono_ms(), collect_end = 0;
        bool collecting = false;
        for (;;) {
                if (got_signal)
                        return EXIT_SIGNAL;
                int64_t now = mono_ms();
                if (!collecting && now >= next) {
                        r = round_start(w, err);
                        if (r < 0)
                                return r;
                        collecting = true;
                        collect_end = now + w->window_ms;
                        /* Rounds keep their rhythm; one that ran late does
                         * not make the next ones come in a burst. */
                        next += w->interval_ms;
                        if (next <= now)
                                next = now + w->interval_ms;
                        now = mono_ms();
                }
                if (collecting && (w->outstanding == 0 || now >= collect_end)) {
                        r = round_finish(w);
                        if (r != 0)
                                return r < 0 ? error_set(err, r, "cannot write to standard output: %s", strerror(-r)) : r;
                        collecting = false;
                        continue;
                }
                int64_t until = collecting ? collect_end : next;
                /* The fixed three, then the roster connections. */
                if (w->n + 3 > w->n_pfd) {
                        struct pollfd *np = realloc(w->pfd, (w->n + 3) * sizeof *np);
                        Watched **nx = realloc(w->pfd_of, (w->n + 3) * sizeof *nx);
                        if (np)
                                w->pfd = np;
                        if (nx)
                                w->pfd_of = nx;
                        if (!np || !nx)
                                return error_set(err, -ENOMEM, "out of memory");
                        w->n_pfd = w->n + 3;
                }
                struct pollfd *p = w->pfd;
                p[0] = (struct pollfd) { .fd = sfd, .events = POLLIN };
                /* events 0: only POLLERR/POLLHUP, i.e. the reader is gone. */
                p[1] = (struct pollfd) { .fd = STDOUT_FILENO, .events = 0 };
                p[2] = (struct pollfd) { .fd = w->udp, .events = POLLIN };
                size_t np = 3;
                for (size_t i = 0; i < w->n; i++) {
                        WatchPlayers *wp = &w->v[i]->players;
                        int64_t t = watch_players_next(wp);
                        if (t < until)
                                until = t;
                        int fd = watch_players_fd(wp);
                        if (fd >= 0) {
                                w->pfd_of[np] = w->v[i];
                                p[np++] = (struct pollfd) { .fd = fd, .events = watch_players_events(wp) };
                        }
                }
                int n = poll(p, (nfds_t) np, until > now ? (int) (until - now) : 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return error_set(err, negative_errno(), "poll: %m");
                }
                if (p[0].revents || got_signal)
                        return EXIT_SIGNAL;
                if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL))
                        return EXIT_READER_GONE;
                if (p[2].revents)
                        receive(w, collecting);
                if ((r = players_tick(w, p, np)) != 0)
                        return r < 0 ? error_set(err, r, "cannot write to standard output: %s", strerror(-r)) : r;
        }
}

static int parse_interval(const char *s, int64_t *ret_ms) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || *end || !isfinite(v) || v < 0.1 || v > 3600)
                return -EINVAL;
        *ret_ms = (int64_t) (v * 1000.0 + 0.5);
        return 0;
}

static int run_watch(const HostConfig *c, int argc, char **argv) {
        bool json = false;
        if ((argc = ctl_common_options("watch", argc, argv, &json)) < 0)
                return 0;
        Watch w = { .c = c, .interval_ms = 5000, .roster_ms = 10000, .misses_max = 3, .udp = -1 };
        for (int i = 1; i < argc; i++) {
                const char *val = NULL;
                if (streq(argv[i], "--interval") || streq(argv[i], "--misses") || streq(argv[i], "--roster-interval")) {
                        if (i + 1 >= argc)
                                return ctl_usage("watch", "%s needs a value", argv[i]);
                        val = argv[i + 1];
                } else if (startswith(argv[i], "--interval=") || startswith(argv[i], "--misses=") ||
                           startswith(argv[i], "--roster-interval="))
                        val = strchr(argv[i], '=') + 1;
                else if (argv[i][0] == '-')
                        return ctl_usage("watch", "unknown option '%s'", argv[i]);
                else
                        return ctl_usage("watch", "unexpected argument '%s'", argv[i]);
                if (startswith(argv[i], "--interval")) {
                        if (parse_interval(val, &w.interval_ms) < 0)
                                return ctl_usage("watch", "--interval needs seconds from 0.1 to 3600, not '%s'", val);
                } else if (startswith(argv[i], "--roster-interval")) {
                        char *end;
                        double off = strtod(val, &end);
                        if (end != val && !*end && off == 0)
                                w.roster_ms = 0;
                        else if (parse_interval(val, &w.roster_ms) < 0)
                                return ctl_usage("watch", "--roster-interval needs 0 (off) or seconds from 0.1 to 3600, "
                                                 "not '%s'", val);
                } else {
                        long m;
                        if (parse_long(val, 1, 1000, &m) < 0)
                                return ctl_usage("watch", "--misses needs a number from 1 to 1000, not '%s'", val);
                        w.misses_max = (unsigned) m;
                }
                if (!strchr(argv[i], '='))
                        i++;
        }
        w.json = json;
        w.window_ms = w.interval_ms / 2 < ANSWER_WINDOW_MAX_MS ? w.interval_ms / 2 : ANSWER_WINDOW_MAX_MS;

        Error err = { 0 };
        int r = a2s_probe_socket();
        if (r < 0)
                return ctl_fail(&err, error_set(&err, r, "cannot open a UDP socket: %s", strerror(-r)));
        w.udp = r;
        r = watch_loop(&w, &err);
        for (size_t i = 0; i < w.n; i++)
                watched_free(w.v[i]);
        free(w.v);
        free(w.polled);
        free(w.pfd);
        free(w.pfd_of);
        close(w.udp);
        watch_update_done();
        return r < 0 ? ctl_fail(&err, r) : 0;
}

const Command cmd_watch = {
        .name = "watch",
        .run = run_watch,
        .summary = "follow every instance: one line per change of state or health",
        .help = "NAME\n"
                "    l4d2ctl watch - follow every instance's state, health, map and players\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl watch [--json] [--interval SECONDS] [--misses N]\n"
                "                  [--roster-interval SECONDS]\n"
                "\n"
                "DESCRIPTION\n"
                "    Runs until it is stopped, following every instance of the host: ones\n"
                "    created while it runs appear, deleted ones are reported as removed.\n"
                "    Every interval it reads each instance's status and asks every server\n"
                "    whose process is up for its A2S info (map, players), all at once from\n"
                "    one UDP socket, and waits for the answers at most half the interval\n"
                "    (2 s at most): a dead or slow server never delays the others. A\n"
                "    stopped server is never asked. It writes a line only when something\n"
                "    changed: first one line per instance and a 'synced' line, then one\n"
                "    line per change.\n"
                "\n"
                "    state is stopped, starting, running, crashed or unresponsive: the\n"
                "    server's process is up but has not answered N polls in a row. One\n"
                "    lost answer changes nothing. A start that answers within one interval\n"
                "    is one line (running); a slower one is reported as starting first. A\n"
                "    crash is reported at once; the backend's restart is one more line.\n"
                "\n"
                "    Every server that runs and answers also has its player roster read,\n"
                "    with 'status' over RCON, every --roster-interval, on a connection kept\n"
                "    open between polls (port and password read from the instance's state,\n"
                "    again after every restart). A connection authenticates once: a refused\n"
                "    password is reported and not tried again for 10 minutes (doubling to\n"
                "    an hour) or until the server restarts, since srcds bans an address\n"
                "    after a few wrong passwords.\n"
                "\n"
                "    It ends, with status 0, on SIGTERM or SIGINT and as soon as its reader\n"
                "    goes away (the pipe closes). There is one watch per host; the panel\n"
                "    runs it and restarts it if it dies.\n"
                "\n"
                "OUTPUT\n"
                "    Without --json, one readable line per event, starting with the time.\n"
                "    With --json, one object per line, each with \"event\" and \"time\"\n"
                "    (unix seconds):\n"
                "      {\"event\":\"instance\", ...}  every field of 'status --json', and\n"
                "          state, health (ok, no-answer, or none when not polled), map,\n"
                "          players (bots included, as the engine counts), bots, maxplayers\n"
                "          (from the last A2S answer; null when there is none) and since\n"
                "          (when state last changed). Written whenever state, health, map,\n"
                "          players, bots, maxplayers, restarts, detail, pid or ports change.\n"
                "      {\"event\":\"removed\",\"name\":NAME}  the instance was deleted.\n"
                "      {\"event\":\"synced\"}  once, after the first line of every instance.\n"
                "      {\"event\":\"update\",\"name\":NAME,\"signal\":\"MasterRequestRestart\"}\n"
                "          the server's console says the master server asked it to restart\n"
                "          for a game update (once per run; 'l4d2ctl update check' reads it).\n"
                "      {\"event\":\"roster\",\"name\":NAME, \"players\":[...], \"left\":[...], ...}\n"
                "          who is on the server (bots included) and who left since the last\n"
                "          roster line, written when someone joined or left or a player's\n"
                "          name, SteamID or state changed; pings ride along, and alone are\n"
                "          news at most once a minute. {\"event\":\"roster\",\"name\":NAME,\n"
                "          \"error\":TEXT} when the roster cannot be read. The fields are in\n"
                "          docs/l4d2ctl-contract.md.\n"
                "    Readers ignore events they do not know.\n"
                "\n"
                "OPTIONS\n"
                "    --json              one JSON object per line\n"
                "    --interval SECONDS  time between two polls, 0.1 to 3600 (default 5)\n"
                "    --misses N          unanswered polls in a row before a running server\n"
                "                        is unresponsive, 1 to 1000 (default 3)\n"
                "    --roster-interval SECONDS\n"
                "                        time between two reads of a server's players, 0.1 to\n"
                "                        3600, or 0 for none (default 10)\n"
                "\n"
                "EXAMPLE\n"
                "    l4d2ctl watch --json --interval 2 | jq -c 'select(.event == \"instance\")'\n"
                "\n"
                "EXIT STATUS\n"
                "    0 when stopped by a signal or when its reader goes away, 1 on failure\n"
                "    with one line 'error: ...' on stderr, 2 on a usage error.\n",
};
