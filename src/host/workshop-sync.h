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
#include "workshop-api.h"
#include "workshop-fetch.h"

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

/* ---- inside the engine (workshop-sync.c, workshop-resolve.c) ---- */

typedef struct Sync {
        const HostConfig *c;
        WorkshopSettings set;
        SteamApi api;
        json_t *cat;
        SyncTarget *t;
        json_t **sources;  /* per target */
        json_t **order;    /* per target: its items, in order */
        json_t **problems; /* per target */
        size_t n;
        bool full;
        overlay_event_cb cb;
        void *userdata;
        int cache_fd;
        /* progress of the downloads */
        uint64_t total;
        unsigned items_total, items_done;
        FetchItem *fetch;
        size_t n_fetch;
} Sync;

/* Sends ev to the caller and its line to the logs of target (all if NULL).
 * Takes ev. */
void sync_emit(Sync *s, const SyncTarget *target, json_t *ev);

/* The catalog's node for id (made, of kind "unknown", if missing). */
json_t *sync_node(Sync *s, const char *id);
const char *sync_kind(const json_t *node);
void sync_set(json_t *node, const char *key, const char *v);

/* Resolves every target's sources; < 0 if the API failed (nothing written). */
int sync_resolve(Sync *s, Error *err);
/* Fills s->order[ti] and s->problems[ti] from the catalog. */
void sync_walk(Sync *s, size_t ti);
