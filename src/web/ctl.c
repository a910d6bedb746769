#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "ctl.h"
#include "web.h"

int ctl_argv(const char *argv_out[CTL_ARGV_MAX], const char *const args[]) {
        size_t n = 0;
        argv_out[n++] = config.l4d2ctl;
        argv_out[n++] = "--state-dir";
        argv_out[n++] = config.state_dir;
        for (size_t i = 0; args[i]; i++) {
                if (n + 1 >= CTL_ARGV_MAX)
                        return -E2BIG;
                argv_out[n++] = args[i];
        }
        argv_out[n] = NULL;
        return 0;
}

static SpawnOptions ctl_options(void) {
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        /* A bare name is looked up in PATH; a path is used as is. */
        o.search_path = !strchr(config.l4d2ctl, '/');
        return o;
}

int ctl_run(const char *const args[], const char *stdin_data, spawn_line_cb cb, void *userdata, int *ret_exit) {
        const char *argv[CTL_ARGV_MAX];
        int r = ctl_argv(argv, args);
        if (r < 0)
                return r;
        SpawnOptions o = ctl_options();
        _cleanup_close_ int in = -1;
        if (stdin_data) {
                in = memfd_create("l4d2ctl-stdin", MFD_CLOEXEC);
                if (in < 0)
                        return negative_errno();
                size_t len = strlen(stdin_data), off = 0;
                while (off < len) {
                        ssize_t k = write(in, stdin_data + off, len - off);
                        if (k < 0)
                                return negative_errno();
                        off += (size_t) k;
                }
                if (lseek(in, 0, SEEK_SET) < 0)
                        return negative_errno();
        } else {
                in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        o.stdin_fd = in;
        return spawn_lines((char *const *) argv, &o, cb, userdata, ret_exit);
}

json_t *ctl_parse_object(const char *line) {
        if (line[0] != '{')
                return NULL;
        json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
        if (j && !json_is_object(j)) {
                json_decref(j);
                return NULL;
        }
        return j;
}

int ctl_spawn_logs(const char *instance, int lines, pid_t *ret_pid, int *ret_fd) {
        char nlines[16];
        snprintf(nlines, sizeof nlines, "%d", lines);
        const char *args[] = { "logs", instance, "--lines", nlines, "--follow", NULL };
        const char *argv[CTL_ARGV_MAX];
        int r = ctl_argv(argv, args);
        if (r < 0)
                return r;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        _cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        SpawnOptions o = ctl_options();
        o.stdin_fd = devnull;
        o.stdout_fd = p[1];
        o.stderr_fd = p[1];
        o.new_session = true;
        pid_t pid;
        r = spawn((char *const *) argv, &o, &pid);
        close(p[1]);
        if (r < 0) {
                close(p[0]);
                return r;
        }
        *ret_pid = pid;
        *ret_fd = p[0];
        return 0;
}

void ctl_kill(pid_t pid) {
        if (pid <= 0)
                return;
        (void) kill(-pid, SIGTERM);
        (void) kill(pid, SIGTERM);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
}
