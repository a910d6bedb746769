/* The supervisor process: `l4d2ctl supervise NAME`, one per instance under
 * the supervisor backend (backend-supervisor.c starts it).
 *
 * As root it sets up what needs privilege and then lets go of it for good:
 *   1. the liveness lock, the pidfile and the console log (files root can
 *      vouch for), the server's launch command;
 *   2. the instance's cgroup with its limits (cgroup.c), which it enters
 *      itself so that the server inherits it, with oom_score_adj -1000;
 *   3. a project quota on the upper layer where the filesystem has one;
 *   4. then it becomes the server's own uid (setresuid; all capabilities
 *      gone, no new privileges) for the rest of its life.
 * From then on every (re)start runs the server in a bwrap box (sandbox.c)
 * as that uid, through a user namespace: the supervisor needs no privilege
 * to build the box, and holds none a server could take over.
 *
 * It writes the console to <runtime>/console.log, probes the server over
 * A2S (a hung server becomes "unresponsive" and, by policy, is restarted),
 * watches the upper layer's size where there is no quota, restarts the
 * server after an exit with exponential backoff, and gives up after too
 * many crashes in a short time (crash loop). A crash is an exit the server
 * caused itself: a non-zero exit status or a fatal signal of its own
 * (SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, ...). A SIGKILL from outside
 * (the OOM killer, an admin), SIGTERM/SIGINT/SIGHUP and exit status 0 are
 * restarted too but do not count towards the breaker. */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "diskquota.h"
#include "fs.h"
#include "launch.h"
#include "process.h"
#include "sandbox.h"
#include "serveruid.h"
#include "strutil.h"
#include "supervisor-state.h"
#include "supervisor.h"

#define LOG_ROTATE_BYTES (16 * 1024 * 1024)
#define STOP_TIMEOUT_MS 10000
#define CRASH_LOOP_MAX 5        /* this many crashes ... */
#define CRASH_LOOP_WINDOW_S 60  /* ... within this many seconds: give up */
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
#define STABLE_RUN_S 60         /* a run this long resets the backoff */
#define PROBE_TIMEOUT_MS 1000

typedef struct Sup {
        const HostConfig *config;
        const char *name;
        int rt;         /* runtime dir */
        int log;        /* console.log, O_APPEND */
        int sigfd;
        unsigned restarts;
        uint64_t crash_times[CRASH_LOOP_MAX];
        unsigned n_crash;
        bool stable;    /* the last run lasted STABLE_RUN_S: the backoff starts over */
        char **argv;
        char *cwd;
        long port;
        char bwrap[PATH_MAX]; /* empty: not sandboxed */
        bool quota;           /* a project quota limits the upper layer */
        char upper[PATH_MAX];
        char containment[384];
        supervisor_probe_fn probe;
} Sup;

/* Why a run ended. */
typedef enum RunEnd {
        RUN_EXITED,       /* by itself (or killed from outside): status says how */
        RUN_STOP,         /* we were asked to stop */
        RUN_UNRESPONSIVE, /* we ended it: it stopped answering probes */
        RUN_DISK,         /* we ended it: its upper layer is past the limit */
} RunEnd;

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
        char line[768];
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

static void note_line(const char *line, void *userdata) {
        sup_note(userdata, "%s", line);
}

