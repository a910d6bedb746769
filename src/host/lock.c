#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "instance.h"
#include "lock.h"
#include "macro.h"

static int lock_open(const HostConfig *c, const char *lockname, int *ret_fd, Error *err) {
        int r = state_dirs_ensure(c, err);
        if (r < 0)
                return r;
        char path[4096];
        if ((size_t) snprintf(path, sizeof path, "%s/locks/%s.lock", c->state_dir, lockname) >= sizeof path)
                return error_set(err, -ENAMETOOLONG, "lock name '%s' is too long", lockname);
        int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return error_set(err, negative_errno(), "cannot open lock '%s': %m", path);
        *ret_fd = fd;
        return 0;
}

int host_lock(const HostConfig *c, const char *lockname, int mode, int wait_ms, const char *what, int *ret_fd,
              Error *err) {
        _cleanup_close_ int fd = -1;
        int r = lock_open(c, lockname, &fd, err);
        if (r < 0)
                return r;
        for (int i = 0; i <= wait_ms / 50; i++) {
                if (flock(fd, mode | LOCK_NB) == 0) {
                        *ret_fd = TAKE_FD(fd);
                        return 0;
                }
                if (errno != EWOULDBLOCK)
                        return error_set(err, negative_errno(), "cannot lock '%s': %m", lockname);
                if (i < wait_ms / 50)
                        usleep(50 * 1000);
        }
        if (wait_ms > 0)
                return error_set(err, -EBUSY, "%s is busy: another l4d2ctl has been working on it for %d s", what,
                                 wait_ms / 1000);
        return error_set(err, -EBUSY, "%s is busy: another l4d2ctl is working on it", what);
}

bool host_lock_is_held(const HostConfig *c, const char *lockname) {
        _cleanup_close_ int fd = -1;
        if (lock_open(c, lockname, &fd, NULL) < 0)
                return false;
        /* A shared lock fails only against an exclusive holder. */
        return flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}
