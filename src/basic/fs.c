#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs.h"
#include "macro.h"
#include "random.h"

/* The same confinement without openat2: one component at a time with
 * O_NOFOLLOW. It fails closed: every symlink is refused (openat2 would allow
 * one that stays beneath), and so is "..". */
int path_open_beneath_walk(int anchor_fd, const char *relpath, int open_flags, mode_t mode, unsigned flags) {
        _cleanup_free_ char *copy = strdup(relpath);
        if (!copy)
                return -ENOMEM;
        char *parts[256];
        size_t n = 0;
        char *save = NULL;
        for (char *p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
                if (streq(p, "."))
                        continue;
                if (streq(p, ".."))
                        return -EXDEV;
                if (n == ELEMENTSOF(parts))
                        return -ENAMETOOLONG;
                parts[n++] = p;
        }
        if (n == 0) {
                int fd = openat(anchor_fd, ".", open_flags | O_CLOEXEC, mode);
                return fd < 0 ? negative_errno() : fd;
        }
        struct stat anchor_st;
        if (fstat(anchor_fd, &anchor_st) < 0)
                return negative_errno();
        _cleanup_close_ int cur = fcntl(anchor_fd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return negative_errno();
        for (size_t i = 0; i < n; i++) {
                bool last = i == n - 1;
                int fd = last ? openat(cur, parts[i], open_flags | O_NOFOLLOW | O_CLOEXEC, mode)
                              : openat(cur, parts[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                struct stat st;
                if (fd < 0) {
                        int r = negative_errno();
                        if ((r == -ENOTDIR || r == -ELOOP) && fstatat(cur, parts[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                            S_ISLNK(st.st_mode))
                                return -ELOOP;
                        return r;
                }
                /* O_PATH | O_NOFOLLOW opens a symlink itself: refuse it. */
                int bad = fstat(fd, &st) < 0                                        ? negative_errno()
                          : S_ISLNK(st.st_mode)                                     ? -ELOOP
                          : (flags & PATH_NO_XDEV) && st.st_dev != anchor_st.st_dev ? -EXDEV
                                                                                    : 0;
                if (bad < 0) {
                        close(fd);
                        return bad;
                }
                close(cur);
                cur = fd;
        }
        return TAKE_FD(cur);
}

int path_open_beneath(int anchor_fd, const char *relpath, int open_flags, mode_t mode, unsigned flags) {
        struct open_how how = {
                .flags = (unsigned long long) (open_flags | O_CLOEXEC),
                .mode = (open_flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        if (!relpath || relpath[0] == '/')
                return -EXDEV;
        if (relpath[0] == '\0')
                relpath = ".";
        if (flags & PATH_NO_SYMLINKS)
                how.resolve |= RESOLVE_NO_SYMLINKS;
        if (flags & PATH_NO_XDEV)
                how.resolve |= RESOLVE_NO_XDEV;
        /* EAGAIN: a rename raced the lookup; retry a bounded number of times. */
        long fd;
        int tries = 0;
        do
                fd = syscall(SYS_openat2, anchor_fd, relpath, &how, sizeof how);
        while (fd < 0 && errno == EAGAIN && ++tries < 32);
        if (fd < 0 && errno == ENOSYS)
                /* A seccomp filter that cannot inspect openat2's struct
                 * (systemd's RestrictSUIDSGID=) fails it with ENOSYS. */
                return path_open_beneath_walk(anchor_fd, relpath, open_flags, mode, flags);
        if (fd < 0)
                return negative_errno();
        return (int) fd;
}

int path_open_beneath_dir(const char *anchor, const char *relpath, int open_flags, mode_t mode, unsigned flags) {
        _cleanup_close_ int afd = open(anchor, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (afd < 0)
                return negative_errno();
        return path_open_beneath(afd, relpath, open_flags, mode, flags);
}

/* ---- paths that users name ---- */

static bool utf8_valid(const unsigned char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                unsigned char c = s[i];
                size_t k;
                uint32_t cp;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0)
                        k = 1, cp = c & 0x1f;
                else if ((c & 0xf0) == 0xe0)
                        k = 2, cp = c & 0x0f;
                else if ((c & 0xf8) == 0xf0)
                        k = 3, cp = c & 0x07;
                else
                        return false;
                if (i + k >= n)
                        return false;
                for (size_t j = 1; j <= k; j++) {
                        if ((s[i + j] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + j] & 0x3f);
                }
                /* No overlong forms, no surrogates, nothing past U+10FFFF. */
                static const uint32_t min[] = { 0, 0x80, 0x800, 0x10000 };
                if (cp < min[k] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                i += k + 1;
        }
        return true;
}

static bool is_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* NULL if the component s[0..n) is a name a user may give, else why not. */
static const char *user_name_why(const char *s, size_t n) {
        if (n == 0)
                return "a name is empty (two '/' in a row)";
        bool dots_spaces = true;
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char) s[i];
                if (ch == '\0')
                        return "a name holds a NUL byte";
                if (ch < 0x20 || ch == 0x7f)
                        return "a name holds a control character";
                if (ch == '\\')
                        return "a name holds a backslash: use '/' between folders";
                /* %2e, and IIS's %u002e */
                if (ch == '%' && ((i + 2 < n && is_hex(s[i + 1]) && is_hex(s[i + 2])) ||
                                  (i + 5 < n && (s[i + 1] == 'u' || s[i + 1] == 'U') && is_hex(s[i + 2]) &&
                                   is_hex(s[i + 3]) && is_hex(s[i + 4]) && is_hex(s[i + 5]))))
                        return "a name holds a URL escape such as %2e: decode the path once";
                if (ch != '.' && ch != ' ')
                        dots_spaces = false;
        }
        if (dots_spaces)
                return (n == 1 || n == 2) && s[0] == '.' && s[n - 1] == '.' ? "'.' and '..' are not allowed: paths stay inside"
                                                                           : "a name made only of dots and spaces is not allowed";
        if (!utf8_valid((const unsigned char *) s, n))
                return "a name is not valid UTF-8";
        return NULL;
}

static const char *open_why(int r) {
        switch (r) {
        case -ELOOP:
                return "a folder on the way is a symlink";
        case -EXDEV:
                return "a folder on the way is another mount";
        case -ENOENT:
                return "a folder on the way does not exist";
        case -ENOTDIR:
                return "a part of the path is a file, not a folder";
        default:
                return "a folder on the way cannot be opened";
        }
}

static const char *type_why(mode_t m) {
        return S_ISLNK(m)                 ? "it is a symlink: only files and folders are allowed"
               : S_ISFIFO(m)              ? "it is a FIFO: only files and folders are allowed"
               : S_ISSOCK(m)              ? "it is a socket: only files and folders are allowed"
               : S_ISCHR(m) || S_ISBLK(m) ? "it is a device: only files and folders are allowed"
                                          : NULL;
}

/* Opens (creating if missing) each folder of rel[0..n) beneath anchor. */
static int open_parents(int anchor, char *rel, size_t n, bool make, const char **why) {
        rel[n] = '\0';
        if (!make) {
                int fd = path_open_beneath(anchor, rel, O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS | PATH_NO_XDEV);
                if (fd < 0)
                        *why = open_why(fd);
                return fd;
        }
        _cleanup_close_ int cur = fcntl(anchor, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return negative_errno();
        char *save = NULL;
        for (char *part = strtok_r(rel, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
                int fd = path_open_beneath(cur, part, O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS | PATH_NO_XDEV);
                if (fd == -ENOENT) {
                        if (mkdirat(cur, part, 0755) < 0 && errno != EEXIST) {
                                *why = "a folder on the way cannot be created";
                                return negative_errno();
                        }
                        /* A new folder: its mode is ours to set (umask aside). */
                        fd = path_open_beneath(cur, part, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS | PATH_NO_XDEV);
                        if (fd >= 0)
                                (void) fchmod(fd, 0755);
                }
                if (fd < 0) {
                        *why = open_why(fd);
                        return fd;
                }
                close(cur);
                cur = fd;
        }
        return TAKE_FD(cur);
}

int path_resolve_user(int anchor_fd, const char *path, size_t len, unsigned flags, UserPath *ret, const char **ret_why) {
        const char *ignored;
        const char **why = ret_why ? ret_why : &ignored;
        *why = NULL;
        if (!path) {
                *why = "no path given";
                return -EINVAL;
        }
        if (len > 0 && path[0] == '/') {
                *why = "absolute paths are not allowed: name it relative to the top folder";
                return -EINVAL;
        }
        if (len >= PATH_MAX) {
                *why = "the path is longer than 4095 bytes";
                return -ENAMETOOLONG;
        }
        if (len > 1 && path[len - 1] == '/')
                len--; /* "cfg/" is the folder cfg */
        UserPath p = USER_PATH_INIT;
        memcpy(p.path, path, len);
        p.path[len] = '\0';
        struct stat anchor_st;
        if (fstat(anchor_fd, &anchor_st) < 0)
                return negative_errno();

        if (len == 0) {
                if (!(flags & USER_PATH_ROOT_OK)) {
                        *why = "an empty path is not allowed here";
                        return -EINVAL;
                }
                p.dirfd = fcntl(anchor_fd, F_DUPFD_CLOEXEC, 3);
                if (p.dirfd < 0)
                        return negative_errno();
                strcpy(p.name, ".");
                p.exists = true;
                p.st = anchor_st;
                *ret = p;
                return 0;
        }
        size_t last = 0;
        for (size_t i = 0, start = 0; i <= len; i++)
                if (i == len || p.path[i] == '/') {
                        if (i - start > NAME_MAX) {
                                *why = "a name is longer than 255 bytes";
                                return -ENAMETOOLONG;
                        }
                        const char *w = user_name_why(p.path + start, i - start);
                        if (w) {
                                *why = w;
                                return -EINVAL;
                        }
                        last = start;
                        start = i + 1;
                }
        memcpy(p.name, p.path + last, len - last + 1);

        char parent[PATH_MAX];
        memcpy(parent, p.path, last);
        if (last == 0)
                p.dirfd = fcntl(anchor_fd, F_DUPFD_CLOEXEC, 3);
        else
                p.dirfd = open_parents(anchor_fd, parent, last - 1, flags & USER_PATH_MAKE_PARENTS, why);
        if (p.dirfd < 0)
                return p.dirfd;
        if (fstatat(p.dirfd, p.name, &p.st, AT_SYMLINK_NOFOLLOW) == 0) {
                p.exists = true;
                const char *w = type_why(p.st.st_mode);
                int r = w ? -EPERM : p.st.st_dev != anchor_st.st_dev ? -EXDEV : 0;
                if (r < 0) {
                        *why = w ? w : "it is another mount";
                        close(p.dirfd);
                        return r;
                }
        } else if (errno != ENOENT) {
                int r = negative_errno();
                *why = "it cannot be read";
                close(p.dirfd);
                return r;
        }
        *ret = p;
        return 0;
}

void user_path_done(UserPath *p) {
        if (p && p->dirfd >= 0) {
                close(p->dirfd);
                p->dirfd = -1;
        }
}

int mkdir_p_at(int dirfd, const char *relpath, mode_t mode) {
        _cleanup_free_ char *copy = strdup(relpath);
        if (!copy)
                return -ENOMEM;
        _cleanup_close_ int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return negative_errno();
        char *save = NULL;
        for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
                if (streq(part, "."))
                        continue;
                if (streq(part, ".."))
                        return -EXDEV;
                if (mkdirat(cur, part, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                int next = openat(cur, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return errno == ENOTDIR || errno == ELOOP ? -ENOTDIR : negative_errno();
                close(cur);
                cur = next;
        }
        return 0;
}

int mkdir_p(const char *path, mode_t mode) {
        if (path[0] != '/')
                return mkdir_p_at(AT_FDCWD, path, mode);
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return negative_errno();
        return mkdir_p_at(root, path + 1, mode);
}

int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode) {
        return write_file_atomic_flags(dirfd, name, data, len, mode, 0);
}

int write_file_atomic_flags(int dirfd, const char *name, const void *data, size_t len, mode_t mode, unsigned flags) {
        char tmp[PATH_MAX];
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        if (strlen(name) > PATH_MAX - 64 || strlen(base) > 200)
                return -ENAMETOOLONG;
        /* The temporary file lives in the same directory as the target so
         * that rename(2) is atomic; a dot name keeps it out of listings. */
        char hex[17];
        random_hex(hex, sizeof hex);
        snprintf(tmp, sizeof tmp, "%.*s.%s.%s.tmp", (int) (base - name), name, base, hex);

        _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return negative_errno();
        const char *p = data;
        size_t left = len;
        while (left > 0) {
                ssize_t n = write(fd, p, left);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = negative_errno();
                        unlinkat(dirfd, tmp, 0);
                        return r;
                }
                p += n;
                left -= (size_t) n;
        }
        bool sync = !(flags & WRITE_NO_SYNC);
        if (fchmod(fd, mode) < 0 || (sync && fsync(fd) < 0) || renameat(dirfd, tmp, dirfd, name) < 0) {
                int r = negative_errno();
                unlinkat(dirfd, tmp, 0);
                return r;
        }
        if (!sync)
                return 0;
        /* Make the rename itself durable. */
        _cleanup_close_ int dfd = -1;
        if (base != name) {
                char dir[PATH_MAX];
                snprintf(dir, sizeof dir, "%.*s", (int) (base - name), name);
                dfd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } else
                dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode) {
        return write_file_atomic_at(AT_FDCWD, path, data, len, mode);
}

int read_file_at(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        return read_fd(fd, max, ret, ret_len);
}

int read_fd(int fd, size_t max, char **ret, size_t *ret_len) {
        size_t cap = max < 4096 ? max : 4096, len = 0;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == cap) {
                        if (cap >= max) {
                                /* Full: only fine if the file ends here. */
                                char probe;
                                ssize_t k;
                                do
                                        k = read(fd, &probe, 1);
                                while (k < 0 && errno == EINTR);
                                if (k < 0)
                                        return negative_errno();
                                if (k > 0)
                                        return -EFBIG;
                                break;
                        }
                        size_t ncap = cap * 2 > max ? max : cap * 2;
                        char *nbuf = realloc(buf, ncap + 1);
                        if (!nbuf)
                                return -ENOMEM;
                        buf = nbuf;
                        cap = ncap;
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        return read_file_at(AT_FDCWD, path, max, ret, ret_len);
}

/* Which mount name (beneath dirfd; "" with AT_EMPTY_PATH: dirfd itself) is
 * on, and its mode. The mount id tells apart what st_dev cannot: a bind
 * mount of a directory from the same filesystem has the same st_dev but a
 * mount of its own. A kernel without STATX_MNT_ID (before 5.8) gives the
 * device instead, tagged so that it never equals a mount id. */
static int stat_mount(int dirfd, const char *name, int flags, mode_t *ret_mode, uint64_t *ret_mnt,
                      bool *ret_mount_root) {
        struct statx stx;
        if (statx(dirfd, name, flags | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE | STATX_MNT_ID, &stx) < 0)
                return negative_errno();
        *ret_mode = stx.stx_mode;
        *ret_mnt = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id
                                                 : (UINT64_C(1) << 63) | makedev(stx.stx_dev_major, stx.stx_dev_minor);
        if (ret_mount_root)
                *ret_mount_root = (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                                  (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
        return 0;
}

/* A tree deeper than this (a hostile game server can build one in its upper
 * layer) is not followed further down: the directory found at this depth is
 * moved up to the top of the removal and removed in a later pass. That keeps
 * the number of open directories bounded while every tree still goes. */
#define RM_RF_MAX_DEPTH 64

static int rm_rf_children(int fd, uint64_t mnt, int top, unsigned depth, unsigned *deferred) {
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                mode_t mode;
                uint64_t m;
                int q = stat_mount(dirfd(d), de->d_name, 0, &mode, &m, NULL);
                if (q < 0) {
                        if (q != -ENOENT && r == 0)
                                r = q;
                        continue;
                }
                if (m != mnt) {
                        /* Something is mounted here (another filesystem, or
                         * a bind mount of this one): never delete through
                         * it. */
                        if (r == 0)
                                r = -EBUSY;
                        continue;
                }
                if (S_ISDIR(mode)) {
                        if (depth >= RM_RF_MAX_DEPTH) {
                                char moved[64], hex[17];
                                random_hex(hex, sizeof hex);
                                snprintf(moved, sizeof moved, ".rm-deep-%s", hex);
                                if (renameat(dirfd(d), de->d_name, top, moved) == 0)
                                        (*deferred)++;
                                else if (r == 0)
                                        r = negative_errno();
                                continue;
                        }
                        int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd < 0) {
                                if (r == 0)
                                        r = negative_errno();
                                continue;
                        }
                        q = rm_rf_children(cfd, mnt, top, depth + 1, deferred);
                        if (q < 0 && r == 0)
                                r = q;
                        if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                                r = negative_errno();
                } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && r == 0)
                        r = negative_errno();
        }
        closedir(d);
        return r;
}

int rm_rf_at(int dirfd, const char *name) {
        mode_t mode;
        uint64_t mnt;
        bool mount_root;
        int r = stat_mount(dirfd, name, 0, &mode, &mnt, &mount_root);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        if (!S_ISDIR(mode))
                return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? negative_errno() : 0;
        /* A mount point itself: its content belongs to what is mounted. */
        if (mount_root)
                return -EBUSY;
        _cleanup_close_ int top = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0)
                return negative_errno();
        /* What was opened is what is walked: its mount, not the name's. */
        if ((r = stat_mount(top, "", AT_EMPTY_PATH, &mode, &mnt, &mount_root)) < 0)
                return r;
        if (mount_root)
                return -EBUSY;
        unsigned deferred;
        do {
                deferred = 0;
                int fd = fcntl(top, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return negative_errno();
                /* rm_rf_children reads from the fd's offset: start over. */
                lseek(fd, 0, SEEK_SET);
                r = rm_rf_children(fd, mnt, top, 0, &deferred);
                if (r < 0)
                        return r;
        } while (deferred > 0);
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

int rm_rf(const char *path) {
        return rm_rf_at(AT_FDCWD, path);
}

bool fd_is_mount_point(int fd) {
        struct statx stx;
        if (statx(fd, "", AT_EMPTY_PATH | AT_NO_AUTOMOUNT, STATX_TYPE, &stx) < 0)
                return false;
        return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

uint64_t mount_unique_id(const char *path) {
        struct statx stx;
        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE | STATX_MNT_ID_UNIQUE, &stx) < 0)
                return 0;
        if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) || !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
                return 0;
        return (stx.stx_mask & STATX_MNT_ID_UNIQUE) ? stx.stx_mnt_id : 0;
}

bool path_is_mount_point(const char *path) {
        /* The kernel knows (statx, Linux >= 5.8); a symlink is never one. */
        struct statx stx;
        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &stx) < 0)
                return false;
        return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static int du_walk(int fd, uint64_t mnt, unsigned long long *sum) {
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return negative_errno();
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat st;
                mode_t mode;
                uint64_t m;
                if (stat_mount(dirfd(d), de->d_name, 0, &mode, &m, NULL) < 0 || m != mnt ||
                    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                *sum += (unsigned long long) st.st_blocks * 512ULL;
                if (S_ISDIR(st.st_mode)) {
                        int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd >= 0)
                                du_walk(cfd, mnt, sum);
                }
        }
        closedir(d);
        return 0;
}

int disk_usage(const char *path, unsigned long long *ret_bytes) {
        /* O_NOFOLLOW with O_PATH: a symlink is measured as itself. */
        _cleanup_close_ int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return disk_usage_fd(fd, ret_bytes);
}

int disk_usage_fd(int dir_fd, unsigned long long *ret_bytes) {
        struct stat st;
        if (fstat(dir_fd, &st) < 0)
                return negative_errno();
        unsigned long long sum = (unsigned long long) st.st_blocks * 512ULL;
        if (S_ISDIR(st.st_mode)) {
                /* du_walk owns (and closes) the fd it is given. */
                int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
                mode_t mode;
                uint64_t mnt;
                int r = stat_mount(fd, "", AT_EMPTY_PATH, &mode, &mnt, NULL);
                if (r < 0) {
                        close(fd);
                        return r;
                }
                r = du_walk(fd, mnt, &sum);
                if (r < 0)
                        return r;
        }
        *ret_bytes = sum;
        return 0;
}
