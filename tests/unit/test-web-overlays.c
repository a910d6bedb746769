/* svc-overlays.c's host names and steam-cdn.c's image check: what the panel
 * lets reach the host as an overlay name, and a browser as an image URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "steam-cdn.h"
#include "svc-overlays.h"

static void test_host_names(void **state) {
        char buf[OVERLAY_HOST_NAME_MAX + 1];
        assert_int_equal(overlay_host_name(7, "maps", buf), 0);
        assert_string_equal(buf, "u7-maps");
        assert_int_equal(overlay_host_name(0, "Optimized_settings-2", buf), 0);
        assert_string_equal(buf, "g-Optimized_settings-2");
        /* A name like another owner's host name stays its typist's. */
        assert_int_equal(overlay_host_name(31, "u3-maps", buf), 0);
        assert_string_equal(buf, "u31-u3-maps");
        /* The prefix takes its room: 32 in all. */
        assert_int_equal(overlay_name_max(7), 29);
        assert_int_equal(overlay_name_max(123456), 24);
        assert_int_equal(overlay_name_max(0), 30);
        char longest[31];
        memset(longest, 'a', 30);
        longest[30] = '\0';
        assert_int_equal(overlay_host_name(0, longest, buf), 0);
        assert_int_equal(strlen(buf), 32);
        assert_int_equal(overlay_host_name(7, longest, buf), -EINVAL);
        const char *bad[] = { "", "-x", "_x", "../x", "a/b", "a b", "a.b", "ünï", "a\n", "x;reboot" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_int_equal(overlay_host_name(7, bad[i], buf), -EINVAL);
        assert_int_equal(overlay_host_name(7, NULL, buf), -EINVAL);
}

static void test_image_urls(void **state) {
        const char *good[] = { "https://steamuserimages-a.akamaihd.net/ugc/1/",
                               "https://images.steamusercontent.com/ugc/123/ABC/?imw=64&ima=fit" };
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
                assert_true(steam_image_url_ok(good[i]));
        const char *bad[] = {
                NULL, "", "javascript:alert(1)", "data:image/png;base64,AAAA", "//steamuserimages-a.akamaihd.net/x",
                "http://steamuserimages-a.akamaihd.net/x",           /* not https */
                "https://evil.example/steamuserimages-a.akamaihd.net/x",
                "https://steamuserimages-a.akamaihd.net.evil.example/x",
                "https://steamuserimages-a.akamaihd.net@evil.example/x", /* userinfo */
                "https://evil.example\\@steamuserimages-a.akamaihd.net/x",
                "https://steamuserimages-a.akamaihd.net:8443/x",     /* another port */
                "https://steamuserimages-a.akamaihd.net",            /* no path */
                "https://steamuserimages-a.akamaihd.net?x",
                "https://steamuserimages-a.akamaihd.net/x\" onerror=\"alert(1)",
                "https://steamuserimages-a.akamaihd.net/x y", "https://steamuserimages-a.akamaihd.net/x\n",
                "https://steamuserimages-a.akamaihd.net/<svg>", "https://steamuserimages-a.akamaihd.net/\xc3\xa9",
                "HTTPS://STEAMUSERIMAGES-A.AKAMAIHD.NET/x",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_false(steam_image_url_ok(bad[i]));
        char huge[600] = "https://steamuserimages-a.akamaihd.net/";
        memset(huge + strlen(huge), 'a', sizeof huge - strlen(huge) - 1);
        huge[sizeof huge - 1] = '\0';
        assert_false(steam_image_url_ok(huge));
        /* The policy names the same hosts. */
        assert_string_equal(STEAM_IMAGE_CSP, " https://steamuserimages-a.akamaihd.net https://images.steamusercontent.com");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_host_names),
                cmocka_unit_test(test_image_urls),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
