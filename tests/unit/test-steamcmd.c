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
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
