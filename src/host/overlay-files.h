/* Files overlays: a working tree, overlay-store/work/NAME, that a user edits
 * with the verbs below (`l4d2ctl overlay ls|get|put|mkdir|mv|rm|zip`), and
 * that reaches servers as a hard-link snapshot published by `overlay build`
 * or by the next start of an instance that stacks the overlay.
 *
 * Rules every verb keeps:
 *   - every path goes through path_resolve_user() (src/basic/fs.c), beneath
 *     the working tree: no "..", no absolute path, no symlink followed, no
 *     mount crossed, nothing but regular files and folders read or made;
 *   - a working-tree file is never written in place or chmod'ed: its inode
 *     may be shared with a published snapshot that a running server mounts.
 *     Every write is a new file (O_TMPFILE, streamed, then linked and renamed
 *     over the old name), so an upload that fails, hits a limit or is cut
 *     short leaves nothing behind;
 *   - edits (put's last step, mkdir, mv, rm) hold the overlay's edit lock
 *     (locks/.overlay-NAME.files), which a snapshot takes too, so a snapshot
 *     never sees half an edit. Reads take no lock: what they read is only
 *     ever replaced whole, by rename;
 *   - per-file and per-overlay size limits, LEFT4ME_FILES_MAX_FILE_SIZE and
 *     LEFT4ME_FILES_MAX_OVERLAY_SIZE (host.env; sizes with K, M, G, T; 0 or
 *     "infinity" for none), counted in bytes of file content. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "overlay.h"

typedef struct FilesLimits {
        uint64_t file_max;    /* bytes, 0: none */
        uint64_t overlay_max; /* bytes of all files, 0: none */
} FilesLimits;

#define FILES_DEFAULT_FILE_MAX (4ULL << 30)
#define FILES_DEFAULT_OVERLAY_MAX (20ULL << 30)

int overlay_files_limits(const HostConfig *c, FilesLimits *ret, Error *err);

/* A folder's entries (or one file) as the object of docs/l4d2ctl-contract.md
 * ("overlay ls"). path "" is the top of the tree. */
int overlay_files_ls(const HostConfig *c, const char *name, const char *path, json_t **ret, Error *err);

/* Writes a file's bytes, unchanged, to out_fd. */
int overlay_files_get(const HostConfig *c, const char *name, const char *path, int out_fd, Error *err);

/* Reads a file's new content from in_fd until end of file and puts it at
 * path (creating missing folders on the way), replacing a file there.
 * expected_size >= 0: the upload must be exactly that long (a shorter one
 * was cut short and is refused); it is also checked against the limits
 * before anything is read. *ret_size: the bytes written. */
int overlay_files_put(const HostConfig *c, const char *name, const char *path, int in_fd, int64_t expected_size,
                      uint64_t *ret_size, Error *err);

/* Makes a folder and any missing folders above it; an existing folder is
 * success. */
int overlay_files_mkdir(const HostConfig *c, const char *name, const char *path, Error *err);

/* Renames or moves from to to. to must not exist; its folder must. A
 * folder cannot move into itself. */
int overlay_files_mv(const HostConfig *c, const char *name, const char *from, const char *to, Error *err);

/* Removes a file, an empty folder, or with recursive a folder and all in
 * it. The top of the tree cannot be removed. */
int overlay_files_rm(const HostConfig *c, const char *name, const char *path, bool recursive, Error *err);

/* Writes a zip of a folder (or one file) to out_fd as it reads the tree
 * (libarchive; nothing is held whole in memory). Entries are named below
 * the folder's name (the overlay's name for the top of the tree); anything
 * that is not a file or folder is left out and counted in *ret_skipped. */
int overlay_files_zip(const HostConfig *c, const char *name, const char *path, int out_fd, unsigned *ret_skipped,
                      Error *err);

/* ---- the kind's hooks (overlay.c) ---- */

/* Publishes a hard-link snapshot of the working tree (under the edit lock). */
int overlay_files_build(OverlayBuild *b, Error *err);
/* Adds "files": {"size", "max_file_size", "max_size", "pending"} to show. */
void overlay_files_summary(const HostConfig *c, const char *name, const json_t *meta, json_t *show);

/* For instance start: builds every files overlay among names whose working
 * tree differs from its published tree, so a server starts with the edits
 * made up to now. A server already running is not touched. */
int overlay_files_publish_pending(const HostConfig *c, char *const *names, size_t n, Error *err);

/* Internal, shared with overlay-files-zip.c: opens the working tree of a
 * files overlay (refusing other kinds) as an O_RDONLY | O_DIRECTORY fd. */
int overlay_files_open_work(const HostConfig *c, const char *name, Error *err);
/* The message for a path path_resolve_user() refused. */
int overlay_files_path_error(const char *name, const char *path, int r, const char *why, Error *err);
/* The overlay's edit lock (locks/.overlay-NAME.files), waiting up to 30 s. */
int overlay_files_edit_lock(const HostConfig *c, const char *name, int *ret_fd, Error *err);
/* Bytes of file content below dir (regular files; nothing followed). */
int overlay_files_content_size(int dir, unsigned depth, uint64_t *sum);
int overlay_files_write_all(int fd, const char *p, size_t n);
void overlay_files_format_size(char *buf, size_t size, uint64_t bytes);
