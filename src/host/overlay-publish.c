/* Staging trees and the publish swap: how a build's fresh tree replaces an
 * overlay's published one without touching what running servers mount. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "overlay.h"
#include "random.h"

#define TREE_MAX_DEPTH 64

/* ---- staging and publishing ---- */

int overlay_staging_new(const HostConfig *c, const char *name, OverlayStaging *ret, Error *err) {
        _cleanup_close_ int parent = overlay_store_open(c, "staging", err);
        if (parent < 0)
                return parent;
        OverlayStaging st = OVERLAY_STAGING_INIT;
        char hex[9];
        random_hex(hex, sizeof hex);
        snprintf(st.entry, sizeof st.entry, "%s.%lld.%s", name, (long long) time(NULL), hex);
        snprintf(st.overlay, sizeof st.overlay, "%s", name);
        if (mkdirat(parent, st.entry, 0755) < 0)
                return error_set(err, negative_errno(), "overlay '%s': cannot create a staging tree: %m", name);
        st.dirfd = openat(parent, st.entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (st.dirfd < 0) {
                int r = negative_errno();
                unlinkat(parent, st.entry, AT_REMOVEDIR);
                return error_set(err, r, "overlay '%s': cannot open its staging tree: %s", name, strerror(-r));
        }
        st.parent_fd = TAKE_FD(parent);
        *ret = st;
        return 0;
}

void overlay_staging_discard(OverlayStaging *st) {
        if (!st)
                return;
        if (st->dirfd >= 0)
                close(st->dirfd);
        if (st->parent_fd >= 0) {
                if (st->entry[0])
                        (void) rm_rf_at(st->parent_fd, st->entry);
                close(st->parent_fd);
        }
        *st = (OverlayStaging) OVERLAY_STAGING_INIT;
}

/* path holds the entry being linked (for the error message); it keeps the
 * failing one when this returns < 0. */
static int link_tree(int src, int dst, unsigned depth, char *path, size_t size, size_t base) {
        if (depth > TREE_MAX_DEPTH)
                return -ELOOP;
        int fd = fcntl(src, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return negative_errno();
        }
        lseek(fd, 0, SEEK_SET);
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                size_t len = (size_t) snprintf(path + base, size - base, "%s%s", base ? "/" : "", de->d_name);
                if (base + len >= size) {
                        r = -ENAMETOOLONG;
                        break;
                }
                struct stat st;
                if (fstatat(src, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = negative_errno();
                else if (S_ISREG(st.st_mode))
                        r = linkat(src, de->d_name, dst, de->d_name, 0) < 0 ? negative_errno() : 0;
                else if (S_ISDIR(st.st_mode)) {
                        if (mkdirat(dst, de->d_name, st.st_mode & 07777) < 0) {
                                r = negative_errno();
                                break;
                        }
                        _cleanup_close_ int s2 = openat(src, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        _cleanup_close_ int d2 = openat(dst, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        r = s2 < 0 || d2 < 0 ? negative_errno() : link_tree(s2, d2, depth + 1, path, size, base + len);
                } else
                        r = -EPERM; /* symlinks, devices, FIFOs, sockets */
        }
        closedir(d);
        return r;
}

int overlay_staging_link_tree(OverlayStaging *st, int src_dirfd, Error *err) {
        char path[4096] = "";
        int r = link_tree(src_dirfd, st->dirfd, 0, path, sizeof path, 0);
        if (r == -EPERM)
                return error_set(err, r, "overlay '%s': '%s' is not a regular file or folder (symlinks, devices "
                                 "and FIFOs are not allowed in an overlay)", st->overlay, path);
        if (r < 0)
                return error_set(err, r, "overlay '%s': cannot snapshot '%s': %s", st->overlay, path, strerror(-r));
        return 0;
}

static size_t count_entries(int dirfd) {
        int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return SIZE_MAX;
        }
        lseek(fd, 0, SEEK_SET);
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static bool same_tree(int a, int b, unsigned depth) {
        if (depth > TREE_MAX_DEPTH)
                return false;
        size_t na = count_entries(a);
        if (na == SIZE_MAX || na != count_entries(b))
                return false;
        int fd = fcntl(a, F_DUPFD_CLOEXEC, 3);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return false;
        }
        lseek(fd, 0, SEEK_SET);
        bool same = true;
        struct dirent *de;
        while (same && (de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat sa, sb;
                if (fstatat(a, de->d_name, &sa, AT_SYMLINK_NOFOLLOW) < 0 ||
                    fstatat(b, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || (sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT))
                        same = false;
                else if (S_ISDIR(sa.st_mode)) {
                        _cleanup_close_ int ca = openat(a, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        _cleanup_close_ int cb = openat(b, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        same = ca >= 0 && cb >= 0 && same_tree(ca, cb, depth + 1);
                } else
                        same = sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
        }
        closedir(d);
        return same;
}

bool overlay_staging_same_as_published(const HostConfig *c, const OverlayStaging *st) {
        _cleanup_close_ int pub = overlay_open_published(c, st->overlay);
        return pub >= 0 && same_tree(st->dirfd, pub, 0);
}

int overlay_publish(const HostConfig *c, OverlayStaging *st, Error *err) {
        const char *name = st->overlay;
        /* The new tree's data and links reach the disk before it becomes
         * what servers mount: one syncfs instead of an fsync per file. */
        (void) syncfs(st->dirfd);
        _cleanup_close_ int lock = -1, overlays = -1, retired = -1;
        int r = overlay_lock_publish(c, name, &lock, err);
        if (r < 0)
                goto out;
        overlays = path_open_beneath_dir(c->state_dir, "overlays", O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        retired = overlay_store_open(c, "retired", err);
        if (overlays < 0 || retired < 0) {
                r = overlays < 0 ? error_set(err, overlays, "cannot open '%s/overlays': %s", c->state_dir,
                                             strerror(-overlays))
                                 : retired;
                goto out;
        }
        if (renameat2(st->parent_fd, st->entry, overlays, name, RENAME_EXCHANGE) == 0) {
                /* staging/<entry> now holds the old tree: retire it under the
                 * same unique name. If that fails it stays in staging, where
                 * overlay_gc finds it and retires it. */
                (void) renameat(st->parent_fd, st->entry, retired, st->entry);
                (void) fsync(retired);
        } else if (errno == ENOENT && renameat2(st->parent_fd, st->entry, overlays, name, RENAME_NOREPLACE) == 0) {
                /* the first tree of this overlay */
        } else {
                r = error_set(err, negative_errno(), "overlay '%s': cannot publish its new tree: %m", name);
                goto out;
        }
        (void) fsync(overlays);
        st->entry[0] = '\0'; /* nothing left to discard */
        r = 0;
out:
        overlay_staging_discard(st);
        return r;
}
