/* Player sessions reconstructed from a scripted sequence of `status`
 * outputs, through the code that runs in production on both sides: the
 * status parser and watch's roster tracker (host), the roster event as JSON
 * text, the panel's parser and svc-players on a real SQLite database.
 * Covered: a join, ping changes, a leave, a rejoin with a new userid, a
 * bot, a connecting player who gets their SteamID later, a name with
 * markup, a watch restart in the middle, the server going down; and 1,000
 * polls of an unchanged roster writing nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "players-roster.h"
#include "status.h"
#include "svc-players.h"
#include "watch-roster.h"

#define BASE 76561197960265728LL
#define T0 1000000000LL

typedef struct P {
        int userid;
        const char *name;
        const char *steam;     /* NULL: a bot */
        const char *connected;
        int ping, loss;
        const char *state;
} P;

typedef struct Fix {
        char dir[64], path[96];
        sqlite3 *db;
        RosterTracker t;
        PlayersStream *ps;
        long long now;
        int events;
} Fix;

static char *status_text(const P *ps, size_t n) {
        Buf b = BUF_INIT(1 << 20);
        int humans = 0, bots = 0;
        for (size_t i = 0; i < n; i++)
                ps[i].steam ? humans++ : bots++;
        buf_printf(&b, "hostname: Test\nversion : 2.2.2.6 8777 secure  (unknown)\nudp/ip  : 127.0.0.1:27015 "
                       "[ public n/a ]\nos      : Linux Dedicated\nmap     : c1m1_hotel at ( 0, 0, 0 )\n"
                       "players : %d humans, %d bots (8 max) (not hibernating) (unreserved)\n\n"
                       "# userid name uniqueid connected ping loss state rate adr\n", humans, bots);
        int slot = 1;
        for (size_t i = 0; i < n; i++) {
                const P *p = &ps[i];
                if (p->steam)
                        buf_printf(&b, "#%3d %d \"%s\" %s %s %d %d %s 30000 127.0.0.1:27005\n", p->userid, slot++,
                                   p->name, p->steam, p->connected, p->ping, p->loss, p->state ? p->state : "active");
                else
                        buf_printf(&b, "#%3d \"%s\" BOT active\n", p->userid, p->name);
        }
        buf_printf(&b, "#end\n");
        return b.data;
}

/* One poll of watch at f->now: parse, track, and if an event is due, send
 * it through JSON text to the panel. Returns whether there was an event. */
static bool poll_(Fix *f, const P *ps, size_t n) {
        char *text = status_text(ps, n);
        Status st;
        Error e = { 0 };
        assert_int_equal(status_parse(text, strlen(text), &st, &e), 0);
        free(text);
        assert_int_equal(roster_update(&f->t, &st, f->now), 0);
        status_done(&st);
        bool due = roster_due(&f->t, f->now, 60);
        if (due) {
                json_t *ev = roster_event(&f->t, "s1", f->now);
                assert_non_null(ev);
                char *line = json_dumps(ev, JSON_COMPACT);
                json_decref(ev);
                json_t *j = json_loads(line, 0, NULL);
                free(line);
                RosterIn r;
                assert_int_equal(roster_in_parse(j, &r), 0);
                assert_int_equal(players_roster_apply(f->db, f->ps, &r), 0);
                roster_in_done(&r);
                json_decref(j);
                f->events++;
        }
        f->now += 10;
        return due;
}

static void down(Fix *f) {
        roster_down(&f->t, f->now);
        if (roster_due(&f->t, f->now, 60)) {
                json_t *ev = roster_event(&f->t, "s1", f->now);
                RosterIn r;
                assert_int_equal(roster_in_parse(ev, &r), 0);
                assert_int_equal(players_roster_apply(f->db, f->ps, &r), 0);
                roster_in_done(&r);
                json_decref(ev);
                f->events++;
        }
}

static long long count(Fix *f, const char *sql) {
        sqlite3_stmt *s;
        assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        long long v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        return v;
}

typedef struct Sess {
        long long steamid, userid, joined, left, ping_min, ping_max, ping_sum, samples, loss_max;
        char name[256];
} Sess;

