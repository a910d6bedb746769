/* The overlay_scripts table: a script overlay's build script, kept by the
 * panel (the host is handed a copy: job-overlay-script.h). Every statement
 * on it is here. The overlay's owner check is svc-overlays' (overlay_load):
 * callers pass the id of an overlay they loaded through it, or one a job
 * is tied to. */
#pragma once

#include <sqlite3.h>

#include "web.h"

#define OVERLAY_SCRIPT_MAX (1024 * 1024) /* l4d2ctl overlay script set's limit */

typedef struct OverlayScript {
        char *text;                          /* NUL-terminated; the caller frees it */
        size_t len;
        int64_t version, host_version;
        int64_t updated_at;
        char updated_by[USERNAME_MAX + 1];   /* "" when that user is gone */
} OverlayScript;

/* The overlay's script: 0, -ENOENT (none saved yet), -EIO. */
int overlay_script_get(sqlite3 *db, int64_t overlay_id, OverlayScript *ret);
void overlay_script_free(OverlayScript *s);
/* Saves text (valid UTF-8, no NUL, at most OVERLAY_SCRIPT_MAX bytes: the
 * caller checked) as the overlay's script, one version newer; its version
 * in *ret_version. */
int overlay_script_put(sqlite3 *db, int64_t overlay_id, int64_t user_id, const char *text, int64_t *ret_version);
/* The host was given version (never goes back: a slower hand-over of an
 * older version does not undo a newer one's mark). */
int overlay_script_mark_handed_over(sqlite3 *db, int64_t overlay_id, int64_t version);
