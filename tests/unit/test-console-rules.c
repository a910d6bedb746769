/* What the RCON console refuses to send: every form of a command that would
 * set rcon_password (case, quotes, aliases, chains), and lines the server
 * would skip or mangle; ordinary commands pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "console-rules.h"

static void test_password_in_any_form_is_refused(void **state) {
        static const char *const refused[] = {
                "rcon_password x",
                "RCON_PASSWORD x",
                "Rcon_Password \"x y\"",
                "\"rcon_password\" x",
                "\"RCON_password\"x",
                "  rcon_password",                       /* reading it shows it, too */
                "echo hi; rcon_password x",
                "echo hi;rcon_password x",
                "say a;;RcOn_PaSsWoRd x",
                "alias setpw \"rcon_password x\"; setpw",
                "alias setpw rcon_password; setpw x",
                "sm_cvar rcon_password x",
                "sm_rcon rcon_password x",
                "rc\"on_pass\"word x",                   /* quotes inside the name */
                "incrementvar rcon_password 0 1 1",
                "toggle rcon_password a b",
                "reset_cvar rcon_password",
        };
        for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
                const char *why = console_command_problem(refused[i]);
                if (!why)
                        fail_msg("not refused: %s", refused[i]);
                assert_non_null(strstr(why, "rcon_password"));
        }
}

static void test_ordinary_commands_pass(void **state) {
        static const char *const ok[] = {
                "status", "changelevel c2m1_highway", "sm_kick \"<script>\" bye", "say héllo 🎮",
                "exec server.cfg", "sv_cheats 1; mp_gamemode versus", "echo rcon password", "sv_password x",
                "users", "rcon_passwor", "alias foo \"say rcon\"",
        };
        for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
                if (console_command_problem(ok[i]))
                        fail_msg("refused: %s: %s", ok[i], console_command_problem(ok[i]));
}

static void test_lines_the_server_would_skip(void **state) {
        assert_non_null(console_command_problem(NULL));
        assert_non_null(console_command_problem(""));
        assert_non_null(console_command_problem("   "));
        assert_non_null(console_command_problem("status\nquit"));
        assert_non_null(console_command_problem("say \x1b[31m"));
        assert_non_null(console_command_problem("say \xff\xfe"));
        char longest[CONSOLE_COMMAND_MAX + 2];
        memset(longest, 'a', sizeof longest - 1);
        longest[CONSOLE_COMMAND_MAX] = '\0';
        assert_null(console_command_problem(longest));
        longest[CONSOLE_COMMAND_MAX] = 'a';
        longest[CONSOLE_COMMAND_MAX + 1] = '\0';
        assert_non_null(strstr(console_command_problem(longest), "511"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_password_in_any_form_is_refused),
                cmocka_unit_test(test_ordinary_commands_pass),
                cmocka_unit_test(test_lines_the_server_would_skip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
