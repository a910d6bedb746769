/* The instance commands: initialize, start, stop, restart, delete, status,
 * list, logs, and the internal run/supervise. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "a2s.h"
#include "ctl.h"
#include "fs.h"
#include "instance.h"
#include "launch.h"
#include "spec.h"
#include "strutil.h"
#include "supervisor.h"

/* Prints the status object (with --json) or one human line. */
static int print_status_noted(const HostConfig *c, const char *name, bool json, const char *note) {
        Error err = { 0 };
        json_t *st = NULL;
        int r = instance_status(c, name, &st, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        if (json) {
                if (note && json_object_set_new(st, "note", json_string(note)) < 0) {
                        json_decref(st);
                        return ctl_fail(&err, error_set(&err, -ENOMEM, "out of memory"));
                }
                ctl_print_json(st);
                return 0;
        }
        if (note)
                printf("note: %s\n", ctl_shown(note));
        json_t *pid = json_object_get(st, "pid"), *up = json_object_get(st, "uptime");
        printf("%s: %s", name, json_string_value(json_object_get(st, "state")));
        if (json_is_integer(pid))
                printf(", pid %lld", (long long) json_integer_value(pid));
        if (json_is_integer(up))
                printf(", up %llds", (long long) json_integer_value(up));
        json_t *ports = json_object_get(st, "ports");
        printf(", port %lld (SourceTV %lld), map %s, %s, restarts %lld",
               (long long) json_integer_value(json_object_get(ports, "game")),
               (long long) json_integer_value(json_object_get(ports, "sourcetv")),
               json_string_value(json_object_get(st, "map")),
               json_is_true(json_object_get(st, "mounted")) ? "mounted" : "not mounted",
               (long long) json_integer_value(json_object_get(st, "restarts")));
        /* The detail can quote the server (its exit status, a unit's
         * message): escaped, so the line stays one line on a terminal. */
        const char *detail = json_string_value(json_object_get(st, "detail"));
        if (detail && *detail)
                printf(" (%s)", ctl_shown(detail));
        putchar('\n');
        json_decref(st);
        return 0;
}

static int print_status(const HostConfig *c, const char *name, bool json) {
        return print_status_noted(c, name, json, NULL);
}

/* The single NAME argument of most commands. */
static int one_name(const char *cmd, int argc, char **argv, const char **ret) {
        if (argc < 2)
                return ctl_usage(cmd, "missing instance NAME");
        if (argc > 2)
                return ctl_usage(cmd, "unexpected argument '%s'", argv[2]);
        if (argv[1][0] == '-')
                return ctl_usage(cmd, "unknown option '%s'", argv[1]);
        *ret = argv[1];
        return 0;
}

static int run_initialize(const HostConfig *c, int argc, char **argv) {
        bool json = false;
        if ((argc = ctl_common_options("initialize", argc, argv, &json)) < 0)
                return 0;
        const char *name = NULL, *file = NULL;
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "-f") || streq(argv[i], "--file")) {
                        if (++i >= argc)
                                return ctl_usage("initialize", "-f needs a spec file (or - for stdin)");
                        file = argv[i];
                } else if (argv[i][0] == '-')
                        return ctl_usage("initialize", "unknown option '%s'", argv[i]);
                else if (!name)
                        name = argv[i];
                else
                        return ctl_usage("initialize", "unexpected argument '%s'", argv[i]);
        }
        if (!name)
                return ctl_usage("initialize", "missing instance NAME");
        if (!file)
                return ctl_usage("initialize", "missing -f SPEC.yaml");

        Error err = { 0 };
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = streq(file, "-") ? read_fd(STDIN_FILENO, SPEC_MAX_BYTES, &text, &len)
                                 : read_file(file, SPEC_MAX_BYTES, &text, &len);
        if (r == -EFBIG)
                return ctl_fail(&err, error_set(&err, r, "%s: the spec is larger than %d KiB", file, SPEC_MAX_BYTES / 1024));
        if (r < 0)
                return ctl_fail(&err, error_set(&err, r, "cannot read spec '%s': %s", file, strerror(-r)));
        const char *base = strrchr(file, '/');
        r = instance_initialize(c, name, text, len, streq(file, "-") ? "<stdin>" : base ? base + 1 : file, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        if (json)
                return print_status(c, name, true);
        printf("initialized '%s'\n", name);
        return 0;
}

