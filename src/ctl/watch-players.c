#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "instance.h"
#include "spec.h"
#include "status.h"
#include "watch-players.h"

void watch_players_init(WatchPlayers *p) {
        *p = (WatchPlayers) { 0 };
        rcon_async_init(&p->rcon, 0);
        roster_done(&p->roster); /* its empty state */
}

void watch_players_done(WatchPlayers *p) {
        rcon_async_close(&p->rcon);
        roster_done(&p->roster);
}

static int emit(const WatchPlayersCtx *x, json_t *o) {
        return o ? x->emit(o, x->userdata) : 0;
}

static int emit_roster_if_due(WatchPlayers *p, const WatchPlayersCtx *x, long long now) {
        if (!roster_due(&p->roster, now, PLAYERS_PING_EVERY_S))
                return 0;
        json_t *o = roster_event(&p->roster, x->name, now);
        return o ? emit(x, o) : -ENOMEM;
}

/* Spreads the servers' polls over the interval, by name, so that 200 of
 * them do not all connect in the same millisecond. */
static int64_t offset_of(const char *name, int64_t interval_ms) {
        uint32_t h = 2166136261u;
        for (const unsigned char *s = (const unsigned char *) name; *s; s++)
                h = (h ^ *s) * 16777619u;
        return interval_ms > 0 ? (int64_t) (h % (uint32_t) (interval_ms > INT32_MAX ? INT32_MAX : interval_ms)) : 0;
}

int watch_players_follow(WatchPlayers *p, const WatchPlayersCtx *x, long long pid, bool answering, int64_t now_ms,
                         long long now) {
        int r = 0;
        if (pid != p->pid) {
                /* Another server process, or none: what the old one said
                 * does not carry over, and nor does a refused password (the
                 * new process read the stored one from server.cfg). */
                rcon_async_close(&p->rcon);
                p->polling = false;
                roster_down(&p->roster, now);
                r = emit_roster_if_due(p, x, now);
                p->pid = pid;
                p->backoff_until = p->backoff_ms = 0;
                p->failures = 0;
                p->next_ms = 0;
        }
        bool poll_it = answering && pid > 0 && x->interval_ms > 0;
        if (!poll_it)
                p->next_ms = 0;
        else if (!p->next_ms)
                p->next_ms = now_ms + offset_of(x->name, x->interval_ms);
        return r;
}

int watch_players_fd(const WatchPlayers *p) {
        return rcon_async_fd(&p->rcon);
}

short watch_players_events(const WatchPlayers *p) {
        return rcon_async_events(&p->rcon);
}

int64_t watch_players_next(const WatchPlayers *p) {
        int64_t t = INT64_MAX;
        if (p->polling && p->rcon.state != RCON_ASYNC_CLOSED && p->rcon.state != RCON_ASYNC_READY)
                t = p->rcon.deadline;
        if (!p->polling && p->next_ms) {
                int64_t due = p->next_ms > p->backoff_until ? p->next_ms : p->backoff_until;
                if (due < t)
                        t = due;
        }
        return t;
}

static const char *failure_text(int r, long long port, char *buf, size_t size) {
        switch (r) {
        case -ECONNREFUSED:
                snprintf(buf, size, "nothing answers RCON on port %lld (connection refused)", port);
                break;
        case -ETIMEDOUT:
                snprintf(buf, size, "no answer over RCON in time");
                break;
        case -ECONNRESET:
                snprintf(buf, size, "the server keeps closing the RCON connection");
                break;
        case -E2BIG:
                snprintf(buf, size, "the server's status output is larger than %u bytes", RCON_RESPONSE_MAX_DEFAULT);
                break;
        case -EBADMSG:
        case -EMSGSIZE:
        case -EPROTO:
                snprintf(buf, size, "the server broke the RCON protocol");
                break;
        default:
                snprintf(buf, size, "RCON failed: %s", strerror(-r));
        }
        return buf;
}

/* A poll that failed: said once it repeats, or at once with a long pause
 * for a refused password. */
