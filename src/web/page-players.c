/* A server's players on its page: who is on it now (avatar, name linking to
 * the Steam profile, ping, time connected), the players of the last week
 * with their sessions, and the player count over 24 hours and 7 days. The
 * section refreshes itself (GET /servers/<id>/players). Names are shown
 * exactly as typed: escaped, and each in <bdi> so that a name with
 * right-to-left marks cannot reorder the text around it.
 *
 * Also here: the avatars (GET /players/avatar/<steamid64>, the bytes the
 * panel fetched: pages load nothing from elsewhere) and the line on a start
 * job's page that says whether the server became reachable. */
#include <stdio.h>
#include <string.h>

#include "html.h"
#include "jobs.h"
#include "layout.h"
#include "page-players.h"
#include "pages.h"
#include "svc-jobs.h"
#include "svc-players.h"
#include "svc-servers.h"

#define RECENT_DAYS 7
#define RECENT_PLAYERS 20
#define SESSIONS_SHOWN 10     /* per player */

static void duration_txt(Buf *b, int64_t s) {
        char t[48];
        if (s < 0)
                s = 0;
        if (s < 60)
                snprintf(t, sizeof t, "%lld s", (long long) s);
        else if (s < 3600)
                snprintf(t, sizeof t, "%lld min", (long long) (s / 60));
        else if (s < 86400)
                snprintf(t, sizeof t, "%lld h %02lld min", (long long) (s / 3600), (long long) (s % 3600 / 60));
        else
                snprintf(t, sizeof t, "%lld d %lld h", (long long) (s / 86400), (long long) (s % 86400 / 3600));
        html_txt(b, t);
}

/* Our own words: one of two literals, never data. */
static void plural(Buf *b, int n, const char *one, const char *many) {
        html_txt(b, n == 1 ? one : many);
}

static void ms_or_dash(Buf *b, int v) {
        if (v < 0) {
                html_raw(b, "–");
                return;
        }
        html_int(b, v);
        html_raw(b, " ms");
}

/* The Steam profile's address: the one Steam gave, if it is one of Steam's,
 * else the profile by SteamID64 (valid for every account). */
static void profile_href(Buf *b, int64_t steamid64, const char *url) {
        if (url && (startswith(url, "https://steamcommunity.com/id/") ||
                    startswith(url, "https://steamcommunity.com/profiles/"))) {
                html_attr(b, url);
                return;
        }
        html_raw(b, "https://steamcommunity.com/profiles/");
        html_int(b, steamid64);
        html_raw(b, "/");
}

static void avatar(Buf *b, int64_t steamid64, bool have) {
        if (!have)
                return; /* no placeholder: the name stands alone */
        html_raw(b, "<img class=\"avatar\" src=\"/players/avatar/");
        html_int(b, steamid64);
        html_raw(b, "\" alt=\"\" width=\"32\" height=\"32\"> ");
}

/* The name as typed, linked to the profile when there is a SteamID; the
 * Steam persona after it when it differs. */
static void player_name(Buf *b, const char *name, int64_t steamid64, const char *persona, const char *url) {
        if (steamid64) {
                html_raw(b, "<a class=\"player\" rel=\"noopener noreferrer\" href=\"");
                profile_href(b, steamid64, url);
                html_raw(b, "\"><bdi>");
                html_txt(b, name);
                html_raw(b, "</bdi></a>");
        } else {
                html_raw(b, "<span class=\"player\"><bdi>");
                html_txt(b, name);
                html_raw(b, "</bdi></span>");
        }
        if (persona && persona[0] && !streq(persona, name)) {
                html_raw(b, " <span class=\"persona\">(Steam: <bdi>");
                html_txt(b, persona);
                html_raw(b, "</bdi>)</span>");
        }
}

static void health_notice(Buf *b, const Server *v, int64_t now) {
        if (!streq(v->state, "unresponsive"))
                return;
        html_raw(b, "<p class=\"notice-bad\" role=\"status\" id=\"unresponsive\">Not answering since ");
        html_utc(b, v->state_since, true);
        html_raw(b, " (");
        duration_txt(b, now - v->state_since);
        html_raw(b, "): the game server's process runs, but it has not answered the panel's last queries "
                    "(A2S). Players may be stuck; restart it if it does not recover.</p>\n");
}