/* start, stop and restart: the operation, then the status; after a start
 * that moved the instance's port, with a note saying so. */
typedef int (*instance_op)(const HostConfig *c, const char *name, StartNote *note, Error *err);

static int run_op(const char *cmd, instance_op op, const HostConfig *c, int argc, char **argv) {
        bool json = false;
        if ((argc = ctl_common_options(cmd, argc, argv, &json)) < 0)
                return 0;
        const char *name;
        int r = one_name(cmd, argc, argv, &name);
        if (r > 0)
                return r;
        Error err = { 0 };
        StartNote note = { 0 };
        r = op(c, name, &note, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        char text[512] = "";
        if (note.moved_to)
                snprintf(text, sizeof text, "instance '%s': %s %ld was in use by another program%s%s%s, so it moved "
                         "from port %ld to %ld (SourceTV %ld)", name, note.what, note.taken,
                         note.holder[0] ? " (" : "", note.holder, note.holder[0] ? ")" : "", note.moved_from,
                         note.moved_to, note.moved_to + 1);
        return print_status_noted(c, name, json, text[0] ? text : NULL);
}

static int stop_op(const HostConfig *c, const char *name, StartNote *note, Error *err) {
        return instance_stop(c, name, err);
}

static int run_start(const HostConfig *c, int argc, char **argv) {
        return run_op("start", instance_start, c, argc, argv);
}
static int run_stop(const HostConfig *c, int argc, char **argv) {
        return run_op("stop", stop_op, c, argc, argv);
}
static int run_restart(const HostConfig *c, int argc, char **argv) {
        return run_op("restart", instance_restart, c, argc, argv);
}

static int run_delete(const HostConfig *c, int argc, char **argv) {
        if ((argc = ctl_common_options("delete", argc, argv, NULL)) < 0)
                return 0;
        const char *name;
        int r = one_name("delete", argc, argv, &name);
        if (r > 0)
                return r;
        Error err = { 0 };
        r = instance_delete(c, name, &err);
        return r < 0 ? ctl_fail(&err, r) : 0;
}

static int run_status(const HostConfig *c, int argc, char **argv) {
        bool json = false;
        if ((argc = ctl_common_options("status", argc, argv, &json)) < 0)
                return 0;
        const char *name;
        int r = one_name("status", argc, argv, &name);
        return r > 0 ? r : print_status(c, name, json);
}

static int run_list(const HostConfig *c, int argc, char **argv) {
        bool json = false;
        if ((argc = ctl_common_options("list", argc, argv, &json)) < 0)
                return 0;
        if (argc > 1)
                return ctl_usage("list", "unexpected argument '%s'", argv[1]);
        Error err = { 0 };
        _cleanup_strv_ char **names = NULL;
        int r = instance_list_visible(c, &names, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        json_t *all = json_array();
        for (char **n = names; *n; n++) {
                json_t *st = NULL;
                /* A damaged instance must not hide the others: report it in
                 * place. */
                if (instance_status(c, *n, &st, &err) < 0)
                        st = json_pack("{s:s, s:s, s:s}", "name", *n, "state", "error", "detail", err.msg);
                json_array_append_new(all, st);
        }
        if (json) {
                ctl_print_json(json_pack("{s:o}", "instances", all));
                return 0;
        }
        if (json_array_size(all) == 0)
                printf("no instances (create one with 'l4d2ctl initialize NAME -f spec.yaml')\n");
        else
                printf("%-32s %-9s %-6s %-20s %s\n", "NAME", "STATE", "PORT", "MAP", "OVERLAYS");
        size_t i;
        json_t *st;
        json_array_foreach(all, i, st) {
                Buf ov = BUF_INIT(0);
                size_t k;
                json_t *o;
                json_array_foreach(json_object_get(st, "overlays"), k, o)
                        buf_printf(&ov, "%s%s", k ? "," : "", json_string_value(o));
                printf("%-32s %-9s %-6lld %-20s %s\n", json_string_value(json_object_get(st, "name")),
                       json_string_value(json_object_get(st, "state")),
                       (long long) json_integer_value(json_object_get(json_object_get(st, "ports"), "game")),
                       json_string_value(json_object_get(st, "map")) ?: "-", ov.data ? ov.data : "-");
                buf_free(&ov);
        }
        json_decref(all);
        return 0;
}

/* The console is the game server's output, and a compromised server chooses
 * its bytes: on a terminal, escape control characters (cursor movement,
 * title-setting sequences) except newline and tab. A forked filter reads the
 * backend's output from a pipe; pipes and files get the bytes unchanged. */
static int tty_filter_start(pid_t *ret_pid) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                close(p[1]);
                char in[4096], out[4 * sizeof in];
                ssize_t n;
                while ((n = read(p[0], in, sizeof in)) > 0 || (n < 0 && errno == EINTR)) {
                        size_t k = 0;
                        for (ssize_t i = 0; i < n; i++) {
                                unsigned char ch = (unsigned char) in[i];
                                if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
                                        k += (size_t) snprintf(out + k, sizeof out - k, "\\x%02x", ch);
                                else
                                        out[k++] = (char) ch;
                        }
                        if (k > 0 && write(STDOUT_FILENO, out, k) < 0)
                                break;
                }
                _exit(0);
        }
        close(p[0]);
        *ret_pid = pid;
        return p[1];
}

