#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "watch-roster.h"

static void player_free(RosterPlayer *p) {
        free(p->name);
        p->name = NULL;
}

static RosterPlayer *find(RosterTracker *t, int userid) {
        for (size_t i = 0; i < t->n; i++)
                if (t->v[i].userid == userid)
                        return &t->v[i];
        return NULL;
}

/* Moves t->v[i] to the left list (which takes its name). */
static int leave(RosterTracker *t, size_t i) {
        RosterPlayer *l = realloc(t->left, (t->n_left + 1) * sizeof *l);
        if (!l)
                return -ENOMEM;
        t->left = l;
        t->left[t->n_left++] = t->v[i];
        memmove(t->v + i, t->v + i + 1, (t->n - i - 1) * sizeof *t->v);
        t->n--;
        t->changed = true;
        return 0;
}

static void sample(RosterPlayer *p, const StatusPlayer *s) {
        if (s->bot)
                return;
        p->ping = s->ping;
        p->loss = s->loss;
        if (!p->samples || s->ping < p->ping_min)
                p->ping_min = s->ping;
        if (!p->samples || s->ping > p->ping_max)
                p->ping_max = s->ping;
        if (!p->samples || s->loss > p->loss_max)
                p->loss_max = s->loss;
        p->ping_sum += s->ping;
        p->loss_sum += s->loss;
        p->samples++;
}

int roster_update(RosterTracker *t, const Status *st, long long now) {
        for (size_t i = 0; i < t->n; i++)
                t->v[i].seen = false;
        /* The first roster, and the first after an error was reported
         * (which this one clears), are news. */
        if (!t->have || t->error[0])
                t->changed = true;
        t->have = true;
        t->error[0] = '\0';
        for (size_t k = 0; k < st->n_players; k++) {
                const StatusPlayer *s = &st->players[k];
                RosterPlayer *p = find(t, s->userid);
                const char *state = s->state ? s->state : "";
                const char *name = s->name ? s->name : "";
                uint64_t id = s->bot ? 0 : s->steamid64;
                if (p && p->bot != s->bot) {
                        /* Not the same connection after all. */
                        p->seen = false;
                        p = NULL;
                }
                if (!p) {
                        RosterPlayer *v = realloc(t->v, (t->n + 1) * sizeof *v);
                        if (!v)
                                return -ENOMEM;
                        t->v = v;
                        RosterPlayer np = {
                                .userid = s->userid,
                                .name = strdup(name),
                                .bot = s->bot,
                                .steamid64 = id,
                                .joined = s->bot ? 0 : now - (long long) s->connected,
                                .ping = -1,
                                .loss = -1,
                                .sent_ping = -2,
                                .sent_loss = -2,
                                .seen = true,
                        };
                        if (!np.name)
                                return -ENOMEM;
                        snprintf(np.state, sizeof np.state, "%s", state);
                        t->v[t->n++] = np;
                        p = &t->v[t->n - 1];
                        t->changed = true;
                } else {
                        p->seen = true;
                        if (!streq(p->name, name)) {
                                char *n = strdup(name);
                                if (!n)
                                        return -ENOMEM;
                                free(p->name);
                                p->name = n;
                                t->changed = true;
                        }
                        if (p->steamid64 != id || strncmp(p->state, state, sizeof p->state - 1) != 0)
                                t->changed = true;
                        /* A connecting player's ID arrives: their session
                         * begins when they connected, as the server says. */
                        if (!p->steamid64 && id)
                                p->joined = now - (long long) s->connected;
                        p->steamid64 = id;
                        snprintf(p->state, sizeof p->state, "%s", state);
                }
                p->last_seen = now;
                sample(p, s);
        }
        for (size_t i = t->n; i-- > 0;)
                if (!t->v[i].seen && leave(t, i) < 0)
                        return -ENOMEM;
        snprintf(t->map, sizeof t->map, "%s", st->map ? st->map : "");
        t->humans = st->humans;
        t->bots = st->bots;
        t->max_players = st->max_players;
        return 0;
}

void roster_down(RosterTracker *t, long long now) {
        t->error[0] = '\0';
        if (!t->have)
                return;
        while (t->n > 0)
                if (leave(t, t->n - 1) < 0) {
                        /* Out of memory: forget them without a report
                         * rather than keep players on a stopped server. */
                        player_free(&t->v[t->n - 1]);
                        t->n--;
                        t->changed = true;
                }
        t->humans = t->bots = 0;
}

static bool pings_moved(const RosterTracker *t) {
        for (size_t i = 0; i < t->n; i++)
                if (!t->v[i].bot && (t->v[i].ping != t->v[i].sent_ping || t->v[i].loss != t->v[i].sent_loss))
                        return true;
        return false;
}

