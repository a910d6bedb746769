/* The overlay store. An overlay is a directory that instances stack under
 * their upper layer with overlayfs. The rule that shapes everything here:
 * a running server's lower layers are never modified (the kernel calls that
 * undefined), so new content reaches a server only at its next start.
 *
 *   overlays/NAME/                 the published tree: what instances mount
 *                                  (hand-made directories keep working)
 *   overlay-store/meta/NAME.json   kind, state, size, last build, kind data
 *   overlay-store/work/NAME/       a files overlay's working tree
 *   overlay-store/staging/NAME.*   trees being built
 *   overlay-store/retired/NAME.*   replaced trees, until no mount uses them
 *   overlay-store/logs/NAME/       build logs (the newest few)
 *   overlay-store/uploads/         files being uploaded (unnamed: O_TMPFILE)
 *
 * A build never writes into overlays/NAME: it makes a fresh tree in staging
 * and publishes it with one rename swap (renameat2 RENAME_EXCHANGE); the old
 * tree moves to retired/ and is removed once no mounted instance uses it
 * (overlay-gc.c). A mounted overlayfs holds its lower dirs by reference, so
 * renaming them away does not change what a running server sees.
 *
 * Locks (locks/.overlay-NAME.*): "meta" for a read-modify-write of the
 * metadata (short), "build" for a build (long; held = state "building"),
 * "publish" taken exclusively for the swap and shared by instance starts
 * until they have recorded what they mounted. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "strutil.h"

typedef enum OverlayKind {
        OVERLAY_MANUAL,   /* a directory made by hand: no metadata, never built */
        OVERLAY_WORKSHOP, /* Steam Workshop items and collections (workshop.c) */
        OVERLAY_FILES,    /* a working tree, published as a hard-link snapshot */
        OVERLAY_SCRIPT,   /* built by a script in a sandbox (overlay-script.c) */
        _OVERLAY_KIND_MAX,
} OverlayKind;

const char *overlay_kind_to_string(OverlayKind k);
/* -EINVAL for anything but workshop, files, script. */
int overlay_kind_from_string(const char *s, OverlayKind *ret);

/* The same rule as instance names (1-32 of [A-Za-z0-9_-]). */
int overlay_check_name(const char *name, Error *err);

/* 0 if name is a managed overlay of kind want, else a one-line error that
 * says what it is ("… is a workshop overlay: only files overlays have files
 * to edit", what being "have files to edit"), made by hand, or unknown. */
int overlay_require_kind(const HostConfig *c, const char *name, OverlayKind want, const char *what, Error *err);

/* Creates overlay-store/ and its folders if missing. */
int overlay_store_ensure(const HostConfig *c, Error *err);

/* ---- metadata ---- */

/* Reads overlay-store/meta/NAME.json; -ENOENT (err set) if there is none. */
int overlay_meta_load(const HostConfig *c, const char *name, json_t **ret, Error *err);
/* Writes it atomically (temp file, fsync, rename). Call with the meta lock. */
int overlay_meta_save(const HostConfig *c, const char *name, json_t *meta, Error *err);

/* ---- locks ---- */

int overlay_lock_meta(const HostConfig *c, const char *name, int *ret_fd, Error *err);
/* wait_ms 0: fail at once with "overlay 'x' is being built". */
int overlay_lock_build(const HostConfig *c, const char *name, int wait_ms, int *ret_fd, Error *err);
bool overlay_is_building(const HostConfig *c, const char *name);
/* Exclusive, for a swap or a delete; instance start takes it shared
 * (overlay_pins_take) from before its mount until it has recorded it. */
int overlay_lock_publish(const HostConfig *c, const char *name, int *ret_fd, Error *err);

/* ---- operations (l4d2ctl overlay ...) ---- */

/* Creates the metadata and publishes an empty tree, so instances can name it
 * at once. Refuses a name that exists, made by hand or not. */
int overlay_create(const HostConfig *c, const char *name, OverlayKind kind, Error *err);

/* Refuses while a running instance mounts it (naming them); a missing
 * overlay is success. The published tree is retired, not removed, so a
 * racing start is never left with a half-deleted lower layer. */
int overlay_delete(const HostConfig *c, const char *name, Error *err);

/* Every overlay: published directories and metadata, sorted. */
int overlay_list(const HostConfig *c, char ***ret, Error *err);

/* The object of docs/l4d2ctl-contract.md ("Overlays"). */
int overlay_show(const HostConfig *c, const char *name, json_t **ret, Error *err);

/* A build's events: borrowed; every event but "progress" has a "line" for
 * people. The same lines go to the build's log file. */
typedef void (*overlay_event_cb)(json_t *event, void *userdata);

typedef struct OverlayBuild {
        const HostConfig *c;
        const char *name;
        overlay_event_cb cb;
        void *userdata;
        int log_fd;      /* the build's log file, or -1 */
        bool changed;    /* set by the build: it published a new tree */
} OverlayBuild;