static int run_logs(const HostConfig *c, int argc, char **argv) {
        if ((argc = ctl_common_options("logs", argc, argv, NULL)) < 0)
                return 0;
        const char *name = NULL;
        long lines = 50;
        bool follow = false;
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--lines") || streq(argv[i], "-n")) {
                        if (++i >= argc || parse_long(argv[i], 0, 1000000, &lines) < 0)
                                return ctl_usage("logs", "--lines needs a number from 0 to 1000000");
                } else if (startswith(argv[i], "--lines=")) {
                        if (parse_long(argv[i] + 8, 0, 1000000, &lines) < 0)
                                return ctl_usage("logs", "--lines needs a number from 0 to 1000000");
                } else if (streq(argv[i], "--follow") || streq(argv[i], "-f"))
                        follow = true;
                else if (streq(argv[i], "--no-follow"))
                        follow = false;
                else if (argv[i][0] == '-')
                        return ctl_usage("logs", "unknown option '%s'", argv[i]);
                else if (!name)
                        name = argv[i];
                else
                        return ctl_usage("logs", "unexpected argument '%s'", argv[i]);
        }
        if (!name)
                return ctl_usage("logs", "missing instance NAME");
        Error err = { 0 };
        pid_t filter = 0;
        int out = isatty(STDOUT_FILENO) ? tty_filter_start(&filter) : STDOUT_FILENO;
        if (out < 0)
                out = STDOUT_FILENO;
        int r = instance_logs(c, name, (unsigned) lines, follow, out, &err);
        if (filter > 0) {
                close(out);
                waitpid(filter, NULL, 0);
        }
        return r < 0 ? ctl_fail(&err, r) : 0;
}

static int run_run(const HostConfig *c, int argc, char **argv) {
        if ((argc = ctl_common_options("run", argc, argv, NULL)) < 0)
                return 0;
        const char *name;
        int r = one_name("run", argc, argv, &name);
        if (r > 0)
                return r;
        Error err = { 0 };
        r = launch_run(c, name, &err);
        return r < 0 ? ctl_fail(&err, r) : r;
}

/* The supervisor's hang detection: one A2S_INFO query on loopback. */
static int probe_a2s(long port, int timeout_ms) {
        _cleanup_a2s_ A2sClient *a = NULL;
        if (port <= 0 || port > 65535 || a2s_open("127.0.0.1", (uint16_t) port, &a, NULL) < 0)
                return 0;
        a2s_set_timeout(a, timeout_ms);
        A2sInfo info = { 0 };
        int r = a2s_info(a, &info, NULL);
        if (r >= 0)
                a2s_info_done(&info);
        return r >= 0;
}

static int run_supervise(const HostConfig *c, int argc, char **argv) {
        long fd = -1;
        const char *name = NULL;
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--notify-fd") && i + 1 < argc) {
                        if (parse_long(argv[++i], 3, 1024, &fd) < 0)
                                return ctl_usage("supervise", "bad --notify-fd");
                } else if (!name)
                        name = argv[i];
        }
        if (!name || !name_is_valid(name))
                return ctl_usage("supervise", "missing or invalid instance NAME");
        if (fd >= 0)
                fcntl((int) fd, F_SETFD, FD_CLOEXEC);
        return supervisor_main(c, name, (int) fd, probe_a2s);
}