/* The sessions, oldest first. */
static size_t sessions(Fix *f, Sess *v, size_t max) {
        sqlite3_stmt *s;
        assert_int_equal(sqlite3_prepare_v2(f->db,
                                            "SELECT steamid64, userid, joined_at, coalesce(left_at, 0), "
                                            "coalesce(ping_min, -1), coalesce(ping_max, -1), ping_sum, samples, "
                                            "coalesce(loss_max, -1), name FROM player_sessions ORDER BY id",
                                            -1, &s, NULL),
                         SQLITE_OK);
        size_t n = 0;
        while (n < max && sqlite3_step(s) == SQLITE_ROW) {
                v[n] = (Sess) { sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2),
                                sqlite3_column_int64(s, 3), sqlite3_column_int64(s, 4), sqlite3_column_int64(s, 5),
                                sqlite3_column_int64(s, 6), sqlite3_column_int64(s, 7), sqlite3_column_int64(s, 8), "" };
                snprintf(v[n].name, sizeof v[n].name, "%s", (const char *) sqlite3_column_text(s, 9));
                n++;
        }
        sqlite3_finalize(s);
        return n;
}

static int setup(void **state) {
        Fix *f = calloc(1, sizeof *f);
        snprintf(f->dir, sizeof f->dir, "/tmp/test-players-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof f->path, "%s/left4me.db", f->dir);
        assert_int_equal(db_open(f->path, &f->db), 0);
        int applied;
        assert_int_equal(db_migrate(f->db, &applied), 0);
        assert_int_equal(sqlite3_exec(f->db,
                                      "INSERT INTO users (id, username, pw_hash, password_changed_at, created_at) "
                                      "VALUES (1, 'u', 'x', 0, 0);"
                                      "INSERT INTO blueprints (id, user_id, name, map, maxplayers, tickrate, "
                                      "created_at, updated_at) VALUES (1, 1, 'b', 'c1m1_hotel', 8, 30, 0, 0);"
                                      "INSERT INTO servers (id, user_id, blueprint_id, name, instance, created_at) "
                                      "VALUES (1, 1, 1, 'S', 's1', 0);",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        roster_done(&f->t);
        f->ps = players_stream_new();
        f->now = T0;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fix *f = *state;
        roster_done(&f->t);
        players_stream_free(f->ps);
        sqlite3_close(f->db);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

#define A_ID (BASE + 2 * 100)     /* STEAM_1:0:100 */
#define B_ID (BASE + 2 * 300)     /* STEAM_1:0:300 */
#define C_ID (BASE + 2 * 7 + 1)   /* STEAM_1:1:7 */
#define HOSTILE "<script>alert(\"x\")</script> \xe2\x80\xae" "evil'"

static void test_sessions_from_a_scripted_sequence(void **state) {
        Fix *f = *state;
        Sess s[8];

        /* t0: A is on, a bot, and C still connecting (no SteamID yet). */
        P p1[] = { { 2, "A", "STEAM_1:0:100", "00:30", 50, 0, "active" }, { 5, "Smoker", NULL, NULL, 0, 0, NULL },
                   { 4, "C", "STEAM_ID_PENDING", "00:02", 999, 0, "spawning" } };
        assert_true(poll_(f, p1, 3));
        assert_int_equal(sessions(f, s, 8), 1); /* neither the bot nor C */
        assert_int_equal(s[0].steamid, A_ID);
        assert_int_equal(s[0].joined, T0 - 30); /* as the server says, not when first seen */
        assert_int_equal(count(f, "SELECT count(*) FROM roster_snapshots"), 1);
        assert_int_equal(count(f, "SELECT humans FROM roster_snapshots"), 2);
        assert_int_equal(count(f, "SELECT bots FROM roster_snapshots"), 1);

        /* t0+10: only A's ping moves: not news. */
        P p2[] = { { 2, "A", "STEAM_1:0:100", "00:40", 70, 1, "active" }, { 5, "Smoker", NULL, NULL, 0, 0, NULL },
                   { 4, "C", "STEAM_ID_PENDING", "00:12", 999, 0, "spawning" } };
        assert_false(poll_(f, p2, 3));

        /* t0+20: C gets their SteamID: a session from when C connected. */
        P p3[] = { { 2, "A", "STEAM_1:0:100", "00:50", 90, 0, "active" }, { 5, "Smoker", NULL, NULL, 0, 0, NULL },
                   { 4, "C", "STEAM_1:1:7", "00:22", 40, 0, "active" } };
        assert_true(poll_(f, p3, 3));
        assert_int_equal(sessions(f, s, 8), 2);
        assert_int_equal(s[1].steamid, C_ID);
        assert_int_equal(s[1].joined, T0 + 20 - 22);
        assert_int_equal(count(f, "SELECT count(*) FROM roster_snapshots"), 2);

        /* t0+30: A left; B, with a name full of markup, joined. */
        P p4[] = { { 6, HOSTILE, "STEAM_1:0:300", "00:04", 120, 3, "active" }, { 5, "Smoker", NULL, NULL, 0, 0, NULL },
                   { 4, "C", "STEAM_1:1:7", "00:32", 40, 0, "active" } };
        assert_true(poll_(f, p4, 3));
        assert_int_equal(sessions(f, s, 8), 3);
        assert_int_equal(s[0].left, T0 + 20); /* last seen */
        /* A's pings over the whole stay: 50, 70, 90. */
        assert_int_equal(s[0].ping_min, 50);
        assert_int_equal(s[0].ping_max, 90);
        assert_int_equal(s[0].samples, 3);
        assert_int_equal(s[0].ping_sum, 210);
        assert_int_equal(s[0].loss_max, 1);
        assert_string_equal(s[2].name, HOSTILE); /* exactly as typed */
        assert_int_equal(s[2].steamid, B_ID);

        /* t0+40: A is back, as a new connection (userid 9): a second session. */
        P p5[] = { { 6, HOSTILE, "STEAM_1:0:300", "00:14", 120, 3, "active" }, { 5, "Smoker", NULL, NULL, 0, 0, NULL },
                   { 4, "C", "STEAM_1:1:7", "00:42", 40, 0, "active" }, { 9, "A again", "STEAM_1:0:100", "00:05", 60, 0, "active" } };
        assert_true(poll_(f, p5, 4));
        assert_int_equal(sessions(f, s, 8), 4);
        assert_int_equal(s[3].steamid, A_ID);
        assert_int_equal(s[3].userid, 9);
        assert_int_equal(s[3].joined, T0 + 40 - 5);
        assert_int_equal(s[3].left, 0);
        assert_int_equal(s[0].left, T0 + 20); /* the first stay is untouched */
        assert_int_equal(count(f, "SELECT count(*) FROM player_sessions WHERE left_at IS NULL"), 3);

        /* 1,000 polls of the same roster: nothing is written. */
        long long snaps = count(f, "SELECT count(*) FROM roster_snapshots");
        long long gen = count(f, "SELECT sum(gen) FROM generations");
        int events = f->events;
        for (int i = 0; i < 1000; i++)
                assert_false(poll_(f, p5, 4));
        assert_int_equal(f->events, events);
        assert_int_equal(count(f, "SELECT count(*) FROM roster_snapshots"), snaps);
        assert_int_equal(count(f, "SELECT sum(gen) FROM generations"), gen);

        /* The watch restarts (a new tracker, a new stream): its first roster
         * is the same one, and continues the same sessions. */
        roster_done(&f->t);
        players_stream_free(f->ps);
        f->ps = players_stream_new();
        long long samples_b = count(f, "SELECT samples FROM player_sessions WHERE steamid64 = " "76561197960266328");
        assert_true(poll_(f, p5, 4));
        assert_int_equal(sessions(f, s, 8), 4);
        assert_int_equal(count(f, "SELECT count(*) FROM roster_snapshots"), snaps);
        /* One more sample for B, not the whole count again. */
        assert_int_equal(count(f, "SELECT samples FROM player_sessions WHERE steamid64 = 76561197960266328"),
                         samples_b + 1);

        /* The server goes down: everyone's stay ends, nobody is on it. */
        long long end = f->now;
        down(f);
        assert_int_equal(count(f, "SELECT count(*) FROM player_sessions WHERE left_at IS NULL"), 0);
        assert_int_equal(count(f, "SELECT count(*) FROM player_sessions WHERE left_at = " "0"), 0);
        assert_int_equal(sessions(f, s, 8), 4);
        assert_true(s[3].left == end - 10); /* last seen at the poll before */
        assert_int_equal(count(f, "SELECT humans FROM roster_snapshots ORDER BY id DESC LIMIT 1"), 0);
}

static void test_a_new_userid_the_watch_did_not_see_leave(void **state) {
        Fix *f = *state;
        Sess s[4];
        P p1[] = { { 2, "A", "STEAM_1:0:100", "10:00", 50, 0, "active" } };
        assert_true(poll_(f, p1, 1));
        /* The watch restarts; meanwhile A reconnected (userid 12). */
        roster_done(&f->t);
        players_stream_free(f->ps);
        f->ps = players_stream_new();
        f->now += 100;
        P p2[] = { { 12, "A", "STEAM_1:0:100", "00:30", 55, 0, "active" } };
        assert_true(poll_(f, p2, 1));
        assert_int_equal(sessions(f, s, 4), 2);
        assert_int_equal(s[0].left, s[1].joined); /* the old stay ends where the new one began */
        assert_int_equal(s[1].userid, 12);
        /* The instance is stopped while no watch saw it go. */
        assert_int_equal(players_server_down(f->db, "s1", f->now), 0);
        assert_int_equal(count(f, "SELECT count(*) FROM player_sessions WHERE left_at IS NULL"), 0);
        /* Said once: the next stop notes nothing. */
        long long snaps = count(f, "SELECT count(*) FROM roster_snapshots");
        assert_int_equal(players_server_down(f->db, "s1", f->now + 5), 0);
        assert_int_equal(count(f, "SELECT count(*) FROM roster_snapshots"), snaps);
}

static void test_errors_are_rows_once(void **state) {
        Fix *f = *state;
        json_t *j = json_pack("{s:s, s:I, s:s, s:s}", "event", "roster", "time", (json_int_t) T0, "name", "s1", "error",
                              "the server refused the RCON password");
        RosterIn r;
        assert_int_equal(roster_in_parse(j, &r), 0);
        assert_int_equal(players_roster_apply(f->db, f->ps, &r), 0);
        assert_int_equal(players_roster_apply(f->db, f->ps, &r), 0);
        roster_in_done(&r);
        json_decref(j);
        assert_int_equal(count(f, "SELECT count(*) FROM roster_snapshots WHERE players IS NULL"), 1);
        /* An instance that is none of the panel's servers is ignored. */
        j = json_pack("{s:s, s:I, s:s, s:[], s:[]}", "event", "roster", "time", (json_int_t) T0, "name", "other",
                      "players", "left");
        assert_int_equal(roster_in_parse(j, &r), 0);
        assert_int_equal(players_roster_apply(f->db, f->ps, &r), 0);
        roster_in_done(&r);
        json_decref(j);
        assert_int_equal(count(f, "SELECT count(*) FROM roster_snapshots"), 1);
        /* Not a roster event: refused. */
        j = json_pack("{s:s, s:I, s:s, s:s}", "event", "roster", "time", (json_int_t) T0, "name", "s1", "players", "x");
        assert_int_equal(roster_in_parse(j, &r), -EINVAL);
        json_decref(j);
}

static void test_retention(void **state) {
        Fix *f = *state;
        P p1[] = { { 2, "A", "STEAM_1:0:100", "00:30", 50, 0, "active" } };
        assert_true(poll_(f, p1, 1));
        down(f);
        f->now += 100 * 86400;
        P p2[] = { { 3, "B", "STEAM_1:0:300", "00:30", 50, 0, "active" } };
        assert_true(poll_(f, p2, 1));
        assert_int_equal(players_profile_store(f->db, A_ID, "a", "", "", T0), 0);
        int n = 0;
        assert_int_equal(players_prune(f->db, f->now - 90 * 86400, 1000, &n), 0);
        /* A's stay and A's profile went; the newest snapshot before the cut
         * stays (it says what held then), and everything after it. */
        assert_int_equal(count(f, "SELECT count(*) FROM player_sessions"), 1);
        assert_int_equal(count(f, "SELECT count(*) FROM steam_profiles"), 0);
        assert_int_equal(count(f, "SELECT count(*) FROM roster_snapshots"), 2);
        assert_int_equal(n, 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_sessions_from_a_scripted_sequence, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_new_userid_the_watch_did_not_see_leave, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors_are_rows_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
