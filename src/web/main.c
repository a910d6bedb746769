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

#include "svc-accounts.h"
#include "build-config.h"
#include "cache.h"
#include "db.h"
#include "envfile.h"
#include "fs.h"
#include "hostlink.h"
#include "jobs.h"
#include "random.h"
#include "server.h"
#include "static.h"
#include "watch.h"
#include "web.h"



static void usage(FILE *f) {
        fputs("Usage: left4me [--state-dir DIR] COMMAND\n"
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
              "\n"
              "Options:\n"
              "  --state-dir DIR  panel state (left4me.db) and l4d2ctl's state dir\n"
              "                   (env LEFT4ME_STATE_DIR, default /var/lib/left4me)\n"
              "  --listen ADDR:PORT  (env LEFT4ME_LISTEN)\n"
              "\n"
              "Environment: LEFT4ME_L4D2CTL (path of l4d2ctl), LEFT4ME_HOST_SSH=[USER@]HOST (run\n"
              "l4d2ctl on that host over ssh instead, with LEFT4ME_HOST_L4D2CTL and\n"
              "LEFT4ME_HOST_STATE_DIR there), LEFT4ME_CONFIG_DIR (web.env is\n"
              "read from there, default /etc/left4me), LEFT4ME_COOKIE_SECURE=1 (behind TLS),\n"
              "LEFT4ME_TRUST_PROXY=1 (behind a reverse proxy on loopback: the client address\n"
              "is the last X-Forwarded-For entry), LEFT4ME_PAGE_CACHE=0 (no render cache),\n"
              "LEFT4ME_WORKERS, LEFT4ME_POLL_INTERVAL_MS, LEFT4ME_STATIC_DIR,\n"
              "LEFT4ME_MAX_CONNECTIONS (default 256; on an address other than loopback one\n"
              "client gets at most a quarter of them).\n",
              f);
}

