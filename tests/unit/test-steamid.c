#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "steamid.h"

static void test_known_ids(void **state) {
        uint64_t id;
        /* 76561197960265728 + 2 * 12345 + 0 */
        assert_int_equal(steamid_parse("STEAM_1:0:12345", &id), 0);
        assert_true(id == UINT64_C(76561197960290418));
        assert_int_equal(steamid_parse("STEAM_0:1:54321", &id), 0);
        assert_true(id == UINT64_C(76561197960265728) + 2 * 54321 + 1);
        assert_int_equal(steamid_parse("[U:1:24691]", &id), 0);
        assert_true(id == UINT64_C(76561197960290419));
        assert_int_equal(steamid_parse("76561197960290418", &id), 0);
        assert_true(id == UINT64_C(76561197960290418));
        /* The edges: account 0 and the largest account id. */
        assert_int_equal(steamid_parse("STEAM_1:0:0", &id), 0);
        assert_true(id == STEAMID64_BASE);
        assert_int_equal(steamid_parse("STEAM_1:1:2147483647", &id), 0);
        assert_true(id == STEAMID64_MAX);
        assert_int_equal(steamid_parse("[U:1:4294967295]", &id), 0);
        assert_true(id == STEAMID64_MAX);
}

static void test_round_trip(void **state) {
        char b[STEAMID_STR_MAX];
        uint64_t id;
        assert_int_equal(steamid_to_steam2(UINT64_C(76561197960290419), 1, b, sizeof(b)), 0);
        assert_string_equal(b, "STEAM_1:1:12345");
        assert_int_equal(steamid_to_steam2(UINT64_C(76561197960290419), 0, b, sizeof(b)), 0);
        assert_string_equal(b, "STEAM_0:1:12345");
        assert_int_equal(steamid_to_steam3(UINT64_C(76561197960290419), b, sizeof(b)), 0);
        assert_string_equal(b, "[U:1:24691]");
        assert_int_equal(steamid_to_steam2(STEAMID64_MAX, 1, b, sizeof(b)), 0);
        assert_string_equal(b, "STEAM_1:1:2147483647");
        assert_int_equal(steamid_parse(b, &id), 0);
        assert_true(id == STEAMID64_MAX);
        assert_int_equal(steamid_to_steam3(STEAMID64_MAX, b, sizeof(b)), 0);
        assert_string_equal(b, "[U:1:4294967295]");
        /* Out of range and too-small buffers. */
        assert_int_equal(steamid_to_steam2(STEAMID64_BASE - 1, 1, b, sizeof(b)), -ERANGE);
        assert_int_equal(steamid_to_steam3(STEAMID64_MAX + 1, b, sizeof(b)), -ERANGE);
        assert_int_equal(steamid_to_steam2(STEAMID64_BASE, 2, b, sizeof(b)), -ERANGE);
        assert_int_equal(steamid_to_steam3(STEAMID64_BASE, b, 5), -ENOBUFS);
}

static void test_rejects(void **state) {
        uint64_t id = 42;
        const char *invalid[] = {
                "", "STEAM_", "STEAM_1", "STEAM_1:0", "STEAM_1:0:", "STEAM_1:0:12345 ",
                " STEAM_1:0:1", "STEAM_1:0:-1", "STEAM_1:+0:1", "STEAM_1:0:01", "steam_1:0:1",
                "STEAM_ID_PENDING", "STEAM_ID_LAN", "BOT", "[U:1:]", "[U:1:5", "[U:1:5]x",
                "[U:0:5]", "[G:1:5]", "U:1:5", "7656119796026572x", "076561197960265728",
                "-76561197960265728", "STEAM_1:0:1:2",
        };
        for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
                int r = steamid_parse(invalid[i], &id);
                if (r != -EINVAL)
                        fail_msg("'%s' gave %d, expected -EINVAL", invalid[i], r);
        }
        const char *range[] = {
                "STEAM_2:0:1", "STEAM_1:2:1", "STEAM_1:0:2147483648", "[U:1:4294967296]",
                "76561197960265727", "76561202255233024", "18446744073709551615",
                "STEAM_1:0:99999999999999999999999",
        };
        for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
                int r = steamid_parse(range[i], &id);
                if (r != -ERANGE)
                        fail_msg("'%s' gave %d, expected -ERANGE", range[i], r);
        }
        assert_true(id == 42); /* never written on failure */
        assert_int_equal(steamid_parse(NULL, &id), -EINVAL);
        /* A length-bounded parse never reads past len. */
        assert_int_equal(steamid_parse_n("STEAM_1:0:123456", 13, &id), 0);
        assert_true(id == STEAMID64_BASE + 2 * 123);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_known_ids),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_rejects),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
