/* left4me: the web panel (`serve`) and its admin commands. Configuration
 * comes from flags, then the environment, then /etc/left4me/web.env, then
 * built-in defaults, in that order of precedence. */
#include <arpa/inet.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "cmd.h"
#include "db.h"
#include "envfile.h"
#include "fs.h"
#include "web.h"



static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *help;
} commands[] = {
        { "serve", cmd_serve, cmd_serve_help },
        { "admin", cmd_admin, cmd_admin_help },
        { "db", cmd_db, cmd_db_help },
        { "workshop", cmd_workshop, cmd_workshop_help },
};

static void usage(FILE *f) {
        fputs("Usage: left4me [--state-dir DIR] COMMAND [ARGS]\n"
              "\n"
              "The left4me web panel and its administration.\n"
              "\n"
              "Commands:\n"
              "  serve [--listen ADDR:PORT]   run the panel (default 127.0.0.1:8080)\n"
              "  admin create USER [--admin] [--password-stdin]\n"
              "                               create an account; prints a generated password\n"
              "  admin passwd USER [--password-stdin]\n"
              "                               set a new password; ends the user's sessions\n"
              "  admin list                   list accounts\n"
              "  admin disable USER           disable an account; ends its sessions at once\n"
              "  admin enable USER            enable it again\n"
              "  db migrate                   bring the database schema up to date\n"
              "  workshop refresh             queue the panel's Workshop refresh job (daily timer)\n"
              "  help [COMMAND]               this text, or a command's (also COMMAND --help)\n"
              "\n"
              "Options:\n"
              "  --state-dir DIR  panel state (left4me.db) and l4d2ctl's state dir\n"
              "                   (env LEFT4ME_STATE_DIR, default /var/lib/left4me)\n"
              "  --listen ADDR:PORT  (env LEFT4ME_LISTEN)\n"
              "  --version\n"
              "\n"
              "The environment each command reads is in its --help.\n",
              f);
}

/* flag > environment > web.env > default. Returns a malloc'ed string. */
char *setting(const char *flag, const char *key, const char *dflt) {
        if (flag)
                return strdup(flag);
        const char *e = getenv(key);
        if (e && *e)
                return strdup(e);
        const char *dir = getenv("LEFT4ME_CONFIG_DIR");
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/web.env", dir && *dir ? dir : "/etc/left4me");
        char *v = NULL;
        if (envfile_get(path, key, &v) > 0)
                return v;
        return dflt ? strdup(dflt) : NULL;
}

static bool is_file(const char *p) {
        struct stat st;
        return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *p) {
        struct stat st;
        return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The default l4d2ctl: the one built beside this binary (build/src/ctl), so
 * `make run` uses the tree's own; else the one in PATH. */
static char *default_ctl(void) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
                exe[n] = '\0';
                char *slash = strrchr(exe, '/');
                if (slash) {
                        *slash = '\0';
                        char p[PATH_MAX + 32];
                        snprintf(p, sizeof p, "%s/../ctl/l4d2ctl", exe);
                        char real[PATH_MAX];
                        if (realpath(p, real) && access(real, X_OK) == 0)
                                return strdup(real);
                }
        }
        return strdup("l4d2ctl");
}

static int parse_listen(const char *s) {
        const char *colon = strrchr(s, ':');
        long port;
        if (!colon || parse_long(colon + 1, 1, 65535, &port) < 0)
                return -EINVAL;
        size_t hl = (size_t) (colon - s);
        if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
                s++;
                hl -= 2;
        }
        free(config.listen_host);
        config.listen_host = strndup(s, hl);
        if (!config.listen_host)
                return -ENOMEM;
        if (!*config.listen_host) {
                free(config.listen_host);
                config.listen_host = strdup("0.0.0.0");
        }
        config.port = (uint16_t) port;
        unsigned char addr[16];
        if (inet_pton(AF_INET, config.listen_host, addr) != 1 && inet_pton(AF_INET6, config.listen_host, addr) != 1)
                return -EINVAL; /* numeric only: the panel resolves no names at start */
        return 0;
}