/* flag > environment > web.env > default. Returns a malloc'ed string. */
static char *setting(const char *flag, const char *key, const char *dflt) {
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
        _cleanup_free_ char *secure = setting(NULL, "LEFT4ME_COOKIE_SECURE", "0");
        config.cookie_secure = secure && streq(secure, "1");
        _cleanup_free_ char *proxy = setting(NULL, "LEFT4ME_TRUST_PROXY", "0");
        config.trust_proxy = proxy && streq(proxy, "1");
        config.workers = setting_uint("LEFT4ME_WORKERS", 2, 1, 16);
        config.poll_ms = setting_uint("LEFT4ME_POLL_INTERVAL_MS", 5000, 200, 600000);
        config.max_connections = setting_uint("LEFT4ME_MAX_CONNECTIONS", 256, 8, 4096);

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

static int open_db(sqlite3 **ret) {
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

/* Reads one line from stdin as the password. */
static int read_password(char *buf, size_t size) {
        if (!fgets(buf, (int) size, stdin))
                return -EINVAL;
        buf[strcspn(buf, "\r\n")] = '\0';
        return 0;
}

static int cmd_admin(int argc, char **argv) {
        if (argc < 1) {
                usage(stderr);
                return 2;
        }
        const char *sub = argv[0], *user = argc > 1 ? argv[1] : NULL;
        bool admin = false, from_stdin = false;
        for (int i = 2; i < argc; i++) {
                if (streq(argv[i], "--admin"))
                        admin = true;
                else if (streq(argv[i], "--password-stdin"))
                        from_stdin = true;
                else {
                        fprintf(stderr, "error: unknown option '%s'\n", argv[i]);
                        return 2;
                }
        }
        if (!streq(sub, "list") && !user) {
                fprintf(stderr, "error: 'admin %s' needs a username\n", sub);
                return 2;
        }
        sqlite3 *db;
        if (open_db(&db) < 0)
                return 1;
        int ret = 0;
        char pw[PASSWORD_MAX + 2] = "";
        int64_t id = 0;
        if (streq(sub, "list")) {
                _cleanup_iter_ DbIter it = DB_ITER_INIT;
                AccountRow u;
                if (accounts_list(&it, db) < 0)
                        ret = 1;
                while (account_next(&it, &u))
                        printf("%-32s %-5s %s\n", u.username, u.is_admin ? "admin" : "user",
                               u.disabled ? "disabled" : "active");
        } else if (streq(sub, "create") || streq(sub, "passwd")) {
                const char *m = streq(sub, "create") ? username_problem(user) : NULL;
                if (m) {
                        fprintf(stderr, "error: user '%s': %s\n", user, m);
                        ret = 1;
                        goto out;
                }
                if (from_stdin) {
                        if (read_password(pw, sizeof pw) < 0 || (m = password_problem(pw))) {
                                fprintf(stderr, "error: %s\n", m ? m : "no password on stdin");
                                ret = 1;
                                goto out;
                        }
                } else
                        random_alnum(pw, 21);
                int r;
                if (streq(sub, "create")) {
                        r = account_create(db, user, pw, admin, NULL);
                        if (r == -EEXIST) {
                                fprintf(stderr, "error: user '%s' exists already; use 'admin passwd' to reset it\n", user);
                                ret = 1;
                                goto out;
                        }
                } else {
                        r = account_find(db, user, &id);
                        if (r == 0) {
                                fprintf(stderr, "error: user '%s' does not exist; see 'left4me admin list'\n", user);
                                ret = 1;
                                goto out;
                        }
                        r = r < 0 ? r : account_set_password(db, id, pw, 0);
                }
                if (r < 0) {
                        fprintf(stderr, "error: user '%s': %s\n", user, strerror(-r));
                        ret = 1;
                } else if (!from_stdin)
                        printf("password for '%s': %s\n", user, pw);
        } else if (streq(sub, "disable") || streq(sub, "enable")) {
                if (account_find(db, user, &id) <= 0) {
                        fprintf(stderr, "error: user '%s' does not exist; see 'left4me admin list'\n", user);
                        ret = 1;
                } else if (account_set_disabled(db, id, streq(sub, "disable")) < 0) {
                        fprintf(stderr, "error: user '%s': could not change the account\n", user);
                        ret = 1;
                }
        } else {
                fprintf(stderr, "error: unknown admin command '%s'; see left4me --help\n", sub);
                ret = 2;
        }
out:
        sodium_memzero(pw, sizeof pw);
        sqlite3_close(db);
        return ret;
}

static int cmd_migrate(void) {
        sqlite3 *db;
        int applied = open_db(&db);
        if (applied < 0)
                return 1;
        printf("database schema at version %zu (%d step%s applied)\n", n_migrations, applied, applied == 1 ? "" : "s");
        sqlite3_close(db);
        return 0;
}

/* On the first start there is no account at all: create 'admin' with a
 * random password and print it once. */
static int bootstrap_admin(sqlite3 *db) {
        int64_t n;
        if (account_count(db, &n) < 0)
                return -EIO;
        if (n > 0)
                return 0;
        char pw[21];
        int r = random_alnum(pw, sizeof pw);
        if (r < 0 || (r = account_create(db, "admin", pw, true, NULL)) < 0)
                return r;
        printf("left4me: first start: created the administrator 'admin' with password %s\n"
               "left4me: it is shown only this once; log in and change it under Profile.\n", pw);
        fflush(stdout);
        sodium_memzero(pw, sizeof pw);
        return 0;
}

static int cmd_serve(void) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        if (host_setup() < 0) {
                fprintf(stderr, "error: LEFT4ME_HOST_SSH '%s' is not an SSH destination ([user@]host)\n",
                        config.host_ssh ? config.host_ssh : "");
                return 1;
        }
        sqlite3 *db;
        if (open_db(&db) < 0)
                return 1;
        if (bootstrap_admin(db) < 0) {
                fprintf(stderr, "error: could not create the first administrator\n");
                sqlite3_close(db);
                return 1;
        }
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/left4me.db", config.state_dir);
        _cleanup_free_ char *page_cache = setting(NULL, "LEFT4ME_PAGE_CACHE", "1");
        cache_init(!page_cache || !streq(page_cache, "0"));
        if (db_generations_init(path) < 0) {
                fprintf(stderr, "error: database '%s' cannot be opened\n", path);
                sqlite3_close(db);
                return 1;
        }
        if (db_pool_init(path, 24) < 0) {
                fprintf(stderr, "error: database '%s' cannot be opened\n", path);
                sqlite3_close(db);
                return 1;
        }
        int requeued = 0, failed = 0;
        if (jobs_start(db, config.workers, &requeued, &failed) < 0) {
                fprintf(stderr, "error: could not start the job workers\n");
                sqlite3_close(db);
                return 1;
        }
        sqlite3_close(db);
        if (requeued || failed)
                fprintf(stderr, "left4me: recovered interrupted jobs: %d re-queued, %d failed\n", requeued, failed);
        if (static_load() < 0)
                return 1;
        int r = http_start();
        if (r < 0) {
                fprintf(stderr, "error: cannot listen on %s:%u (in use, or not an address of this host); pass "
                                "--listen ADDR:PORT\n", config.listen_host, config.port);
                jobs_stop(0);
                return 1;
        }
        if (watch_start() < 0)
                fprintf(stderr, "left4me: warning: the watch of the host did not start\n");
        printf("left4me: listening on http://%s%s%s:%u/ (l4d2ctl: %s on %s, state: %s)\n",
               strchr(config.listen_host, ':') ? "[" : "", config.listen_host,
               strchr(config.listen_host, ':') ? "]" : "", config.port,
               config.host_ssh ? (config.host_l4d2ctl ? config.host_l4d2ctl : "l4d2ctl") : config.l4d2ctl,
               hostlink_name(host()), config.state_dir);
        fflush(stdout);

        int sig;
        sigwait(&mask, &sig);
        fprintf(stderr, "left4me: stopping (signal %d)\n", sig);
        shutdown_signal();
        http_stop();
        watch_stop();
        jobs_stop(3000);
        static_free();
        cache_done();
        db_generations_done();
        host_done();
        return 0;
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
        /* serve takes --listen / --state-dir after the command too. */
        if (streq(cmd, "serve")) {
                for (int i = 0; i < rest; i++) {
                        if (streq(rargv[i], "--listen") && i + 1 < rest)
                                listen = rargv[++i];
                        else if (streq(rargv[i], "--state-dir") && i + 1 < rest)
                                state = rargv[++i];
                        else {
                                fprintf(stderr, "error: unknown option '%s' for serve\n", rargv[i]);
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
        int ret;
        if (streq(cmd, "serve"))
                ret = cmd_serve();
        else if (streq(cmd, "admin"))
                ret = cmd_admin(rest, rargv);
        else if (streq(cmd, "db") && rest == 1 && streq(rargv[0], "migrate"))
                ret = cmd_migrate();
        else {
                fprintf(stderr, "error: unknown command '%s'; see left4me --help\n", cmd);
                ret = 2;
        }
        free_config();
        return ret;
}
