/* spec-rules.c: the rules both l4d2ctl and the panel enforce. The
 * table-driven comparison of both sides is tests/integration/
 * test_web_spec_verdicts.py; this file checks the rules themselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "spec-rules.h"

static void test_map(void **state) {
        assert_null(spec_check_map("c1m1_hotel"));
        assert_null(spec_check_map("l4d-2_x9"));
        const char *bad[] = { "", "c1m1.hotel", "../x", "c1m1 hotel", "c1m1;quit", "kärt", "a\nb",
                              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" /* 65 */ };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                if (!spec_check_map(bad[i]))
                        fail_msg("map '%s' was allowed", bad[i]);
}

static void test_update_keys(void **state) {
        assert_null(spec_check_build("follow"));
        assert_null(spec_check_build("14218734"));
        assert_non_null(spec_check_build("Follow"));
        assert_non_null(spec_check_build("012"));
        assert_non_null(spec_check_build("../1"));
        assert_non_null(spec_check_build(""));
        assert_null(spec_check_canary_failure("hold"));
        assert_null(spec_check_canary_failure("degrade"));
        assert_non_null(spec_check_canary_failure("ignore"));
        long s = -1;
        assert_null(spec_parse_deadline("0", &s));
        assert_int_equal(s, 0);
        assert_null(spec_parse_deadline("90", &s));
        assert_int_equal(s, 90);
        assert_null(spec_parse_deadline("45m", &s));
        assert_int_equal(s, 2700);
        assert_null(spec_parse_deadline("6h", &s));
        assert_int_equal(s, 21600);
        assert_null(spec_parse_deadline("30d", &s));
        assert_int_equal(s, 30L * 86400L);
        const char *bad[] = { "", "31d", "6 h", "h", "-1h", "1.5h", "6x", "99999999999999" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                if (!spec_parse_deadline(bad[i], &s))
                        fail_msg("deadline '%s' was allowed", bad[i]);
}

static void test_cvars(void **state) {
        char *names[] = { "sv_cheats", "SV_CHEATS", NULL };
        char *values[] = { "0", "1", NULL };
        size_t bad;
        bool in_value;
        assert_null(spec_check_cvars(names, values, 1, &bad, &in_value));
        /* The engine ignores case: this is one cvar set twice. */
        assert_string_equal(spec_check_cvars(names, values, 2, &bad, &in_value), "is set twice");
        assert_int_equal(bad, 1);
        assert_false(in_value);

        char *reserved[] = { "Rcon_Password", NULL };
        assert_non_null(spec_check_cvars(reserved, values, 1, &bad, &in_value));
        char *ok_name[] = { "sv_tags", NULL }, *quote[] = { "a\"b", NULL }, *semi[] = { "a;b", NULL };
        assert_non_null(spec_check_cvars(ok_name, quote, 1, &bad, &in_value));
        assert_true(in_value);
        /* Inside the quotes of server.cfg a ';' does not end the command. */
        assert_null(spec_check_cvars(ok_name, semi, 1, &bad, &in_value));
}

static void test_lists(void **state) {
        char *overlays[] = { "sm", "maps", "sm", NULL };
        size_t bad;
        assert_string_equal(spec_check_list(SPEC_OVERLAYS, overlays, 3, &bad), "is listed twice");
        assert_int_equal(bad, 2);
        char *args[] = { "-insecure", "+sv_lan", "1", "-PORT", NULL };
        assert_non_null(spec_check_list(SPEC_ARGS, args, 4, &bad));
        assert_int_equal(bad, 3);
        char *shell[] = { "$(reboot)", NULL };
        assert_non_null(spec_check_list(SPEC_ARGS, shell, 1, &bad));
        char *tab[] = { "sv_foo\t1", NULL };
        assert_null(spec_check_list(SPEC_SERVER_CFG, tab, 1, &bad));
        char *many[SPEC_MAX_ARGS + 2];
        for (size_t i = 0; i <= SPEC_MAX_ARGS; i++)
                many[i] = "-x";
        many[SPEC_MAX_ARGS + 1] = NULL;
        assert_null(spec_check_list(SPEC_ARGS, many, SPEC_MAX_ARGS, &bad));
        assert_non_null(spec_check_list(SPEC_ARGS, many, SPEC_MAX_ARGS + 1, &bad));
        assert_int_equal(bad, SPEC_MAX_ARGS + 1);
}

/* Whatever a server is called, the hostname made from it is one l4d2ctl
 * accepts. */
static void test_make_hostname(void **state) {
        const char *names[] = { "Alpha", "say \"hi\"", "tab\there", "\x01\x02", "   ",
                                "äöüäöüäöüäöüäöüäöüäöüäöüäöüäöüäöüäöü" /* 72 bytes */,
                                "€€€€€€€€€€€€€€€€€€€€€€€€" /* 72 bytes */, "" };
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                char h[SPEC_HOSTNAME_MAX + 1];
                spec_make_hostname(names[i], "left4me", h, sizeof h);
                if (spec_check_hostname(h))
                        fail_msg("hostname '%s' from '%s': %s", h, names[i], spec_check_hostname(h));
        }
        char h[SPEC_HOSTNAME_MAX + 1];
        spec_make_hostname("€€€€€€€€€€€€€€€€€€€€€€€€", "x", h, sizeof h);
        assert_int_equal(strlen(h), 63); /* 21 whole characters, none cut in half */
        spec_make_hostname("say \"hi\"", "x", h, sizeof h);
        assert_string_equal(h, "say 'hi'");
        spec_make_hostname("\x01", "fallback", h, sizeof h);
        assert_string_equal(h, "fallback");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_map),
                cmocka_unit_test(test_update_keys),
                cmocka_unit_test(test_cvars),
                cmocka_unit_test(test_lists),
                cmocka_unit_test(test_make_hostname),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
