/* left4me serve: the panel. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>

#include "cache.h"
#include "cmd.h"
#include "db.h"
#include "fs.h"
#include "hostlink.h"
#include "jobs.h"
#include "keys.h"
#include "players-config.h"
#include "players-upkeep.h"
#include "random.h"
#include "server.h"
#include "static.h"
#include "svc-accounts.h"
#include "throttle.h"
#include "updater.h"
#include "watch.h"
#include "web.h"

/* Why the listening address could not be bound, asked again of bind(2)
 * after libmicrohttpd failed (it does not say). */
static const char *listen_problem(void) {
        struct sockaddr_storage ss = { 0 };
        struct sockaddr_in *in4 = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
        socklen_t len;
        if (inet_pton(AF_INET, config.listen_host, &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons(config.port);
                len = sizeof *in4;
        } else if (inet_pton(AF_INET6, config.listen_host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(config.port);
                len = sizeof *in6;
        } else
                return "not a numeric address";
        _cleanup_close_ int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                return "no socket";
        if (bind(fd, (struct sockaddr *) &ss, len) == 0)
                return "the address could not be used";
        if (errno == EADDRINUSE)
                return "address in use (another program, perhaps another 'left4me serve', listens there)";
        if (errno == EADDRNOTAVAIL)
                return "not an address of this host";
        if (errno == EACCES)
                return "a port below 1024 needs privileges";
        return strerror(errno);
}

const char cmd_serve_help[] =
        "Usage: left4me [--state-dir DIR] serve [--listen ADDR:PORT] [--state-dir DIR]\n"
        "\n"
        "Runs the web panel: HTTP on ADDR:PORT (default 127.0.0.1:8080; a numeric\n"
        "address), the job workers and the watch of the host (l4d2ctl watch). One\n"
        "panel per state dir: a second one on the same state dir is refused. On the\n"
        "first start it creates the administrator 'admin' and prints its password\n"
        "once. SIGTERM or SIGINT stop it; a job still running then is re-queued at\n"
        "the next start.\n"
        "\n"
        "Environment: LEFT4ME_LISTEN, LEFT4ME_STATE_DIR, LEFT4ME_L4D2CTL (path of\n"
        "l4d2ctl), LEFT4ME_HOST_SSH=[USER@]HOST (run l4d2ctl on that host over ssh\n"
        "instead, with LEFT4ME_HOST_L4D2CTL and LEFT4ME_HOST_STATE_DIR there),\n"
        "LEFT4ME_CONFIG_DIR (web.env is read from there, default /etc/left4me),\n"
        "LEFT4ME_COOKIE_SECURE (1: always Secure, 0: never, default auto: Secure when the\n"
        "request came over TLS), LEFT4ME_TRUST_PROXY=1 (behind a reverse proxy on\n"
        "loopback: the client address is the last X-Forwarded-For entry, TLS is\n"
        "X-Forwarded-Proto: https), LEFT4ME_PAGE_CACHE=0 (no render cache),\n"
        "LEFT4ME_WORKERS (job threads, default 2), LEFT4ME_POLL_INTERVAL_MS (the watch's\n"
        "interval, default 5000), LEFT4ME_UPDATE_INTERVAL_MS (the fleet's game update\n"
        "run: check, fetch, canaries, migration; default 300000, 0 = never),\n"
        "LEFT4ME_UPDATE_MIGRATE_MS (migration passes while servers wait to move,\n"
        "default 10000), LEFT4ME_STATIC_DIR.\n"
        "\n"
        "Connections: LEFT4ME_MAX_CONNECTIONS (default 4096),\n"
        "LEFT4ME_MAX_CONNECTIONS_PER_ADDRESS (default a sixteenth of those, 16 at least;\n"
        "every client address but the trusted proxy's, an IPv6 client by its /64),\n"
        "LEFT4ME_HEADER_TIMEOUT (s to send a request's head, default 10),\n"
        "LEFT4ME_BODY_TIMEOUT (s for a body, default 30, plus 1 s per 64 KiB),\n"
        "LEFT4ME_IDLE_TIMEOUT (default 30), LEFT4ME_HTTP_THREADS (event loops, default\n"
        "twice the CPUs, 4-16), LEFT4ME_REQUEST_THREADS (for POSTs, default 8),\n"
        "LEFT4ME_PASSWORD_HASHES (argon2id hashes at once, 64 MiB each, default 2).\n"
        "The panel's key (pre-login tokens, device cookies) is STATE/panel.key.\n"
        "Players and the RCON console: LEFT4ME_ROSTER_INTERVAL (seconds between two\n"
        "reads of a server's players, default 10, 0: none), LEFT4ME_RCON_TIMEOUT (a\n"
        "console command's seconds, default 30), LEFT4ME_PLAYER_RETENTION_DAYS (player\n"
        "data kept, default 90), LEFT4ME_STEAM_API_KEY (Steam profiles and avatars;\n"
        "without it, in-game names), LEFT4ME_STEAM_API_URL, LEFT4ME_STEAM_API_TIMEOUT,\n"
        "LEFT4ME_STEAM_PROFILE_TTL (seconds a profile is kept before it is asked again,\n"
        "default 86400).\n";

/* One panel per state dir: two would each re-queue the other's running
 * jobs at their start, and run them twice. An flock on left4me.lock, held
 * for the process's life (it cannot go stale: the kernel drops it with the
 * process); the file says which process holds it. */
static int lock_state_dir(void) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/left4me.lock", config.state_dir);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0) {
                fprintf(stderr, "error: state dir '%s': cannot open '%s': %s\n", config.state_dir, path,
                        strerror(errno));
                return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                char pid[32] = "";
                ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
                pid[n > 0 ? n : 0] = '\0';
                pid[strcspn(pid, "\n")] = '\0';
                fprintf(stderr, "error: state dir '%s' is in use by another 'left4me serve'%s%s%s; stop it first "
                                "or pass another --state-dir\n", config.state_dir, pid[0] ? " (pid " : "", pid,
                        pid[0] ? ")" : "");
                close(fd);
                return -1;
        }
        if (ftruncate(fd, 0) == 0)
                (void) !dprintf(fd, "%d\n", (int) getpid());
        return fd; /* never closed: the lock lives as long as the process */
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

int cmd_serve(int argc, char **argv) {
        int r = mkdir_p(config.state_dir, 0750);
        if (r < 0) {
                fprintf(stderr, "error: state dir '%s': %s; create it or pass --state-dir\n", config.state_dir,
                        strerror(-r));
                return 1;
        }
        if (lock_state_dir() < 0)
                return 1;
        if (players_config_load(setting) < 0)
                return 1;
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
        r = keys_init(config.state_dir);
        if (r < 0) {
                fprintf(stderr, "error: the panel's key '%s/panel.key' cannot be read or made: %s; remove it if it "
                                "is damaged (logins and forms start anew)\n", config.state_dir, strerror(-r));
                return 1;
        }
        if (pwhash_start(config.password_hashes) < 0) {
                fprintf(stderr, "error: could not start the password hashing threads\n");
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
        r = http_start();
        if (r < 0) {
                const char *why = listen_problem();
                fprintf(stderr, "error: cannot listen on %s%s%s:%u: %s; pass --listen ADDR:PORT\n",
                        strchr(config.listen_host, ':') ? "[" : "", config.listen_host,
                        strchr(config.listen_host, ':') ? "]" : "", config.port, why);
                jobs_stop(0);
                return 1;
        }
        if (watch_start() < 0)
                fprintf(stderr, "left4me: warning: the watch of the host did not start\n");
        if (updater_start() < 0)
                fprintf(stderr, "left4me: warning: the fleet's update checks did not start\n");
        if (players_upkeep_start() < 0)
                fprintf(stderr, "left4me: warning: the players' upkeep (Steam profiles, retention) did not start\n");
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
        updater_stop();
        players_upkeep_stop();
        jobs_stop(3000);
        pwhash_stop();
        static_free();
        cache_done();
        db_generations_done();
        host_done();
        players_config_free();
        return 0;
}

