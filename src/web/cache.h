/* The render cache: pages and sessions kept in memory until a table they
 * read changes. The key's generation is the sum of the write counters of
 * those tables (db_generation(): triggers count every writer, this process
 * or another), taken when the request began; an entry of an older
 * generation is never served, so a cached page is exactly what rendering it
 * now would produce. A page reads the tables its route names (routes.c),
 * so the watch writing server state keeps the blueprint and job pages.
 * Time-limited facts (session expiry) are re-checked on every hit. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "web.h"

/* pages: whether pages are cached (LEFT4ME_PAGE_CACHE=0 turns it off, to
 * measure rendering). Sessions are cached either way: a session lookup is
 * not a page, and a page is rendered again because its tables changed,
 * not because the session did. */
void cache_init(bool pages);
bool cache_enabled(void);
void cache_done(void);

/* The tables a session's lookup reads. */
#define SESSION_READS (DB_USERS | DB_SESSIONS)

/* Sessions by token hash. A hit fills r->authed, r->user, r->session_id,
 * r->csrf. */
bool session_cache_get(const uint8_t hash[32], uint64_t gen, Req *r);
void session_cache_put(const uint8_t hash[32], uint64_t gen, const Req *r, int64_t expires_at, int64_t last_seen);

/* Pages by session and address. send() queues the cached response on conn
 * if there is a current one. put() takes over one reference of resp. */
bool page_cache_send(struct MHD_Connection *conn, int64_t session_id, const char *url, uint64_t gen,
                     enum MHD_Result *ret);
void page_cache_put(int64_t session_id, const char *url, uint64_t gen, struct MHD_Response *resp, size_t len);
