#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "players-roster.h"

#define STEAMID64_BASE INT64_C(76561197960265728)
#define STEAMID64_LAST (STEAMID64_BASE + INT64_C(0xffffffff))

int64_t steamid64_parse(const char *s) {
        if (!s || strlen(s) != 17)
                return 0;
        int64_t v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return 0;
                v = v * 10 + (*p - '0');
        }
        return v >= STEAMID64_BASE && v <= STEAMID64_LAST ? v : 0;
}

static int64_t int_of(json_t *o, const char *key, int64_t dflt) {
        json_t *v = json_object_get(o, key);
        return json_is_integer(v) ? (int64_t) json_integer_value(v) : dflt;
}

/* A ping or loss: 0-100000 ms / percent; anything else is "not known". */
static int small_of(json_t *o, const char *key) {
        int64_t v = int_of(o, key, -1);
        return v >= 0 && v <= 100000 ? (int) v : -1;
}

static int player_in(json_t *o, RosterPlayerIn *ret) {
        if (!json_is_object(o))
                return -EINVAL;
        const char *name = json_string_value(json_object_get(o, "name"));
        json_t *uid = json_object_get(o, "userid");
        if (!name || !json_is_integer(uid))
                return -EINVAL;
        RosterPlayerIn p = {
                .userid = (int) json_integer_value(uid),
                .name = name,
                .bot = json_is_true(json_object_get(o, "bot")),
                .state = json_string_value(json_object_get(o, "state")),
                .joined = int_of(o, "joined", 0),
                .last_seen = int_of(o, "last_seen", 0),
                .ping = small_of(o, "ping"),
                .loss = small_of(o, "loss"),
                .ping_min = small_of(o, "ping_min"),
                .ping_max = small_of(o, "ping_max"),
                .loss_max = small_of(o, "loss_max"),
                .ping_sum = int_of(o, "ping_sum", 0),
                .loss_sum = int_of(o, "loss_sum", 0),
                .samples = int_of(o, "samples", 0),
        };
        if (!p.state)
                p.state = "";
        if (!p.bot)
                p.steamid64 = steamid64_parse(json_string_value(json_object_get(o, "steamid64")));
        if (p.samples < 0 || p.ping_sum < 0 || p.loss_sum < 0 || p.joined < 0) {
                p.samples = p.ping_sum = p.loss_sum = 0;
                p.joined = p.joined < 0 ? 0 : p.joined;
        }
        *ret = p;
        return 0;
}

static int list_in(json_t *a, RosterPlayerIn **ret, size_t *ret_n) {
        if (!json_is_array(a))
                return -EINVAL;
        size_t n = json_array_size(a);
        if (n > ROSTER_PLAYERS_MAX)
                return -E2BIG;
        RosterPlayerIn *v = calloc(n ? n : 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int r = player_in(json_array_get(a, i), &v[i]);
                if (r < 0) {
                        free(v);
                        return r;
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int roster_in_parse(json_t *j, RosterIn *ret) {
        RosterIn r = {
                .instance = json_string_value(json_object_get(j, "name")),
                .time = int_of(j, "time", 0),
                .error = json_string_value(json_object_get(j, "error")),
        };
        if (!r.instance || r.time <= 0)
                return -EINVAL;
        if (!r.error) {
                int k = list_in(json_object_get(j, "players"), &r.players, &r.n_players);
                if (k == 0) {
                        /* left is optional: an older watch need not send it */
                        json_t *left = json_object_get(j, "left");
                        k = left ? list_in(left, &r.left, &r.n_left) : 0;
                }
                if (k < 0) {
                        roster_in_done(&r);
                        return k;
                }
        }
        *ret = r;
        return 0;
}

void roster_in_done(RosterIn *r) {
        free(r->players);
        free(r->left);
        r->players = r->left = NULL;
        r->n_players = r->n_left = 0;
}
