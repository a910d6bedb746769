/* Downloads of Workshop files into the content cache (internal to src/host).
 *
 * The cache, <state>/workshop-cache/, holds one file per item version,
 * <id>-<time_updated>.vpk; overlays link to it. A download streams into
 * .tmp/ and is renamed into the cache only once its size matches what the
 * Workshop announced, so the cache never holds a short or long file. */
#pragma once

#include <stdint.h>

#include "config.h"
#include "error.h"
#include "workshop-api.h"

typedef struct FetchItem {
        char id[24];
        const char *url;       /* file_url, or NULL: steamcmd downloads it */
        uint64_t size;         /* file_size as announced */
        char want[64];         /* its cache file name */
        /* results */
        int result;            /* 0: in the cache; < 0: failed */
        char message[256];     /* why it failed (one line) */
        unsigned attempts;
        uint64_t got;          /* bytes of the current attempt */
} FetchItem;

typedef enum FetchEvent {
        FETCH_PROGRESS,  /* bytes arrived (throttled) */
        FETCH_RETRY,     /* an attempt failed; another follows (message says why) */
        FETCH_DONE,      /* finished: result and message are final */
} FetchEvent;

/* it is NULL for progress of the whole set; done is the bytes of the whole
 * set so far. */
typedef void (*fetch_cb)(const FetchItem *it, FetchEvent ev, uint64_t done, void *userdata);

/* Opens the cache dir, creating it. */
int workshop_cache_open(const HostConfig *c, Error *err);

/* Downloads every item: with a file_url through libcurl, set->parallel at a
 * time; the others with one steamcmd run. Failed attempts are retried after
 * set->retry_ms, doubling. Per-item outcomes are in the items; the return
 * value is < 0 only when nothing could be tried. */
int workshop_fetch(const HostConfig *c, const WorkshopSettings *set, int cache_fd, FetchItem *items, size_t n,
                   fetch_cb cb, void *userdata, Error *err);
