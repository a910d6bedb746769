#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "workshop-api.h"
#include "workshop.h"

static void test_ids_and_urls(void **state) {
        static const char *const good[][2] = {
                { "123456789", "123456789" },
                { "00042", "42" },
                { "18446744073709551615", "18446744073709551615" },
                { "https://steamcommunity.com/sharedfiles/filedetails/?id=123", "123" },
                { "http://steamcommunity.com/sharedfiles/filedetails/?id=123", "123" },
                { "steamcommunity.com/sharedfiles/filedetails/?id=123", "123" },
                { "https://steamcommunity.com/sharedfiles/filedetails?id=123", "123" },
                { "https://STEAMCOMMUNITY.com/sharedfiles/filedetails/?searchtext=&id=77", "77" },
                { "https://www.steamcommunity.com/workshop/filedetails/?id=5&l=german", "5" },
                { "https://steamcommunity.com/sharedfiles/filedetails/?id=9#comments", "9" },
        };
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
                char id[WORKSHOP_ID_MAX] = "";
                Error err = { 0 };
                assert_int_equal(workshop_parse_ref(good[i][0], id, &err), 0);
                assert_string_equal(id, good[i][1]);
        }
        static const char *const bad[] = {
                "",
                "0",
                "18446744073709551616", /* 2^64 */
                "123456789012345678901",
                "12a",
                " 12",
                "-12",
                "https://example.com/sharedfiles/filedetails/?id=123",
                "https://steamcommunity.com.evil.example/sharedfiles/filedetails/?id=123",
                "https://evil.example/?u=steamcommunity.com/sharedfiles/filedetails/?id=123",
                "https://steamcommunity.com/sharedfiles/filedetails/?id=",
                "https://steamcommunity.com/sharedfiles/filedetails/?id=12x",
                "https://steamcommunity.com/sharedfiles/filedetails/?xid=12",
                "https://steamcommunity.com/id/someone/?id=12",
                "ftp://steamcommunity.com/sharedfiles/filedetails/?id=12",
                "file:///sharedfiles/filedetails/?id=12",
                "https://steamcommunity.com/sharedfiles/filedetails/?id=12\n",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                char id[WORKSHOP_ID_MAX] = "";
                Error err = { 0 };
                assert_int_equal(workshop_parse_ref(bad[i], id, &err), -EINVAL);
                assert_non_null(strstr(err.msg, "is not a Steam Workshop item"));
        }
}

static void test_batches(void **state) {
        size_t per;
        /* One request per 100 items; collections ride along. */
        assert_int_equal(steam_api_batches(500, 1, &per), 5);
        assert_int_equal(per, 101);
        assert_int_equal(steam_api_batches(100, 0, &per), 1);
        assert_int_equal(per, 100);
        assert_int_equal(steam_api_batches(101, 0, &per), 2);
        assert_int_equal(per, 51);
        assert_int_equal(steam_api_batches(0, 3, &per), 1);
        assert_int_equal(per, 3);
        /* Many collections: never more than 110 IDs a request. */
        assert_int_equal(steam_api_batches(50, 200, &per), 3);
        assert_true(per <= 110);
        assert_int_equal(steam_api_batches(0, 0, &per), 0);
}

static void test_numbers(void **state) {
        json_t *a = json_pack("[I, s, s, s, n, I]", (json_int_t) 1048576, "2048", "x", "", (json_int_t) -5);
        assert_int_equal(steam_api_u64(json_array_get(a, 0)), 1048576);
        assert_int_equal(steam_api_u64(json_array_get(a, 1)), 2048);
        assert_int_equal(steam_api_u64(json_array_get(a, 2)), 0);
        assert_int_equal(steam_api_u64(json_array_get(a, 3)), 0);
        assert_int_equal(steam_api_u64(json_array_get(a, 4)), 0);
        assert_int_equal(steam_api_u64(json_array_get(a, 5)), 0);
        json_decref(a);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ids_and_urls),
                cmocka_unit_test(test_batches),
                cmocka_unit_test(test_numbers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