/* Emits an event to the callback and its "line" to the log. Takes ev. */
void overlay_build_emit(OverlayBuild *b, json_t *ev);
/* A "line" event (printf-like). */
void overlay_build_line(OverlayBuild *b, const char *fmt, ...) _printf_(2, 3);

/* Runs the overlay's build under its build lock and records the outcome
 * (ok, duration, log path, error) in its metadata. */
int overlay_build(const HostConfig *c, const char *name, overlay_event_cb cb, void *userdata, bool *ret_changed,
                  Error *err);

/* The same, waiting up to wait_ms for a build of it that runs now (0: fail
 * at once, like overlay_build). */
int overlay_build_wait(const HostConfig *c, const char *name, int wait_ms, overlay_event_cb cb, void *userdata,
                       bool *ret_changed, Error *err);

/* For builds of several overlays at once (workshop refresh): opens a new log
 * file for name (overlay-store/logs/NAME/<time>.log) and records a finished
 * build. */
int overlay_log_open(const HostConfig *c, const char *name, char **ret_path, int *ret_fd);
int overlay_record_build(const HostConfig *c, const char *name, bool ok, bool changed, int64_t started_usec,
                         const char *log_path, const char *error, Error *err);

/* ---- the store API for builders ---- */

/* A fresh tree for overlay name, in overlay-store/staging. Fill it through
 * dirfd, then overlay_publish() it, or overlay_staging_discard() it. */
typedef struct OverlayStaging {
        int dirfd;        /* the tree (O_RDONLY | O_DIRECTORY) */
        int parent_fd;    /* overlay-store/staging */
        char entry[96];   /* its name in staging: NAME.<time>.<hex> */
        char overlay[NAME_MAX_LEN + 1];
} OverlayStaging;

#define OVERLAY_STAGING_INIT { .dirfd = -1, .parent_fd = -1 }

int overlay_staging_new(const HostConfig *c, const char *name, OverlayStaging *ret, Error *err);
/* Removes what is left of it; accepts an empty or published one. */
void overlay_staging_discard(OverlayStaging *st);

/* Copies the tree at src_dirfd into st as hard links (directories are made
 * anew, regular files linked, nothing else allowed): a snapshot that costs
 * one link per file. For a files overlay whose working tree is only ever
 * written by temp file + rename, the snapshot never changes afterwards. */
int overlay_staging_link_tree(OverlayStaging *st, int src_dirfd, Error *err);

/* True if the staged tree has exactly the published tree's entries, each
 * the same inode: publishing it would change nothing. */
bool overlay_staging_same_as_published(const HostConfig *c, const OverlayStaging *st);

/* Makes st the published tree of its overlay: syncs the filesystem, swaps
 * it with overlays/NAME under the publish lock, retires the old tree, then
 * collects garbage. st is consumed (discarded) whatever happens. */
int overlay_publish(const HostConfig *c, OverlayStaging *st, Error *err);

/* <state>/overlay-store/work/NAME (malloc'ed): a files overlay's working
 * tree, which the next issue's file verbs edit. */
char *overlay_work_path(const HostConfig *c, const char *name);

/* Opens overlays/NAME (O_RDONLY | O_DIRECTORY, no symlinks). */
int overlay_open_published(const HostConfig *c, const char *name);

/* Opens <state>/overlay-store/SUB, creating the store first. */
int overlay_store_open(const HostConfig *c, const char *sub, Error *err);

/* ---- overlay-gc.c: what running instances mount, and garbage ---- */

/* Held by instance start from before the mount until it has recorded what it
 * mounted: no publish of those overlays can happen in between. */
typedef struct OverlayPins {
        int *fds;
        size_t n;
} OverlayPins;

int overlay_pins_take(const HostConfig *c, char *const *names, size_t n, OverlayPins *ret, Error *err);
/* Writes instances/INSTANCE/mounted: the mount's unique id and the dev/ino
 * of every overlay it stacks. Best effort: without it, GC keeps every
 * retired tree of the instance's overlays while it runs. */
void overlay_pins_record(const HostConfig *c, const char *instance, const OverlayPins *p);
void overlay_pins_release(OverlayPins *p);

/* Running (mounted) instances that stack overlay name, as a JSON array of
 * {"instance":..., "outdated": true|false|null}: outdated when it mounts an
 * older tree than the published one (null: not known exactly). */
int overlay_running_users(const HostConfig *c, const char *name, json_t **ret, Error *err);

/* Removes retired trees no mounted instance uses, then lets the kinds
 * collect theirs (the Workshop cache). Never fails a build: best effort. */
void overlay_gc(const HostConfig *c);
/* How many retired trees of name wait for GC. */
unsigned overlay_retired_count(const HostConfig *c, const char *name);
