#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "launch.h"
#include "launchguard.h"
#include "process.h"
#include "strutil.h"

int launch_guard_instance(const HostConfig *c, const char *name, launch_note_fn note, void *userdata, Error *err) {
        if (!name_is_valid(name))
                return error_set(err, -EINVAL, "'%s' is not a valid instance name", name);
        char rel[128];
        snprintf(rel, sizeof rel, "runtime/%s/upper", name);
        _cleanup_close_ int upper = path_open_beneath_dir(c->state_dir, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (upper == -ENOENT)
                return 0;
        if (upper < 0)
                return error_set(err, upper, "instance '%s': cannot open its upper layer: %s", name, strerror(-upper));
        int r = launch_guard(upper, note, userdata);
        if (r < 0)
                return error_set(err, r, "instance '%s': cannot clean its upper layer of launch files: %s", name,
                                 strerror(-r));
        return r;
}

int launch_load(const HostConfig *c, const char *name, char ***ret_argv, char **ret_cwd, Error *err) {
        if (!name_is_valid(name))
                return error_set(err, -EINVAL, "'%s' is not a valid instance name", name);
        char rel[128];
        snprintf(rel, sizeof rel, "instances/%s/launch.json", name);
        _cleanup_close_ int fd = path_open_beneath_dir(c->state_dir, rel, O_RDONLY, 0, PATH_NO_SYMLINKS);
        if (fd < 0)
                return error_set(err, fd, "instance '%s': cannot open %s/%s (start it with 'l4d2ctl start'): %s", name,
                                 c->state_dir, rel, strerror(-fd));
        json_error_t je;
        json_t *j = json_loadfd(fd, 0, &je);
        if (!j)
                return error_set(err, -EBADMSG, "instance '%s': %s is damaged: %s", name, rel, je.text);
        json_t *argv = json_object_get(j, "argv");
        const char *cwd = json_string_value(json_object_get(j, "cwd"));
        _cleanup_strv_ char **v = NULL;
        size_t n = 0;
        int r = 0;
        if (!json_is_array(argv) || json_array_size(argv) == 0 || !cwd)
                r = -EBADMSG;
        size_t i;
        json_t *e;
        json_array_foreach(argv, i, e) {
                if (r < 0)
                        break;
                const char *s = json_string_value(e);
                r = s ? strv_push_dup(&v, &n, s) : -EBADMSG;
        }
        char *d = r >= 0 ? strdup(cwd) : NULL;
        json_decref(j);
        if (r < 0 || !d)
                return error_set(err, r < 0 ? r : -ENOMEM, "instance '%s': %s is damaged", name, rel);
        *ret_argv = TAKE_PTR(v);
        *ret_cwd = d;
        return 0;
}

static volatile sig_atomic_t pending_signal;

static void on_signal(int sig) {
        pending_signal = sig;
}

static void print_note(const char *line, void *userdata) {
        printf("%s\n", line);
        fflush(stdout);
}

int launch_run(const HostConfig *c, const char *name, Error *err) {
        _cleanup_strv_ char **argv = NULL;
        _cleanup_free_ char *cwd = NULL;
        int r = launch_load(c, name, &argv, &cwd, err);
        if (r < 0)
                return r;
        /* The unit's ExecStartPre= has just mounted the overlay: what the
         * guard removes could still be cached there, so a removal means a
         * restart with a fresh mount (Restart=on-failure). */
        r = launch_guard_instance(c, name, print_note, NULL, err);
        if (r < 0)
                return r;
        if (r > 0)
                return error_set(err, -EAGAIN, "instance '%s': removed launch files the server had planted in its "
                                 "upper layer; restarting with a fresh mount", name);

        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);

        SpawnOptions o = SPAWN_OPTIONS_INIT;
        o.cwd = cwd;
        o.new_session = true;
        pid_t child;
        r = spawn(argv, &o, &child);
        if (r < 0)
                return error_set(err, r, "instance '%s': cannot run '%s': %s", name, argv[0], strerror(-r));

        int status = 0;
        for (;;) {
                if (pending_signal) {
                        /* The whole group: srcds_run is a shell script whose
                         * child is the real server. */
                        kill(-child, pending_signal);
                        pending_signal = 0;
                }
                int st;
                pid_t p = waitpid(-1, &st, 0);
                if (p < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p == child) {
                        status = st;
                        /* Leftovers of the group would keep the unit alive. */
                        kill(-child, SIGKILL);
                        while (waitpid(-1, NULL, WNOHANG) > 0)
                                ;
                        break;
                }
        }
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        /* Stopped on request: a clean exit for systemd. */
        return WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT ? 0 : 128 + WTERMSIG(status);
}