static void roster_table(Req *r, const Server *v, int64_t now) {
        Buf *b = &r->out;
        RosterView rv = { 0 };
        if (players_roster_load(r->db, v->id, &rv) < 0) {
                html_raw(b, "<p class=\"error\">The players cannot be read now; try again.</p>\n");
                return;
        }
        bool up = streq(v->state, "running") || streq(v->state, "unresponsive") || streq(v->state, "starting");
        if (rv.error[0] && up) {
                html_raw(b, "<p class=\"notice-bad\" role=\"status\">The player list cannot be read since ");
                html_utc(b, rv.error_since, true);
                html_raw(b, ": ");
                html_txt(b, rv.error);
                html_raw(b, "</p>\n");
        }
        if (!rv.at || !up) {
                if (up)
                        html_raw(b, "<p id=\"roster-none\">Who is on the server is not known yet: it is read every "
                                    "few seconds while the server answers.</p>\n");
                else
                        html_raw(b, "<p id=\"roster-none\">Nobody: the server is not running.</p>\n");
                roster_view_done(&rv);
                return;
        }
        if (rv.n == 0) {
                html_raw(b, "<p id=\"roster-none\">Nobody is on the server.</p>\n");
                roster_view_done(&rv);
                return;
        }
        html_raw(b, "<table class=\"list roster\" id=\"roster\">\n<caption>On the server now: ");
        html_int(b, rv.humans);
        plural(b, rv.humans, " player", " players");
        if (rv.bots) {
                html_raw(b, ", ");
                html_int(b, rv.bots);
                plural(b, rv.bots, " bot", " bots");
        }
        html_raw(b, "</caption>\n<thead><tr><th>Player</th><th>Ping (average)</th><th>Connected</th><th>State</th>"
                    "</tr></thead>\n<tbody>\n");
        for (size_t i = 0; i < rv.n; i++) {
                const RosterRow *p = &rv.rows[i];
                html_raw(b, "<tr");
                if (p->bot)
                        html_raw(b, " class=\"bot\"");
                html_raw(b, ">\n<td data-label=\"Player\">");
                avatar(b, p->steamid64, p->avatar);
                player_name(b, p->name, p->steamid64, p->persona, p->profile_url);
                if (p->bot)
                        html_raw(b, " <span class=\"badge\">bot</span>");
                else if (!p->steamid64)
                        html_raw(b, " <span class=\"badge\">connecting</span>");
                html_raw(b, "</td>\n<td data-label=\"Ping\">");
                ms_or_dash(b, p->ping);
                if (p->ping_avg >= 0) {
                        html_raw(b, " (");
                        ms_or_dash(b, p->ping_avg);
                        html_raw(b, ")");
                }
                html_raw(b, "</td>\n<td data-label=\"Connected\">");
                if (p->joined > 0)
                        duration_txt(b, now - p->joined);
                else
                        html_raw(b, "–");
                html_raw(b, "</td>\n<td data-label=\"State\">");
                html_txt(b, p->state);
                html_raw(b, "</td>\n</tr>\n");
        }
        html_raw(b, "</tbody>\n</table>\n");
        roster_view_done(&rv);
}

/* A player of the recent list: the header row, and their sessions (already
 * rendered into sessions). */
typedef struct Group {
        int64_t steamid64;
        char name[PLAYER_NAME_MAX * 4 + 1], persona[PLAYER_NAME_MAX * 4 + 1], url[256];
        bool avatar;
        int64_t last, played;
        int sessions;
        bool on;
        Buf rows;
} Group;

static void group_flush(Buf *b, Group *g, int64_t now) {
        if (!g->sessions)
                return;
        html_raw(b, "<tr>\n<td data-label=\"Player\">");
        avatar(b, g->steamid64, g->avatar);
        player_name(b, g->name, g->steamid64, g->persona, g->url);
        html_raw(b, "</td>\n<td data-label=\"Last seen\">");
        if (g->on)
                html_raw(b, "on now");
        else
                html_utc(b, g->last, true);
        html_raw(b, "</td>\n<td data-label=\"Played\">");
        duration_txt(b, g->played);
        html_raw(b, "</td>\n<td data-label=\"Sessions\"><details><summary>");
        html_int(b, g->sessions);
        plural(b, g->sessions, " session", " sessions");
        html_raw(b, "</summary>\n<table class=\"sessions\">\n<thead><tr><th>Joined</th><th>Left</th><th>Stayed</th>"
                    "<th>Ping min / avg / max</th><th>Loss avg / max</th></tr></thead>\n<tbody>\n");
        html_built(b, &g->rows);
        html_raw(b, "</tbody>\n</table>\n</details></td>\n</tr>\n");
        buf_free(&g->rows);
        g->sessions = 0;
}

