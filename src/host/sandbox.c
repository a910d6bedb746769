/* See sandbox.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs.h"
#include "macro.h"
#include "process.h"
#include "sandbox.h"
#include "strutil.h"

/* What a program needs of /etc (name lookups, TLS roots, the loader's
 * cache, time zone); nothing of the host's configuration or secrets. */
static const char *const etc_files[] = {
        "/etc/passwd",        "/etc/group",         "/etc/hosts",        "/etc/resolv.conf",
        "/etc/nsswitch.conf", "/etc/host.conf",     "/etc/gai.conf",     "/etc/localtime",
        "/etc/ld.so.cache",   "/etc/ld.so.conf",    "/etc/ld.so.conf.d", "/etc/ssl",
        "/etc/ca-certificates", "/etc/alternatives", "/etc/services",     "/etc/protocols",
};

/* The top-level folders that are links into /usr on a merged-/usr system,
 * or folders of their own on an older one. */
static const char *const top_dirs[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" };

int sandbox_find(const HostConfig *c, char *path, size_t size) {
        if (c->sandbox == SANDBOX_OFF)
                return 0;
        if (strchr(c->bwrap, '/')) {
                snprintf(path, size, "%s", c->bwrap);
                return access(path, X_OK) == 0;
        }
        static const char *const dirs[] = { "/usr/bin", "/bin", "/usr/local/bin" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                snprintf(path, size, "%s/%s", dirs[i], c->bwrap);
                if (access(path, X_OK) == 0)
                        return 1;
        }
        return 0;
}

bool sandbox_userns_can_be_disabled(void) {
        struct statvfs st;
        return statvfs("/proc/sys/user", &st) == 0 && !(st.f_flag & ST_RDONLY);
}

static int push(char ***v, size_t *n, const char *a) {
        return strv_push_dup(v, n, a);
}

static int build_argv(const char *bwrap, char *const *argv, const char *cwd, const char *hostname, int info_fd,
                      char ***ret) {
        _cleanup_strv_ char **v = NULL;
        size_t n = 0;
        int r = push(&v, &n, bwrap);
        /* As root (a server kept as root for development) bwrap needs no
         * user namespace; otherwise it makes one that maps only our uid. */
        if (geteuid() != 0) {
                r = push(&v, &n, "--unshare-user");
                if (r >= 0 && sandbox_userns_can_be_disabled())
                        r = push(&v, &n, "--disable-userns");
        }
        static const char *const fixed[] = {
                "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent",
                "--new-session", "--cap-drop", "ALL", "--clearenv",
                "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8",
                "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm",
                "--tmpfs", "/tmp",
        };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed); i++)
                r = push(&v, &n, fixed[i]);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(top_dirs); i++) {
                struct stat st;
                if (lstat(top_dirs[i], &st) < 0)
                        continue;
                if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t k = readlink(top_dirs[i], target, sizeof target - 1);
                        if (k <= 0)
                                continue;
                        target[k] = '\0';
                        r = push(&v, &n, "--symlink");
                        if (r >= 0)
                                r = push(&v, &n, target);
                } else if (S_ISDIR(st.st_mode)) {
                        r = push(&v, &n, "--ro-bind");
                        if (r >= 0)
                                r = push(&v, &n, top_dirs[i]);
                } else
                        continue;
                if (r >= 0)
                        r = push(&v, &n, top_dirs[i]);
        }
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(etc_files); i++) {
                r = push(&v, &n, "--ro-bind-try");
                if (r >= 0)
                        r = push(&v, &n, etc_files[i]);
                if (r >= 0)
                        r = push(&v, &n, etc_files[i]);
        }
        char info[16];
        snprintf(info, sizeof info, "%d", info_fd);
        const char *tail[] = { "--bind", cwd, cwd, "--chdir", cwd, "--setenv", "HOME", cwd,
                               "--hostname", hostname, "--remount-ro", "/", "--info-fd", info, "--" };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(tail); i++)
                r = push(&v, &n, tail[i]);
        for (char *const *a = argv; r >= 0 && *a; a++)
                r = push(&v, &n, *a);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}

/* The clean environment of a server that runs without bwrap. */
static char **plain_env(const char *cwd, char *home, size_t size) {
        static char *env[4] = { (char *) "PATH=/usr/local/bin:/usr/bin:/bin", (char *) "LANG=C.UTF-8", NULL, NULL };
        snprintf(home, size, "HOME=%s", cwd);
        env[2] = home;
        return env;
}

