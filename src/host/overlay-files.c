/* Files overlays: the verbs on the working tree, its snapshot build, and
 * publishing pending edits at instance start. See overlay-files.h for the
 * rules; the zip download is in overlay-files-zip.c. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "lock.h"
#include "overlay-files.h"

#define COPY_BUF (128 * 1024)
#define TREE_MAX_DEPTH 64
#define LS_MAX_ENTRIES 100000
#define EDIT_LOCK_WAIT_MS 30000

/* ---- settings ---- */

int overlay_files_limits(const HostConfig *c, FilesLimits *ret, Error *err) {
        FilesLimits l = { FILES_DEFAULT_FILE_MAX, FILES_DEFAULT_OVERLAY_MAX };
        int r = config_setting_size(c, "LEFT4ME_FILES_MAX_FILE_SIZE", &l.file_max, err);
        if (r < 0 || (r = config_setting_size(c, "LEFT4ME_FILES_MAX_OVERLAY_SIZE", &l.overlay_max, err)) < 0)
                return r;
        *ret = l;
        return 0;
}

void overlay_files_format_size(char *buf, size_t size, uint64_t bytes) {
        if (bytes >= (1ULL << 30))
                snprintf(buf, size, "%.1f GiB", (double) bytes / (double) (1ULL << 30));
        else if (bytes >= (1ULL << 20))
                snprintf(buf, size, "%.1f MiB", (double) bytes / (double) (1ULL << 20));
        else if (bytes >= 1024)
                snprintf(buf, size, "%.1f KiB", (double) bytes / 1024.0);
        else
                snprintf(buf, size, "%llu bytes", (unsigned long long) bytes);
}

/* ---- opening an overlay, its paths, its lock ---- */

int overlay_files_open_work(const HostConfig *c, const char *name, Error *err) {
        int r = overlay_require_kind(c, name, OVERLAY_FILES, "have files to edit", err);
        if (r < 0)
                return r;
        char rel[96];
        snprintf(rel, sizeof rel, "overlay-store/work/%s", name);
        int fd = path_open_beneath_dir(c->state_dir, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (fd < 0)
                return error_set(err, fd, "overlay '%s': cannot open its working tree '%s/%s': %s", name, c->state_dir,
                                 rel, strerror(-fd));
        return fd;
}

int overlay_files_path_error(const char *name, const char *path, int r, const char *why, Error *err) {
        return error_set(err, r, "overlay '%s': '%s': %s", name, path, why ? why : strerror(-r));
}

static int resolve(const char *name, int work, const char *path, unsigned flags, UserPath *ret, Error *err) {
        const char *why = NULL;
        int r = path_resolve_user(work, path, strlen(path), flags, ret, &why);
        return r < 0 ? overlay_files_path_error(name, path, r, why, err) : 0;
}

int overlay_files_edit_lock(const HostConfig *c, const char *name, int *ret_fd, Error *err) {
        char ln[64], what[64];
        snprintf(ln, sizeof ln, ".overlay-%s.files", name);
        snprintf(what, sizeof what, "overlay '%s' (being edited)", name);
        return host_lock(c, ln, LOCK_EX, EDIT_LOCK_WAIT_MS, what, ret_fd, err);
}

/* Bytes of file content below dirfd (regular files only, not following
 * anything), for the per-overlay limit. */
int overlay_files_content_size(int dir, unsigned depth, uint64_t *sum) {
        if (depth > TREE_MAX_DEPTH)
                return -ELOOP;
        int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                int r = negative_errno();
                if (fd >= 0)
                        close(fd);
                return r;
        }
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISREG(st.st_mode))
                        *sum += (uint64_t) st.st_size;
                else if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = openat(dirfd(d), de->d_name,
                                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0)
                                r = overlay_files_content_size(sub, depth + 1, sum);
                }
        }
        closedir(d);
        return r;
}

/* ---- ls ---- */

static const char *type_name(mode_t m) {
        return S_ISREG(m) ? "file" : S_ISDIR(m) ? "folder" : S_ISLNK(m) ? "symlink" : "other";
}

