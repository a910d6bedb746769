/* See idmap.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "idmap.h"
#include "macro.h"
#include "strutil.h"

#define DYNAMIC_UID_DIR "/run/systemd/dynamic-uid"

static bool user_name_valid(const char *s) {
        /* What systemd accepts for DynamicUser= names: [A-Za-z_][A-Za-z0-9_-]*,
         * at most 31 characters. No '/', so it is safe in a path. */
        size_t n = strlen(s);
        if (n < 1 || n > 31)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
                if (!alpha && (i == 0 || !((c >= '0' && c <= '9') || c == '-')))
                        return false;
        }
        return true;
}

int dynamic_user_uid(const char *name, uid_t *ret) {
        if (!user_name_valid(name))
                return -EINVAL;
        char path[PATH_MAX], target[32];
        snprintf(path, sizeof path, DYNAMIC_UID_DIR "/direct:%s", name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        target[n] = '\0';
        long uid;
        if (parse_long(target, DYNAMIC_UID_MIN, DYNAMIC_UID_MAX, &uid) < 0)
                return -ESRCH;
        /* The lock file systemd keeps for an allocated uid, and the reverse
         * link, must both be there: a stale or planted link is not enough
         * (the directory is root's, but be strict anyway). */
        struct stat st;
        snprintf(path, sizeof path, DYNAMIC_UID_DIR "/%ld", uid);
        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0)
                return -ESRCH;
        snprintf(path, sizeof path, DYNAMIC_UID_DIR "/direct:%ld", uid);
        n = readlink(path, target, sizeof target - 1);
        if (n < 0)
                return -ESRCH;
        target[n] = '\0';
        if (!streq(target, name))
                return -ESRCH;
        *ret = (uid_t) uid;
        return 0;
}

static int write_map(pid_t pid, const char *file, const char *map) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, file);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        size_t len = strlen(map);
        ssize_t n = write(fd, map, len);
        if (n < 0)
                return negative_errno();
        return (size_t) n == len ? 0 : -EIO;
}

int idmap_userns(uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid) {
        /* Root maps to itself, so the two lines must not collide. */
        if (from_uid == 0 || to_uid == 0 || from_gid == 0 || to_gid == 0 || from_uid == to_uid)
                return -EINVAL;
        /* A child unshares a user namespace and stops; we write its maps
         * (being root outside it) and keep a reference to the namespace. */
        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                if (unshare(CLONE_NEWUSER) < 0)
                        _exit(1);
                raise(SIGSTOP);
                _exit(0);
        }
        int status, r = 0;
        if (waitpid(pid, &status, WUNTRACED) < 0)
                r = negative_errno();
        else if (!WIFSTOPPED(status))
                r = -EPERM; /* unshare(CLONE_NEWUSER) failed (user.max_user_namespaces?) */
        char map[96];
        if (r >= 0) {
                snprintf(map, sizeof map, "0 0 1\n%u %u 1\n", (unsigned) from_uid, (unsigned) to_uid);
                r = write_map(pid, "uid_map", map);
        }
        if (r >= 0) {
                snprintf(map, sizeof map, "0 0 1\n%u %u 1\n", (unsigned) from_gid, (unsigned) to_gid);
                r = write_map(pid, "gid_map", map);
        }
        int fd = -1;
        if (r >= 0) {
                char path[64];
                snprintf(path, sizeof path, "/proc/%d/ns/user", (int) pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        r = negative_errno();
        }
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        return r < 0 ? r : fd;
}

int idmap_clone(int dir_fd, int userns_fd) {
        int fd = open_tree(dir_fd, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t) userns_fd };
        if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        return fd;
}