static void session_tr(Buf *b, const SessionRow *s, int64_t now) {
        html_raw(b, "<tr><td>");
        html_utc(b, s->joined, true);
        html_raw(b, "</td><td>");
        if (s->left)
                html_utc(b, s->left, true);
        else
                html_raw(b, "still on");
        html_raw(b, "</td><td>");
        duration_txt(b, (s->left ? s->left : now) - s->joined);
        html_raw(b, "</td><td>");
        if (s->ping_avg >= 0) {
                html_int(b, s->ping_min);
                html_raw(b, " / ");
                html_int(b, s->ping_avg);
                html_raw(b, " / ");
                html_int(b, s->ping_max);
                html_raw(b, " ms");
        } else
                html_raw(b, "–");
        html_raw(b, "</td><td>");
        if (s->loss_avg >= 0) {
                html_fixed(b, s->loss_avg, 1);
                html_raw(b, " / ");
                html_int(b, s->loss_max);
        } else
                html_raw(b, "–");
        html_raw(b, "</td></tr>\n");
}

static void recent_players(Req *r, const Server *v, int64_t now) {
        Buf *b = &r->out;
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (players_sessions(&it, r->db, v->id, now - RECENT_DAYS * 86400, RECENT_PLAYERS) < 0)
                return;
        html_raw(b, "<h3>Players of the last 7 days</h3>\n");
        Group g = { .rows = BUF_INIT(PAGE_MAX / 4) };
        int players = 0;
        SessionRow s;
        bool any = false;
        while (session_next(&it, &s)) {
                if (!any)
                        html_raw(b, "<table class=\"list recent\" id=\"recent\">\n<thead><tr><th>Player</th>"
                                    "<th>Last seen</th><th>Played</th><th>Sessions</th></tr></thead>\n<tbody>\n");
                any = true;
                if (s.steamid64 != g.steamid64 || !g.sessions) {
                        group_flush(b, &g, now);
                        players++;
                        g.steamid64 = s.steamid64;
                        snprintf(g.name, sizeof g.name, "%s", s.name); /* the newest session's name */
                        snprintf(g.persona, sizeof g.persona, "%s", s.persona);
                        snprintf(g.url, sizeof g.url, "%s", s.profile_url);
                        g.avatar = s.avatar;
                        g.last = s.left ? s.left : now;
                        g.on = !s.left;
                        g.played = 0;
                        g.rows = (Buf) BUF_INIT(PAGE_MAX / 4);
                }
                g.played += (s.left ? s.left : now) - s.joined;
                if (g.sessions++ < SESSIONS_SHOWN)
                        session_tr(&g.rows, &s, now);
        }
        group_flush(b, &g, now);
        buf_free(&g.rows);
        if (any)
                html_raw(b, "</tbody>\n</table>\n");
        else
                html_raw(b, "<p>Nobody played here in the last 7 days.</p>\n");
}

void players_section(Req *r, const Server *v) {
        Buf *b = &r->out;
        int64_t now = now_sec();
        char href[64];
        html_raw(b, "<section id=\"players\" class=\"card players\" aria-labelledby=\"players-title\" data-hx-get=\"");
        html_attr(b, path_id(href, sizeof href, "/servers", v->id, "/players"));
        html_raw(b, "\" data-hx-trigger=\"every 10s\" data-hx-swap=\"outerHTML\">\n"
                    "<h2 id=\"players-title\">Players</h2>\n");
        health_notice(b, v, now);
        roster_table(r, v, now);
        html_raw(b, "<h3>Player count</h3>\n<div class=\"charts\">\n");
        players_chart(r, v, "chart-24h", "Players over the last 24 hours", now - 86400, now);
        players_chart(r, v, "chart-7d", "Players over the last 7 days", now - 7 * 86400, now);
        html_raw(b, "</div>\n");
        recent_players(r, v, now);
        html_raw(b, "</section>\n");
}

void page_server_players(Req *r) {
        Server v;
        if (server_load(r->db, r->id, &r->user, &v) < 0) {
                render_not_found(r);
                return;
        }
        players_section(r, &v);
}

void page_player_avatar(Req *r) {
        void *data = NULL;
        size_t len = 0;
        char type[32];
        if (players_avatar_load(r->db, r->id, &r->user, &data, &len, type, sizeof type) < 0) {
                render_not_found(r);
                return;
        }
        /* Only the two types the fetcher keeps, whatever the row says. */
        r->content_type = streq(type, "image/png") ? "image/png" : "image/jpeg";
        r->cache_control = "private, max-age=3600";
        (void) buf_append(&r->out, data, len);
        free(data);
}