static void sup_state(Sup *s, InstanceState st, pid_t pid, uint64_t started, const char *detail) {
        state_write(s->rt, st, pid, started, s->restarts, detail, s->containment);
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

/* The upper layer is over the limit: fills why and returns true. Only
 * without a quota (the kernel enforces one itself). */
static bool disk_over(Sup *s, char *why, size_t size) {
        const HostConfig *c = s->config;
        if (s->quota || !c->disk_max)
                return false;
        unsigned long long bytes = 0;
        int r = disk_usage(s->upper, &bytes);
        if (r < 0) {
                snprintf(why, size, "disk limit: cannot measure the upper layer (%s); stopped", strerror(-r));
                return true;
        }
        if (bytes <= c->disk_max)
                return false;
        snprintf(why, size, "disk limit: the upper layer holds %llu MiB, over LEFT4ME_SERVER_DISK_MAX (%llu MiB); "
                 "stopped", bytes >> 20, (unsigned long long) (c->disk_max >> 20));
        return true;
}

/* Runs one life of the server. */
static int sup_run_once(Sup *s, int *notify_fd, int *status, RunEnd *ret_end, char *why, size_t why_size) {
        const HostConfig *c = s->config;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        _cleanup_close_ int rd = p[0];
        char hostname[64];
        snprintf(hostname, sizeof hostname, "left4me-%s", s->name);
        SandboxRun run;
        int r = sandbox_spawn(s->bwrap[0] ? s->bwrap : NULL, s->argv, s->cwd, hostname, p[1], &run);
        close(p[1]);
        if (r < 0)
                return r;
        uint64_t started = now_usec(CLOCK_REALTIME);
        InstanceState state = STATE_STARTING;
        sup_state(s, state, sandbox_server_pid(&run), started, NULL);
        if (*notify_fd >= 0) {
                write_all(*notify_fd, "ok\n", 3);
                close(TAKE_FD(*notify_fd));
        }
        uint64_t oom_before = cgroup_oom_kills(c, s->name);

        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, run.pid, 0);
        bool out_open = true;
        RunEnd end = RUN_EXITED;
        bool ending = false;
        uint64_t kill_at = 0;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        uint64_t next_probe = 0, next_disk = now + (uint64_t) c->disk_watch_s * 1000000ULL;
        long misses = 0;
        for (;;) {
                struct pollfd pf[4] = {
                        { .fd = out_open ? rd : -1, .events = POLLIN },
                        { .fd = s->sigfd, .events = POLLIN },
                        { .fd = pidfd, .events = POLLIN },
                        { .fd = run.info_fd, .events = POLLIN },
                };
                int timeout = state == STATE_STARTING || ending || !run.server ? 200 : 1000;
                if (poll(pf, 4, timeout) < 0 && errno != EINTR)
                        break;
                if (pf[3].revents)
                        sandbox_read_info(&run);
                if (pf[0].revents) {
                        char buf[16384];
                        ssize_t n = read(rd, buf, sizeof buf);
                        if (n > 0) {
                                write_all(s->log, buf, (size_t) n);
                                sup_log_rotate(s);
                        } else if (n == 0 || errno != EINTR)
                                out_open = false;
                }
                pid_t server = sandbox_server_pid(&run);
                if (pf[1].revents) {
                        struct signalfd_siginfo si;
                        if (read(s->sigfd, &si, sizeof si) == sizeof si && (!ending || end != RUN_STOP)) {
                                if (!ending)
                                        kill_at = now_usec(CLOCK_MONOTONIC) + STOP_TIMEOUT_MS * 1000ULL;
                                ending = true;
                                end = RUN_STOP;
                                sandbox_signal(&run, SIGTERM);
                        }
                }
                now = now_usec(CLOCK_MONOTONIC);
                if (ending && kill_at && now >= kill_at) {
                        sup_note(s, "left4me: the server did not stop within %d s; killing it", STOP_TIMEOUT_MS / 1000);
                        sandbox_signal(&run, SIGKILL);
                        kill_at = 0;
                }
                if (state == STATE_STARTING && server > 0 && (s->port <= 0 || udp_port_bound(s->port))) {
                        state = STATE_RUNNING;
                        sup_state(s, state, server, started, NULL);
                        next_probe = now + (uint64_t) c->probe_interval_s * 1000000ULL;
                }
                /* Hang detection: A2S_INFO every probe interval once it runs. */
                if (!ending && s->probe && c->probe_interval_s > 0 && s->port > 0 && state != STATE_STARTING &&
                    now >= next_probe) {
                        /* One probe every interval, counted from its start: a
                         * missed one (a timeout) does not stretch the gap. */
                        next_probe = now + (uint64_t) c->probe_interval_s * 1000000ULL;
                        bool ok = s->probe(s->port, PROBE_TIMEOUT_MS) > 0;
                        now = now_usec(CLOCK_MONOTONIC);
                        if (ok) {
                                if (state == STATE_UNRESPONSIVE) {
                                        sup_note(s, "left4me: the server answers again");
                                        state = STATE_RUNNING;
                                        sup_state(s, state, server, started, NULL);
                                }
                                misses = 0;
                        } else if (++misses >= c->probe_misses && state != STATE_UNRESPONSIVE) {
                                state = STATE_UNRESPONSIVE;
                                char detail[160];
                                snprintf(detail, sizeof detail, "no answer to %ld A2S probes in a row%s", misses,
                                         c->unresponsive_restart ? "; restarting it" : "");
                                sup_note(s, "left4me: the server is unresponsive: %s", detail);
                                sup_state(s, state, server, started, detail);
                                if (c->unresponsive_restart) {
                                        ending = true;
                                        end = RUN_UNRESPONSIVE;
                                        kill_at = now + STOP_TIMEOUT_MS * 1000ULL;
                                        sandbox_signal(&run, SIGTERM);
                                }
                        }
                }
                if (!ending && c->disk_max && !s->quota && now >= next_disk) {
                        next_disk = now + (uint64_t) c->disk_watch_s * 1000000ULL;
                        if (disk_over(s, why, why_size)) {
                                sup_note(s, "left4me: %s", why);
                                ending = true;
                                end = RUN_DISK;
                                kill_at = now + STOP_TIMEOUT_MS * 1000ULL;
                                sandbox_signal(&run, SIGTERM);
                        }
                }
                if (pidfd < 0 || pf[2].revents) {
                        if (waitpid(run.pid, status, pidfd < 0 ? 0 : WNOHANG) == run.pid)
                                break;
                }
        }
        sandbox_run_done(&run);
        /* Whatever the server left goes with it (with bwrap the kernel has
         * already ended its PID namespace). */
        if (!run.sandboxed)
                kill(-run.pid, SIGKILL);
        /* Drain what it printed last, without blocking: a process that left
         * the group (unsandboxed) may still hold the pipe. */
        fcntl(rd, F_SETFL, O_NONBLOCK);
        for (;;) {
                char buf[16384];
                ssize_t n = out_open ? read(rd, buf, sizeof buf) : 0;
                if (n <= 0)
                        break;
                write_all(s->log, buf, (size_t) n);
        }
        s->stable = now_usec(CLOCK_REALTIME) - started > STABLE_RUN_S * 1000000ULL;
        if (s->stable)
                s->n_crash = 0;
        /* Killed by the kernel's OOM killer rather than by someone. */
        if (end == RUN_EXITED && cgroup_oom_kills(c, s->name) > oom_before)
                snprintf(why, why_size, "killed by the OOM killer: over LEFT4ME_SERVER_MEMORY_MAX (%llu MiB)",
                         (unsigned long long) (c->memory_max >> 20));
        *ret_end = end;
        return 0;
}

