/* See sandbox.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
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

static int push(char ***v, size_t *n, const char *a) {
        return strv_push_dup(v, n, a);
}

static int build_argv(const char *bwrap, char *const *argv, const char *cwd, const char *hostname, char ***ret) {
        _cleanup_strv_ char **v = NULL;
        size_t n = 0;
        int r = push(&v, &n, bwrap);
        /* As root (a server kept as root for development) bwrap needs no
         * user namespace; otherwise it makes one that maps only our uid. */
        if (geteuid() != 0) {
                static const char *const userns[] = { "--unshare-user", "--disable-userns" };
                for (size_t i = 0; r >= 0 && i < ELEMENTSOF(userns); i++)
                        r = push(&v, &n, userns[i]);
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
        const char *tail[] = { "--bind", cwd, cwd, "--chdir", cwd, "--setenv", "HOME", cwd,
                               "--hostname", hostname, "--remount-ro", "/", "--info-fd", "3", "--" };
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
        _cleanup_strv_ char **bargv = NULL;
        if (bwrap) {
                int r = build_argv(bwrap, argv, cwd, hostname, &bargv);
                if (r < 0)
                        return r;
        }
        int info[2] = { -1, -1 }, errp[2];
        if (bwrap && pipe2(info, O_CLOEXEC) < 0)
                return negative_errno();
        if (pipe2(errp, O_CLOEXEC) < 0) {
                int r = negative_errno();
                if (bwrap) {
                        close(info[0]);
                        close(info[1]);
                }
                return r;
        }
        char home[PATH_MAX + 8];
        char **envp = plain_env(cwd, home, sizeof home);
        static char *bwrap_env[] = { (char *) "PATH=/usr/bin:/bin", NULL };
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                close(errp[0]);
                close(errp[1]);
                if (bwrap) {
                        close(info[0]);
                        close(info[1]);
                }
                return r;
        }
        if (pid == 0) {
                /* Only async-signal-safe calls from here on. */
                int e = 0;
                sigset_t none;
                sigemptyset(&none);
                for (int sig = 1; sig < NSIG; sig++)
                        signal(sig, SIG_DFL);
                sigprocmask(SIG_SETMASK, &none, NULL);
                if (bwrap ? setpgid(0, 0) < 0 : setsid() < 0)
                        e = errno;
                /* Killed with the supervisor, whatever kills it. */
                if (!e && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                        e = errno;
                if (!e && getppid() != parent)
                        _exit(127);
                /* The supervisor keeps -1000 so that the OOM killer never
                 * picks it; its server must not inherit that. */
                int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
                if (oom >= 0) {
                        (void) !write(oom, "0", 1);
                        close(oom);
                }
                int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (!e && (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0))
                        e = errno;
                if (!e && bwrap && dup2(info[1], 3) < 0)
                        e = errno;
                if (!e && !bwrap && chdir(cwd) < 0)
                        e = errno;
                if (!e) {
                        if (bwrap)
                                execve(bwrap, bargv, bwrap_env);
                        else
                                execve(argv[0], argv, envp);
                        e = errno;
                }
                (void) !write(errp[1], &e, sizeof e);
                _exit(127);
        }
        close(errp[1]);
        if (bwrap)
                close(info[1]);
        int e = 0;
        ssize_t k;
        do
                k = read(errp[0], &e, sizeof e);
        while (k < 0 && errno == EINTR);
        close(errp[0]);
        if (k == sizeof e && e != 0) {
                if (bwrap)
                        close(info[0]);
                return -e;
        }
        SandboxRun run = { .pid = pid, .sandboxed = bwrap != NULL };
        if (!bwrap) {
                run.init_pid = run.server = pid;
        } else {
                /* bwrap writes {"child-pid": N, ...} once the box is set up,
                 * and closes it; an early failure closes it empty (its error
                 * message goes to the console). */
                char buf[1024];
                size_t len = 0;
                struct pollfd p = { .fd = info[0], .events = POLLIN };
                while (len < sizeof buf - 1 && poll(&p, 1, 10000) > 0) {
                        ssize_t n = read(info[0], buf + len, sizeof buf - 1 - len);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        len += (size_t) n;
                }
                buf[len] = '\0';
                close(info[0]);
                char *s = strstr(buf, "\"child-pid\":");
                if (s)
                        run.init_pid = (pid_t) strtol(s + strlen("\"child-pid\":"), NULL, 10);
        }
        *ret = run;
        return 0;
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
        if (run->sandboxed && run->init_pid > 0 && (server <= 0 || sig == SIGKILL))
                kill(run->init_pid, SIGKILL);
}