static unsigned setting_uint(const char *key, unsigned dflt, unsigned min, unsigned max) {
        _cleanup_free_ char *v = setting(NULL, key, NULL);
        long n;
        if (!v || parse_long(v, min, max, &n) < 0)
                return dflt;
        return (unsigned) n;
}

static int load_config(const char *flag_state, const char *flag_listen) {
        config.state_dir = setting(flag_state, "LEFT4ME_STATE_DIR", "/var/lib/left4me");
        _cleanup_free_ char *listen = setting(flag_listen, "LEFT4ME_LISTEN", "127.0.0.1:8080");
        if (!config.state_dir || !listen)
                return -ENOMEM;
        if (parse_listen(listen) < 0) {
                fprintf(stderr, "error: listen address '%s' is not a numeric ADDR:PORT; use e.g. 127.0.0.1:8080 "
                                "or [::1]:8080\n", listen);
                return -EINVAL;
        }
        config.l4d2ctl = setting(NULL, "LEFT4ME_L4D2CTL", NULL);
        if (!config.l4d2ctl)
                config.l4d2ctl = default_ctl();
        config.host_ssh = setting(NULL, "LEFT4ME_HOST_SSH", NULL);
        config.host_l4d2ctl = setting(NULL, "LEFT4ME_HOST_L4D2CTL", NULL);
        config.host_state_dir = setting(NULL, "LEFT4ME_HOST_STATE_DIR", NULL);
        _cleanup_free_ char *secure = setting(NULL, "LEFT4ME_COOKIE_SECURE", "auto");
        config.cookie_secure = !secure ? COOKIE_SECURE_AUTO
                               : streq(secure, "1")   ? COOKIE_SECURE_ALWAYS
                               : streq(secure, "0")   ? COOKIE_SECURE_NEVER
                                                      : COOKIE_SECURE_AUTO;
        _cleanup_free_ char *proxy = setting(NULL, "LEFT4ME_TRUST_PROXY", "0");
        config.trust_proxy = proxy && streq(proxy, "1");
        config.workers = setting_uint("LEFT4ME_WORKERS", 2, 1, 16);
        config.poll_ms = setting_uint("LEFT4ME_POLL_INTERVAL_MS", 5000, 200, 600000);
        config.update_ms = setting_uint("LEFT4ME_UPDATE_INTERVAL_MS", 300000, 0, 86400000);
        config.update_migrate_ms = setting_uint("LEFT4ME_UPDATE_MIGRATE_MS", 10000, 200, 3600000);
        config.max_connections = setting_uint("LEFT4ME_MAX_CONNECTIONS", 4096, 8, 65536);
        /* One address gets a sixteenth of the places (16 at least: a
         * browser opens 6, and a stream per live tab). */
        config.max_per_address = setting_uint("LEFT4ME_MAX_CONNECTIONS_PER_ADDRESS",
                                              config.max_connections / 16 > 16 ? config.max_connections / 16 : 16, 1,
                                              65536);
        /* Pages render on the event loops: twice as many loops as CPUs,
         * so that a long render (a job list) or SQLite waiting for the
         * disk stalls only the connections of its own loop while the
         * others use the CPUs. */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned loops = cpus > 2 ? (unsigned) cpus * 2 : 4;
        config.http_threads = setting_uint("LEFT4ME_HTTP_THREADS", loops < 16 ? loops : 16, 1, 64);
        config.request_threads = setting_uint("LEFT4ME_REQUEST_THREADS", 8, 1, 64);
        config.header_timeout = setting_uint("LEFT4ME_HEADER_TIMEOUT", 10, 1, 3600);
        config.body_timeout = setting_uint("LEFT4ME_BODY_TIMEOUT", 30, 1, 3600);
        config.idle_timeout = setting_uint("LEFT4ME_IDLE_TIMEOUT", 30, 1, 3600);
        config.password_hashes = setting_uint("LEFT4ME_PASSWORD_HASHES", 2, 1, 16);

        config.static_dir = setting(NULL, "LEFT4ME_STATIC_DIR", NULL);
        if (!config.static_dir)
                config.static_dir = strdup(is_dir(LEFT4ME_SOURCE_ROOT "/static") ? LEFT4ME_SOURCE_ROOT "/static"
                                                                                  : LEFT4ME_DATADIR "/static");
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/htmx.min.js", config.static_dir);
        config.htmx_path = strdup(is_file(p) ? p : LEFT4ME_SOURCE_ROOT "/node_modules/htmx.org/dist/htmx.min.js");
        return config.l4d2ctl && config.static_dir && config.htmx_path ? 0 : -ENOMEM;
}