int sandbox_spawn(const char *bwrap, char *const *argv, const char *cwd, const char *hostname, int out_fd,
                  SandboxRun *ret) {
        int info[2] = { -1, -1 };
        if (bwrap && pipe2(info, O_CLOEXEC) < 0)
                return negative_errno();
        _cleanup_close_ int info_rd = info[0], info_wr = info[1];
        _cleanup_strv_ char **bargv = NULL;
        if (bwrap) {
                int r = build_argv(bwrap, argv, cwd, hostname, info_wr, &bargv);
                if (r < 0)
                        return r;
        }
        _cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0)
                return negative_errno();
        char home[PATH_MAX + 8];
        static char *bwrap_env[] = { (char *) "PATH=/usr/bin:/bin", NULL };
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        o.stdin_fd = devnull;
        o.stdout_fd = o.stderr_fd = out_fd;
        /* Killed with the supervisor, whatever kills it; and it must not
         * inherit the supervisor's protection from the OOM killer. */
        o.pdeathsig = SIGKILL;
        o.reset_oom_score = true;
        if (bwrap) {
                o.new_pgroup = true;
                o.keep_fd = info_wr;
                o.envp = bwrap_env;
        } else {
                o.new_session = true;
                o.cwd = cwd;
                o.envp = plain_env(cwd, home, sizeof home);
        }
        pid_t pid;
        int r = spawn(bwrap ? bargv : argv, &o, &pid);
        if (r < 0)
                return r;
        SandboxRun run = { .pid = pid, .sandboxed = bwrap != NULL, .info_fd = -1 };
        if (!bwrap) {
                run.init_pid = run.server = pid;
        } else {
                /* bwrap writes {"child-pid": N, ...} once the box is set up,
                 * and closes it; an early failure closes it empty (its error
                 * message goes to the console). */
                run.info_fd = TAKE_FD(info_rd);
                (void) fcntl(run.info_fd, F_SETFL, O_NONBLOCK);
        }
        *ret = run;
        return 0;
}

void sandbox_read_info(SandboxRun *run) {
        while (run->info_fd >= 0) {
                char *buf = run->info + run->info_len;
                size_t room = sizeof run->info - 1 - run->info_len;
                char drop[256];
                /* Read to the end, even past what we keep: closing early
                 * would kill bwrap with SIGPIPE in the middle of its JSON. */
                ssize_t n = read(run->info_fd, room > 0 ? buf : drop, room > 0 ? room : sizeof drop);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n > 0 && room > 0)
                        run->info_len += (size_t) n;
                run->info[run->info_len] = '\0';
                char *s = strstr(run->info, "\"child-pid\":");
                char *end = NULL;
                long pid = s ? strtol(s + strlen("\"child-pid\":"), &end, 10) : 0;
                /* Complete once the number is followed by more (or at EOF). */
                if (pid > 0 && end && (*end || n <= 0))
                        run->init_pid = (pid_t) pid;
                if (n <= 0) {
                        close(run->info_fd);
                        run->info_fd = -1;
                }
        }
}

void sandbox_run_done(SandboxRun *run) {
        if (run->info_fd >= 0)
                close(run->info_fd);
        run->info_fd = -1;
}

pid_t sandbox_server_pid(SandboxRun *run) {
        if (run->server > 0 || run->init_pid <= 0)
                return run->server;
        char path[96], buf[256];
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int) run->init_pid, (int) run->init_pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        long pid = strtol(buf, NULL, 10);
        if (pid > 0)
                run->server = (pid_t) pid;
        return run->server;
}

void sandbox_signal(SandboxRun *run, int sig) {
        pid_t server = sandbox_server_pid(run);
        if (server > 0) {
                /* In the box the server shares the process group of bwrap's
                 * init (--new-session makes that one the session leader);
                 * the init ignores what it has no handler for, and exits
                 * when the server does. */
                pid_t group = getpgid(server);
                if (group > 0) {
                        kill(-group, SIGCONT);
                        kill(-group, sig);
                } else {
                        kill(server, SIGCONT);
                        kill(server, sig);
                }
        }
        if (run->sandboxed && (server <= 0 || sig == SIGKILL)) {
                /* Before bwrap has named its init, killing bwrap itself is
                 * enough: the init dies with it (--die-with-parent). */
                if (run->init_pid > 0)
                        kill(run->init_pid, SIGKILL);
                kill(run->pid, SIGKILL);
        }
}
