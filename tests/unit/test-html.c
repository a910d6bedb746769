/* html.c: every escaper for its context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "html.h"

static void test_txt(void **state) {
        Buf b = BUF_INIT(4096);
        html_txt(&b, "<script>alert('x') & \"y\"</script>");
        assert_string_equal(b.data, "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
        buf_free(&b);
}

static void test_attr_newlines_and_controls(void **state) {
        Buf b = BUF_INIT(4096);
        html_attr(&b, "a\nb\"c\x01");
        assert_string_equal(b.data, "a&#10;b&quot;c\xef\xbf\xbd");
        buf_free(&b);
}

static void test_url_arg(void **state) {
        Buf b = BUF_INIT(4096);
        html_url_arg(&b, "a b/c?d=e&f~");
        assert_string_equal(b.data, "a%20b%2Fc%3Fd%3De%26f~");
        buf_free(&b);
}

static void test_json_str(void **state) {
        Buf b = BUF_INIT(4096);
        json_str(&b, "q\"\\\n");
        assert_string_equal(b.data, "\"q\\\"\\\\\\u000a\"");
        buf_free(&b);
}

static void test_cap(void **state) {
        Buf b = BUF_INIT(8);
        html_txt(&b, "<<<<<<<<");
        /* Past the cap nothing more is appended: the page fails whole. */
        assert_true(b.len <= 8);
        buf_free(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_txt),
                cmocka_unit_test(test_attr_newlines_and_controls),
                cmocka_unit_test(test_url_arg),
                cmocka_unit_test(test_json_str),
                cmocka_unit_test(test_cap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
