/* req.c: parsing form bodies, the panel's main untrusted input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "web.h"

static void test_parse(void **state) {
        Form f = { 0 };
        const char *body = "a=1&name=hello+world%21&empty=&flag&csrf=%C3%A9";
        assert_int_equal(form_parse(body, strlen(body), &f), 0);
        assert_int_equal(f.n, 5);
        assert_string_equal(f.f[1].value, "hello world!");
        assert_string_equal(f.f[2].value, "");
        assert_string_equal(f.f[3].key, "flag");
        assert_string_equal(f.f[4].value, "\xc3\xa9");
        form_free(&f);
}

static void test_bad_escape(void **state) {
        const char *bad[] = { "a=%", "a=%4", "a=%zz", "a=%00", "a=%ff", "a=%C3%28", "a=%ED%A0%80" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                Form f = { 0 };
                assert_int_not_equal(form_parse(bad[i], strlen(bad[i]), &f), 0);
                form_free(&f);
        }
}

static void test_too_many_fields(void **state) {
        char body[1024] = "";
        for (int i = 0; i < FORM_FIELDS_MAX + 1; i++)
                strcat(body, "x=1&");
        Form f = { 0 };
        assert_int_equal(form_parse(body, strlen(body), &f), -E2BIG);
        form_free(&f);
}

static void test_utf8(void **state) {
        assert_true(utf8_is_valid("plain ascii"));
        assert_true(utf8_is_valid("\xe2\x82\xac"));
        assert_false(utf8_is_valid("\xc0\xaf"));     /* overlong '/' */
        assert_false(utf8_is_valid("\xf4\x90\x80\x80")); /* > U+10FFFF */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_bad_escape),
                cmocka_unit_test(test_too_many_fields),
                cmocka_unit_test(test_utf8),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