static int failed(WatchPlayers *p, const WatchPlayersCtx *x, int r, bool during_auth, long long port, int64_t now_ms,
                  long long now) {
        p->polling = false;
        char msg[256];
        if (r == -EACCES || (during_auth && r == -ECONNRESET)) {
                p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : PLAYERS_BACKOFF_MIN_S * 1000LL;
                if (p->backoff_ms > PLAYERS_BACKOFF_MAX_S * 1000LL)
                        p->backoff_ms = PLAYERS_BACKOFF_MAX_S * 1000LL;
                p->backoff_until = now_ms + p->backoff_ms;
                snprintf(msg, sizeof msg, "%s; not trying again for %lld minutes, or until the server restarts",
                         r == -EACCES ? "the server refused the RCON password l4d2ctl keeps for it (changed by a "
                                        "command, a cfg or a plugin?)"
                                      : "the server hung up during RCON authentication (has it banned this "
                                        "address after wrong passwords?)",
                         (long long) (p->backoff_ms / 60000));
                return emit(x, roster_error_event(&p->roster, x->name, msg, now));
        }
        if (++p->failures < PLAYERS_FAILURES_SAID)
                return 0;
        return emit(x, roster_error_event(&p->roster, x->name, failure_text(r, port, msg, sizeof msg), now));
}

static int start_poll(WatchPlayers *p, const WatchPlayersCtx *x, long long port, int64_t now_ms, long long now) {
        p->next_ms = now_ms + x->interval_ms;
        int r;
        if (p->rcon.state == RCON_ASYNC_READY) {
                r = rcon_async_exec(&p->rcon, "status", PLAYERS_STATUS_TIMEOUT_MS);
                if (r < 0)
                        return failed(p, x, r, false, port, now_ms, now);
                p->polling = true;
                return 0;
        }
        if (p->rcon.state != RCON_ASYNC_CLOSED)
                return 0;
        /* A new connection: the password as the instance's state has it
         * now (a re-initialize may have changed it). */
        Spec s = { 0 };
        Error e = { 0 };
        r = instance_load(x->c, x->name, &s, &e);
        if (r < 0) {
                spec_free(&s);
                return failed(p, x, r, false, port, now_ms, now);
        }
        if (port <= 0 || port > 65535 || !s.rcon_password || !*s.rcon_password)
                r = -EINVAL;
        else
                r = rcon_async_connect(&p->rcon, (uint16_t) port, s.rcon_password, PLAYERS_CONNECT_TIMEOUT_MS);
        spec_free(&s);
        if (r < 0)
                return failed(p, x, r, false, port, now_ms, now);
        p->polling = true;
        return 0;
}

static int got_output(WatchPlayers *p, const WatchPlayersCtx *x, char *out, size_t len, long long port, int64_t now_ms,
                      long long now) {
        p->polling = false;
        Status st;
        Error e = { 0 };
        int r = status_parse(out, len, &st, &e);
        free(out);
        if (r < 0) {
                char msg[256];
                snprintf(msg, sizeof msg, "the server's status output cannot be read: %s", error_msg(&e));
                p->failures = PLAYERS_FAILURES_SAID;
                return emit(x, roster_error_event(&p->roster, x->name, msg, now));
        }
        p->failures = 0;
        p->backoff_ms = 0;
        r = roster_update(&p->roster, &st, now);
        status_done(&st);
        if (r < 0)
                return r;
        return emit_roster_if_due(p, x, now);
}

int watch_players_tick(WatchPlayers *p, const WatchPlayersCtx *x, short revents, long long port, int64_t now_ms,
                       long long now) {
        int r = 0;
        if (revents && rcon_async_fd(&p->rcon) >= 0) {
                bool auth = p->rcon.state == RCON_ASYNC_AUTHING || p->rcon.state == RCON_ASYNC_CONNECTING;
                char *out = NULL;
                size_t len = 0;
                int k = rcon_async_handle(&p->rcon, revents, &out, &len);
                if (k == RCON_ASYNC_AUTHED) {
                        k = rcon_async_exec(&p->rcon, "status", PLAYERS_STATUS_TIMEOUT_MS);
                        if (k < 0)
                                r = failed(p, x, k, false, port, now_ms, now);
                } else if (k == RCON_ASYNC_OUTPUT)
                        r = got_output(p, x, out, len, port, now_ms, now);
                else if (k < 0 && p->polling)
                        r = failed(p, x, k, auth, port, now_ms, now);
                /* An idle connection the server closed (k < 0, not
                 * polling): the next poll connects again. */
                if (r != 0)
                        return r;
        }
        int k = rcon_async_expire(&p->rcon, now_ms);
        if (k < 0 && p->polling && (r = failed(p, x, k, false, port, now_ms, now)) != 0)
                return r;
        if (!p->polling && p->next_ms && now_ms >= p->next_ms && now_ms >= p->backoff_until)
                r = start_poll(p, x, port, now_ms, now);
        return r;
}