static void free_config(void) {
        free(config.state_dir);
        free(config.listen_host);
        free(config.l4d2ctl);
        free(config.host_ssh);
        free(config.host_l4d2ctl);
        free(config.host_state_dir);
        free(config.static_dir);
        free(config.htmx_path);
}

int open_db(sqlite3 **ret) {
        int r = mkdir_p(config.state_dir, 0750);
        if (r < 0) {
                fprintf(stderr, "error: state dir '%s': %s; create it or pass --state-dir\n", config.state_dir,
                        strerror(-r));
                return r;
        }
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/left4me.db", config.state_dir);
        r = db_open(path, ret);
        if (r < 0) {
                fprintf(stderr, "error: database '%s' cannot be opened; check the permissions\n", path);
                return r;
        }
        int applied;
        r = db_migrate(*ret, &applied);
        if (r < 0) {
                fprintf(stderr, "error: database '%s': migration failed: %s\n", path, sqlite3_errmsg(*ret));
                sqlite3_close(*ret);
                return r;
        }
        return applied;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "help", no_argument, NULL, 'h' },
                { "state-dir", required_argument, NULL, 's' },
                { "listen", required_argument, NULL, 'l' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        const char *state = NULL, *listen = NULL;
        int c;
        /* '+': stop at the command; its own options follow it. */
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return 0;
                case 's':
                        state = optarg;
                        break;
                case 'l':
                        listen = optarg;
                        break;
                case 'V':
                        puts(LEFT4ME_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return 2;
        }
        const char *cmd = argv[optind];
        int rest = argc - optind - 1;
        char **rargv = argv + optind + 1;
        if (streq(cmd, "help")) {
                cmd = rest > 0 ? rargv[0] : NULL;
                if (!cmd) {
                        usage(stdout);
                        return 0;
                }
                rargv[0] = (char *) "--help";
                rest = 1;
        }
        size_t k;
        for (k = 0; k < ELEMENTSOF(commands); k++)
                if (streq(commands[k].name, cmd))
                        break;
        if (k == ELEMENTSOF(commands)) {
                fprintf(stderr, "error: unknown command '%s'; see left4me --help\n", cmd);
                return 2;
        }
        /* COMMAND --help (anywhere among its arguments): its usage, exit 0. */
        for (int i = 0; i < rest; i++)
                if (streq(rargv[i], "--help") || streq(rargv[i], "-h")) {
                        fputs(commands[k].help, stdout);
                        return 0;
                }
        /* serve takes --listen / --state-dir after the command too. */
        if (streq(cmd, "serve")) {
                for (int i = 0; i < rest; i++) {
                        if (streq(rargv[i], "--listen") && i + 1 < rest)
                                listen = rargv[++i];
                        else if (streq(rargv[i], "--state-dir") && i + 1 < rest)
                                state = rargv[++i];
                        else {
                                fprintf(stderr, "error: unknown option '%s' for serve; see left4me serve --help\n",
                                        rargv[i]);
                                return 2;
                        }
                }
        }
        db_global_init();
        if (sodium_init() < 0) {
                fputs("error: libsodium failed to initialize\n", stderr);
                return 1;
        }
        if (load_config(state, listen) < 0)
                return 2;
        int ret = commands[k].run(rest, rargv);
        free_config();
        return ret;
}
