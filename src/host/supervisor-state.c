/* See supervisor-state.h. */
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "strutil.h"
#include "supervisor-state.h"

uint64_t now_usec(clockid_t clk) {
        struct timespec ts;
        clock_gettime(clk, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

int runtime_open(const HostConfig *c, const char *name) {
        char rel[128];
        snprintf(rel, sizeof rel, "runtime/%s", name);
        return path_open_beneath_dir(c->state_dir, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
}

/* The start time of a process in clock ticks since boot (field 22 of
 * /proc/PID/stat), 0 if there is no such process. With the pid it names one
 * process for good: a recycled pid has another start time. */
uint64_t proc_starttime(pid_t pid) {
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

int lock_holder(int rtfd, pid_t *ret_pid) {
        /* O_NONBLOCK: whoever owns the runtime dir could have put a FIFO
         * there; opening it must not hang. */
        _cleanup_close_ int fd = openat(rtfd, "supervisor.lock", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        if (fcntl(fd, F_GETLK, &fl) < 0)
                return negative_errno();
        if (fl.l_type == F_UNLCK)
                return 0;
        if (ret_pid)
                *ret_pid = fl.l_pid > 0 ? fl.l_pid : 0;
        return 1;
}

int lock_held(int rtfd) {
        return lock_holder(rtfd, NULL);
}

int state_write(int rtfd, InstanceState s, pid_t pid, uint64_t started, unsigned restarts, const char *detail,
                const char *containment) {
        json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:s}", "state", instance_state_to_string(s), "pid",
                              (json_int_t) pid, "pid_starttime", (json_int_t) (pid > 0 ? proc_starttime(pid) : 0),
                              "started_usec", (json_int_t) started, "restarts", (json_int_t) restarts, "detail",
                              detail ? detail : "", "containment", containment ? containment : "");
        _cleanup_free_ char *text = j ? json_dumps(j, 0) : NULL;
        json_decref(j);
        if (!text)
                return -ENOMEM;
        return write_file_atomic_flags(rtfd, "state.json", text, strlen(text), 0644, WRITE_NO_SYNC);
}

int state_read(int rtfd, BackendStatus *st, uint64_t *ret_starttime) {
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
                    : s && streq(s, "unresponsive") ? STATE_UNRESPONSIVE
                                                : STATE_STOPPED;
        st->pid = (pid_t) json_integer_value(json_object_get(j, "pid"));
        st->started_usec = (uint64_t) json_integer_value(json_object_get(j, "started_usec"));
        st->restarts = (unsigned) json_integer_value(json_object_get(j, "restarts"));
        if (ret_starttime)
                *ret_starttime = (uint64_t) json_integer_value(json_object_get(j, "pid_starttime"));
        snprintf(st->detail, sizeof st->detail, "%s", json_string_value(json_object_get(j, "detail")) ?: "");
        snprintf(st->containment, sizeof st->containment, "%s",
                 json_string_value(json_object_get(j, "containment")) ?: "");
        json_decref(j);
        return 1;
}

int write_all(int fd, const void *data, size_t n) {
        const char *p = data;
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
