#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

static int parse(const char *yaml, Spec *s, Error *e) {
        return spec_parse_yaml(yaml, strlen(yaml), "spec.yaml", 27000, 27999, s, e);
}

static void test_full_spec(void **state) {
        Spec s = { 0 };
        Error e = { 0 };
        assert_int_equal(parse("port: 27015\n"
                               "map: c2m1_highway\n"
                               "maxplayers: 4\n"
                               "tickrate: 100\n"
                               "hostname: My Server\n"
                               "overlays: [sourcemod, maps]\n"
                               "cvars:\n  sv_gametypes: coop\n  z_difficulty: Hard\n"
                               "server_cfg: |\n  exec banned.cfg\n  sm_cvar a 1\n"
                               "args: ['-nohltv']\n",
                               &s, &e),
                         0);
        assert_int_equal(s.port, 27015);
        assert_string_equal(s.map, "c2m1_highway");
        assert_int_equal(s.maxplayers, 4);
        assert_int_equal(s.tickrate, 100);
        assert_int_equal(s.n_overlays, 2);
        assert_string_equal(s.overlays[0], "sourcemod");
        assert_int_equal(s.n_cvars, 2);
        assert_string_equal(s.cvar_values[1], "Hard");
        assert_int_equal(s.n_server_cfg, 2);
        assert_string_equal(s.server_cfg[1], "sm_cvar a 1");
        assert_null(s.rcon_password);

        char *cfg = spec_server_cfg(&s, "alpha");
        assert_non_null(strstr(cfg, "hostname \"My Server\"\n"));
        assert_non_null(strstr(cfg, "z_difficulty \"Hard\"\n"));
        assert_non_null(strstr(cfg, "exec banned.cfg\n"));
        free(cfg);

        char **argv = NULL;
        assert_int_equal(spec_launch_argv(&s, "/x/srcds_run", &argv), 0);
        const char *want[] = { "/x/srcds_run", "-game", "left4dead2", "-port", "27015", "+map", "c2m1_highway",
                               "-maxplayers", "4", "-tickrate", "100", "+tv_port", "27016", "-norestart",
                               "-nohltv", NULL };
        for (size_t i = 0; want[i]; i++)
                assert_string_equal(argv[i], want[i]);
        assert_null(argv[15]);
        for (char **p = argv; *p; p++)
                free(*p);
        free(argv);

        /* The stored form reads back the same. */
        json_t *j = spec_to_json(&s);
        Spec t = { 0 };
        assert_int_equal(spec_from_json(j, &t, &e), 0);
        assert_string_equal(t.cvar_names[0], "sv_gametypes");
        assert_string_equal(t.overlays[1], "maps");
        json_decref(j);
        spec_free(&t);
        spec_free(&s);
}

static void test_empty_spec_defaults(void **state) {
        Spec s = { 0 };
        Error e = { 0 };
        assert_int_equal(parse("", &s, &e), 0);
        assert_int_equal(s.port, 0);
        assert_string_equal(s.map, "c1m1_hotel");
        assert_int_equal(s.maxplayers, 8);
        spec_free(&s);
}

/* Each bad spec fails with a message that names the line and the problem. */
static void test_errors(void **state) {
        static const struct {
                const char *yaml, *msg;
        } cases[] = {
                { "port: 80\n", "spec.yaml:1: 'port': 80 is outside the port range 27000-27999" },
                { "map: x\nport: 27999\n", "spec.yaml:2: 'port': 27999 is outside the port range" },
                { "port: abc\n", "spec.yaml:1: 'port': 'abc' is not a whole number" },
                { "prot: 27015\n", "spec.yaml:1: unknown key 'prot'" },
                { "port: 27015\nport: 27017\n", "spec.yaml:2: 'port' is given twice" },
                { "map: [unclosed\n", "spec.yaml:2: malformed YAML" },
                { "- a\n- b\n", "spec.yaml:1: the spec must be a mapping" },
                { "overlays: [ok, ../etc]\n", "spec.yaml:1: 'overlays': '../etc' is not a valid name" },
                { "overlays: [a, a]\n", "'overlays': 'a' is listed twice" },
                { "maxplayers: 99\n", "'maxplayers': 99 is not between 1 and 32" },
                { "hostname: 'a\"b'\n", "'hostname' contains a double quote" },
                { "cvars:\n  rcon_password: x\n", "spec.yaml:2: 'cvars': 'rcon_password' is set by left4me" },
                { "cvars:\n  'bad name': 1\n", "'cvars': 'bad name' is not a valid cvar name" },
                { "args: ['-port', '1']\n", "'args': '-port' is set by left4me" },
                /* srcds_run re-splits "$*": one entry must stay one argument. */
                { "args: ['-x -binary ./evil']\n", "'args': '-x -binary ./evil' is empty or contains a space" },
                { "args: ['*']\n", "'args': '*' is empty or contains a space" },
                { "args: ['-binary', './evil']\n", "'args': '-binary' is set by left4me" },
                { "args: ['-gdb']\n", "'args': '-gdb' is set by left4me" },
                { "args: ['-norestart']\n", "'args': '-norestart' is set by left4me" },
                { "map: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
                  "brackets are nested more than 32 deep" },
                { "server_cfg: \"a\\rb\"\n", "'server_cfg': line 1 contains a control character" },
                { "rcon_password: 'a b'\n", "'rcon_password' must not contain spaces" },
                { "map: 'c1m1;quit'\n", "'map': 'c1m1;quit' is not a map name" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                Spec s = { 0 };
                Error e = { 0 };
                int r = parse(cases[i].yaml, &s, &e);
                if (r >= 0 || !strstr(e.msg, cases[i].msg))
                        fail_msg("case %zu: r=%d msg='%s', want '%s'", i, r, e.msg, cases[i].msg);
                assert_null(s.map); /* nothing half-filled */
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full_spec),
                cmocka_unit_test(test_empty_spec_defaults),
                cmocka_unit_test(test_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
