/* `l4d2ctl overlay zip`: a folder of a files overlay as a zip, written with
 * libarchive while the tree is read, one file at a time through a fixed
 * buffer: memory stays flat whatever the folder holds. The zip writer needs
 * no seeking (sizes and checksums follow each entry), so out_fd may be a
 * pipe. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "overlay-files.h"

#define ZIP_BUF (64 * 1024)
#define ZIP_MAX_DEPTH 64

typedef struct Zip {
        struct archive *a;
        char path[PATH_MAX]; /* the entry being written */
        char *buf;
        unsigned skipped;
        const char *overlay;
        Error *err;
} Zip;

static void archive_freep(struct archive **a) {
        if (*a)
                archive_write_free(*a);
}

static int zip_fail(Zip *z, const char *what) {
        return error_set(z->err, -EIO, "overlay '%s': cannot write the zip (%s '%s'): %s", z->overlay, what, z->path,
                         archive_error_string(z->a) ? archive_error_string(z->a) : "unknown error");
}

static int zip_header(Zip *z, const struct stat *st) {
        struct archive_entry *e = archive_entry_new();
        if (!e)
                return -ENOMEM;
        /* Names are UTF-8 (path_resolve_user makes sure of it for what the
         * verbs create); the zip says so in each entry's flags. */
        archive_entry_set_pathname_utf8(e, z->path);
        if (!archive_entry_pathname(e))
                archive_entry_set_pathname(e, z->path);
        archive_entry_set_filetype(e, S_ISDIR(st->st_mode) ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e, S_ISDIR(st->st_mode) ? 0755 : 0644);
        archive_entry_set_size(e, S_ISREG(st->st_mode) ? st->st_size : 0);
        archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
        int r = archive_write_header(z->a, e);
        archive_entry_free(e);
        return r < ARCHIVE_WARN ? zip_fail(z, "header of") : 0;
}

static bool stored(const char *path) {
        static const char *const exts[] = { ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar",
                                            ".jpg", ".jpeg", ".png", ".mp3", ".ogg" };
        const char *dot = strrchr(path, '.');
        for (size_t i = 0; dot && i < ELEMENTSOF(exts); i++)
                if (strcasecmp(dot, exts[i]) == 0)
                        return true;
        return false;
}

static int zip_file(Zip *z, int dirfd, const char *name) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return error_set(z->err, negative_errno(), "overlay '%s': cannot read '%s': %m", z->overlay, z->path);
        if (!S_ISREG(st.st_mode)) {
                z->skipped++;
                return 0;
        }
        /* Formats that are compressed already are stored: deflating them
         * costs a core for nothing (about 50 MB/s here). */
        int r = stored(z->path) ? archive_write_zip_set_compression_store(z->a)
                                : archive_write_zip_set_compression_deflate(z->a);
        if (r != ARCHIVE_OK)
                return zip_fail(z, "compression of");
        if ((r = zip_header(z, &st)) < 0)
                return r;
        off_t left = st.st_size;
        while (left > 0) {
                ssize_t n = read(fd, z->buf, ZIP_BUF);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return error_set(z->err, negative_errno(), "overlay '%s': cannot read '%s': %m", z->overlay,
                                         z->path);
                if (n == 0)
                        break;
                if (n > left)
                        n = (ssize_t) left;
                if (archive_write_data(z->a, z->buf, (size_t) n) < 0)
                        return zip_fail(z, "data of");
                left -= n;
        }
        return 0;
}

/* Writes the entries of dir below z->path[0..base). */
static int zip_tree(Zip *z, int dir, size_t base, unsigned depth) {
        if (depth > ZIP_MAX_DEPTH)
                return error_set(z->err, -ELOOP, "overlay '%s': '%s' is nested more than %d folders deep", z->overlay,
                                 z->path, ZIP_MAX_DEPTH);
        int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return error_set(z->err, negative_errno(), "overlay '%s': cannot list '%s': %m", z->overlay, z->path);
        }
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                size_t len = strlen(de->d_name);
                if (base + len + 2 >= sizeof z->path) {
                        r = error_set(z->err, -ENAMETOOLONG, "overlay '%s': a path below '%s' is too long", z->overlay,
                                      z->path);
                        break;
                }
                memcpy(z->path + base, de->d_name, len + 1);
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISREG(st.st_mode))
                        r = zip_file(z, dirfd(d), de->d_name);
                else if (S_ISDIR(st.st_mode)) {
                        z->path[base + len] = '/';
                        z->path[base + len + 1] = '\0';
                        _cleanup_close_ int sub = openat(dirfd(d), de->d_name,
                                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                r = error_set(z->err, negative_errno(), "overlay '%s': cannot open '%s': %m",
                                              z->overlay, z->path);
                        else if ((r = zip_header(z, &st)) >= 0)
                                r = zip_tree(z, sub, base + len + 1, depth + 1);
                } else
                        z->skipped++; /* symlinks, FIFOs, devices: never followed or read */
        }
        closedir(d);
        return r;
}

int overlay_files_zip(const HostConfig *c, const char *name, const char *path, int out_fd, unsigned *ret_skipped,
                      Error *err) {
        _cleanup_close_ int work = overlay_files_open_work(c, name, err);
        if (work < 0)
                return work;
        _cleanup_(user_path_done) UserPath p = USER_PATH_INIT;
        const char *why = NULL;
        int r = path_resolve_user(work, path, strlen(path), USER_PATH_ROOT_OK, &p, &why);
        if (r < 0)
                return overlay_files_path_error(name, path, r, why, err);
        if (!p.exists)
                return error_set(err, -ENOENT, "overlay '%s': '%s' does not exist", name, path);

        _cleanup_free_ char *buf = malloc(ZIP_BUF);
        _cleanup_(archive_freep) struct archive *a = archive_write_new();
        if (!buf || !a)
                return -ENOMEM;
        Zip z = { .a = a, .buf = buf, .overlay = name, .err = err };
        /* hdrcharset: the names as UTF-8, with the entry flag that says so
         * (else readers take them for CP437). Deflate at level 1: game
         * content (VPKs, maps, sounds) is large and compresses little, and a
         * download should go at the disk's pace, not deflate's. */
        if (archive_write_set_format_zip(a) != ARCHIVE_OK || archive_write_zip_set_compression_deflate(a) != ARCHIVE_OK ||
            archive_write_set_format_option(a, "zip", "compression-level", "1") != ARCHIVE_OK ||
            archive_write_set_format_option(a, "zip", "hdrcharset", "UTF-8") != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK || archive_write_open_fd(a, out_fd) != ARCHIVE_OK)
                return zip_fail(&z, "start of");
        /* The top entry: the folder's own name (the overlay's for the top
         * of the tree), so that unpacking makes one folder. */
        const char *top = streq(p.name, ".") ? name : p.name;
        snprintf(z.path, sizeof z.path, "%s", top);
        if (S_ISREG(p.st.st_mode))
                r = zip_file(&z, p.dirfd, p.name);
        else {
                size_t base = strlen(z.path);
                z.path[base++] = '/';
                z.path[base] = '\0';
                _cleanup_close_ int dir = openat(p.dirfd, p.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dir < 0)
                        return error_set(err, negative_errno(), "overlay '%s': cannot open '%s': %m", name, path);
                if ((r = zip_header(&z, &p.st)) >= 0)
                        r = zip_tree(&z, dir, base, 0);
        }
        if (r < 0)
                return r;
        if (archive_write_close(a) != ARCHIVE_OK)
                return zip_fail(&z, "end of");
        if (ret_skipped)
                *ret_skipped = z.skipped;
        return 0;
}
