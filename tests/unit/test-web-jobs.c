/* job-start.c: what a failed start says to the person who pressed Start,
 * from l4d2ctl's error line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "jobs.h"

static void said(const char *error, const char *expected) {
        char buf[400];
        job_start_failure_words(error, buf, sizeof buf);
        assert_string_equal(buf, expected);
}

static void test_known_failures_in_plain_words(void **state) {
        said("error: instance 's3': no game installation in '/var/lib/left4me/installations': run 'l4d2ctl install' "
             "first",
             JOB_RESULT_NOT_INSTALLED);
        said("error: instance 's3': no build has passed the canary of its overlays yet (see 'l4d2ctl builds'; "
             "'l4d2ctl update canary' tests them, 'build: ID' in the spec pins one)",
             "No installed version of the game has passed its trial run with this server's overlays yet, so it "
             "cannot start. An administrator sees why on the Builds page and can try again there, or pin the server "
             "to a build.");
        char buf[400];
        job_start_failure_words("error: instance 's3': no free port pair left in 27015-27019", buf, sizeof buf);
        assert_non_null(strstr(buf, "No port is free for this server"));
}

static void test_other_failures_lose_only_the_prefix(void **state) {
        said("error: instance 's3': cannot mount its overlays: No space left on device",
             "Cannot mount its overlays: No space left on device.");
        said("", "The host's l4d2ctl failed without a message.");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_known_failures_in_plain_words),
                cmocka_unit_test(test_other_failures_lose_only_the_prefix),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
