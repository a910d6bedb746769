/* The supervisor backend: one detached `l4d2ctl supervise <name>` process per
 * instance runs the server, restarts it after a crash with exponential
 * backoff, gives up after too many crashes in a short time (crash loop), and
 * writes the console to <runtime>/console.log.
 *
 * Liveness is an OFD lock on <runtime>/supervisor.lock, held by the
 * supervisor for its whole life: unlike a pidfile it cannot go stale, and
 * F_OFD_GETLK lets status look without disturbing it. state.json says what
 * the supervisor is doing (starting/running/crashed/stopped), pid, restarts. */
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "fs.h"
#include "instance.h"
#include "launch.h"
#include "process.h"
#include "strutil.h"
#include "supervisor.h"

#define LOG_ROTATE_BYTES (16 * 1024 * 1024)
#define STOP_TIMEOUT_MS 10000
#define CRASH_LOOP_MAX 5        /* this many exits ... */
#define CRASH_LOOP_WINDOW_S 60  /* ... within this many seconds: give up */
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
#define STABLE_RUN_S 60         /* a run this long resets the backoff */

static uint64_t now_usec(clockid_t clk) {
        struct timespec ts;
        clock_gettime(clk, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static int runtime_open(const HostConfig *c, const char *name) {
        char rel[128];
        snprintf(rel, sizeof rel, "runtime/%s", name);
        return path_open_beneath_dir(c->state_dir, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
}

/* The start time of a process in clock ticks since boot (field 22 of
 * /proc/PID/stat), 0 if there is no such process. With the pid it names one
 * process for good: a recycled pid has another start time. */
static uint64_t proc_starttime(pid_t pid) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        char *p = strrchr(buf, ')'); /* the command name may contain anything */
        if (!p)
                return 0;
        p++;
        for (int field = 3; field < 22 && p; field++)
                p = strchr(p + 1, ' ');
        return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* 1 if the supervisor's lock is held, 0 if not, -errno on error. */
static int lock_held(int rtfd) {
        _cleanup_close_ int fd = openat(rtfd, "supervisor.lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
                return negative_errno();
        return fl.l_type != F_UNLCK;
}

static int state_write(int rtfd, InstanceState s, pid_t pid, uint64_t started, unsigned restarts, const char *detail) {
        json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "state", instance_state_to_string(s), "pid",
                              (json_int_t) pid, "pid_starttime", (json_int_t) (pid > 0 ? proc_starttime(pid) : 0),
                              "started_usec", (json_int_t) started, "restarts", (json_int_t) restarts, "detail",
                              detail ? detail : "");
        _cleanup_free_ char *text = j ? json_dumps(j, 0) : NULL;
        json_decref(j);
        if (!text)
                return -ENOMEM;
        return write_file_atomic_flags(rtfd, "state.json", text, strlen(text), 0644, WRITE_NO_SYNC);
}

static int state_read(int rtfd, BackendStatus *st, uint64_t *ret_starttime) {
        _cleanup_close_ int fd = openat(rtfd, "state.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        json_t *j = json_loadfd(fd, 0, NULL);
        if (!j)
                return 0; /* unreadable: treat as no information */
        const char *s = json_string_value(json_object_get(j, "state"));
        st->state = s && streq(s, "running")    ? STATE_RUNNING
                    : s && streq(s, "starting") ? STATE_STARTING
                    : s && streq(s, "crashed")  ? STATE_CRASHED
                                                : STATE_STOPPED;
        st->pid = (pid_t) json_integer_value(json_object_get(j, "pid"));
        st->started_usec = (uint64_t) json_integer_value(json_object_get(j, "started_usec"));
        st->restarts = (unsigned) json_integer_value(json_object_get(j, "restarts"));
        if (ret_starttime)
                *ret_starttime = (uint64_t) json_integer_value(json_object_get(j, "pid_starttime"));
        snprintf(st->detail, sizeof st->detail, "%s", json_string_value(json_object_get(j, "detail")) ?: "");
        json_decref(j);
        return 1;
}

/* The server pid state.json names, if that very process (same start time)
 * is still alive; 0 otherwise. Only meaningful when no supervisor runs. */
static pid_t orphan_alive(int rt) {
        BackendStatus st = { 0 };
        uint64_t start = 0;
        if (state_read(rt, &st, &start) <= 0 || st.pid <= 0 || start == 0)
                return 0;
        return proc_starttime(st.pid) == start ? st.pid : 0;
}

static int sv_status(const HostConfig *c, const char *name, BackendStatus *ret, Error *err) {
        *ret = (BackendStatus) { .state = STATE_STOPPED };
        _cleanup_close_ int rt = runtime_open(c, name);
        if (rt < 0)
                return rt == -ENOENT ? 0 : error_set(err, rt, "cannot open its runtime dir: %s", strerror(-rt));
        int held = lock_held(rt);
        if (held < 0)
                return error_set(err, held, "cannot check its supervisor: %s", strerror(-held));
        BackendStatus st = { .state = STATE_STOPPED };
        state_read(rt, &st, NULL);
        if (held) {
                if (st.state != STATE_RUNNING)
                        st.state = STATE_STARTING;
                if (st.pid > 0 && kill(st.pid, 0) < 0 && errno == ESRCH)
                        st.pid = 0; /* between two runs */
        } else if (orphan_alive(rt)) {
                /* The supervisor died (OOM, SIGKILL) but its server lives on,
                 * unwatched: say so; stop will end it. */
                snprintf(st.detail, sizeof st.detail, "supervisor gone; server pid %d runs unsupervised (stop it)",
                         (int) st.pid);
                st.state = STATE_CRASHED;
        } else if (st.state != STATE_CRASHED) {
                /* Nobody supervises it: whatever state.json says is over. */
                st = (BackendStatus) { .state = STATE_STOPPED, .restarts = st.restarts };
        }
        *ret = st;
        return 0;
}

static int sv_start(const HostConfig *c, const char *name, Error *err) {
        int r = overlay_helper_run(c, "mount", name, err);
        if (r < 0)
                return r;

        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) {
                r = negative_errno();
                overlay_helper_run(c, "umount", name, NULL);
                return error_set(err, r, "cannot create a pipe: %s", strerror(-r));
        }
        _cleanup_close_ int rd = p[0], wr = p[1];
        _cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        char fdarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", 3);
        char *argv[] = { c->self_exe, (char *) "--state-dir", c->state_dir, (char *) "supervise", (char *) name,
                         (char *) "--notify-fd", fdarg, NULL };
        /* fd 3 of the supervisor is the write end; 0-2 are /dev/null: it
         * writes the console to its log file and must not hold our stdout
         * (a caller reading our output would never see EOF). */
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        o.stdin_fd = o.stdout_fd = o.stderr_fd = devnull;
        o.extra_fd = wr;
        o.new_session = true;
        pid_t pid;
        r = spawn(argv, &o, &pid);
        if (r < 0) {
                overlay_helper_run(c, "umount", name, NULL);
                return error_set(err, r, "cannot start the supervisor '%s': %s", c->self_exe, strerror(-r));
        }
        close(TAKE_FD(wr));

        char buf[512] = "";
        size_t len = 0;
        struct pollfd pfd = { .fd = rd, .events = POLLIN };
        while (len < sizeof buf - 1 && poll(&pfd, 1, 15000) > 0) {
                ssize_t n = read(rd, buf + len, sizeof buf - 1 - len);
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (memchr(buf, '\n', len))
                        break;
        }
        buf[len] = '\0';
        if (startswith(buf, "ok")) {
                /* Detached (own session): reap it only if it already exited,
                 * so it does not linger as our zombie. */
                waitpid(pid, NULL, WNOHANG);
                return 0;
        }
        /* No word, or an error: make sure it is gone before unmounting, or
         * it could start the server in an empty mount point. */
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        buf[strcspn(buf, "\n")] = '\0';
        overlay_helper_run(c, "umount", name, NULL);
        if (startswith(buf, "error: "))
                return error_set(err, -EIO, "%s", buf + 7);
        return error_set(err, -EIO, "the supervisor did not report back within 15 s");
}

static int sv_stop(const HostConfig *c, const char *name, Error *err) {
        _cleanup_close_ int rt = runtime_open(c, name);
        if (rt == -ENOENT)
                return 0;
        if (rt < 0)
                return error_set(err, rt, "cannot open its runtime dir: %s", strerror(-rt));
        if (lock_held(rt) > 0) {
                _cleanup_free_ char *pidtext = NULL;
                long pid = 0;
                if (read_file_at(rt, "supervisor.pid", 64, &pidtext, NULL) == 0) {
                        pidtext[strcspn(pidtext, "\n")] = '\0';
                        parse_long(pidtext, 2, 1L << 22, &pid);
                }
                if (pid > 0)
                        kill((pid_t) pid, SIGTERM);
                /* It stops the server (SIGTERM, then SIGKILL after the stop
                 * timeout) and then lets go of the lock. */
                int i;
                for (i = 0; i < (STOP_TIMEOUT_MS + 5000) / 20 && lock_held(rt) > 0; i++)
                        usleep(20 * 1000);
                if (lock_held(rt) > 0) {
                        if (pid > 0)
                                kill((pid_t) pid, SIGKILL);
                        return error_set(err, -ETIMEDOUT, "the supervisor (pid %ld) did not stop; killed it", pid);
                }
        }
        /* A server whose supervisor died would keep the ports and the mount:
         * end its whole process group (it runs in a session of its own). */
        pid_t orphan = orphan_alive(rt);
        if (orphan > 0) {
                kill(-orphan, SIGKILL);
                for (int i = 0; i < 250 && proc_starttime(orphan); i++)
                        usleep(20 * 1000);
        }
        _cleanup_free_ char *merged = NULL;
        if (asprintf(&merged, "%s/runtime/%s/merged", c->state_dir, name) < 0)
                return -ENOMEM;
        if (path_is_mount_point(merged)) {
                int r = overlay_helper_run(c, "umount", name, err);
                if (r < 0)
                        return r;
        }
        BackendStatus st = { 0 };
        state_read(rt, &st, NULL);
        return state_write(rt, STATE_STOPPED, 0, 0, st.restarts, NULL);
}

/* ---- logs ---- */

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Copies from fd's offset to its end to out. Returns the new offset. */
static int copy_to_end(int fd, off_t *off, int out) {
        char buf[65536];
        for (;;) {
                ssize_t n = pread(fd, buf, sizeof buf, *off);
                if (n < 0)
                        return errno == EINTR ? 0 : negative_errno();
                if (n == 0)
                        return 0;
                int r = write_all(out, buf, (size_t) n);
                if (r < 0)
                        return r;
                *off += n;
        }
}

/* The offset where the last `lines` lines of fd begin. */
static off_t tail_offset(int fd, unsigned lines) {
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_size == 0)
                return 0;
        off_t pos = st.st_size;
        unsigned seen = 0;
        char buf[65536];
        /* A final newline ends the last line; it does not start a new one. */
        bool first = true;
        while (pos > 0) {
                size_t chunk = pos > (off_t) sizeof buf ? sizeof buf : (size_t) pos;
                pos -= (off_t) chunk;
                if (pread(fd, buf, chunk, pos) != (ssize_t) chunk)
                        return 0;
                for (size_t i = chunk; i-- > 0;) {
                        if (buf[i] != '\n')
                                continue;
                        if (first && pos + (off_t) i == st.st_size - 1) {
                                first = false;
                                continue;
                        }
                        first = false;
                        if (++seen == lines + 0 && lines > 0)
                                return pos + (off_t) i + 1;
                }
        }
        return 0;
}

static int sv_logs(const HostConfig *c, const char *name, unsigned lines, bool follow, int out, Error *err) {
        _cleanup_close_ int rt = runtime_open(c, name);
        if (rt < 0 && !(rt == -ENOENT && !follow))
                return error_set(err, rt, "no logs yet (start it first): %s", strerror(-rt));
        if (rt < 0)
                return 0;
        _cleanup_close_ int fd = openat(rt, "console.log", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        off_t off = 0;
        if (fd >= 0) {
                off = lines == 0 ? lseek(fd, 0, SEEK_END) : tail_offset(fd, lines);
                int r = copy_to_end(fd, &off, out);
                if (r < 0)
                        return r == -EPIPE ? 0 : r;
        }
        if (!follow)
                return 0;

        _cleanup_close_ int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (in < 0)
                return negative_errno();
        char path[256];
        snprintf(path, sizeof path, "/proc/self/fd/%d", rt);
        if (inotify_add_watch(in, path, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
                return negative_errno();
        for (;;) {
                /* out is in the set with no events so that POLLERR/POLLHUP
                 * tell us the reader went away. */
                struct pollfd p[2] = { { .fd = in, .events = POLLIN }, { .fd = out, .events = 0 } };
                int n = poll(p, 2, 1000);
                if (n < 0 && errno != EINTR)
                        return negative_errno();
                if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL))
                        return 0;
                char evbuf[4096];
                while (read(in, evbuf, sizeof evbuf) > 0)
                        ;
                /* Rotated or created: (re)open the new file from the start. */
                struct stat a, b;
                int nfd = openat(rt, "console.log", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (nfd >= 0) {
                        if (fd < 0 || (fstat(fd, &a) == 0 && fstat(nfd, &b) == 0 && a.st_ino != b.st_ino)) {
                                if (fd >= 0) {
                                        int r = copy_to_end(fd, &off, out);
                                        if (r < 0)
                                                return r == -EPIPE ? 0 : r;
                                        close(fd);
                                }
                                fd = nfd;
                                off = 0;
                        } else
                                close(nfd);
                }
                if (fd >= 0) {
                        if (fstat(fd, &a) == 0 && a.st_size < off)
                                off = 0; /* truncated */
                        int r = copy_to_end(fd, &off, out);
                        if (r < 0)
                                return r == -EPIPE ? 0 : r;
                }
        }
}

const Backend backend_supervisor = {
        .name = "supervisor",
        .start = sv_start,
        .stop = sv_stop,
        .status = sv_status,
        .logs = sv_logs,
};

/* ---- the supervisor process ---- */

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