/* Waits ms milliseconds unless a stop signal comes first (returns 1 then). */
static int sup_sleep(Sup *s, int ms) {
        struct pollfd pf = { .fd = s->sigfd, .events = POLLIN };
        int n = poll(&pf, 1, ms);
        return n > 0 ? 1 : 0;
}

/* The exit status of the server: bwrap passes the server's exit code on,
 * and 128 + N for a death by signal N (as a shell does). */
static void describe_exit(int status, bool sandboxed, int *ret_sig, int *ret_code) {
        *ret_sig = 0;
        *ret_code = 0;
        if (WIFSIGNALED(status))
                *ret_sig = WTERMSIG(status);
        else if (sandboxed && WEXITSTATUS(status) > 128 && WEXITSTATUS(status) < 128 + 65)
                *ret_sig = WEXITSTATUS(status) - 128;
        else
                *ret_code = WEXITSTATUS(status);
}

static bool is_crash(int sig, int code) {
        if (sig)
                return sig != SIGKILL && sig != SIGTERM && sig != SIGINT && sig != SIGHUP;
        return code != 0;
}

/* Everything that needs root, then the switch to the server's uid. */
static int sup_setup(Sup *s, const ServerIdentity *id, char *err, size_t size) {
        const HostConfig *c = s->config;
        char sandbox[160], limits[192] = "", disk[128] = "", who[160];
        bool have_bwrap = sandbox_find(c, s->bwrap, sizeof s->bwrap) > 0;
        if (have_bwrap)
                snprintf(sandbox, sizeof sandbox, "sandbox: bwrap (own PID, mount, IPC, UTS%s namespaces)",
                         id->switch_user || geteuid() != 0 ? ", user" : "");
        else {
                s->bwrap[0] = '\0';
                if (c->sandbox == SANDBOX_REQUIRED) {
                        snprintf(err, size, "no bwrap ('%s') and LEFT4ME_SANDBOX=required: install bubblewrap", c->bwrap);
                        return -ENOENT;
                }
                snprintf(sandbox, sizeof sandbox, "NOT sandboxed: %s", c->sandbox == SANDBOX_OFF ? "LEFT4ME_SANDBOX=off" :
                         "bwrap not found (install bubblewrap)");
        }
        if (id->switch_user)
                snprintf(who, sizeof who, "uid %u", (unsigned) id->uid);
        else
                snprintf(who, sizeof who, "%s", id->note);

        if (geteuid() == 0) {
                int r = cgroup_enter(c, s->name, limits, sizeof limits);
                if (r > 0) {
                        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
                        if (fd >= 0) {
                                (void) !write(fd, "-1000", 5);
                                close(fd);
                        }
                }
        } else
                snprintf(limits, sizeof limits, "no resource limits: l4d2ctl is not root");

        if (c->disk_max) {
                int r = 0;
                if (geteuid() == 0 && id->switch_user) {
                        _cleanup_close_ int upper = open(s->upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        r = upper < 0 ? -errno : disk_quota_apply(upper, id->uid, c->disk_max);
                }
                s->quota = r > 0;
                snprintf(disk, sizeof disk, "disk: %s %lluM", s->quota ? "project quota" : "size watch every "
                         "LEFT4ME_DISK_WATCH_INTERVAL, limit", (unsigned long long) (c->disk_max >> 20));
        } else
                snprintf(disk, sizeof disk, "disk: no limit");
        snprintf(s->containment, sizeof s->containment, "%s; %s; %s; %s", sandbox, who, limits, disk);

        if (id->switch_user) {
                if (setgroups(0, NULL) < 0 || setresgid(id->gid, id->gid, id->gid) < 0 ||
                    setresuid(id->uid, id->uid, id->uid) < 0) {
                        int r = negative_errno();
                        snprintf(err, size, "cannot switch to the server's uid %u: %s", (unsigned) id->uid, strerror(-r));
                        return r;
                }
        }
        /* Nothing it runs can gain privileges (bwrap is not setuid here). */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                int r = negative_errno();
                snprintf(err, size, "cannot set no_new_privs: %s", strerror(-r));
                return r;
        }
        return 0;
}

