/* The supervisor process: `l4d2ctl supervise NAME`, one per instance under
 * the supervisor backend (backend-supervisor.c starts it). It holds the
 * instance's liveness lock for its whole life, runs the server, writes its
 * console to <runtime>/console.log, restarts it after a crash with
 * exponential backoff and gives up after too many crashes in a short time
 * (crash loop). */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "launch.h"
#include "process.h"
#include "strutil.h"
#include "supervisor-state.h"
#include "supervisor.h"

#define LOG_ROTATE_BYTES (16 * 1024 * 1024)
#define STOP_TIMEOUT_MS 10000
#define CRASH_LOOP_MAX 5        /* this many exits ... */
#define CRASH_LOOP_WINDOW_S 60  /* ... within this many seconds: give up */
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
#define STABLE_RUN_S 60         /* a run this long resets the backoff */

typedef struct Sup {
        const HostConfig *config;
        int rt;         /* runtime dir */
        int log;        /* console.log, O_APPEND */
        int sigfd;
        unsigned restarts;
        uint64_t crash_times[CRASH_LOOP_MAX];
        unsigned n_crash;
} Sup;

static void sup_log_rotate(Sup *s) {
        struct stat st;
        if (fstat(s->log, &st) < 0 || st.st_size < LOG_ROTATE_BYTES)
                return;
        renameat(s->rt, "console.log", s->rt, "console.log.1");
        int fd = openat(s->rt, "console.log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd >= 0) {
                close(s->log);
                s->log = fd;
        }
}

static void sup_note(Sup *s, const char *fmt, ...) _printf_(2, 3);
static void sup_note(Sup *s, const char *fmt, ...) {
        char line[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof line - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t) n > sizeof line - 2)
                n = sizeof line - 2;
        line[n++] = '\n';
        write_all(s->log, line, (size_t) n);
}

/* Is something listening on UDP port `port`? The server is "running" once
 * its game port is bound, i.e. once players can connect. */
static bool udp_port_bound(long port) {
        static const char *const files[] = { "/proc/net/udp", "/proc/net/udp6" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_fclose_ FILE *f = fopen(files[i], "re");
                if (!f)
                        continue;
                char line[512];
                while (fgets(line, sizeof line, f)) {
                        char *colon = strchr(line, ':');
                        if (!colon)
                                continue;
                        colon = strchr(colon + 1, ':'); /* local_address is ADDR:PORT */
                        if (colon && strtol(colon + 1, NULL, 16) == port)
                                return true;
                }
        }
        return false;
}

static long launch_port(char **argv) {
        for (char **p = argv; *p && p[1]; p++)
                if (streq(*p, "-port"))
                        return strtol(p[1], NULL, 10);
        return 0;
}

/* Runs one life of the server. Returns 1 if asked to stop, 0 if it exited on
 * its own (exit status in *status). */
static int sup_run_once(Sup *s, char **argv, const char *cwd, int *notify_fd, int *status) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        _cleanup_close_ int rd = p[0];
        _cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        o.cwd = cwd;
        o.stdin_fd = devnull;
        o.stdout_fd = o.stderr_fd = p[1];
        o.new_session = true;
        o.set_user = s->config->drop_user;
        o.uid = s->config->server_uid;
        o.gid = s->config->server_gid;
        pid_t pid;
        int r = spawn(argv, &o, &pid);
        close(p[1]);
        if (r < 0)
                return r;
        uint64_t started = now_usec(CLOCK_REALTIME);
        InstanceState state = STATE_STARTING;
        state_write(s->rt, state, pid, started, s->restarts, NULL);
        if (*notify_fd >= 0) {
                write_all(*notify_fd, "ok\n", 3);
                close(TAKE_FD(*notify_fd));
        }
        long port = launch_port(argv);

        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        bool stopping = false, out_open = true;
        uint64_t kill_at = 0;
        for (;;) {
                struct pollfd pf[3] = {
                        { .fd = out_open ? rd : -1, .events = POLLIN },
                        { .fd = s->sigfd, .events = POLLIN },
                        { .fd = pidfd, .events = POLLIN },
                };
                int timeout = state == STATE_STARTING || stopping ? 200 : -1;
                if (poll(pf, 3, timeout) < 0 && errno != EINTR)
                        break;
                if (pf[0].revents) {
                        char buf[16384];
                        ssize_t n = read(rd, buf, sizeof buf);
                        if (n > 0) {
                                write_all(s->log, buf, (size_t) n);
                                sup_log_rotate(s);
                        } else if (n == 0 || errno != EINTR)
                                out_open = false;
                }
                if (pf[1].revents) {
                        struct signalfd_siginfo si;
                        if (read(s->sigfd, &si, sizeof si) == sizeof si && !stopping) {
                                stopping = true;
                                kill(-pid, SIGTERM);
                                kill_at = now_usec(CLOCK_MONOTONIC) + STOP_TIMEOUT_MS * 1000ULL;
                        }
                }
                if (stopping && kill_at && now_usec(CLOCK_MONOTONIC) >= kill_at) {
                        sup_note(s, "left4me: the server did not stop within %d s; killing it", STOP_TIMEOUT_MS / 1000);
                        kill(-pid, SIGKILL);
                        kill_at = 0;
                }
                if (state == STATE_STARTING && (port <= 0 || udp_port_bound(port))) {
                        state = STATE_RUNNING;
                        state_write(s->rt, state, pid, started, s->restarts, NULL);
                }
                if (pidfd < 0 || pf[2].revents) {
                        if (waitpid(pid, status, pidfd < 0 ? 0 : WNOHANG) == pid)
                                break;
                }
        }
        /* Whatever the server left in its process group goes with it. */
        kill(-pid, SIGKILL);
        /* Drain what it printed last, without blocking: a process that left
         * the group (a daemonized plugin helper) may still hold the pipe. */
        fcntl(rd, F_SETFL, O_NONBLOCK);
        for (;;) {
                char buf[16384];
                ssize_t n = out_open ? read(rd, buf, sizeof buf) : 0;
                if (n <= 0)
                        break;
                write_all(s->log, buf, (size_t) n);
        }
        if (now_usec(CLOCK_REALTIME) - started > STABLE_RUN_S * 1000000ULL)
                s->n_crash = 0;
        return stopping ? 1 : 0;
}

