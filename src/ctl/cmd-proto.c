/* The live commands: rcon, query, players. They talk to a running server
 * over Source RCON (TCP) and A2S (UDP) on 127.0.0.1 and the instance's game
 * port. Port and password are read from the instance's stored state every
 * time, never cached, so a changed spec applies at once. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "a2s.h"
#include "ctl.h"
#include "instance.h"
#include "rcon.h"
#include "spec.h"
#include "status.h"
#include "steamid.h"
#include "strutil.h"

#define LIVE_HOST "127.0.0.1"
#define INTERACTIVE_LINE_MAX 4096

/* Loads the instance's current port and password. */
static int load_endpoint(const HostConfig *c, const char *name, long *ret_port, char **ret_password, Error *err) {
        Spec s = { 0 };
        int r = instance_load(c, name, &s, err);
        if (r < 0)
                return r;
        if (s.port <= 0 || s.port > 65535) {
                spec_free(&s);
                return error_set(err, -EINVAL, "instance '%s': no game port in its state", name);
        }
        *ret_port = s.port;
        if (ret_password) {
                *ret_password = s.rcon_password ? strdup(s.rcon_password) : NULL;
                if (s.rcon_password && !*ret_password) {
                        spec_free(&s);
                        return error_set(err, -ENOMEM, "out of memory");
                }
        }
        spec_free(&s);
        return 0;
}

/* Connects and authenticates once; the connection then serves every command.
 * timeout_ms: each command's (<= 0: the client's default). */
static int rcon_open(const HostConfig *c, const char *name, int timeout_ms, RconClient **ret, Error *err) {
        long port;
        _cleanup_free_ char *password = NULL;
        int r = load_endpoint(c, name, &port, &password, err);
        if (r < 0)
                return r;
        if (!password || !*password)
                return error_set(err, -EINVAL, "instance '%s' has no rcon_password; set one in its spec", name);
        RconClient *rc = NULL;
        r = rcon_connect(LIVE_HOST, (uint16_t) port, 5000, &rc, err);
        if (r < 0)
                return error_prefix(err, r, "instance '%s' (is it running?)", name);
        r = rcon_auth(rc, password, err);
        if (r < 0) {
                rcon_free(rc);
                if (r == -EACCES)
                        return error_set(err, r, "instance '%s': the server refused the RCON password; restart it so it reads the current one", name);
                return error_prefix(err, r, "instance '%s'", name);
        }
        if (timeout_ms > 0)
                rcon_set_timeout(rc, timeout_ms);
        *ret = rc;
        return 0;
}

/* What kind of failure r is, for a program (`rcon --json`): the panel's
 * console says it in its own words. */
static const char *rcon_reason(int r) {
        switch (r) {
        case -ETIMEDOUT:
                return "timeout";
        case -ECONNREFUSED:
        case -EHOSTUNREACH:
        case -ENETUNREACH:
                return "refused";
        case -EACCES:
        case -EPERM:
                return "auth";
        case -ENOENT:
                return "no-instance";
        case -E2BIG:
                return "too-long";
        default:
                return "error";
        }
}

/* --json: the failure as an object on stdout too, then the usual line. */
static int rcon_fail(bool json, const Error *err, int r) {
        if (json)
                ctl_print_json(json_pack("{s:o, s:s}", "error", ctl_json_text(error_msg(err)), "reason", rcon_reason(r)));
        return ctl_fail(err, r);
}

/* Output is flushed before the next read of standard input (LineReader),
 * not after every command: a script piping many commands gets one write
 * per batch, a person at the prompt still sees every answer at once. */
static void print_output(const char *out, size_t len) {
        /* Console text carries player names, which anyone can choose: on a
         * terminal, control characters other than newline and tab are shown
         * escaped so that they cannot drive the terminal. Pipes get the
         * bytes as they came. */
        static int tty = -1;
        if (tty < 0)
                tty = isatty(STDOUT_FILENO);
        if (!tty)
                fwrite(out, 1, len, stdout);
        else
                for (size_t i = 0; i < len; i++) {
                        unsigned char ch = (unsigned char) out[i];
                        if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
                                printf("\\x%02x", ch);
                        else
                                putchar(ch);
                }
        if (len && out[len - 1] != '\n')
                fputc('\n', stdout);
}

