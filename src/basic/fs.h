/* File operations. Every path that comes from a user or from state on disk is
 * opened through path_open_beneath(), which refuses anything that would leave
 * the anchor directory (.., absolute paths, symlinks out, magic links). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Flags for path_open_beneath(). */
enum {
        PATH_NO_SYMLINKS = 1 << 0, /* refuse every symlink, not only those escaping */
        PATH_NO_XDEV = 1 << 1,     /* refuse crossing a mount point */
};

/* Opens relpath (relative, no leading '/') beneath the directory anchor_fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS). open_flags as for open(2);
 * O_CLOEXEC is always added. Returns an fd, or -errno (-EXDEV for an escape). */
int path_open_beneath(int anchor_fd, const char *relpath, int open_flags, mode_t mode, unsigned flags);

/* What path_open_beneath falls back to when openat2 fails with ENOSYS (a
 * seccomp filter such as systemd's RestrictSUIDSGID=): a component-by-
 * component walk with O_NOFOLLOW that refuses every symlink. Exposed for
 * the unit tests. */
int path_open_beneath_walk(int anchor_fd, const char *relpath, int open_flags, mode_t mode, unsigned flags);

/* Same, anchored at an absolute directory path. */
int path_open_beneath_dir(const char *anchor, const char *relpath, int open_flags, mode_t mode, unsigned flags);

/* ---- paths that users name (a files overlay's working tree) ----
 *
 * The one function every file verb resolves a user's path with. The path
 * is bytes (argv, a form field, JSON), checked as a whole before anything
 * is opened: relative, at most PATH_MAX - 1 bytes, components of at most
 * NAME_MAX bytes separated by single '/' (one trailing '/' is allowed), each
 * valid UTF-8 with no NUL, control character or backslash, not made only of
 * dots and spaces ("..", ".", "...", " "), and no URL escape ("%2e",
 * "%00": a name still encoded was decoded the wrong number of times). Then
 * the parent folder is opened beneath the anchor with openat2(RESOLVE_BENEATH
 * | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV), so no
 * symlink is followed and no mount crossed, and the last component is
 * lstat'ed: anything but a regular file or a folder (a symlink, FIFO,
 * socket or device) is refused. Callers then act on (dirfd, name) with *at
 * calls that do not follow symlinks either. */
enum {
        USER_PATH_ROOT_OK = 1 << 0,      /* "" names the anchor itself (name ".") */
        USER_PATH_MAKE_PARENTS = 1 << 1, /* create missing parent folders (0755) */
};

typedef struct UserPath {
        int dirfd;              /* the parent folder (O_PATH); the caller closes it */
        char name[NAME_MAX + 1]; /* the last component; "." for the anchor itself */
        char path[PATH_MAX];    /* the path normalized (no trailing '/'); "" for the anchor */
        bool exists;
        struct stat st;         /* lstat of it when it exists */
} UserPath;

#define USER_PATH_INIT { .dirfd = -1 }

/* Resolves path (len bytes, which may hold a NUL: refused) beneath
 * anchor_fd. Returns 0 and fills *ret, or -errno and a static reason in
 * *ret_why: -EINVAL (a rule above), -ENAMETOOLONG, -ENOENT or -ENOTDIR (a
 * parent folder is missing or a file), -ELOOP (through a symlink), -EXDEV
 * (out of the anchor or across a mount), -EPERM (not a file or folder). */
int path_resolve_user(int anchor_fd, const char *path, size_t len, unsigned flags, UserPath *ret, const char **ret_why);
void user_path_done(UserPath *p);

/* Creates every missing directory of relpath beneath dirfd (like mkdir -p),
 * never following symlinks. Returns 0 or -errno. */
int mkdir_p_at(int dirfd, const char *relpath, mode_t mode);

/* mkdir -p for an absolute path (used for the program's own state dirs). */
int mkdir_p(const char *path, mode_t mode);

/* Writes data to name in dirfd atomically: a temporary file in the same
 * directory, fsync, rename over name, fsync of the directory. A crash leaves
 * either the old or the new content, never a mix. */
int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode);
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* WRITE_NO_SYNC: still atomic (readers see old or new), but not fsync'ed:
 * for files that are regenerated anyway (runtime state), where a crash may
 * lose the latest version but never leaves a torn one. */
enum { WRITE_NO_SYNC = 1 << 0 };
int write_file_atomic_flags(int dirfd, const char *name, const void *data, size_t len, mode_t mode, unsigned flags);

/* Reads a whole file (up to max bytes; -EFBIG past that) into a NUL-terminated
 * buffer the caller frees. */
int read_file_at(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len);
int read_file(const char *path, size_t max, char **ret, size_t *ret_len);
int read_fd(int fd, size_t max, char **ret, size_t *ret_len);

/* Removes name in dirfd and everything below it. Never follows symlinks and
 * never descends into another mount (returns -EBUSY instead). A missing name
 * is success. */
int rm_rf_at(int dirfd, const char *name);
int rm_rf(const char *path);

/* True if path (not following a final symlink) is the root of a mount. */
bool path_is_mount_point(const char *path);
bool fd_is_mount_point(int fd);
/* The unique id of the mount whose root is path (STATX_MNT_ID_UNIQUE: never
 * reused, Linux >= 6.8), or 0 (not a mount point, or an older kernel). What
 * a start records of its mount is valid while this stays the same. */
uint64_t mount_unique_id(const char *path);

/* Disk usage in bytes of everything below path (st_blocks, hard links counted
 * once per walk), without crossing mounts. */
int disk_usage(const char *path, unsigned long long *ret_bytes);
/* The same for a directory already open (any fd of it, O_PATH included). */
int disk_usage_fd(int dir_fd, unsigned long long *ret_bytes);
