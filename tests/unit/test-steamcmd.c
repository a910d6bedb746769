#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "steamcmd.h"

static void test_progress_lines(void **state) {
        char a[] = " Update state (0x61) downloading, progress: 45.12 (1234 / 5678)";
        InstallProgress p;
        assert_true(steamcmd_parse_progress(a, &p));
        assert_string_equal(p.state, "downloading");
        assert_true(p.percent > 45.11 && p.percent < 45.13);
        assert_int_equal(p.done, 1234);
        assert_int_equal(p.total, 5678);

        char b[] = " Update state (0x81) verifying install, progress: 100.00 (2048000 / 2048000)";
        assert_true(steamcmd_parse_progress(b, &p));
        assert_string_equal(p.state, "verifying install");
        assert_int_equal(p.total, 2048000);

        /* Steam sometimes prints no byte counts. */
        char c[] = " Update state (0x5) verifying install, progress: 7.50";
        assert_true(steamcmd_parse_progress(c, &p));
        assert_int_equal(p.total, 0);
}

/* What decides "available": only the public branch's buildid counts, and
 * nothing else may pass for one. */
static void test_app_info(void **state) {
        char id[BUILD_ID_MAX_LEN + 1];
        const char *ok = "AppID : 222860, change number : 1/0\n\"222860\"\n{\n\t\"depots\"\n\t{\n"
                         "\t\t\"branches\"\n\t\t{\n\t\t\t\"beta\"\n\t\t\t{\n\t\t\t\t\"buildid\"\t\"999\"\n"
                         "\t\t\t}\n\t\t\t\"public\"\n\t\t\t{\n\t\t\t\t\"buildid\"\t\t\"14218734\"\n"
                         "\t\t\t\t\"timeupdated\"\t\"1715688000\"\n\t\t\t}\n\t\t}\n\t}\n}\n";
        assert_true(steamcmd_parse_app_info(ok, id));
        assert_string_equal(id, "14218734");
        static const char *const bad[] = {
                "",
                "No app info for AppID 222860 found, requesting...",
                /* a public branch without a buildid: the beta's is not it */
                "\"branches\" { \"public\" { \"timeupdated\" \"1\" } \"beta\" { \"buildid\" \"5\" } }",
                "\"branches\" { \"public\" { \"buildid\" \"\" } }",
                "\"branches\" { \"public\" { \"buildid\" \"12ab\" } }",
                "\"branches\" { \"public\" { \"buildid\" \"0123\" } }",
                "\"branches\" { \"public\" { \"buildid\" \"12345678901234567890\" } }",
                "\"branches\" { \"public\" { \"buildid\" \"123",
                "\"public\" { \"buildid\" \"7\" }", /* not under branches */
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                if (steamcmd_parse_app_info(bad[i], id))
                        fail_msg("'%s' gave build %s", bad[i], id);
}

static void test_not_progress(void **state) {
        static const char *const lines[] = {
                "Success! App '222860' fully installed.",
                "ERROR! Failed to install app '222860' (Invalid platform)",
                " Update state (0x61) downloading, progress: -3 (1 / 2)",
                " Update state (0x61) downloading, progress: 250.0 (1 / 2)",
                " Update state (0x61) downloading, progress: abc",
                " Update state (0x61",
                "",
        };
        for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
                char buf[200];
                InstallProgress p;
                strcpy(buf, lines[i]);
                assert_false(steamcmd_parse_progress(buf, &p));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_progress_lines),
                cmocka_unit_test(test_not_progress),
                cmocka_unit_test(test_app_info),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