/* Reads lines from an fd with a fixed buffer: a line longer than
 * INTERACTIVE_LINE_MAX is skipped whole (-E2BIG once), never buffered. */
typedef struct LineReader {
        int fd;
        bool eof, skipping;
        size_t start, end;
        char buf[INTERACTIVE_LINE_MAX + 1];
} LineReader;

/* Returns the length of the next line (without '\n', NUL-terminated in
 * *ret, valid until the next call), -E2BIG for an over-long line, -1 at
 * the end of input. */
static ssize_t line_next(LineReader *lr, char **ret) {
        for (;;) {
                char *nl = memchr(lr->buf + lr->start, '\n', lr->end - lr->start);
                if (nl) {
                        size_t s = lr->start, n = (size_t) (nl - (lr->buf + s));
                        lr->start = s + n + 1;
                        if (lr->skipping) {
                                lr->skipping = false;
                                continue;
                        }
                        *nl = 0;
                        *ret = lr->buf + s;
                        return (ssize_t) n;
                }
                if (lr->eof) {
                        if (lr->start == lr->end || lr->skipping)
                                return -1;
                        size_t s = lr->start, n = lr->end - s;
                        lr->buf[lr->end] = 0;
                        lr->start = lr->end;
                        *ret = lr->buf + s;
                        return (ssize_t) n;
                }
                /* Make room: drop what was consumed, or the over-long line. */
                memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
                lr->end -= lr->start;
                lr->start = 0;
                if (lr->end == sizeof(lr->buf) - 1) {
                        bool first = !lr->skipping;
                        lr->skipping = true;
                        lr->end = 0;
                        if (first)
                                return -E2BIG;
                }
                fflush(stdout); /* answers so far go out before we wait */
                ssize_t k = read(lr->fd, lr->buf + lr->end, sizeof(lr->buf) - 1 - lr->end);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        lr->eof = true;
                else
                        lr->end += (size_t) k;
        }
}

