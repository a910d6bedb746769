#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "strutil.h"

static void test_names(void **state) {
        assert_true(name_is_valid("alpha"));
        assert_true(name_is_valid("a-1_b"));
        assert_true(name_is_valid("01234567890123456789012345678901")); /* 32 */
        assert_false(name_is_valid("012345678901234567890123456789012")); /* 33 */
        assert_false(name_is_valid(""));
        assert_false(name_is_valid(".."));
        assert_false(name_is_valid("a/b"));
        assert_false(name_is_valid("a b"));
        assert_false(name_is_valid("-a"));
        assert_false(name_is_valid("a.b"));
        assert_false(name_is_valid("caf\xc3\xa9"));
}

static void test_build_ids(void **state) {
        assert_true(build_id_is_valid("0"));
        assert_true(build_id_is_valid("14218734"));
        assert_true(build_id_is_valid("9999999999999999999")); /* 19 digits */
        assert_false(build_id_is_valid("10000000000000000000")); /* 20 */
        assert_false(build_id_is_valid(""));
        assert_false(build_id_is_valid(NULL));
        assert_false(build_id_is_valid("007"));
        assert_false(build_id_is_valid("12a"));
        assert_false(build_id_is_valid("-1"));
        assert_false(build_id_is_valid("../1"));
        assert_false(build_id_is_valid("follow"));
}

static void test_parse_long(void **state) {
        long v;
        assert_int_equal(parse_long("27015", 1, 65535, &v), 0);
        assert_int_equal(v, 27015);
        assert_int_equal(parse_long("70000", 1, 65535, &v), -ERANGE);
        assert_int_equal(parse_long("12x", 1, 65535, &v), -EINVAL);
        assert_int_equal(parse_long("", 1, 65535, &v), -EINVAL);
        assert_int_equal(parse_long(" 1", 1, 65535, &v), -EINVAL);
}

static void test_buf_cap(void **state) {
        Buf b = BUF_INIT(8);
        assert_int_equal(buf_puts(&b, "1234"), 0);
        assert_int_equal(buf_printf(&b, "%d", 5678), 0);
        assert_string_equal(b.data, "12345678");
        assert_false(b.overflowed);
        assert_int_equal(buf_puts(&b, "9"), -E2BIG);
        assert_string_equal(b.data, "12345678");
        assert_true(b.overflowed); /* and it stays so */
        buf_free(&b);
}

static void test_control_chars(void **state) {
        assert_false(has_control_chars("plain text é"));
        assert_true(has_control_chars("a\nb"));
        assert_true(has_control_chars("a\x1b[31m"));
}

static void test_split_lines(void **state) {
        char **v;
        size_t n;
        assert_int_equal(strv_split_lines("a\n\nb c\n", 10, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0], "a");
        assert_string_equal(v[1], "");
        assert_string_equal(v[2], "b c");
        assert_null(v[3]);
        strv_free(v);
        /* Past max, one more line is taken and no further. */
        assert_int_equal(strv_split_lines("1\n2\n3\n4", 2, &v, &n), 0);
        assert_int_equal(n, 3);
        strv_free(v);
        assert_int_equal(strv_split_lines("", 2, &v, &n), 0);
        assert_int_equal(n, 0);
        assert_null(v[0]);
        strv_free(v);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_build_ids),
                cmocka_unit_test(test_parse_long),
                cmocka_unit_test(test_buf_cap),
                cmocka_unit_test(test_control_chars),
                cmocka_unit_test(test_split_lines),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