#define HELP_FOOTER                                                                               \
        "\n"                                                                                      \
        "EXIT STATUS\n"                                                                           \
        "    0 on success, 1 on failure with one line 'error: ...' on stderr, 2 on a usage error.\n"

const Command cmd_initialize = {
        .name = "initialize",
        .run = run_initialize,
        .summary = "create or update an instance from a YAML spec",
        .help = "NAME\n"
                "    l4d2ctl initialize - create or update an instance from a YAML spec\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl initialize NAME -f SPEC.yaml [--json]\n"
                "    l4d2ctl initialize NAME -f - < SPEC.yaml\n"
                "\n"
                "DESCRIPTION\n"
                "    Validates the spec and writes the instance atomically: on any error\n"
                "    nothing changes. Running it again updates the instance; the change\n"
                "    applies at its next start. NAME is 1-32 characters of A-Z a-z 0-9 _ -,\n"
                "    starting with a letter or digit.\n"
                "\n"
                "SPEC KEYS\n"
                "    port           game port; SourceTV uses port+1. Both must lie in the\n"
                "                   host's range (default 27000-27999) and not overlap another\n"
                "                   instance. Left out: the first free pair is allocated.\n"
                "    map            start map (default c1m1_hotel)\n"
                "    maxplayers     1-32 (default 8)\n"
                "    tickrate       10-128 (default: the engine's)\n"
                "    hostname       server name (default 'left4me NAME')\n"
                "    rcon_password  left out: one is generated and kept across updates\n"
                "    overlays       list of overlay names (directories in\n"
                "                   STATE/overlays/); the first has the highest precedence\n"
                "    cvars          mapping of cvar: value, written to server.cfg\n"
                "    server_cfg     extra server.cfg lines (a block or a list)\n"
                "    args           extra launch arguments (a list)\n"
                "\n"
                "    Errors name the file, line and key, e.g.\n"
                "    spec.yaml:3: 'port': 80 is outside the port range 27000-27999\n"
                "\n"
                "OPTIONS\n"
                "    -f, --file FILE  the spec; - reads standard input\n"
                "    --json           print the status object afterwards\n"
                "\n"
                "EXAMPLE\n"
                "    l4d2ctl initialize alpha -f /usr/share/doc/left4me/examples/instance.yaml\n" HELP_FOOTER,
};

const Command cmd_start = {
        .name = "start",
        .run = run_start,
        .summary = "mount the overlay, stage server.cfg and start the server",
        .help = "NAME\n"
                "    l4d2ctl start - start an instance's server\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl start NAME [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    Checks the installation and the overlays, mounts the instance's\n"
                "    overlayfs (overlays in spec order over the installation, with the\n"
                "    instance's own upper layer), writes left4dead2/cfg/server.cfg into the\n"
                "    upper layer and starts srcds_run through the service backend: the\n"
                "    systemd unit left4me-server@NAME.service (enabled, so it survives a\n"
                "    reboot) or the built-in supervisor, which runs it in a bubblewrap box\n"
                "    as a uid of its own with cgroup limits, restarts it after an exit\n"
                "    with backoff and gives up after 5 crashes within 60 s. Copies of\n"
                "    srcds_run, srcds_linux, bin/ and left4dead2/bin/ in the instance's\n"
                "    upper layer are removed first, with a line in its log. Starting a\n"
                "    running instance does nothing.\n"
                "\n"
                "OPTIONS\n"
                "    --json   print the status object afterwards\n" HELP_FOOTER,
};

const Command cmd_stop = {
        .name = "stop",
        .run = run_stop,
        .summary = "stop the server and unmount its overlay",
        .help = "NAME\n"
                "    l4d2ctl stop - stop an instance's server\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl stop NAME [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    Asks the server to exit (SIGTERM; SIGKILL after 10 s), unmounts its\n"
                "    overlay and, with systemd, disables its unit. Stopping a stopped\n"
                "    instance does nothing. The upper layer is kept.\n"
                "\n"
                "OPTIONS\n"
                "    --json   print the status object afterwards\n" HELP_FOOTER,
};

