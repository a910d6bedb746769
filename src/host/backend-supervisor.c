/* The supervisor backend, as l4d2ctl drives it: start (mount, then one
 * detached `l4d2ctl supervise <name>` process, supervisor.c), stop, status
 * and logs (<runtime>/console.log).
 *
 * Liveness is an OFD lock on <runtime>/supervisor.lock, held by the
 * supervisor for its whole life: unlike a pidfile it cannot go stale, and
 * F_OFD_GETLK lets status look without disturbing it. state.json says what
 * the supervisor is doing (starting/running/crashed/stopped), pid, restarts. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cgroup.h"
#include "fs.h"
#include "instance.h"
#include "launch.h"
#include "process.h"
#include "strutil.h"
#include "supervisor-state.h"

/* The supervisor's own stop timeout (SIGTERM, then SIGKILL) is 10 s. */
#define STOP_TIMEOUT_MS 10000

/* The server pid state.json names, if that very process (same start time)
 * is still alive; 0 otherwise. Only meaningful when no supervisor runs. */
static pid_t orphan_alive(int rt) {
        BackendStatus st = { 0 };
        uint64_t start = 0;
        if (state_read(rt, &st, &start) <= 0 || st.pid <= 0 || start == 0)
                return 0;
        if (proc_starttime(st.pid) != start)
                return 0;
        /* state.json belongs to the server's uid once the supervisor has
         * dropped to it: only believe a pid of that very uid (the owner of
         * the runtime dir), so a forged file cannot make root kill another
         * program. */
        struct stat dir, proc;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d", (int) st.pid);
        if (fstat(rt, &dir) < 0 || stat(path, &proc) < 0 || proc.st_uid != dir.st_uid)
                return 0;
        return st.pid;
}

/* Appends one line to the console log (as root, before the supervisor). */
static void console_note(const char *line, void *userdata) {
        int *rt = userdata;
        _cleanup_close_ int fd = openat(*rt, "console.log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd >= 0) {
                write_all(fd, line, strlen(line));
                write_all(fd, "\n", 1);
        }
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
                if (st.state != STATE_RUNNING && st.state != STATE_UNRESPONSIVE)
                        st.state = STATE_STARTING;
                if (st.pid > 0 && kill(st.pid, 0) < 0 && errno == ESRCH) {
                        /* Between two runs: the server is gone and its
                         * supervisor has not written so yet. Not running
                         * (a "running" without a pid was seen in that
                         * window); what the supervisor writes next is
                         * "starting" (a restart) or why it does not. */
                        st.pid = 0;
                        st.state = STATE_STARTING;
                }
        } else if (orphan_alive(rt)) {
                /* The supervisor died (OOM, SIGKILL) but its server lives on,
                 * unwatched (only without the sandbox, whose --die-with-parent
                 * takes the server along): say so; stop will end it. */
                snprintf(st.detail, sizeof st.detail, "supervisor gone; server pid %d runs unsupervised (stop it)",
                         (int) st.pid);
                st.state = STATE_CRASHED;
        } else if (st.state == STATE_RUNNING || st.state == STATE_STARTING || st.state == STATE_UNRESPONSIVE) {
                /* It was running and nobody said it stopped: the supervisor
                 * itself was killed (kill -9, the OOM killer) and took its
                 * server with it. Not the game server's fault. */
                st = (BackendStatus) { .state = STATE_CRASHED, .restarts = st.restarts };
                snprintf(st.detail, sizeof st.detail,
                         "the supervisor died (killed from outside?) and its server with it; start it again");
        } else if (st.state != STATE_CRASHED) {
                /* Nobody supervises it: whatever state.json says is over. */
                st = (BackendStatus) { .state = STATE_STOPPED, .restarts = st.restarts };
        }
        if (st.state == STATE_STOPPED || st.state == STATE_CRASHED)
                st.containment[0] = '\0';
        *ret = st;
        return 0;
}

static int sv_start(const HostConfig *c, const char *name, Error *err) {
        /* Before the mount: what the server planted in its upper layer to
         * run at its next start goes, with a line in its log. */
        _cleanup_close_ int rt = runtime_open(c, name);
        if (rt < 0)
                return error_set(err, rt, "cannot open its runtime dir: %s", strerror(-rt));
        int r = launch_guard_instance(c, name, console_note, &rt, err);
        if (r < 0)
                return r;
        /* Nothing of an earlier run may live on into this one. */
        if (geteuid() == 0)
                cgroup_remove(c, name);
        r = overlay_helper_run(c, "mount", name, err);
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
        pid_t pid = 0;
        if (lock_holder(rt, &pid) > 0) {
                /* The kernel names the lock's holder: no pidfile to trust. */
                if (pid > 0)
                        kill(pid, SIGTERM);
                /* It stops the server (SIGTERM, then SIGKILL after the stop
                 * timeout) and then lets go of the lock. */
                int i;
                for (i = 0; i < (STOP_TIMEOUT_MS + 5000) / 20 && lock_held(rt) > 0; i++)
                        usleep(20 * 1000);
                if (lock_held(rt) > 0) {
                        if (pid > 0)
                                kill(pid, SIGKILL);
                        return error_set(err, -ETIMEDOUT, "the supervisor (pid %d) did not stop; killed it", (int) pid);
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
        /* Whatever is left in its cgroup goes before the unmount. */
        if (geteuid() == 0)
                cgroup_remove(c, name);
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
        return state_write(rt, STATE_STOPPED, 0, 0, st.restarts, NULL, NULL);
}

/* ---- logs ---- */

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

/* Waits for an instance that never ran to get its runtime dir (its first
 * start), as journalctl --follow waits for a unit's first line; 0 and *ret
 * the dir, or 1 when the reader went away first. */
static int wait_runtime(const HostConfig *c, const char *name, int out, int *ret) {
        for (;;) {
                int rt = runtime_open(c, name);
                if (rt >= 0) {
                        *ret = rt;
                        return 0;
                }
                if (rt != -ENOENT)
                        return rt;
                struct pollfd p = { .fd = out, .events = 0 };
                if (poll(&p, 1, 1000) < 0 && errno != EINTR)
                        return negative_errno();
                if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
                        return 1;
        }
}

static int sv_logs(const HostConfig *c, const char *name, unsigned lines, bool follow, int out, Error *err) {
        _cleanup_close_ int rt = runtime_open(c, name);
        if (rt == -ENOENT && follow) {
                int r = wait_runtime(c, name, out, &rt);
                if (r != 0)
                        return r > 0 ? 0 : error_set(err, r, "cannot open its runtime dir: %s", strerror(-r));
        }
        if (rt < 0 && rt != -ENOENT)
                return error_set(err, rt, "cannot open its runtime dir: %s", strerror(-rt));
        if (rt < 0)
                return 0; /* never ran: no lines yet */
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