/* Joins argv[from..argc) with single spaces, as a console line. */
static int join_words(int argc, char **argv, int from, char **ret) {
        _cleanup_buf_ Buf b = BUF_INIT(RCON_COMMAND_MAX + 2);
        for (int i = from; i < argc; i++) {
                int r = buf_printf(&b, "%s%s", i > from ? " " : "", argv[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(b.data);
        return 0;
}

static int run_rcon(const HostConfig *c, int argc, char **argv) {
        bool json = false;
        long timeout_s = 0;
        /* Options only before the command: `l4d2ctl rcon alpha sm_cvar --json`
         * is a command, not an option. */
        int n = 1;
        while (n < argc && argv[n][0] == '-' && !streq(argv[n], "--")) {
                if (streq(argv[n], "--help") || streq(argv[n], "-h")) {
                        fputs(cmd_rcon.help, stdout);
                        return 0;
                }
                if (streq(argv[n], "--json"))
                        json = true;
                else if (streq(argv[n], "--timeout") || startswith(argv[n], "--timeout=")) {
                        const char *v = argv[n][9] == '=' ? argv[n] + 10 : n + 1 < argc ? argv[++n] : "";
                        if (parse_long(v, 1, 3600, &timeout_s) < 0)
                                return ctl_usage("rcon", "--timeout needs seconds from 1 to 3600, not '%s'", v);
                } else
                        return ctl_usage("rcon", "unknown option '%s'", argv[n]);
                n++;
        }
        if (n >= argc)
                return ctl_usage("rcon", "missing instance NAME");
        const char *name = argv[n++];
        if (n < argc && streq(argv[n], "--"))
                n++;
        if (!name_is_valid(name))
                return ctl_usage("rcon", "'%s' is not a valid instance name", name);

        Error err = { 0 };
        _cleanup_rcon_ RconClient *rc = NULL;
        int r;

        if (n < argc) {
                _cleanup_free_ char *cmd = NULL;
                if (join_words(argc, argv, n, &cmd) < 0) {
                        error_set(&err, -E2BIG, "instance '%s': command longer than %d bytes; the server would refuse it",
                                  name, RCON_COMMAND_MAX);
                        return rcon_fail(json, &err, -E2BIG);
                }
                if ((r = rcon_open(c, name, (int) timeout_s * 1000, &rc, &err)) < 0)
                        return rcon_fail(json, &err, r);
                _cleanup_free_ char *out = NULL;
                size_t len = 0;
                if ((r = rcon_exec(rc, cmd, &out, &len, &err)) < 0) {
                        error_prefix(&err, r, "instance '%s'", name);
                        return rcon_fail(json, &err, r);
                }
                if (json)
                        ctl_print_json(json_pack("{s:o}", "output", ctl_json_text_n(out, len)));
                else
                        print_output(out, len);
                return 0;
        }

        /* No command: a prompt on a terminal, else one command per line of
         * standard input, all on one warm connection. */
        if ((r = rcon_open(c, name, (int) timeout_s * 1000, &rc, &err)) < 0)
                return ctl_fail(&err, r);
        bool tty = isatty(STDIN_FILENO);
        LineReader lr = { .fd = STDIN_FILENO };
        int failed = 0;
        for (;;) {
                if (tty) {
                        fprintf(stderr, "%s> ", name);
                        fflush(stderr);
                }
                char *line;
                ssize_t k = line_next(&lr, &line);
                if (k == -E2BIG) {
                        fprintf(stderr, "error: line longer than %d bytes skipped\n", INTERACTIVE_LINE_MAX);
                        failed = 1;
                        continue;
                }
                if (k < 0)
                        break;
                while (k > 0 && line[k - 1] == '\r')
                        line[--k] = 0;
                if (k == 0)
                        continue;
                if (tty && (streq(line, "exit") || streq(line, "\\q")))
                        break;
                _cleanup_free_ char *out = NULL;
                size_t len = 0;
                Error e = { 0 };
                r = rcon_exec(rc, line, &out, &len, &e);
                if (r < 0) {
                        failed = 1;
                        fprintf(stderr, "error: instance '%s': %s\n", name, e.msg);
                        if (!rcon_is_ready(rc))
                                return 1; /* the connection is gone */
                        continue;
                }
                if (json) {
                        ctl_print_json(json_pack("{s:o,s:o}", "command", ctl_json_text(line), "output", ctl_json_text_n(out, len)));
                } else
                        print_output(out, len);
        }
        if (tty)
                fputc('\n', stderr);
        return failed;
}

static json_t *info_json(const A2sInfo *i) {
        char sid[24];
        snprintf(sid, sizeof(sid), "%llu", (unsigned long long) i->steamid);
        json_t *o = json_object();
        json_object_set_new(o, "name", ctl_json_text(i->name));
        json_object_set_new(o, "map", ctl_json_text(i->map));
        json_object_set_new(o, "folder", ctl_json_text(i->folder));
        json_object_set_new(o, "game", ctl_json_text(i->game));
        json_object_set_new(o, "appid", json_integer(i->appid));
        json_object_set_new(o, "players", json_integer(i->players));
        json_object_set_new(o, "max_players", json_integer(i->max_players));
        json_object_set_new(o, "bots", json_integer(i->bots));
        json_object_set_new(o, "server_type", ctl_json_text_n(&i->server_type, 1));
        json_object_set_new(o, "environment", ctl_json_text_n(&i->environment, 1));
        json_object_set_new(o, "password", json_boolean(i->visibility));
        json_object_set_new(o, "vac", json_boolean(i->vac));
        json_object_set_new(o, "version", ctl_json_text(i->version));
        json_object_set_new(o, "port", i->edf & 0x80 ? json_integer(i->port) : json_null());
        json_object_set_new(o, "steamid", i->edf & 0x10 ? json_string(sid) : json_null());
        json_object_set_new(o, "keywords", ctl_json_text(i->keywords));
        return o;
}

static double finite_or_zero(float f) {
        return isfinite(f) ? (double) f : 0.0;
}

static int run_query(const HostConfig *c, int argc, char **argv) {
        bool json = false, want_players = false, want_rules = false;
        int n = ctl_common_options("query", argc, argv, &json);
        if (n < 0)
                return 0;
        const char *name = NULL;
        for (int i = 1; i < n; i++) {
                if (streq(argv[i], "--players"))
                        want_players = true;
                else if (streq(argv[i], "--rules"))
                        want_rules = true;
                else if (argv[i][0] == '-')
                        return ctl_usage("query", "unknown option '%s'", argv[i]);
                else if (name)
                        return ctl_usage("query", "unexpected argument '%s'", argv[i]);
                else
                        name = argv[i];
        }
        if (!name)
                return ctl_usage("query", "missing instance NAME");
        if (!name_is_valid(name))
                return ctl_usage("query", "'%s' is not a valid instance name", name);

        Error err = { 0 };
        long port;
        int r = load_endpoint(c, name, &port, NULL, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        _cleanup_a2s_ A2sClient *q = NULL;
        if ((r = a2s_open(LIVE_HOST, (uint16_t) port, &q, &err)) < 0)
                return ctl_fail(&err, error_prefix(&err, r, "instance '%s'", name));

        A2sInfo info = { 0 };
        A2sPlayers ps = { 0 };
        A2sRules rs = { 0 };
        if ((r = a2s_info(q, &info, &err)) < 0 ||
            (want_players && (r = a2s_players(q, &ps, &err)) < 0) ||
            (want_rules && (r = a2s_rules(q, &rs, &err)) < 0)) {
                a2s_info_done(&info);
                a2s_players_done(&ps);
                error_prefix(&err, r, "instance '%s' (is it running?)", name);
                return ctl_fail(&err, r);
        }

        if (json) {
                json_t *o = json_object();
                json_object_set_new(o, "info", info_json(&info));
                if (want_players) {
                        json_t *a = json_array();
                        for (size_t i = 0; i < ps.n; i++)
                                json_array_append_new(a, json_pack("{s:o,s:I,s:f}", "name", ctl_json_text(ps.v[i].name), "score",
                                                                   (json_int_t) ps.v[i].score, "duration",
                                                                   finite_or_zero(ps.v[i].duration)));
                        json_object_set_new(o, "players", a);
                }
                if (want_rules) {
                        json_t *m = json_object();
                        for (size_t i = 0; i < rs.n; i++)
                                json_object_set_new(m, rs.v[i].name, ctl_json_text(rs.v[i].value));
                        json_object_set_new(o, "rules", m);
                }
                ctl_print_json(o);
        } else {
                printf("name:        %s\nmap:         %s\nplayers:     %u/%u (%u bots)\ngame:        %s (%s, app %u)\n"
                       "version:     %s\nvac:         %s\npassword:    %s\n",
                       ctl_shown(info.name), ctl_shown(info.map), info.players, info.max_players, info.bots, ctl_shown(info.game),
                       ctl_shown(info.folder), info.appid, ctl_shown(info.version), info.vac ? "yes" : "no",
                       info.visibility ? "yes" : "no");
                if (info.keywords)
                        printf("keywords:    %s\n", ctl_shown(info.keywords));
                if (want_players) {
                        printf("\n%-32s %6s %9s\n", "NAME", "SCORE", "CONNECTED");
                        for (size_t i = 0; i < ps.n; i++)
                                printf("%-32s %6d %8.0fs\n", ctl_shown(ps.v[i].name), ps.v[i].score,
                                       finite_or_zero(ps.v[i].duration));
                }
                if (want_rules) {
                        putchar('\n');
                        for (size_t i = 0; i < rs.n; i++)
                                printf("%s = %s\n", ctl_shown(rs.v[i].name), ctl_shown(rs.v[i].value));
                }
        }
        a2s_info_done(&info);
        a2s_players_done(&ps);
        a2s_rules_done(&rs);
        return 0;
}

static int run_players(const HostConfig *c, int argc, char **argv) {
        bool json = false;
        int n = ctl_common_options("players", argc, argv, &json);
        if (n < 0)
                return 0;
        if (n < 2)
                return ctl_usage("players", "missing instance NAME");
        if (n > 2)
                return ctl_usage("players", "unexpected argument '%s'", argv[2]);
        const char *name = argv[1];
        if (name[0] == '-')
                return ctl_usage("players", "unknown option '%s'", name);
        if (!name_is_valid(name))
                return ctl_usage("players", "'%s' is not a valid instance name", name);

        Error err = { 0 };
        _cleanup_rcon_ RconClient *rc = NULL;
        int r = rcon_open(c, name, 0, &rc, &err);
        if (r < 0)
                return ctl_fail(&err, r);
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        if ((r = rcon_exec(rc, "status", &out, &len, &err)) < 0)
                return ctl_fail(&err, error_prefix(&err, r, "instance '%s'", name));
        Status st;
        if ((r = status_parse(out, len, &st, &err)) < 0)
                return ctl_fail(&err, error_prefix(&err, r, "instance '%s'", name));

        if (json) {
                json_t *a = json_array();
                for (size_t i = 0; i < st.n_players; i++) {
                        StatusPlayer *p = &st.players[i];
                        char s64[24] = "", s2[STEAMID_STR_MAX] = "", s3[STEAMID_STR_MAX] = "";
                        if (p->steamid64) {
                                snprintf(s64, sizeof(s64), "%llu", (unsigned long long) p->steamid64);
                                steamid_to_steam2(p->steamid64, 1, s2, sizeof(s2));
                                steamid_to_steam3(p->steamid64, s3, sizeof(s3));
                        }
                        json_t *o = json_object();
                        json_object_set_new(o, "userid", json_integer(p->userid));
                        json_object_set_new(o, "name", ctl_json_text(p->name));
                        json_object_set_new(o, "bot", json_boolean(p->bot));
                        json_object_set_new(o, "uniqueid", ctl_json_text(p->uniqueid));
                        /* A string: SteamID64s do not fit a JavaScript number. */
                        json_object_set_new(o, "steamid64", p->steamid64 ? json_string(s64) : json_null());
                        json_object_set_new(o, "steamid", p->steamid64 ? json_string(s2) : json_null());
                        json_object_set_new(o, "steamid3", p->steamid64 ? json_string(s3) : json_null());
                        json_object_set_new(o, "connected", p->bot ? json_null() : json_integer(p->connected));
                        json_object_set_new(o, "ping", p->bot ? json_null() : json_integer(p->ping));
                        json_object_set_new(o, "loss", p->bot ? json_null() : json_integer(p->loss));
                        json_object_set_new(o, "state", ctl_json_text(p->state));
                        json_object_set_new(o, "adr", ctl_json_text(p->adr));
                        json_array_append_new(a, o);
                }
                json_t *o = json_object();
                json_object_set_new(o, "map", ctl_json_text(st.map));
                json_object_set_new(o, "humans", st.humans >= 0 ? json_integer(st.humans) : json_null());
                json_object_set_new(o, "bots", st.bots >= 0 ? json_integer(st.bots) : json_null());
                json_object_set_new(o, "max_players", st.max_players >= 0 ? json_integer(st.max_players) : json_null());
                json_object_set_new(o, "players", a);
                ctl_print_json(o);
        } else {
                printf("%-6s %-32s %-17s %-19s %9s %5s %s\n", "USERID", "NAME", "STEAMID64", "STEAMID", "CONNECTED",
                       "PING", "STATE");
                for (size_t i = 0; i < st.n_players; i++) {
                        StatusPlayer *p = &st.players[i];
                        char s64[24] = "-";
                        if (p->steamid64)
                                snprintf(s64, sizeof(s64), "%llu", (unsigned long long) p->steamid64);
                        if (p->bot)
                                printf("%-6d %-32s %-17s %-19s %9s %5s %s\n", p->userid, ctl_shown(p->name), "-", "BOT", "-", "-",
                                       ctl_shown(p->state));
                        else
                                printf("%-6d %-32s %-17s %-19s %8us %5d %s\n", p->userid, ctl_shown(p->name), s64, ctl_shown(p->uniqueid),
                                       p->connected, p->ping, ctl_shown(p->state));
                }
        }
        status_done(&st);
        return 0;
}

#define HELP_FOOTER                                                                               \
        "\n"                                                                                      \
        "EXIT STATUS\n"                                                                           \
        "    0 on success, 1 on failure with one line 'error: ...' on stderr, 2 on a usage error.\n"

const Command cmd_rcon = {
        .name = "rcon",
        .run = run_rcon,
        .summary = "run console commands on a running server (Source RCON)",
        .help = "NAME\n"
                "    l4d2ctl rcon - run console commands on a running server\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl rcon [--json] [--timeout S] NAME COMMAND [ARGS...]\n"
                "    l4d2ctl rcon [--json] [--timeout S] NAME  (a prompt, or commands from stdin)\n"
                "\n"
                "DESCRIPTION\n"
                "    Connects to 127.0.0.1 on the instance's game port and authenticates\n"
                "    with its rcon_password, both read from the instance's current state.\n"
                "    With a COMMAND (its words joined by spaces) prints the whole output,\n"
                "    however many packets the server splits it into. Without one, reads a\n"
                "    command per line: at a terminal after a 'NAME> ' prompt (exit or\n"
                "    Ctrl-D ends it; use rlwrap for line editing and history), otherwise\n"
                "    from standard input; every command uses the same connection.\n"
                "\n"
                "    A wrong password is never retried (srcds bans an address after a few\n"
                "    failures). A command longer than 511 bytes is refused, as the server\n"
                "    would skip it. Each command times out after 30 seconds (--timeout).\n"
                "\n"
                "OPTIONS\n"
                "    --json   print {\"output\": \"...\"} (one object a line with a prompt/stdin);\n"
                "             a failed COMMAND prints {\"error\": \"...\", \"reason\": R} too, R one\n"
                "             of timeout, refused, auth, no-instance, too-long, error\n"
                "    --timeout S  seconds each command may take, 1 to 3600 (default 30)\n"
                "\n"
                "EXAMPLE\n"
                "    l4d2ctl rcon alpha changelevel c2m1_highway\n"
                "    printf 'status\\nsv_cheats\\n' | l4d2ctl rcon alpha\n" HELP_FOOTER,
};

const Command cmd_query = {
        .name = "query",
        .run = run_query,
        .summary = "ask a running server for its info, players and rules (A2S)",
        .help = "NAME\n"
                "    l4d2ctl query - ask a running server for its public info (A2S)\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl query NAME [--players] [--rules] [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    Sends A2S_INFO (and A2S_PLAYER, A2S_RULES) over UDP to 127.0.0.1 on\n"
                "    the instance's game port, as a server browser does, following the\n"
                "    server's challenge and reassembling split replies. Times out after\n"
                "    3 seconds per query.\n"
                "\n"
                "OPTIONS\n"
                "    --players   also list the players the server reports\n"
                "    --rules     also list the server's public cvars\n"
                "    --json      one object: {\"info\": {...}, \"players\": [...], \"rules\": {...}}\n"
                "                (steamid is a string)\n" HELP_FOOTER,
};

const Command cmd_players = {
        .name = "players",
        .run = run_players,
        .summary = "list the players on a running server, with SteamIDs",
        .help = "NAME\n"
                "    l4d2ctl players - list the players on a running server\n"
                "\n"
                "SYNOPSIS\n"
                "    l4d2ctl players NAME [--json]\n"
                "\n"
                "DESCRIPTION\n"
                "    Runs 'status' over RCON and parses it: every human (with SteamID64,\n"
                "    connected time, ping, state) and every bot.\n"
                "\n"
                "OPTIONS\n"
                "    --json   {\"map\": ..., \"humans\": N, \"bots\": N, \"max_players\": N,\n"
                "             \"players\": [{\"userid\", \"name\", \"bot\", \"uniqueid\",\n"
                "             \"steamid64\" (string), \"steamid\", \"steamid3\", \"connected\",\n"
                "             \"ping\", \"loss\", \"state\", \"adr\"}]}\n" HELP_FOOTER,
};
