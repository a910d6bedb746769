/* The rules of `l4d2ctl watch`, played as whole histories: each round is
 * what the backend said and whether the server answered; the test checks
 * which rounds give an event and what it says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "watch-state.h"

#define MISSES 3

typedef struct Round {
        const char *state; /* the backend's */
        long long pid, restarts;
        const char *detail;
        int answer;        /* 1: answered (players = answer players), 0: no answer */
        unsigned players;
} Round;

typedef struct Sim {
        WatchTracker t;
        long long now;
        bool synced;
} Sim;

/* Plays one round; returns whether an event was due (and it in *ret). */
static bool play(Sim *s, Round r, WatchReport *ret) {
        WatchStatus st = { .state = r.state, .pid = r.pid, .restarts = r.restarts, .port = 27015, .uptime = -1,
                           .detail = r.detail };
        WatchInfo info = { .have = true, .players = r.players, .maxplayers = 8 };
        strcpy(info.map, "c1m1_hotel");
        bool polled = watch_round_begin(&s->t, &st);
        watch_round_end(&s->t, polled && r.answer ? &info : NULL);
        bool ev = watch_decide(&s->t, &st, MISSES, !s->synced, s->now, ret);
        s->synced = true;
        s->now += 5;
        return ev;
}

#define RUNNING_OK ((Round) { "running", 100, 0, "", 1, 0 })

static Sim running_sim(void) {
        Sim s = { .now = 1000 };
        WatchReport r;
        assert_true(play(&s, RUNNING_OK, &r)); /* the snapshot */
        assert_int_equal(r.state, WATCH_RUNNING);
        return s;
}

static void test_snapshot_reports_everything(void **state) {
        Sim s = { .now = 1000 };
        WatchReport r;
        WatchStatus st = { .state = "running", .pid = 7, .port = 27015, .uptime = 60 };
        WatchInfo info = { .have = true, .players = 2, .bots = 1, .maxplayers = 8 };
        assert_true(watch_round_begin(&s.t, &st));
        watch_round_end(&s.t, &info);
        assert_true(watch_decide(&s.t, &st, MISSES, true, 1000, &r));
        assert_int_equal(r.state, WATCH_RUNNING);
        assert_int_equal(r.health, WATCH_HEALTH_OK);
        assert_int_equal(r.info.players, 2);
        assert_int_equal(s.t.since, 940); /* from its uptime */

        Sim t = { .now = 1000 };
        assert_true(play(&t, (Round) { "stopped", 0, 0, "", 0, 0 }, &r));
        assert_int_equal(r.state, WATCH_STOPPED);
        assert_int_equal(r.health, WATCH_HEALTH_NONE);
        assert_false(r.info.have);
        /* Nothing changes: nothing is due. */
        for (int i = 0; i < 5; i++)
                assert_false(play(&t, (Round) { "stopped", 0, 0, "", 0, 0 }, &r));
}

static void test_a_stopped_server_is_not_polled(void **state) {
        WatchTracker t = { 0 };
        WatchStatus stopped = { .state = "stopped", .port = 27015, .uptime = -1 };
        WatchStatus crashed = { .state = "crashed", .port = 27015, .uptime = -1 };
        WatchStatus backoff = { .state = "starting", .pid = 0, .port = 27015, .uptime = -1 };
        WatchStatus up = { .state = "starting", .pid = 5, .port = 27015, .uptime = -1 };
        assert_false(watch_round_begin(&t, &stopped));
        assert_false(watch_round_begin(&t, &crashed));
        assert_false(watch_round_begin(&t, &backoff));
        assert_true(watch_round_begin(&t, &up));
        /* A backend's own hang verdict: the process is up all the same. */
        WatchStatus hung = { .state = "unresponsive", .pid = 5, .port = 27015, .uptime = -1 };
        assert_true(watch_round_begin(&t, &hung));
}

static void test_fast_start_is_one_event(void **state) {
        Sim s = { .now = 1000 };
        WatchReport r;
        assert_true(play(&s, (Round) { "stopped", 0, 0, "", 0, 0 }, &r));
        /* Caught while the server boots: held back. */
        assert_false(play(&s, (Round) { "starting", 100, 0, "", 0, 0 }, &r));
        assert_true(play(&s, RUNNING_OK, &r));
        assert_int_equal(r.state, WATCH_RUNNING);
        assert_int_equal(r.health, WATCH_HEALTH_OK);
        assert_int_equal(r.pid, 100);
        assert_int_equal(s.t.since, 1010);
        assert_false(play(&s, RUNNING_OK, &r));
}

static void test_slow_start_is_starting_then_running(void **state) {
        Sim s = { .now = 1000 };
        WatchReport r;
        assert_true(play(&s, (Round) { "stopped", 0, 0, "", 0, 0 }, &r));
        assert_false(play(&s, (Round) { "starting", 100, 0, "", 0, 0 }, &r)); /* t=1005 */
        /* Still starting a round later: now it is news, since it began. */
        assert_true(play(&s, (Round) { "starting", 100, 0, "", 0, 0 }, &r));
        assert_int_equal(r.state, WATCH_STARTING);
        assert_int_equal(r.health, WATCH_HEALTH_NO_ANSWER);
        assert_int_equal(s.t.since, 1005);
        assert_true(play(&s, RUNNING_OK, &r));
        assert_int_equal(r.state, WATCH_RUNNING);
        assert_int_equal(s.t.since, 1015);
}