/* Waits ms milliseconds unless a stop signal comes first (returns 1 then). */
static int sup_sleep(Sup *s, int ms) {
        struct pollfd pf = { .fd = s->sigfd, .events = POLLIN };
        int n = poll(&pf, 1, ms);
        return n > 0 ? 1 : 0;
}

int supervisor_main(const HostConfig *c, const char *name, int notify_fd) {
        Error err = { 0 };
        int r;
        Sup s = { .config = c, .rt = -1, .log = -1, .sigfd = -1 };
#define FAIL(...)                                                                    \
        do {                                                                         \
                if (notify_fd >= 0) {                                                \
                        char m_[600];                                                \
                        int n_ = snprintf(m_, sizeof m_, "error: " __VA_ARGS__);     \
                        write_all(notify_fd, m_, n_ > 0 ? strlen(m_) : 0);           \
                        write_all(notify_fd, "\n", 1);                               \
                }                                                                    \
                return 1;                                                            \
        } while (0)

        s.rt = runtime_open(c, name);
        if (s.rt < 0)
                FAIL("cannot open the runtime dir of '%s': %s", name, strerror(-s.rt));
        _cleanup_close_ int lock = openat(s.rt, "supervisor.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        if (lock < 0 || fcntl(lock, F_OFD_SETLK, &fl) < 0)
                FAIL("instance '%s' is already supervised", name);

        char pidtext[32];
        snprintf(pidtext, sizeof pidtext, "%d\n", (int) getpid());
        write_file_atomic_flags(s.rt, "supervisor.pid", pidtext, strlen(pidtext), 0644, WRITE_NO_SYNC);

        _cleanup_strv_ char **argv = NULL;
        _cleanup_free_ char *cwd = NULL;
        if ((r = launch_load(c, name, &argv, &cwd, &err)) < 0)
                FAIL("%s", error_msg(&err));

        s.log = openat(s.rt, "console.log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (s.log < 0)
                FAIL("cannot open the console log of '%s': %s", name, strerror(errno));

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (s.sigfd < 0)
                FAIL("signalfd: %s", strerror(errno));
#undef FAIL

        unsigned backoff = BACKOFF_FIRST_MS;
        for (;;) {
                int status = 0;
                r = sup_run_once(&s, argv, cwd, &notify_fd, &status);
                if (r < 0) {
                        sup_note(&s, "left4me: cannot run %s: %s", argv[0], strerror(-r));
                        if (notify_fd >= 0) {
                                char m[300];
                                snprintf(m, sizeof m, "error: cannot run '%s': %s\n", argv[0], strerror(-r));
                                write_all(notify_fd, m, strlen(m));
                        }
                        state_write(s.rt, STATE_CRASHED, 0, 0, s.restarts, "the server could not be run");
                        return 1;
                }
                if (r == 1) {
                        sup_note(&s, "left4me: server stopped");
                        state_write(s.rt, STATE_STOPPED, 0, 0, s.restarts, NULL);
                        return 0;
                }
                char how[64];
                if (WIFEXITED(status))
                        snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
                else
                        snprintf(how, sizeof how, "signal %s", sigabbrev_np(WTERMSIG(status)) ?: "?");

                /* Crash-loop breaker: CRASH_LOOP_MAX exits within the window. */
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                memmove(s.crash_times + 1, s.crash_times, sizeof s.crash_times - sizeof s.crash_times[0]);
                s.crash_times[0] = now;
                if (s.n_crash < CRASH_LOOP_MAX)
                        s.n_crash++;
                if (s.n_crash == CRASH_LOOP_MAX &&
                    now - s.crash_times[CRASH_LOOP_MAX - 1] <= CRASH_LOOP_WINDOW_S * 1000000ULL) {
                        char detail[128];
                        snprintf(detail, sizeof detail, "crash loop: %d exits within %d s, last with %s",
                                 CRASH_LOOP_MAX, CRASH_LOOP_WINDOW_S, how);
                        sup_note(&s, "left4me: %s; not restarting", detail);
                        state_write(s.rt, STATE_CRASHED, 0, 0, s.restarts, detail);
                        return 0;
                }
                if (s.n_crash <= 1)
                        backoff = BACKOFF_FIRST_MS;
                sup_note(&s, "left4me: server exited (%s); restarting in %u ms", how, backoff);
                state_write(s.rt, STATE_STARTING, 0, 0, s.restarts, how);
                if (sup_sleep(&s, (int) backoff)) {
                        sup_note(&s, "left4me: server stopped");
                        state_write(s.rt, STATE_STOPPED, 0, 0, s.restarts, NULL);
                        return 0;
                }
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                s.restarts++;
        }
}

