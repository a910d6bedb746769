/* The Steam Web API as the Workshop needs it (internal to src/host). */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "error.h"

/* Settings, from the environment or host.env (see l4d2ctl(1)). */
typedef struct WorkshopSettings {
        char *api_url;        /* LEFT4ME_STEAM_API_URL, default https://api.steampowered.com */
        long timeout_s;       /* LEFT4ME_STEAM_API_TIMEOUT: per API request; a download that
                               * moves less than 1 KiB/s for this long fails too */
        long parallel;        /* LEFT4ME_WORKSHOP_PARALLEL: downloads at once */
        long attempts;        /* LEFT4ME_WORKSHOP_ATTEMPTS: tries per download */
        long retry_ms;        /* LEFT4ME_WORKSHOP_RETRY_MS: first backoff, doubled each time */
} WorkshopSettings;

int workshop_settings_load(const HostConfig *c, WorkshopSettings *ret, Error *err);
void workshop_settings_free(WorkshopSettings *s);

typedef struct SteamApi {
        void *curl;           /* one easy handle: its connection is kept alive */
        const WorkshopSettings *set;
        unsigned requests;    /* made so far */
} SteamApi;

int steam_api_open(SteamApi *api, const WorkshopSettings *set, Error *err);
void steam_api_close(SteamApi *api);

/* ISteamRemoteStorage/GetPublishedFileDetails/v1 and GetCollectionDetails/v1
 * for n IDs (n <= STEAM_API_MAX_IDS): *ret is the answer's array
 * (publishedfiledetails / collectiondetails), checked to hold an object
 * with a known publishedfileid for every ID asked. A timeout, an HTTP error
 * or an answer that is not that: -EIO and a message that says which. */
#define STEAM_API_MAX_IDS 200
int steam_api_file_details(SteamApi *api, const char *const *ids, size_t n, json_t **ret, Error *err);
int steam_api_collection_details(SteamApi *api, const char *const *ids, size_t n, json_t **ret, Error *err);

/* How to split n_items items and n_collections collections into
 * GetPublishedFileDetails requests: one request per 100 items; the
 * collections ride along (at most 10 extra IDs a request). Returns the
 * number of requests; *ret_per is the most IDs one request carries. */
size_t steam_api_batches(size_t n_items, size_t n_collections, size_t *ret_per);

/* A JSON number or decimal string (the API uses both) as uint64; 0 if
 * neither. */
unsigned long long steam_api_u64(const json_t *v);
