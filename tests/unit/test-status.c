#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "strutil.h"

static const char SAMPLE[] =
        "hostname: My \"Best\" Server: coop\n"
        "version : 2.2.2.6 8777 secure  (unknown)\n"
        "udp/ip  : 127.0.0.1:27015 [ public n/a ]\n"
        "os      : Linux Dedicated\n"
        "map     : c2m2_fairgrounds at ( 1621, 2786, -66 )\n"
        "players : 3 humans, 2 bots (8 max) (not hibernating) (unreserved)\n"
        "\n"
        "# userid name uniqueid connected ping loss state rate adr\n"
        "#  2 1 \"Ellis \"the\" Mechanic\" STEAM_1:0:12345 05:12 45 0 active 30000 127.0.0.1:27005\n"
        "#  3 2 \"Zo\xc3\xab \xf0\x9f\x8e\xae #1\" STEAM_1:1:54321 1:02:03 80 2 active 30000 loopback\n"
        "#  4 3 \"Pending Player\" STEAM_ID_PENDING 00:03 999 0 spawning 30000\n"
        "#677 \"Smoker\" BOT active\n"
        "#678 \"Coach\" BOT active\n"
        "#end\n"
        "#  9 9 this row is after end and malformed\n"
        "L 11/23/2026 - 12:00:00: junk after the table\n";

static void test_sample(void **state) {
        Status s;
        Error err = { 0 };
        assert_int_equal(status_parse(SAMPLE, strlen(SAMPLE), &s, &err), 0);
        assert_string_equal(s.hostname, "My \"Best\" Server: coop");
        assert_string_equal(s.version, "2.2.2.6 8777 secure  (unknown)");
        assert_string_equal(s.udp_ip, "127.0.0.1:27015 [ public n/a ]");
        assert_string_equal(s.os, "Linux Dedicated");
        assert_string_equal(s.map, "c2m2_fairgrounds");
        assert_true(s.has_position);
        assert_int_equal(s.position[0], 1621);
        assert_int_equal(s.position[1], 2786);
        assert_int_equal(s.position[2], -66);
        assert_int_equal(s.humans, 3);
        assert_int_equal(s.bots, 2);
        assert_int_equal(s.max_players, 8);
        assert_int_equal(s.hibernating, 0);
        assert_string_equal(s.reserved, "unreserved");
        assert_int_equal(s.n_players, 5);

        StatusPlayer *p = &s.players[0];
        assert_int_equal(p->userid, 2);
        assert_int_equal(p->slot, 1);
        assert_string_equal(p->name, "Ellis \"the\" Mechanic");
        assert_false(p->bot);
        assert_string_equal(p->uniqueid, "STEAM_1:0:12345");
        assert_true(p->steamid64 == UINT64_C(76561197960290418));
        assert_int_equal(p->connected, 5 * 60 + 12);
        assert_int_equal(p->ping, 45);
        assert_int_equal(p->loss, 0);
        assert_string_equal(p->state, "active");
        assert_int_equal(p->rate, 30000);
        assert_string_equal(p->adr, "127.0.0.1:27005");

        p = &s.players[1];
        assert_string_equal(p->name, "Zo\xc3\xab \xf0\x9f\x8e\xae #1");
        assert_int_equal(p->connected, 3723);
        assert_int_equal(p->loss, 2);
        assert_string_equal(p->adr, "loopback");
        assert_true(p->steamid64 == UINT64_C(76561197960265728) + 2 * 54321 + 1);

        p = &s.players[2];
        assert_string_equal(p->uniqueid, "STEAM_ID_PENDING");
        assert_true(p->steamid64 == 0);
        assert_null(p->adr);
        assert_string_equal(p->state, "spawning");

        p = &s.players[3];
        assert_true(p->bot);
        assert_int_equal(p->userid, 677);
        assert_int_equal(p->slot, -1);
        assert_string_equal(p->name, "Smoker");
        assert_string_equal(p->uniqueid, "BOT");
        assert_string_equal(p->state, "active");
        assert_int_equal(p->ping, -1);
        assert_null(p->adr);
        assert_string_equal(s.players[4].name, "Coach");
        status_done(&s);
        status_done(&s); /* idempotent */
}

static void test_header_variants(void **state) {
        Status s;
        const char *t =
                "hostname: x\r\n"
                "map     : c1m1_hotel\r\n"
                "players : 0 humans, 0 bots (4/8 max) (hibernating) (reserved 1860000000000000a)\r\n"
                "# userid name uniqueid connected ping loss state rate adr\r\n"
                "#end\r\n";
        assert_int_equal(status_parse(t, strlen(t), &s, NULL), 0);
        assert_string_equal(s.hostname, "x");
        assert_string_equal(s.map, "c1m1_hotel");
        assert_false(s.has_position);
        assert_int_equal(s.max_players, 8);
        assert_int_equal(s.hibernating, 1);
        assert_string_equal(s.reserved, "reserved 1860000000000000a");
        assert_int_equal(s.n_players, 0);
        status_done(&s);

        /* Older players line, an unreadable map position, no #end at all. */
        t = "players : 1 (8 max)\nmap : c5m1_waterfront at ( x, 2, 3 )\n"
            "# userid name uniqueid connected ping loss state rate adr\n"
            "# 5 \"A\" BOT\n";
        assert_int_equal(status_parse(t, strlen(t), &s, NULL), 0);
        assert_int_equal(s.humans, 1);
        assert_int_equal(s.bots, -1);
        assert_int_equal(s.max_players, 8);
        assert_int_equal(s.hibernating, -1);
        assert_null(s.reserved);
        assert_null(s.hostname);
        assert_string_equal(s.map, "c5m1_waterfront");
        assert_false(s.has_position);
        assert_int_equal(s.n_players, 1);
        assert_null(s.players[0].state);
        status_done(&s);

        /* A players line it cannot read leaves the counts unknown. */
        t = "players : lots\n# userid name\n";
        assert_int_equal(status_parse(t, strlen(t), &s, NULL), 0);
        assert_int_equal(s.humans, -1);
        assert_int_equal(s.max_players, -1);
        status_done(&s);
}

