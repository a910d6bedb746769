/* The render cache: pages and sessions kept in memory until the database
 * changes. Any change bumps one generation number: every write statement
 * or COMMIT of this process (db.c), and any commit by another process (the
 * admin commands) seen through the WAL file's size and mtime, checked on
 * every request. An entry of an older generation is never served, so a
 * cached page is exactly what rendering it now would produce; time-limited
 * facts (session expiry) are re-checked on every hit. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "web.h"

void cache_init(const char *db_path, bool enabled);
void cache_done(void);

/* Called by db.c after a write or COMMIT. */
void cache_bump(void);
/* The current generation (stats the WAL file). */
uint64_t cache_generation(void);

/* Sessions by token hash. A hit fills r->authed, r->user, r->session_id,
 * r->csrf. */
bool session_cache_get(const uint8_t hash[32], uint64_t gen, Req *r);
void session_cache_put(const uint8_t hash[32], uint64_t gen, const Req *r, int64_t expires_at, int64_t last_seen);

/* Pages by session and address. send() queues the cached response on conn
 * if there is a current one. put() takes over one reference of resp. */
bool page_cache_send(struct MHD_Connection *conn, int64_t session_id, const char *url, uint64_t gen,
                     enum MHD_Result *ret);
void page_cache_put(int64_t session_id, const char *url, uint64_t gen, struct MHD_Response *resp, size_t len);
