/* routes.c: which address reaches which handler, and what an id may be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "pages.h"
#include "routes.h"

static const Route *find(const char *method, const char *path, int64_t *id, bool *other) {
        const char *tail = NULL;
        return route_find(method, path, id, &tail, other);
}

static void test_ids(void **state) {
        int64_t id = 0;
        bool other;
        const Route *r = find("GET", "/servers/42", &id, &other);
        assert_non_null(r);
        assert_ptr_equal(r->fn, page_server_show);
        assert_int_equal(id, 42);
        r = find("POST", "/servers/7/start", &id, &other);
        assert_ptr_equal(r->fn, page_server_start);
        assert_int_equal(id, 7);
        /* Not ids: zero, leading zeros, signs, too many digits, trailing junk. */
        const char *bad[] = { "/servers/0", "/servers/007", "/servers/-1", "/servers/+1",
                              "/servers/1234567890123456789", "/servers/1x", "/servers/1/", "/servers//1" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_null(find("GET", bad[i], &id, &other));
}

static void test_methods(void **state) {
        int64_t id;
        bool other;
        assert_null(find("GET", "/servers/3/start", &id, &other));
        assert_true(other);
        assert_non_null(find("HEAD", "/servers", &id, &other));
        assert_null(find("DELETE", "/servers", &id, &other));
        assert_true(other);
}

static void test_flags(void **state) {
        int64_t id;
        bool other;
        assert_true(find("GET", "/admin/users", &id, &other)->flags & ROUTE_ADMIN);
        assert_true(find("POST", "/admin/install", &id, &other)->flags & ROUTE_ADMIN);
        assert_int_equal(find("GET", "/login", &id, &other)->flags, ROUTE_PUBLIC);
        assert_true(find("GET", "/blueprints/9", &id, &other)->flags & ROUTE_USER);
        /* Only GETs are cacheable. */
        assert_false(find("POST", "/blueprints/9", &id, &other)->flags & ROUTE_CACHE);
}

static void test_static_tail(void **state) {
        int64_t id;
        bool other;
        const char *tail = NULL;
        const Route *r = route_find("GET", "/static/app.js", &id, &tail, &other);
        assert_ptr_equal(r->fn, page_static);
        assert_string_equal(tail, "app.js");
}

/* The watch writes server state every few seconds: the pages that do not
 * show it must not be keyed on it. */
static void test_reads(void **state) {
        int64_t id;
        bool other;
        const char *keep[] = { "/blueprints", "/blueprints/3", "/jobs", "/jobs/3" };
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
                const Route *r = find("GET", keep[i], &id, &other);
                assert_true(r->flags & ROUTE_CACHE);
                assert_true(r->reads != 0);
                assert_false(r->reads & DB_SERVER_STATE);
        }
        assert_true(find("GET", "/servers", &id, &other)->reads & DB_SERVER_STATE);
        assert_true(find("GET", "/servers/3/status", &id, &other)->reads & DB_SERVER_STATE);
        assert_true(find("GET", "/blueprints", &id, &other)->reads & DB_SERVERS); /* "Servers" counts */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ids),
                cmocka_unit_test(test_methods),
                cmocka_unit_test(test_flags),
                cmocka_unit_test(test_static_tail),
                cmocka_unit_test(test_reads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
