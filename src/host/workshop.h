/* Workshop overlays: Steam Workshop items and collections of Left 4 Dead 2
 * (app 550), resolved through the Steam Web API, downloaded once into a
 * shared cache (<state>/workshop-cache/<id>-<time_updated>.vpk) and
 * published as left4dead2/addons/<id>.vpk hard links in the overlay's tree.
 *
 * workshop.c       the overlay side: sources, build, refresh, items
 * workshop-api.c   the Steam Web API (libcurl) and Workshop IDs/URLs
 * workshop-fetch.c downloads (libcurl multi, or steamcmd) into the cache */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "overlay.h"

#define WORKSHOP_APP_ID 550
#define WORKSHOP_ID_MAX 24 /* a decimal uint64 and its NUL */

/* Limits on what a user can make an overlay hold. */
#define WORKSHOP_MAX_SOURCES 1000
#define WORKSHOP_MAX_ITEMS 5000
#define WORKSHOP_MAX_COLLECTIONS 1000
#define WORKSHOP_MAX_DEPTH 16

/* A Workshop ID, or a steamcommunity.com/sharedfiles/filedetails/?id=ID URL,
 * as the canonical decimal ID. Anything else: -EINVAL, err says why. */
int workshop_parse_ref(const char *arg, char ret[WORKSHOP_ID_MAX], Error *err);

/* Hooks of the overlay store's kind table. */
int workshop_init_meta(json_t *meta);
void workshop_summary(const HostConfig *c, const char *name, const json_t *meta, json_t *show);
int workshop_build(OverlayBuild *b, Error *err);
/* Removes cache files no overlay tree links any more (link count 1). */
void workshop_cache_gc(const HostConfig *c);

/* Adds sources (IDs or URLs; all checked before anything is written) or
 * removes them (IDs that were added, not items of a collection). Takes
 * effect at the next build. ret_changed: how many were new / removed. */
int workshop_add(const HostConfig *c, const char *name, char *const *refs, size_t n, unsigned *ret_changed,
                 Error *err);
int workshop_remove(const HostConfig *c, const char *name, char *const *refs, size_t n, unsigned *ret_changed,
                    Error *err);

/* The items object of docs/l4d2ctl-contract.md. */
int workshop_items(const HostConfig *c, const char *name, json_t **ret, Error *err);

/* Every workshop overlay that is not being built: one metadata pass over all
 * of their items (one request per 100 items), then downloads and rebuilds of
 * what changed only. An API that fails or answers garbage changes nothing. */
int workshop_refresh(const HostConfig *c, overlay_event_cb cb, void *userdata, bool *ret_changed, Error *err);