static void test_a_server_that_never_answers_becomes_unresponsive(void **state) {
        Sim s = running_sim();
        WatchReport r;
        assert_true(play(&s, (Round) { "stopped", 0, 0, "", 0, 0 }, &r));
        assert_false(play(&s, (Round) { "starting", 100, 0, "", 0, 0 }, &r));
        /* The port is bound, but it does not answer: starting, ... */
        assert_true(play(&s, (Round) { "running", 100, 0, "", 0, 0 }, &r));
        assert_int_equal(r.state, WATCH_STARTING);
        assert_int_equal(r.health, WATCH_HEALTH_NO_ANSWER);
        /* ... until it has missed MISSES polls. */
        assert_true(play(&s, (Round) { "running", 100, 0, "", 0, 0 }, &r));
        assert_int_equal(r.state, WATCH_UNRESPONSIVE);
        assert_false(r.info.have);
        assert_false(play(&s, (Round) { "running", 100, 0, "", 0, 0 }, &r));
}

static void test_crash_then_restart(void **state) {
        Sim s = running_sim();
        WatchReport r;
        /* The backend restarts it after a backoff: reported at once. */
        assert_true(play(&s, (Round) { "starting", 0, 0, "signal KILL", 0, 0 }, &r));
        assert_int_equal(r.state, WATCH_STARTING);
        assert_int_equal(r.health, WATCH_HEALTH_NONE);
        assert_int_equal(r.pid, 0);
        assert_string_equal(r.detail, "signal KILL");
        assert_false(r.info.have);
        /* The new process boots: not news of its own. */
        assert_false(play(&s, (Round) { "starting", 101, 1, "", 0, 0 }, &r));
        assert_true(play(&s, (Round) { "running", 101, 1, "", 1, 0 }, &r));
        assert_int_equal(r.state, WATCH_RUNNING);
        assert_int_equal(r.restarts, 1);
        assert_int_equal(r.pid, 101);
        assert_false(play(&s, (Round) { "running", 101, 1, "", 1, 0 }, &r));
}

static void test_crash_loop_folds_into_crashed(void **state) {
        Sim s = running_sim();
        WatchReport r;
        assert_true(play(&s, (Round) { "starting", 0, 0, "exit status 1", 0, 0 }, &r));
        for (long long i = 1; i < 5; i++) {
                assert_false(play(&s, (Round) { "starting", 200 + i, i, "", 0, 0 }, &r));
                assert_false(play(&s, (Round) { "starting", 0, i, "exit status 1", 0, 0 }, &r));
        }
        assert_true(play(&s, (Round) { "crashed", 0, 4, "crash loop: 5 exits within 60 s", 0, 0 }, &r));
        assert_int_equal(r.state, WATCH_CRASHED);
        assert_int_equal(r.health, WATCH_HEALTH_NONE);
}

static void test_hung_server_after_misses_and_recovery(void **state) {
        Sim s = running_sim();
        WatchReport r;
        Round hung = { "running", 100, 0, "", 0, 0 };
        for (int i = 0; i < MISSES - 1; i++)
                assert_false(play(&s, hung, &r)); /* a lost answer is not news */
        assert_true(play(&s, hung, &r));
        assert_int_equal(r.state, WATCH_UNRESPONSIVE);
        assert_int_equal(r.health, WATCH_HEALTH_NO_ANSWER);
        assert_true(r.info.have); /* the last answer still stands */
        for (int i = 0; i < 10; i++)
                assert_false(play(&s, hung, &r));
        assert_true(play(&s, RUNNING_OK, &r));
        assert_int_equal(r.state, WATCH_RUNNING);
        assert_int_equal(r.health, WATCH_HEALTH_OK);
}

static void test_one_lost_answer_changes_nothing(void **state) {
        Sim s = running_sim();
        WatchReport r;
        for (int i = 0; i < 20; i++)
                assert_false(play(&s, (Round) { "running", 100, 0, "", i % 3 != 0, 0 }, &r));
}

static void test_players_and_stop(void **state) {
        Sim s = running_sim();
        WatchReport r;
        assert_true(play(&s, (Round) { "running", 100, 0, "", 1, 3 }, &r));
        assert_int_equal(r.info.players, 3);
        assert_false(play(&s, (Round) { "running", 100, 0, "", 1, 3 }, &r));
        assert_true(play(&s, (Round) { "stopped", 0, 0, "", 0, 0 }, &r));
        assert_int_equal(r.state, WATCH_STOPPED);
        assert_false(r.info.have);
        assert_false(play(&s, (Round) { "stopped", 0, 0, "", 0, 0 }, &r));
}

static void test_new_instance_after_startup(void **state) {
        Sim s = { .now = 1000, .synced = true };
        WatchReport r;
        assert_true(play(&s, (Round) { "stopped", 0, 0, "", 0, 0 }, &r));
        assert_int_equal(r.state, WATCH_STOPPED);
        /* Created and started between two rounds: one event when it answers. */
        Sim u = { .now = 1000, .synced = true };
        assert_false(play(&u, (Round) { "starting", 100, 0, "", 0, 0 }, &r));
        assert_true(play(&u, RUNNING_OK, &r));
        assert_int_equal(r.state, WATCH_RUNNING);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_snapshot_reports_everything),
                cmocka_unit_test(test_a_stopped_server_is_not_polled),
                cmocka_unit_test(test_fast_start_is_one_event),
                cmocka_unit_test(test_slow_start_is_starting_then_running),
                cmocka_unit_test(test_a_server_that_never_answers_becomes_unresponsive),
                cmocka_unit_test(test_crash_then_restart),
                cmocka_unit_test(test_crash_loop_folds_into_crashed),
                cmocka_unit_test(test_hung_server_after_misses_and_recovery),
                cmocka_unit_test(test_one_lost_answer_changes_nothing),
                cmocka_unit_test(test_players_and_stop),
                cmocka_unit_test(test_new_instance_after_startup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
