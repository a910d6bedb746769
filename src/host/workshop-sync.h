/* The Workshop sync engine (internal): resolves the sources of one or more
 * workshop overlays through the Steam Web API, downloads what the cache
 * lacks and publishes each overlay's new tree. Used by overlay build (one
 * overlay, everything re-resolved) and workshop refresh (every overlay,
 * one metadata pass, only what changed). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "config.h"
#include "error.h"
#include "overlay.h"

typedef struct SyncTarget {
        char name[NAME_MAX_LEN + 1];
        int log_fd;            /* its build log, or -1 (not owned) */
        /* results */
        bool changed;          /* published a new tree */
        bool saved;            /* its metadata was rewritten */
        unsigned failed;       /* items whose download failed */
        char error[512];       /* the first failure, for the build record */
} SyncTarget;

/* full: re-expand every collection and re-read every item (a build);
 * otherwise one GetPublishedFileDetails pass and only what changed (a
 * refresh). Returns < 0 (err set) if the metadata could not be had: then
 * nothing was written. Download failures are per target. */
int workshop_sync(const HostConfig *c, SyncTarget *targets, size_t n, bool full, overlay_event_cb cb,
                  void *userdata, unsigned *ret_requests, Error *err);
