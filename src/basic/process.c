#include <fcntl.h>
#include <grp.h>
#include <sys/prctl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "process.h"

extern char **environ;

/* fork + exec for what posix_spawn cannot do (changing user, a parent-death
 * signal, keeping one fd). Only async-signal-safe calls in the child; an
 * exec failure comes back through a close-on-exec pipe as an errno, like
 * posix_spawn reports it. */
static int spawn_fork(char *const argv[], const SpawnOptions *o, pid_t *ret_pid) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        char *const *envp = o->envp ? o->envp : environ;
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                int e = 0;
                sigset_t none;
                sigemptyset(&none);
                for (int sig = 1; sig < NSIG; sig++)
                        signal(sig, SIG_DFL);
                sigprocmask(SIG_SETMASK, &none, NULL);
                if (o->new_session && setsid() < 0)
                        e = errno;
                if (!e && o->new_pgroup && setpgid(0, 0) < 0)
                        e = errno;
                if (!e && o->pdeathsig) {
                        if (prctl(PR_SET_PDEATHSIG, o->pdeathsig) < 0)
                                e = errno;
                        else if (getppid() != parent)
                                _exit(127); /* it died before we could ask */
                }
                if (!e && o->reset_oom_score) {
                        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
                        if (fd >= 0) {
                                (void) !write(fd, "0", 1);
                                close(fd);
                        }
                }
                if (!e && o->stdin_fd >= 0 && dup2(o->stdin_fd, 0) < 0)
                        e = errno;
                if (!e && o->stdout_fd >= 0 && dup2(o->stdout_fd, 1) < 0)
                        e = errno;
                if (!e && o->stderr_fd >= 0 && dup2(o->stderr_fd, 2) < 0)
                        e = errno;
                if (!e && o->extra_fd >= 0 && (o->extra_fd == 3 ? fcntl(3, F_SETFD, 0) : dup2(o->extra_fd, 3)) < 0)
                        e = errno;
                if (!e && o->keep_fd >= 0 && fcntl(o->keep_fd, F_SETFD, 0) < 0)
                        e = errno;
                /* chdir while still privileged: the server may not be able to
                 * traverse the path to its tree, only the tree itself. */
                if (!e && o->cwd && chdir(o->cwd) < 0)
                        e = errno;
                if (!e && o->set_user &&
                    (setgroups(0, NULL) < 0 || setresgid(o->gid, o->gid, o->gid) < 0 ||
                     setresuid(o->uid, o->uid, o->uid) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0))
                        e = errno;
                if (!e) {
                        if (o->search_path)
                                execvpe(argv[0], argv, envp);
                        else
                                execve(argv[0], argv, envp);
                        e = errno;
                }
                (void) !write(p[1], &e, sizeof e);
                _exit(127);
        }
        close(p[1]);
        int e = 0;
        ssize_t n;
        do
                n = read(p[0], &e, sizeof e);
        while (n < 0 && errno == EINTR);
        close(p[0]);
        if (n == sizeof e && e != 0) {
                waitpid(pid, NULL, 0);
                return -e;
        }
        *ret_pid = pid;
        return 0;
}

int spawn(char *const argv[], const SpawnOptions *o, pid_t *ret_pid) {
        static const SpawnOptions defaults = SPAWN_OPTIONS_INIT;
        if (!o)
                o = &defaults;
        if (o->set_user || o->new_pgroup || o->pdeathsig || o->keep_fd >= 0 || o->reset_oom_score)
                return spawn_fork(argv, o, ret_pid);
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&attr);

        short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        if (o->new_session)
                flags |= POSIX_SPAWN_SETSID;
        posix_spawnattr_setflags(&attr, flags);

        if (o->stdin_fd >= 0)
                posix_spawn_file_actions_adddup2(&fa, o->stdin_fd, 0);
        if (o->stdout_fd >= 0)
                posix_spawn_file_actions_adddup2(&fa, o->stdout_fd, 1);
        if (o->stderr_fd >= 0)
                posix_spawn_file_actions_adddup2(&fa, o->stderr_fd, 2);
        /* dup2(3, 3) would keep FD_CLOEXEC set: move it out of the way first. */
        int extra = o->extra_fd == 3 ? fcntl(3, F_DUPFD_CLOEXEC, 10) : o->extra_fd;
        if (extra >= 0)
                posix_spawn_file_actions_adddup2(&fa, extra, 3);
        if (o->cwd)
                posix_spawn_file_actions_addchdir_np(&fa, o->cwd);

        pid_t pid;
        char *const *envp = o->envp ? o->envp : environ;
        int r = o->search_path ? posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp)
                               : posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
        if (o->extra_fd == 3 && extra >= 0)
                close(extra);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                return -r;
        *ret_pid = pid;
        return 0;
}

int spawn_wait(pid_t pid, int *ret_exit) {
        int status;
        for (;;) {
                if (waitpid(pid, &status, 0) >= 0)
                        break;
                if (errno != EINTR)
                        return negative_errno();
        }
        if (ret_exit)
                *ret_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return 0;
}

int line_splitter_feed(LineSplitter *l, const char *buf, size_t n, spawn_line_cb cb, void *userdata) {
        for (size_t i = 0; i < n; i++) {
                char c = buf[i];
                if (c == '\n' || c == '\r' || l->len == sizeof l->line - 1) {
                        size_t len = l->len;
                        l->len = 0;
                        if (len > 0) {
                                l->line[len] = '\0';
                                int r = cb(l->line, userdata);
                                if (r < 0)
                                        return r;
                        }
                        if (c == '\n' || c == '\r')
                                continue;
                }
                l->line[l->len++] = c == '\0' ? ' ' : c;
        }
        return 0;
}

int line_splitter_end(LineSplitter *l, spawn_line_cb cb, void *userdata) {
        if (l->len == 0)
                return 0;
        l->line[l->len] = '\0';
        l->len = 0;
        return cb(l->line, userdata);
}

void read_lines(int fd, spawn_line_cb cb, void *userdata) {
        LineSplitter l = { 0 };
        bool stop = false;
        char buf[8192];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (!stop && line_splitter_feed(&l, buf, (size_t) n, cb, userdata) < 0)
                        stop = true;
        }
        if (!stop)
                (void) line_splitter_end(&l, cb, userdata);
}

int spawn_lines(char *const argv[], const SpawnOptions *o, spawn_line_cb cb, void *userdata, int *ret_exit) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        SpawnOptions so = o ? *o : (SpawnOptions) SPAWN_OPTIONS_INIT;
        so.stdout_fd = p[1];
        so.stderr_fd = p[1];
        pid_t pid;
        int r = spawn(argv, &so, &pid);
        close(p[1]);
        if (r < 0) {
                close(p[0]);
                return r;
        }

        read_lines(p[0], cb, userdata);
        close(p[0]);
        return spawn_wait(pid, ret_exit);
}
