/* html.c: every escaper for its context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "html.h"
#include "layout.h"

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

/* Times are formatted by hand (no strftime): the digits, the padding and
 * "none" must still come out as before. */
static void test_times(void **state) {
        Buf b = BUF_INIT(4096);
        html_utc(&b, 946695845, false);
        html_raw(&b, "|");
        html_utc(&b, 946695845, true);
        html_raw(&b, "|");
        html_utc(&b, 253402300799, true);
        html_raw(&b, "|");
        html_utc(&b, 1709251199, true); /* a leap day's last second */
        html_raw(&b, "|");
        html_utc(&b, 951825600, false); /* 2000 is a leap year (divisible by 400) */
        html_raw(&b, "|");
        html_utc(&b, 0, true);
        html_raw(&b, "|");
        html_time(&b, 1764107293);
        assert_string_equal(b.data, "2000-01-01 03:04 UTC|2000-01-01 03:04:05 UTC|9999-12-31 23:59:59 UTC|2024-02-29 23:59:59 UTC|"
                                    "2000-02-29 12:00 UTC|–|"
                                    "<time datetime=\"2025-11-25T21:48:13Z\">2025-11-25 21:48 UTC</time>");
        buf_free(&b);
}

/* html_fixed writes most numbers without printf: its digits must be
 * printf's for every value, ties, negatives and zeros included. */
static void test_fixed_is_printf(void **state) {
        static const double some[] = { 0.0, -0.0, 0.04, -0.04, 0.05, 0.15, 0.25, 0.35, 1.005, 2.675, 12.5,
                                       -12.5, 99.95, 123456.789, -7.25, 1e9, 3e-7, 599.99999 };
        for (int d = 0; d <= 3; d++) {
                for (size_t i = 0; i < sizeof some / sizeof some[0]; i++) {
                        Buf b = BUF_INIT(64);
                        char want[64];
                        html_fixed(&b, some[i], d);
                        snprintf(want, sizeof want, "%.*f", d, some[i]);
                        assert_string_equal(b.data, want);
                        buf_free(&b);
                }
                /* a chart's coordinates: every tenth from -600 to 600, and between */
                for (int k = -60000; k <= 60000; k += 7) {
                        double v = k / 100.0 + k * 1e-7;
                        Buf b = BUF_INIT(64);
                        char want[64];
                        html_fixed(&b, v, d);
                        snprintf(want, sizeof want, "%.*f", d, v);
                        assert_string_equal(b.data, want);
                        buf_free(&b);
                }
        }
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

/* A value that does not fit is not appended, and the page knows: even
 * when the page is far below its cap (a long value refused whole), which a
 * check of the length alone would miss. server.c then answers 500, never a
 * page cut short. */
static void test_cap(void **state) {
        Buf b = BUF_INIT(64);
        html_raw(&b, "<p>");
        assert_false(b.overflowed);
        char big[100];
        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        html_txt(&b, big);
        assert_true(b.overflowed);
        assert_true(b.len + 1 < b.max);
        /* A part rendered into its own buffer carries the loss over. */
        Buf page = BUF_INIT(4096), part = BUF_INIT(8);
        html_txt(&part, "<<<");
        html_built(&page, &part);
        assert_true(page.overflowed);
        buf_free(&b);
        buf_free(&part);
        buf_free(&page);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_txt),
                cmocka_unit_test(test_attr_newlines_and_controls),
                cmocka_unit_test(test_times),
                cmocka_unit_test(test_fixed_is_printf),
                cmocka_unit_test(test_url_arg),
                cmocka_unit_test(test_json_str),
                cmocka_unit_test(test_cap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