/* ---- a start's job page ---- */

static bool lifecycle(const char *kind) {
        return streq(kind, "start") || streq(kind, "restart") || streq(kind, "stop") || streq(kind, "delete");
}

static bool reach_applies(const JobRow *j) {
        return j->server_id && (streq(j->kind, "start") || streq(j->kind, "restart")) && !streq(j->state, "failed");
}

/* The job page is cached on the job's tables alone (the watch's writes keep
 * it): the line is a fragment it loads, which then refreshes itself until
 * it is decided. */
void job_reach_section(Req *r, const JobRow *j) {
        if (!reach_applies(j))
                return;
        Buf *b = &r->out;
        char href[64];
        path_id(href, sizeof href, "/jobs", j->id, "/reach");
        html_raw(b, "<p id=\"job-reach\" class=\"reach-wait\" data-hx-get=\"");
        html_attr(b, href);
        html_raw(b, "\" data-hx-trigger=\"load\" data-hx-swap=\"outerHTML\" role=\"status\"><a href=\"");
        html_attr(b, href);
        html_raw(b, "\">Did the server become reachable?</a></p>\n");
}

static void reach_line(Req *r, const JobRow *j) {
        if (!reach_applies(j))
                return;
        Server v;
        if (server_load(r->db, j->server_id, &r->user, &v) < 0)
                return;
        /* Only while this is the server's newest start, stop or delete:
         * later, what the server does is no longer this job's outcome. */
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (jobs_of_server(&it, r->db, v.id) < 0)
                return;
        JobRow k = { 0 };
        bool found = false;
        while (!found && job_next(&it, &k))
                found = lifecycle(k.kind);
        if (!found || k.id != j->id)
                return;
        Buf *b = &r->out;
        int64_t now = now_sec();
        bool done = streq(j->state, "succeeded");
        const char *cls = "reach-wait";
        bool final = false;
        /* What the watch said since the job was queued. */
        bool fresh = v.state_since >= j->created_at;
        if (done && streq(v.state, "running") && streq(v.health, "ok"))
                cls = "reach-ok", final = true;
        else if (done && fresh && (streq(v.state, "unresponsive") || streq(v.state, "crashed") ||
                                   streq(v.state, "stopped")))
                cls = "reach-bad", final = true;
        html_raw(b, "<p id=\"job-reach\" class=\"");
        html_attr(b, cls);
        html_raw(b, "\"");
        if (!final) {
                char href[64];
                html_raw(b, " data-hx-get=\"");
                html_attr(b, path_id(href, sizeof href, "/jobs", j->id, "/reach"));
                html_raw(b, "\" data-hx-trigger=\"every 3s\" data-hx-swap=\"outerHTML\"");
        }
        html_raw(b, " role=\"status\">");
        if (streq(cls, "reach-ok")) {
                html_raw(b, "Reachable: the server answers queries");
                if (v.state_since > 0) {
                        html_raw(b, " (running since ");
                        html_utc(b, v.state_since, true);
                        html_raw(b, ")");
                }
                html_raw(b, ".");
        } else if (streq(v.state, "unresponsive") && done) {
                html_raw(b, "Not reachable: the server's process was started, but it has not answered queries "
                            "(A2S) since ");
                html_utc(b, v.state_since, true);
                html_raw(b, ". It may be stuck loading (a broken map, addon or plugin?): see its console on the "
                            "server's page.");
        } else if (streq(v.state, "crashed") && done) {
                html_raw(b, "Not reachable: the server crashed after the start");
                if (v.detail[0]) {
                        html_raw(b, " (");
                        html_txt(b, v.detail);
                        html_raw(b, ")");
                }
                html_raw(b, ".");
        } else if (streq(v.state, "stopped") && done) {
                html_raw(b, "Not reachable: the server stopped again after the start; see its console on the "
                            "server's page.");
        } else {
                html_raw(b, "Waiting for the server to answer queries");
                if (done && now - j->created_at > 60) {
                        html_raw(b, ": no answer in ");
                        duration_txt(b, now - j->created_at);
                        html_raw(b, " so far");
                }
                html_raw(b, "…");
        }
        html_raw(b, "</p>\n");
}

void page_job_reach(Req *r) {
        JobRow j;
        if (job_load(r->db, r->id, &r->user, &j) < 0) {
                render_not_found(r);
                return;
        }
        reach_line(r, &j);
}