/* A name made by hand may not be UTF-8; JSON strings must be. */
static json_t *json_name(const char *s) {
        json_t *j = json_string(s);
        if (j)
                return j;
        _cleanup_free_ char *copy = strdup(s);
        if (!copy)
                return NULL;
        for (char *p = copy; *p; p++)
                if ((unsigned char) *p >= 0x80)
                        *p = '?';
        return json_string(copy);
}

static json_t *entry_json(const char *name, const struct stat *st) {
        json_t *e = json_pack("{s:o, s:s, s:I, s:I}", "name", json_name(name), "type", type_name(st->st_mode), "size",
                              (json_int_t) (S_ISREG(st->st_mode) ? st->st_size : 0), "mtime",
                              (json_int_t) st->st_mtim.tv_sec);
        return e;
}

static int cmp_entry(const void *a, const void *b) {
        return strcmp(json_string_value(json_object_get(*(json_t *const *) a, "name")),
                      json_string_value(json_object_get(*(json_t *const *) b, "name")));
}

int overlay_files_ls(const HostConfig *c, const char *name, const char *path, json_t **ret, Error *err) {
        _cleanup_close_ int work = overlay_files_open_work(c, name, err);
        if (work < 0)
                return work;
        _cleanup_(user_path_done) UserPath p = USER_PATH_INIT;
        int r = resolve(name, work, path, USER_PATH_ROOT_OK, &p, err);
        if (r < 0)
                return r;
        if (!p.exists)
                return error_set(err, -ENOENT, "overlay '%s': '%s' does not exist", name, path);
        json_t *entries = json_array();
        bool truncated = false;
        if (!entries)
                return -ENOMEM;
        if (S_ISDIR(p.st.st_mode)) {
                int fd = openat(p.dirfd, p.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
                if (!d) {
                        r = negative_errno();
                        if (fd >= 0)
                                close(fd);
                        json_decref(entries);
                        return error_set(err, r, "overlay '%s': cannot list '%s': %s", name, path, strerror(-r));
                }
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        if (json_array_size(entries) >= LS_MAX_ENTRIES) {
                                truncated = true;
                                break;
                        }
                        struct stat st;
                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                                json_array_append_new(entries, entry_json(de->d_name, &st));
                }
                closedir(d);
                /* Sorted by name, bytewise: the same order every time. */
                size_t n = json_array_size(entries);
                json_t **v = calloc(n ? n : 1, sizeof *v);
                if (!v) {
                        json_decref(entries);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < n; i++)
                        v[i] = json_incref(json_array_get(entries, i));
                qsort(v, n, sizeof *v, cmp_entry);
                json_array_clear(entries);
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(entries, v[i]);
                free(v);
        }
        json_t *o = json_pack("{s:s, s:o, s:s, s:I, s:I, s:o, s:b}", "overlay", name, "path", json_name(p.path), "type",
                              type_name(p.st.st_mode), "size",
                              (json_int_t) (S_ISREG(p.st.st_mode) ? p.st.st_size : 0), "mtime",
                              (json_int_t) p.st.st_mtim.tv_sec, "entries", entries, "truncated", truncated);
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

/* ---- get ---- */

int overlay_files_write_all(int fd, const char *p, size_t n) {
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

/* Opens path's regular file for reading: never a FIFO (O_NONBLOCK, then
 * checked), never through a symlink. */
static int open_file(const char *name, int work, const char *path, struct stat *ret_st, Error *err) {
        _cleanup_(user_path_done) UserPath p = USER_PATH_INIT;
        int r = resolve(name, work, path, 0, &p, err);
        if (r < 0)
                return r;
        if (!p.exists)
                return error_set(err, -ENOENT, "overlay '%s': '%s' does not exist", name, path);
        if (!S_ISREG(p.st.st_mode))
                return error_set(err, -EISDIR, "overlay '%s': '%s' is a folder (download it with 'zip')", name, path);
        int fd = openat(p.dirfd, p.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return error_set(err, negative_errno(), "overlay '%s': cannot open '%s': %m", name, path);
        if (fstat(fd, ret_st) < 0 || !S_ISREG(ret_st->st_mode)) {
                close(fd);
                return error_set(err, -EPERM, "overlay '%s': '%s' changed while it was opened", name, path);
        }
        return fd;
}

int overlay_files_get(const HostConfig *c, const char *name, const char *path, int out_fd, Error *err) {
        _cleanup_close_ int work = overlay_files_open_work(c, name, err);
        if (work < 0)
                return work;
        struct stat st;
        _cleanup_close_ int fd = open_file(name, work, path, &st, err);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *buf = malloc(COPY_BUF);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf, COPY_BUF);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return error_set(err, negative_errno(), "overlay '%s': cannot read '%s': %m", name, path);
                if (n == 0)
                        return 0;
                int r = overlay_files_write_all(out_fd, buf, (size_t) n);
                if (r < 0)
                        return error_set(err, r, "overlay '%s': cannot write '%s' out: %s", name, path, strerror(-r));
        }
}

/* ---- mkdir, mv, rm ---- */

/* The working tree and the edit lock, for a verb that changes the tree. */
static int begin_edit(const HostConfig *c, const char *name, int *ret_work, int *ret_lock, Error *err) {
        int work = overlay_files_open_work(c, name, err);
        if (work < 0)
                return work;
        int r = overlay_files_edit_lock(c, name, ret_lock, err);
        if (r < 0) {
                close(work);
                return r;
        }
        *ret_work = work;
        return 0;
}

int overlay_files_mkdir(const HostConfig *c, const char *name, const char *path, Error *err) {
        _cleanup_close_ int work = -1, lock = -1;
        int r = begin_edit(c, name, &work, &lock, err);
        if (r < 0)
                return r;
        _cleanup_(user_path_done) UserPath p = USER_PATH_INIT;
        if ((r = resolve(name, work, path, USER_PATH_MAKE_PARENTS, &p, err)) < 0)
                return r;
        if (p.exists)
                return S_ISDIR(p.st.st_mode)
                               ? 0
                               : error_set(err, -EEXIST, "overlay '%s': '%s' is a file, not a folder", name, path);
        if (mkdirat(p.dirfd, p.name, 0755) < 0)
                return error_set(err, negative_errno(), "overlay '%s': cannot make the folder '%s': %m", name, path);
        /* A new folder (never in a snapshot: folders are made anew there). */
        _cleanup_close_ int fd = openat(p.dirfd, p.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
                (void) fchmod(fd, 0755);
        return 0;
}

int overlay_files_mv(const HostConfig *c, const char *name, const char *from, const char *to, Error *err) {
        _cleanup_close_ int work = -1, lock = -1;
        int r = begin_edit(c, name, &work, &lock, err);
        if (r < 0)
                return r;
        _cleanup_(user_path_done) UserPath a = USER_PATH_INIT, b = USER_PATH_INIT;
        if ((r = resolve(name, work, from, 0, &a, err)) < 0 || (r = resolve(name, work, to, 0, &b, err)) < 0)
                return r;
        if (!a.exists)
                return error_set(err, -ENOENT, "overlay '%s': '%s' does not exist", name, from);
        if (streq(a.path, b.path))
                return 0;
        /* Normalized, symlink-free paths: a folder's descendants are exactly
         * the paths that start with it and a '/'. */
        size_t la = strlen(a.path);
        if (S_ISDIR(a.st.st_mode) && strncmp(b.path, a.path, la) == 0 && b.path[la] == '/')
                return error_set(err, -EINVAL, "overlay '%s': cannot move the folder '%s' into itself ('%s')", name,
                                 from, to);
        if (b.exists)
                return error_set(err, -EEXIST, "overlay '%s': '%s' already exists (remove it first)", name, to);
        if (renameat2(a.dirfd, a.name, b.dirfd, b.name, RENAME_NOREPLACE) < 0) {
                r = negative_errno();
                return r == -EINVAL ? error_set(err, r, "overlay '%s': cannot move '%s' into itself", name, from)
                                    : error_set(err, r, "overlay '%s': cannot move '%s' to '%s': %s", name, from, to,
                                                strerror(-r));
        }
        return 0;
}

int overlay_files_rm(const HostConfig *c, const char *name, const char *path, bool recursive, Error *err) {
        _cleanup_close_ int work = -1, lock = -1;
        int r = begin_edit(c, name, &work, &lock, err);
        if (r < 0)
                return r;
        _cleanup_(user_path_done) UserPath p = USER_PATH_INIT;
        if ((r = resolve(name, work, path, 0, &p, err)) < 0)
                return r;
        if (!p.exists)
                return error_set(err, -ENOENT, "overlay '%s': '%s' does not exist", name, path);
        if (!S_ISDIR(p.st.st_mode))
                r = unlinkat(p.dirfd, p.name, 0) < 0 ? negative_errno() : 0;
        else if (!recursive) {
                r = unlinkat(p.dirfd, p.name, AT_REMOVEDIR) < 0 ? negative_errno() : 0;
                if (r == -ENOTEMPTY || r == -EEXIST)
                        return error_set(err, r, "overlay '%s': the folder '%s' is not empty (remove it with "
                                         "--recursive)", name, path);
        } else
                /* Never follows a symlink, never crosses a mount. */
                r = rm_rf_at(p.dirfd, p.name);
        return r < 0 ? error_set(err, r, "overlay '%s': cannot remove '%s': %s", name, path, strerror(-r)) : 0;
}

/* ---- the kind's hooks ---- */

int overlay_files_build(OverlayBuild *b, Error *err) {
        _cleanup_close_ int work = overlay_files_open_work(b->c, b->name, err), lock = -1;
        if (work < 0)
                return work;
        int r = overlay_files_edit_lock(b->c, b->name, &lock, err);
        if (r < 0)
                return r;
        _cleanup_(overlay_staging_discard) OverlayStaging st = OVERLAY_STAGING_INIT;
        if ((r = overlay_staging_new(b->c, b->name, &st, err)) < 0 || (r = overlay_staging_link_tree(&st, work, err)) < 0)
                return r;
        close(TAKE_FD(lock)); /* the snapshot is taken */
        if (overlay_staging_same_as_published(b->c, &st)) {
                overlay_build_line(b, "nothing changed since the last build");
                return 0;
        }
        if ((r = overlay_publish(b->c, &st, err)) < 0)
                return r;
        b->changed = true;
        overlay_build_line(b, "published a snapshot of the working tree");
        return 0;
}

/* True when the working tree has exactly the published tree's entries,
 * each the same inode (the snapshot is a tree of hard links to it). */
static bool work_is_published(const HostConfig *c, const char *name, int work) {
        OverlayStaging as_staged = OVERLAY_STAGING_INIT;
        as_staged.dirfd = work;
        snprintf(as_staged.overlay, sizeof as_staged.overlay, "%s", name);
        return overlay_staging_same_as_published(c, &as_staged);
}

void overlay_files_summary(const HostConfig *c, const char *name, const json_t *meta, json_t *show) {
        _cleanup_close_ int work = overlay_files_open_work(c, name, NULL);
        FilesLimits lim = { FILES_DEFAULT_FILE_MAX, FILES_DEFAULT_OVERLAY_MAX };
        (void) overlay_files_limits(c, &lim, NULL);
        uint64_t size = 0;
        if (work >= 0)
                (void) overlay_files_content_size(work, 0, &size);
        json_object_set_new(show, "files",
                            json_pack("{s:I, s:I, s:I, s:b}", "size", (json_int_t) size, "max_file_size",
                                      (json_int_t) lim.file_max, "max_size", (json_int_t) lim.overlay_max, "pending",
                                      work >= 0 && !work_is_published(c, name, work)));
}

int overlay_files_publish_pending(const HostConfig *c, char *const *names, size_t n, Error *err) {
        for (size_t i = 0; i < n; i++) {
                json_t *meta = NULL;
                if (overlay_meta_load(c, names[i], &meta, NULL) < 0)
                        continue;
                const char *kind = json_string_value(json_object_get(meta, "kind"));
                bool files = kind && streq(kind, "files");
                json_decref(meta);
                if (!files)
                        continue;
                _cleanup_close_ int work = overlay_files_open_work(c, names[i], err);
                if (work < 0)
                        return work;
                if (work_is_published(c, names[i], work))
                        continue;
                int r = overlay_build_wait(c, names[i], EDIT_LOCK_WAIT_MS, NULL, NULL, NULL, err);
                if (r < 0)
                        return r;
        }
        return 0;
}