bool roster_due(const RosterTracker *t, long long now, long long ping_every) {
        if (!t->have)
                return false;
        if (t->changed || !t->reported)
                return true;
        return ping_every > 0 && now - t->pings_sent_at >= ping_every && pings_moved(t);
}

static json_t *id_json(uint64_t id) {
        if (!id)
                return json_null();
        char s[24];
        snprintf(s, sizeof s, "%llu", (unsigned long long) id);
        return json_string(s); /* a string: a SteamID64 does not fit a JavaScript number */
}

static json_t *int_or_null(bool have, long long v) {
        return have ? json_integer(v) : json_null();
}

static json_t *player_json(const RosterPlayer *p, bool gone) {
        bool human = !p->bot;
        bool stats = human && p->samples > 0;
        json_t *o = json_object();
        if (!o)
                return NULL;
        json_object_set_new(o, "userid", json_integer(p->userid));
        json_object_set_new(o, "name", ctl_json_text(p->name));
        json_object_set_new(o, "bot", json_boolean(p->bot));
        json_object_set_new(o, "steamid64", id_json(p->steamid64));
        json_object_set_new(o, "state", ctl_json_text(p->state));
        json_object_set_new(o, "joined", int_or_null(human, p->joined));
        if (!gone) {
                json_object_set_new(o, "ping", int_or_null(human && p->ping >= 0, p->ping));
                json_object_set_new(o, "loss", int_or_null(human && p->loss >= 0, p->loss));
        } else
                json_object_set_new(o, "last_seen", json_integer(p->last_seen));
        json_object_set_new(o, "samples", json_integer(stats ? p->samples : 0));
        json_object_set_new(o, "ping_min", int_or_null(stats, p->ping_min));
        json_object_set_new(o, "ping_max", int_or_null(stats, p->ping_max));
        json_object_set_new(o, "ping_sum", json_integer(stats ? p->ping_sum : 0));
        json_object_set_new(o, "loss_max", int_or_null(stats, p->loss_max));
        json_object_set_new(o, "loss_sum", json_integer(stats ? p->loss_sum : 0));
        return o;
}

json_t *roster_event(RosterTracker *t, const char *name, long long now) {
        json_t *players = json_array(), *left = json_array();
        json_t *o = json_pack("{s:s, s:I, s:s}", "event", "roster", "time", (json_int_t) now, "name", name);
        if (!o || !players || !left)
                goto fail;
        for (size_t i = 0; i < t->n; i++)
                if (json_array_append_new(players, player_json(&t->v[i], false)) < 0)
                        goto fail;
        for (size_t i = 0; i < t->n_left; i++)
                if (json_array_append_new(left, player_json(&t->left[i], true)) < 0)
                        goto fail;
        json_object_set_new(o, "map", t->map[0] ? ctl_json_text(t->map) : json_null());
        json_object_set_new(o, "humans", int_or_null(t->humans >= 0, t->humans));
        json_object_set_new(o, "bots", int_or_null(t->bots >= 0, t->bots));
        json_object_set_new(o, "max_players", int_or_null(t->max_players >= 0, t->max_players));
        json_object_set_new(o, "players", TAKE_PTR(players));
        json_object_set_new(o, "left", TAKE_PTR(left));
        /* Counted as reported. */
        for (size_t i = 0; i < t->n_left; i++)
                player_free(&t->left[i]);
        t->n_left = 0;
        for (size_t i = 0; i < t->n; i++) {
                t->v[i].sent_ping = t->v[i].ping;
                t->v[i].sent_loss = t->v[i].loss;
        }
        t->pings_sent_at = now;
        t->changed = false;
        t->reported = true;
        return o;
fail:
        json_decref(o);
        json_decref(players);
        json_decref(left);
        return NULL;
}

json_t *roster_error_event(RosterTracker *t, const char *name, const char *msg, long long now) {
        if (streq(t->error, msg))
                return NULL;
        snprintf(t->error, sizeof t->error, "%s", msg);
        return json_pack("{s:s, s:I, s:s, s:o}", "event", "roster", "time", (json_int_t) now, "name", name, "error",
                         ctl_json_text(msg));
}

void roster_done(RosterTracker *t) {
        for (size_t i = 0; i < t->n; i++)
                player_free(&t->v[i]);
        for (size_t i = 0; i < t->n_left; i++)
                player_free(&t->left[i]);
        free(t->v);
        free(t->left);
        *t = (RosterTracker) { .humans = -1, .bots = -1, .max_players = -1 };
}
