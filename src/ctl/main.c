#include <getopt.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "ctl.h"
#include "strutil.h"

/* The command table: what `l4d2ctl --help` lists, in this order. */
static const Command *const commands[] = {
        &cmd_install, &cmd_initialize, &cmd_start, &cmd_stop, &cmd_restart, &cmd_delete,
        &cmd_status,  &cmd_list,       &cmd_logs,  &cmd_run,  &cmd_supervise,
        &cmd_rcon,    &cmd_query,      &cmd_players, &cmd_watch,
        &cmd_overlay, &cmd_workshop, &cmd_builds, &cmd_build, &cmd_pin, &cmd_update,
};

static const char main_help[] =
        "NAME\n"
        "    l4d2ctl - run many Left 4 Dead 2 servers from one installation\n"
        "\n"
        "SYNOPSIS\n"
        "    l4d2ctl [--state-dir DIR] COMMAND [ARGS...] [--json]\n"
        "    l4d2ctl COMMAND --help\n"
        "\n"
        "DESCRIPTION\n"
        "    l4d2ctl installs the game once with steamcmd and runs server instances\n"
        "    from it. Every instance is a kernel overlayfs mount: its overlays, in\n"
        "    order, over the shared installation, plus an upper layer of its own, so\n"
        "    fifty servers cost about as much disk as one.\n"
        "\n"
        "COMMANDS\n"
        "%s"
        "\n"
        "OPTIONS\n"
        "    --state-dir DIR   where installations/, overlays/, instances/ and runtime/\n"
        "                      live (default: $LEFT4ME_STATE_DIR, else /var/lib/left4me)\n"
        "    --json            machine-readable output (see each command)\n"
        "    -h, --help        this text; COMMAND --help for one command\n"
        "    --version         print the version\n"
        "\n"
        "ENVIRONMENT\n"
        "    LEFT4ME_STATE_DIR, LEFT4ME_CONFIG_DIR (default /etc/left4me, which holds\n"
        "    host.env), LEFT4ME_PORT_RANGE_START / _END (default 27000-27999),\n"
        "    LEFT4ME_BACKEND (auto, systemd or supervisor), LEFT4ME_STEAMCMD,\n"
        "    LEFT4ME_OVERLAY_HELPER, LEFT4ME_STEAM_API_URL (see workshop --help),\n"
        "    LEFT4ME_SERVER_UID_RANGE (supervisor backend as\n"
        "    root: each server's own uid, default 800000-800999), LEFT4ME_SERVER_USER\n"
        "    (one user for all servers instead), LEFT4ME_SANDBOX, LEFT4ME_BWRAP,\n"
        "    LEFT4ME_SERVER_MEMORY_MAX, _TASKS_MAX, _CPU_QUOTA, _DISK_MAX,\n"
        "    LEFT4ME_DISK_WATCH_INTERVAL, LEFT4ME_PROBE_INTERVAL, _MISSES,\n"
        "    LEFT4ME_UNRESPONSIVE, LEFT4ME_INSTALL_STALL_TIMEOUT (see l4d2ctl(1)).\n"
        "    The environment overrides host.env.\n"
        "\n"
        "EXIT STATUS\n"
        "    0 on success, 1 on failure (one line 'error: ...' on stderr), 2 on a\n"
        "    usage error.\n"
        "\n"
        "SEE ALSO\n"
        "    l4d2ctl(1), left4me(8)\n";

static void print_main_help(FILE *f) {
        Buf list = BUF_INIT(0);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (!commands[i]->hidden)
                        buf_printf(&list, "    %-12s %s\n", commands[i]->name, commands[i]->summary);
        fprintf(f, main_help, list.data);
        buf_free(&list);
}

/* Error messages quote user input (names, paths): escape control characters
 * so that an error is always exactly one line on the terminal. */
static void print_error_line(const char *msg) {
        fputs("error: ", stderr);
        for (const unsigned char *p = (const unsigned char *) msg; *p; p++) {
                if (*p == '\n')
                        fputs("\\n", stderr);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(stderr, "\\x%02x", *p);
                else
                        fputc(*p, stderr);
        }
        fputc('\n', stderr);
}

int ctl_fail(const Error *err, int r) {
        print_error_line(err && err->msg[0] ? err->msg : strerror(-r));
        return 1;
}

int ctl_usage(const char *cmd, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t) n < sizeof msg)
                snprintf(msg + n, sizeof msg - (size_t) n, " (see 'l4d2ctl %s%s--help')", cmd ? cmd : "",
                         cmd ? " " : "");
        print_error_line(msg);
        return 2;
}

void ctl_print_json(json_t *j) {
        if (!j)
                return;
        json_dumpf(j, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        fflush(stdout);
        json_decref(j);
}

static const Command *find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i]->name, name))
                        return commands[i];
        return NULL;
}

int ctl_common_options(const char *cmd, int argc, char **argv, bool *json) {
        int out = 1;
        bool end = false;
        for (int i = 1; i < argc; i++) {
                if (!end && streq(argv[i], "--")) {
                        end = true;
                        continue;
                }
                if (!end && (streq(argv[i], "--help") || streq(argv[i], "-h"))) {
                        fputs(find(cmd)->help, stdout);
                        return -1;
                }
                if (!end && json && streq(argv[i], "--json")) {
                        *json = true;
                        continue;
                }
                argv[out++] = argv[i];
        }
        argv[out] = NULL;
        return out;
}

int main(int argc, char **argv) {
        const char *state_dir = NULL;
        int i = 1;
        /* A reader that goes away (`l4d2ctl logs -f | head`) is not an error. */
        signal(SIGPIPE, SIG_IGN);
        /* Whatever our caller leaked to us (a shell redirection, the panel's
         * sockets) must not live on in the supervisor and the game server. */
        (void) close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

        for (; i < argc && argv[i][0] == '-'; i++) {
                if (streq(argv[i], "--state-dir")) {
                        if (i + 1 >= argc)
                                return ctl_usage(NULL, "--state-dir needs a directory");
                        state_dir = argv[++i];
                } else if (startswith(argv[i], "--state-dir="))
                        state_dir = argv[i] + strlen("--state-dir=");
                else if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                        print_main_help(stdout);
                        return 0;
                } else if (streq(argv[i], "--version")) {
                        printf("l4d2ctl %s\n", LEFT4ME_VERSION);
                        return 0;
                } else
                        return ctl_usage(NULL, "unknown option '%s'", argv[i]);
        }
        if (i >= argc) {
                print_main_help(stderr);
                return 2;
        }
        const char *name = argv[i];
        if (streq(name, "help")) {
                const Command *c = i + 1 < argc ? find(argv[i + 1]) : NULL;
                if (c)
                        fputs(c->help, stdout);
                else
                        print_main_help(stdout);
                return 0;
        }
        const Command *cmd = find(name);
        if (!cmd)
                return ctl_usage(NULL, "unknown command '%s'", name);

        HostConfig c;
        Error err = { 0 };
        int r = config_load(&c, state_dir, &err);
        if (r < 0) {
                config_free(&c);
                return ctl_fail(&err, r);
        }
        r = cmd->run(&c, argc - i, argv + i);
        config_free(&c);
        return r;
}
