/* `l4d2ctl overlay put`: a file from a stream, put in place only when it is
 * whole (see overlay-files.h). The stream goes to an unnamed file in
 * overlay-store/uploads (O_TMPFILE, same filesystem as the working tree),
 * counted against the limits as it comes, made durable, then linked beside
 * its target under a dot name and renamed over it: if l4d2ctl dies the
 * kernel drops the unnamed file, and readers see the old file or the new. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "overlay-files.h"
#include "random.h"

#define COPY_BUF (128 * 1024)
/* Writeback of an upload starts every this many bytes, so the final
 * fdatasync has little left to wait for. */
#define WRITEBACK_STEP (8 * 1024 * 1024)

static int resolve_parents(const char *name, int work, const char *path, UserPath *ret, Error *err) {
        const char *why = NULL;
        int r = path_resolve_user(work, path, strlen(path), USER_PATH_MAKE_PARENTS, ret, &why);
        return r < 0 ? overlay_files_path_error(name, path, r, why, err) : 0;
}

/* An unnamed file in overlay-store/uploads (same filesystem as the working
 * tree): if we die, the kernel drops it. Without O_TMPFILE support, a named
 * one that the caller unlinks (*ret_named). */
static int upload_file(const HostConfig *c, int *ret_dir, char *named, size_t size, Error *err) {
        _cleanup_close_ int dir = overlay_store_open(c, "uploads", err);
        if (dir < 0)
                return dir;
        named[0] = '\0';
        int fd = openat(dir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
                char hex[17];
                random_hex(hex, sizeof hex);
                snprintf(named, size, "upload-%s.tmp", hex);
                fd = openat(dir, named, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        }
        if (fd < 0)
                return error_set(err, negative_errno(), "cannot create an upload file in '%s/overlay-store/uploads': %m",
                                 c->state_dir);
        *ret_dir = TAKE_FD(dir);
        return fd;
}

/* Streams in_fd into fd; more than max bytes is -EFBIG. */
static int receive(int in_fd, int fd, uint64_t max, uint64_t *ret_n) {
        _cleanup_free_ char *buf = malloc(COPY_BUF);
        if (!buf)
                return -ENOMEM;
        uint64_t n = 0, synced = 0;
        for (;;) {
                ssize_t k = read(in_fd, buf, COPY_BUF);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                n += (uint64_t) k;
                *ret_n = n;
                if (n > max)
                        return -EFBIG;
                int r = overlay_files_write_all(fd, buf, (size_t) k);
                if (r < 0)
                        return r;
                if (n - synced >= WRITEBACK_STEP) {
                        (void) sync_file_range(fd, (off_t) synced, (off_t) (n - synced), SYNC_FILE_RANGE_WRITE);
                        synced = n;
                }
        }
        *ret_n = n;
        return 0;
}

static int too_big(const char *name, const char *path, uint64_t n, const FilesLimits *l, uint64_t used, Error *err) {
        char a[32], b[32];
        if (l->file_max && n > l->file_max) {
                overlay_files_format_size(a, sizeof a, l->file_max);
                return error_set(err, -EFBIG, "overlay '%s': '%s' is larger than the limit of %s a file "
                                 "(LEFT4ME_FILES_MAX_FILE_SIZE); nothing was written", name, path, a);
        }
        overlay_files_format_size(a, sizeof a, l->overlay_max);
        overlay_files_format_size(b, sizeof b, used);
        return error_set(err, -EDQUOT, "overlay '%s': '%s' does not fit: the overlay holds %s of its limit of %s "
                         "(LEFT4ME_FILES_MAX_OVERLAY_SIZE); nothing was written", name, path, b, a);
}

/* Links the upload into (dirfd, name) over what is there: a temporary name
 * first, then a rename, so readers see the old file or the new one. */
static int link_into_place(int fd, int upload_dir, const char *named, int dirfd, const char *name) {
        char tmp[64], hex[17];
        random_hex(hex, sizeof hex);
        snprintf(tmp, sizeof tmp, ".l4d2ctl-put-%s", hex);
        int r;
        if (named[0])
                r = linkat(upload_dir, named, dirfd, tmp, 0);
        else {
                /* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc's link does not. */
                r = linkat(fd, "", dirfd, tmp, AT_EMPTY_PATH);
                if (r < 0 && (errno == ENOENT || errno == EPERM)) {
                        char proc[64];
                        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
                        r = linkat(AT_FDCWD, proc, dirfd, tmp, AT_SYMLINK_FOLLOW);
                }
        }
        if (r < 0)
                return negative_errno();
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
                r = negative_errno();
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        return 0;
}

/* Bytes a file replacing one of `replaced` bytes may have. */
static uint64_t room_for(const FilesLimits *l, uint64_t used, uint64_t replaced) {
        if (!l->overlay_max)
                return UINT64_MAX;
        uint64_t base = used > replaced ? used - replaced : 0;
        return l->overlay_max > base ? l->overlay_max - base : 0;
}

int overlay_files_put(const HostConfig *c, const char *name, const char *path, int in_fd, int64_t expected_size,
                      uint64_t *ret_size, Error *err) {
        _cleanup_close_ int work = overlay_files_open_work(c, name, err);
        if (work < 0)
                return work;
        FilesLimits lim;
        int r = overlay_files_limits(c, &lim, err);
        if (r < 0)
                return r;

        /* Refuse a bad path, or a folder in the way, before reading a byte;
         * a missing folder is fine (made when the file is put there). */
        uint64_t used = 0, replaced = 0;
        {
                _cleanup_(user_path_done) UserPath p = USER_PATH_INIT;
                const char *why = NULL;
                r = path_resolve_user(work, path, strlen(path), 0, &p, &why);
                if (r < 0 && r != -ENOENT)
                        return overlay_files_path_error(name, path, r, why, err);
                if (r == 0 && p.exists && !S_ISREG(p.st.st_mode))
                        return error_set(err, -EISDIR, "overlay '%s': '%s' is a folder", name, path);
                if (r == 0 && p.exists)
                        replaced = (uint64_t) p.st.st_size;
        }
        if (lim.overlay_max && (r = overlay_files_content_size(work, 0, &used)) < 0)
                return error_set(err, r, "overlay '%s': cannot measure its files: %s", name, strerror(-r));
        uint64_t max = room_for(&lim, used, replaced);
        if (lim.file_max && lim.file_max < max)
                max = lim.file_max;
        if (expected_size >= 0 && (uint64_t) expected_size > max)
                return too_big(name, path, (uint64_t) expected_size, &lim, used, err);

        char named[64];
        _cleanup_close_ int upload_dir = -1;
        _cleanup_close_ int fd = upload_file(c, &upload_dir, named, sizeof named, err);
        if (fd < 0)
                return fd;
        uint64_t n = 0;
        r = receive(in_fd, fd, max, &n);
        if (r >= 0 && expected_size >= 0 && n != (uint64_t) expected_size)
                r = error_set(err, -EPIPE, "overlay '%s': '%s': the upload was cut short (%llu of %lld bytes); "
                              "nothing was written", name, path, (unsigned long long) n, (long long) expected_size);
        else if (r == -EFBIG)
                r = too_big(name, path, n, &lim, used, err);
        else if (r < 0)
                r = error_set(err, r, "overlay '%s': '%s': the upload failed: %s; nothing was written", name, path,
                              strerror(-r));
        /* The new inode is not linked anywhere yet: its mode is ours to set.
         * Servers run as other users: files are world-readable. */
        if (r >= 0 && (fchmod(fd, 0644) < 0 || fdatasync(fd) < 0))
                r = error_set(err, negative_errno(), "overlay '%s': '%s': cannot save the upload: %m", name, path);

        if (r >= 0) {
                _cleanup_close_ int lock = -1;
                _cleanup_(user_path_done) UserPath p = USER_PATH_INIT;
                if ((r = overlay_files_edit_lock(c, name, &lock, err)) < 0)
                        goto out;
                /* The tree may have changed while we read: the limit again,
                 * exactly, then the folders. */
                replaced = 0;
                {
                        _cleanup_(user_path_done) UserPath q = USER_PATH_INIT;
                        if (path_resolve_user(work, path, strlen(path), 0, &q, NULL) == 0 && q.exists &&
                            S_ISREG(q.st.st_mode))
                                replaced = (uint64_t) q.st.st_size;
                }
                used = 0;
                if (lim.overlay_max && (r = overlay_files_content_size(work, 0, &used)) < 0) {
                        r = error_set(err, r, "overlay '%s': cannot measure its files: %s", name, strerror(-r));
                        goto out;
                }
                if (n > room_for(&lim, used, replaced)) {
                        r = too_big(name, path, n, &lim, used, err);
                        goto out;
                }
                if ((r = resolve_parents(name, work, path, &p, err)) < 0)
                        goto out;
                if (p.exists && !S_ISREG(p.st.st_mode)) {
                        r = error_set(err, -EISDIR, "overlay '%s': '%s' is a folder", name, path);
                        goto out;
                }
                r = link_into_place(fd, upload_dir, named, p.dirfd, p.name);
                if (r < 0)
                        r = error_set(err, r, "overlay '%s': cannot put '%s' in place: %s", name, path, strerror(-r));
        }
out:
        if (named[0])
                (void) unlinkat(upload_dir, named, 0);
        if (r >= 0 && ret_size)
                *ret_size = n;
        return r;
}