static void expect_bad(const char *row, const char *msg_part) {
        _cleanup_buf_ Buf b = BUF_INIT(0);
        assert_int_equal(buf_printf(&b, "hostname: h\n# userid name uniqueid connected ping loss state rate adr\n%s\n#end\n", row), 0);
        Status s = { 0 };
        Error err = { 0 };
        int r = status_parse(b.data, b.len, &s, &err);
        if (r != -EBADMSG)
                fail_msg("row '%s' gave %d, expected -EBADMSG", row, r);
        if (!strstr(err.msg, msg_part))
                fail_msg("row '%s': message '%s' lacks '%s'", row, err.msg, msg_part);
        if (!strstr(err.msg, "line 3"))
                fail_msg("row '%s': message '%s' does not name line 3", row, err.msg);
        assert_null(s.players);
}

static void test_malformed_rows(void **state) {
        expect_bad("#  2 1 Ellis STEAM_1:0:1 00:01 1 0 active 1", "no quoted name");
        expect_bad("#  2 1 \"Ellis STEAM_1:0:1 00:01 1 0 active 1", "unterminated name");
        expect_bad("#  2 1 \"Ellis\"", "ends after the name");
        expect_bad("#  2 1 \"Ellis\" STEAM_1:0:1 00:01 1 0 active", "fields after the name");
        expect_bad("#  2 1 \"Ellis\" STEAM_1:0:1 00:01 1 0 active 1 adr extra", "fields after the name");
        expect_bad("#  2 1 \"Ellis\" STEAM_1:0:1 1:2 1 0 active 1", "bad connected time");
        expect_bad("#  2 1 \"Ellis\" STEAM_1:0:1 00:61 1 0 active 1", "bad connected time");
        expect_bad("#  2 1 \"Ellis\" STEAM_1:0:1 1:00:00:00 1 0 active 1", "bad connected time");
        expect_bad("#  2 1 \"Ellis\" STEAM_1:0:1 00:01 x 0 active 1", "bad ping");
        expect_bad("#  2 1 \"Ellis\" STEAM_1:0:1 00:01 1 -1 active 1", "bad loss");
        expect_bad("#  2 1 \"Ellis\" STEAM_1:0:1 00:01 1 0 active 9999999999", "bad rate");
        expect_bad("#677 \"Smoker\" BOT active 1 2", "too many fields in bot row");
        expect_bad("#99999999999 \"x\" BOT", "no userid");
}

static void test_not_status(void **state) {
        Status s;
        Error err = { 0 };
        const char *t = "Unknown command \"stauts\"\n";
        assert_int_equal(status_parse(t, strlen(t), &s, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "not the output of 'status'"));
        assert_int_equal(status_parse("", 0, &s, NULL), -EBADMSG);
        assert_int_equal(status_parse(NULL, 0, &s, NULL), -EINVAL);
}

static void test_caps(void **state) {
        Status s;
        _cleanup_buf_ Buf b = BUF_INIT(0);
        assert_int_equal(buf_puts(&b, "# userid name uniqueid connected ping loss state rate adr\n"), 0);
        for (int i = 0; i < STATUS_PLAYERS_MAX + 1; i++)
                assert_int_equal(buf_printf(&b, "#%d \"bot %d\" BOT active\n", i + 1, i), 0);
        Error err = { 0 };
        assert_int_equal(status_parse(b.data, b.len, &s, &err), -E2BIG);
        /* Exactly the cap is fine. */
        const char *last = strrchr(b.data, '#');
        assert_int_equal(status_parse(b.data, (size_t) (last - b.data), &s, NULL), 0);
        assert_int_equal(s.n_players, STATUS_PLAYERS_MAX);
        status_done(&s);

        char *big = calloc(1, STATUS_TEXT_MAX + 2);
        assert_non_null(big);
        memset(big, 'x', STATUS_TEXT_MAX + 1);
        assert_int_equal(status_parse(big, STATUS_TEXT_MAX + 1, &s, NULL), -E2BIG);
        free(big);
}

static void test_connected(void **state) {
        unsigned v;
        assert_int_equal(status_parse_connected("00:00", 5, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(status_parse_connected("59:59", 5, &v), 0);
        assert_int_equal(v, 3599);
        assert_int_equal(status_parse_connected("123:00", 6, &v), 0);
        assert_int_equal(v, 123 * 60);
        assert_int_equal(status_parse_connected("1:00:01", 7, &v), 0);
        assert_int_equal(v, 3601);
        assert_int_equal(status_parse_connected("10:59:59", 8, &v), 0);
        assert_int_equal(v, 10 * 3600 + 3599);
        assert_int_equal(status_parse_connected("1:5", 3, &v), -EINVAL);
        assert_int_equal(status_parse_connected(":00", 3, &v), -EINVAL);
        assert_int_equal(status_parse_connected("00:", 3, &v), -EINVAL);
        assert_int_equal(status_parse_connected("0060", 4, &v), -EINVAL);
        assert_int_equal(status_parse_connected("1:60:00", 7, &v), -EINVAL);
        assert_int_equal(status_parse_connected("aa:bb", 5, &v), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sample),
                cmocka_unit_test(test_header_variants),
                cmocka_unit_test(test_malformed_rows),
                cmocka_unit_test(test_not_status),
                cmocka_unit_test(test_caps),
                cmocka_unit_test(test_connected),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