const Command cmd_restart = {
        .name = "restart",
        .run = run_restart,
        .summary = "stop, then start (applies spec changes)",
        .help = "NAME\n"
                "    l4d2ctl restart - stop and start an instance\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl restart NAME [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    Equivalent to stop followed by start under one lock; a spec updated with\n"
                "    initialize takes effect.\n" HELP_FOOTER,
};

const Command cmd_delete = {
        .name = "delete",
        .run = run_delete,
        .summary = "stop, unmount and remove an instance",
        .help = "NAME\n"
                "    l4d2ctl delete - remove an instance\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl delete NAME\n"
                "\n"
                "DESCRIPTION\n"
                "    Stops the server, unmounts the overlay and removes the instance's spec\n"
                "    and runtime (upper layer, logs). Overlays and the installation are not\n"
                "    touched. Deleting an instance that does not exist succeeds.\n" HELP_FOOTER,
};

const Command cmd_status = {
        .name = "status",
        .run = run_status,
        .summary = "state, pid, ports, uptime, mount and restarts of an instance",
        .help = "NAME\n"
                "    l4d2ctl status - show an instance's state\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl status NAME [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    state is stopped, starting (launched, game port not yet bound),\n"
                "    running, unresponsive (running, but it missed LEFT4ME_PROBE_MISSES A2S\n"
                "    probes in a row) or crashed (gave up after a crash loop, or see\n"
                "    detail). With --json, one object: name, state, pid, ports {game,\n"
                "    sourcetv}, uptime (seconds), mounted, overlays, restarts, backend, map,\n"
                "    maxplayers, detail, and with the supervisor backend containment (how\n"
                "    the server is held: sandbox, uid, limits, disk, or why not); pid and\n"
                "    uptime are null when it is not running.\n" HELP_FOOTER,
};

const Command cmd_list = {
        .name = "list",
        .run = run_list,
        .summary = "all instances with their state",
        .help = "NAME\n"
                "    l4d2ctl list - list instances\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl list [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    One line per instance: name, state, port, map, overlays. With --json,\n"
                "    {\"instances\": [status object, ...]}.\n" HELP_FOOTER,
};

const Command cmd_logs = {
        .name = "logs",
        .run = run_logs,
        .summary = "the server console: last lines, or follow",
        .help = "NAME\n"
                "    l4d2ctl logs - show an instance's console output\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl logs NAME [--lines N] [--follow | --no-follow]\n"
                "\n"
                "DESCRIPTION\n"
                "    Prints the last N lines (default 50) of the server's console: from its\n"
                "    journal namespace left4me-NAME with systemd (none before its first\n"
                "    start), from STATE/runtime/NAME/console.log with the supervisor. With\n"
                "    --follow, keeps printing new lines (of a server that never ran: from\n"
                "    its first start on) until interrupted or until the reader goes away.\n"
                "\n"
                "OPTIONS\n"
                "    -n, --lines N   how many lines to show first (0 = none)\n"
                "    -f, --follow    keep printing new lines\n"
                "    --no-follow     print and exit (the default)\n" HELP_FOOTER,
};

const Command cmd_run = {
        .name = "run",
        .run = run_run,
        .hidden = true,
        .summary = "internal: run the server in the foreground (the unit's ExecStart)",
        .help = "NAME\n"
                "    l4d2ctl run - run an instance's server in the foreground\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl run NAME\n"
                "\n"
                "DESCRIPTION\n"
                "    What left4me-server@.service runs: starts the command that 'l4d2ctl\n"
                "    start' wrote to STATE/runtime/NAME/launch.json in the merged tree,\n"
                "    forwards SIGTERM, SIGINT and SIGHUP to it, reaps every child and exits\n"
                "    with its status. Not for interactive use.\n",
};

const Command cmd_supervise = {
        .name = "supervise",
        .run = run_supervise,
        .hidden = true,
        .summary = "internal: the supervisor process of one instance",
        .help = "NAME\n"
                "    l4d2ctl supervise - internal supervisor of one instance\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl supervise NAME [--notify-fd FD]\n"
                "\n"
                "DESCRIPTION\n"
                "    Started by 'l4d2ctl start' with the supervisor backend; not for\n"
                "    interactive use.\n",
};
