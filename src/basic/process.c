#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "process.h"

extern char **environ;

int spawn(char *const argv[], const SpawnOptions *o, pid_t *ret_pid) {
        static const SpawnOptions defaults = SPAWN_OPTIONS_INIT;
        if (!o)
                o = &defaults;
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

        char line[4097];
        size_t len = 0;
        bool stop = false;
        char buf[8192];
        for (;;) {
                ssize_t n = read(p[0], buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (stop)
                        continue; /* keep draining so the child never blocks */
                for (ssize_t i = 0; i < n && !stop; i++) {
                        char c = buf[i];
                        if (c == '\n' || c == '\r' || len == sizeof line - 1) {
                                if (len > 0 || c == '\n') {
                                        line[len] = '\0';
                                        if (len > 0 && cb(line, userdata) < 0)
                                                stop = true;
                                }
                                len = 0;
                                if (c == '\n' || c == '\r')
                                        continue;
                        }
                        line[len++] = c;
                }
        }
        if (len > 0 && !stop) {
                line[len] = '\0';
                cb(line, userdata);
        }
        close(p[0]);
        return spawn_wait(pid, ret_exit);
}