int supervisor_main(const HostConfig *c, const char *name, int notify_fd, supervisor_probe_fn probe) {
        Error err = { 0 };
        int r;
        Sup s = { .config = c, .name = name, .rt = -1, .log = -1, .sigfd = -1, .probe = probe };
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
        /* A classic POSIX lock, not an OFD one: F_GETLK then names its
         * holder, so stop signals a pid the kernel vouches for. It lives as
         * long as this process and is never inherited. */
        _cleanup_close_ int lock = openat(s.rt, "supervisor.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                                          0644);
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        if (lock < 0 || fcntl(lock, F_SETLK, &fl) < 0)
                FAIL("instance '%s' is already supervised", name);

        char pidtext[32];
        snprintf(pidtext, sizeof pidtext, "%d\n", (int) getpid());
        write_file_atomic_flags(s.rt, "supervisor.pid", pidtext, strlen(pidtext), 0644, WRITE_NO_SYNC);

        _cleanup_strv_ char **argv = NULL;
        _cleanup_free_ char *cwd = NULL;
        if ((r = launch_load(c, name, &argv, &cwd, &err)) < 0)
                FAIL("%s", error_msg(&err));
        s.argv = argv;
        s.cwd = cwd;
        s.port = launch_port(s.argv);
        snprintf(s.upper, sizeof s.upper, "%s/runtime/%s/upper", c->state_dir, name);

        ServerIdentity id;
        if ((r = server_identity(c, name, &id, &err)) < 0)
                FAIL("%s", error_msg(&err));
        s.log = openat(s.rt, "console.log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (s.log < 0)
                FAIL("cannot open the console log of '%s': %s", name, strerror(errno));
        if (id.switch_user)
                (void) fchown(s.log, id.uid, id.gid);

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

        char why[256];
        if ((r = sup_setup(&s, &id, why, sizeof why)) < 0) {
                sup_note(&s, "left4me: %s", why);
                FAIL("%s", why);
        }
#undef FAIL
        sup_note(&s, "left4me: %s", s.containment);

        unsigned backoff = BACKOFF_FIRST_MS;
        for (;;) {
                /* What the server may have planted for its next start: the
                 * first start was cleaned before the overlay was mounted;
                 * a restart under the same mount cannot be cleaned safely
                 * (the overlay may still serve the old entry), so it stops
                 * and `l4d2ctl start` cleans and mounts afresh. */
                Error gerr = { 0 };
                r = launch_guard_instance(c, name, note_line, &s, &gerr);
                if (r != 0) {
                        snprintf(why, sizeof why, "%s", r < 0 ? error_msg(&gerr) :
                                 "not restarted: the server planted launch files in its upper layer (removed); "
                                 "start it again");
                        sup_note(&s, "left4me: %s", why);
                        sup_state(&s, STATE_CRASHED, 0, 0, why);
                        if (notify_fd >= 0) {
                                dprintf(notify_fd, "error: %s\n", why);
                                close(TAKE_FD(notify_fd));
                        }
                        return 1;
                }
                if (disk_over(&s, why, sizeof why)) {
                        sup_note(&s, "left4me: %s", why);
                        sup_state(&s, STATE_CRASHED, 0, 0, why);
                        if (notify_fd >= 0) {
                                dprintf(notify_fd, "error: %s\n", why);
                                close(TAKE_FD(notify_fd));
                        }
                        return 1;
                }
                int status = 0;
                RunEnd end = RUN_EXITED;
                why[0] = '\0';
                r = sup_run_once(&s, &notify_fd, &status, &end, why, sizeof why);
                if (r < 0) {
                        sup_note(&s, "left4me: cannot run %s: %s", s.argv[0], strerror(-r));
                        if (notify_fd >= 0)
                                dprintf(notify_fd, "error: cannot run '%s': %s\n", s.argv[0], strerror(-r));
                        sup_state(&s, STATE_CRASHED, 0, 0, "the server could not be run");
                        return 1;
                }
                if (end == RUN_STOP) {
                        sup_note(&s, "left4me: server stopped");
                        sup_state(&s, STATE_STOPPED, 0, 0, NULL);
                        return 0;
                }
                if (end == RUN_DISK) {
                        sup_state(&s, STATE_CRASHED, 0, 0, why);
                        return 0;
                }
                int sig, code;
                describe_exit(status, s.bwrap[0] != '\0', &sig, &code);
                char how[96];
                if (end == RUN_UNRESPONSIVE)
                        snprintf(how, sizeof how, "unresponsive, ended by left4me");
                else if (sig)
                        snprintf(how, sizeof how, "signal %s", sigabbrev_np(sig) ?: "?");
                else
                        snprintf(how, sizeof how, "exit status %d", code);
                bool crash = end == RUN_EXITED && !why[0] && is_crash(sig, code);

                /* Crash-loop breaker: CRASH_LOOP_MAX crashes within the window. */
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (crash) {
                        memmove(s.crash_times + 1, s.crash_times, sizeof s.crash_times - sizeof s.crash_times[0]);
                        s.crash_times[0] = now;
                        if (s.n_crash < CRASH_LOOP_MAX)
                                s.n_crash++;
                        if (s.n_crash == CRASH_LOOP_MAX &&
                            now - s.crash_times[CRASH_LOOP_MAX - 1] <= CRASH_LOOP_WINDOW_S * 1000000ULL) {
                                char detail[160];
                                snprintf(detail, sizeof detail, "crash loop: %d exits within %d s, last with %s",
                                         CRASH_LOOP_MAX, CRASH_LOOP_WINDOW_S, how);
                                sup_note(&s, "left4me: %s; not restarting", detail);
                                sup_state(&s, STATE_CRASHED, 0, 0, detail);
                                return 0;
                        }
                }
                /* Every quick exit doubles the wait, crash or not (a server
                 * the OOM killer ends at every start must not be restarted
                 * twice a second); a run that lasted starts over. */
                if (s.stable)
                        backoff = BACKOFF_FIRST_MS;
                char detail[160];
                snprintf(detail, sizeof detail, "%s%s%s", how, why[0] ? ": " : "", why);
                sup_note(&s, "left4me: server exited (%s); restarting in %u ms", detail, backoff);
                sup_state(&s, STATE_STARTING, 0, 0, detail);
                if (sup_sleep(&s, (int) backoff)) {
                        sup_note(&s, "left4me: server stopped");
                        sup_state(&s, STATE_STOPPED, 0, 0, NULL);
                        return 0;
                }
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                s.restarts++;
        }
}
