/* The overlays and overlay_jobs tables: which user owns which overlay on the
 * host (or nobody: a global overlay that admins manage and everyone may
 * use), their SQL and their owner checks, written once.
 *
 * The overlay itself lives on the host (l4d2ctl overlay ...); a row here is
 * what makes it a user's. Its host name is made here from the owner and the
 * name the owner typed ('u<id>-<name>', 'g-<name>'), so a name from a
 * browser never reaches the host without its owner prefix, and an overlay is
 * found for a request only by its row id and the owner check. */
#pragma once

#include <sqlite3.h>

#include "db.h"
#include "web.h"

#define OVERLAYS_PER_USER_MAX 50
#define OVERLAYS_GLOBAL_MAX 100
#define OVERLAY_HOST_NAME_MAX 32 /* l4d2ctl's limit on overlay names */

typedef struct Overlay {
        int64_t id;
        int64_t user_id;                      /* 0: global */
        char name[OVERLAY_HOST_NAME_MAX + 1]; /* as its owner typed it */
        char host_name[OVERLAY_HOST_NAME_MAX + 1];
        char kind[16];
        char owner[USERNAME_MAX + 1];         /* "" for a global overlay */
        bool deleting;
        int64_t created_at;
} Overlay;

/* The host name of owner_id's overlay called name (owner_id 0: global) into
 * buf; -EINVAL when name is not 1-overlay_name_max() of [A-Za-z0-9_-]
 * starting with a letter or digit. */
int overlay_host_name(int64_t owner_id, const char *name, char buf[OVERLAY_HOST_NAME_MAX + 1]);
/* How long a name owner_id types may be (the prefix takes the rest). */
size_t overlay_name_max(int64_t owner_id);

/* A new overlay of owner_id (0: global): its row, with its host name.
 * -EEXIST: the owner has one of that name; -EDQUOT: the owner (or the
 * global overlays) reached the limit; -EINVAL: a bad name. */
int overlay_create(sqlite3 *db, int64_t owner_id, const char *name, const char *kind, Overlay *ret);
/* The row only: after the host deleted the overlay, or when creating it on
 * the host failed. */
int overlay_remove(sqlite3 *db, int64_t id);

/* One overlay u may see: their own or a global one (an admin: any).
 * -ENOENT for an id that does not exist or is another user's: the same
 * answer. */
int overlay_load(sqlite3 *db, int64_t id, const User *u, Overlay *ret);
/* Whether u may change it: its owner, or an admin (global ones: admins only). */
bool overlay_writable(const Overlay *o, const User *u);
/* The overlay of that host name, whoever owns it; -ENOENT. */
int overlay_find_host_name(sqlite3 *db, const char *host_name, Overlay *ret);

/* The overlays u may see: global ones first, then by owner and name. */
int overlays_list(DbIter *it, sqlite3 *db, const User *u);
/* What a blueprint of owner_id may stack: the owner's overlays and the
 * global ones, not being deleted, by name. */
int overlays_usable(DbIter *it, sqlite3 *db, int64_t owner_id);
bool overlay_next(DbIter *it, Overlay *ret);

/* Checks an overlay list (names a line, host names) of a blueprint of
 * owner_id: every name must be the owner's or a global overlay. An admin
 * (editor_admin) may also name another user's overlay, or one the panel
 * does not manage (made by hand on the host). None may be being deleted.
 * 0, or -EPERM with the first name at fault in bad; -EIO. */
int overlays_check_usable(sqlite3 *db, int64_t owner_id, bool editor_admin, const char *lines, char *bad,
                          size_t badsize);

/* overlays_check_usable as a blueprint_save_checked() check: userdata is
 * an OverlayUsable; -EPERM with the name at fault in bad. */
typedef struct OverlayUsable {
        int64_t owner_id;
        bool admin;          /* the editor is an admin */
        const char *overlays;
        char bad[OVERLAY_HOST_NAME_MAX + 2];
} OverlayUsable;
int overlays_usable_check(sqlite3 *db, void *userdata);

/* Marks the overlay as being deleted, in one transaction with the check
 * that no blueprint names it (-EBUSY): a blueprint saved later cannot pick
 * it (overlays_check_usable runs in the save's transaction). */
int overlay_begin_delete(sqlite3 *db, const Overlay *o);
/* The host refused (a running server stacks it): usable again. */
int overlay_cancel_delete(sqlite3 *db, int64_t id);

/* Build jobs. */
/* Ties a job to the overlay it builds (in the job's enqueue transaction). */
int overlay_job_link(sqlite3 *db, int64_t job_id, int64_t overlay_id);
/* A job of kind for the overlay that is still queued: 1 (its id in
 * *ret_job), 0 none, -EIO. */
int overlay_job_queued(sqlite3 *db, int64_t overlay_id, const char *kind, int64_t *ret_job);
/* The newest job of the overlay: 1 (*ret_job), 0 none, -EIO. */
int overlay_job_latest(sqlite3 *db, int64_t overlay_id, int64_t *ret_job);
/* The overlay a job builds; -ENOENT when it is gone. */
int overlay_of_job(sqlite3 *db, int64_t job_id, Overlay *ret);
