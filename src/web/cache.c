#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "session.h"

#define PAGES 256
#define SESSIONS 256
#define PAGE_CACHE_MAX_BYTES (64 * 1024)

typedef struct PageEntry {
        int64_t session_id;
        char url[128];
        uint64_t gen;
        struct MHD_Response *resp;
} PageEntry;

typedef struct SessionEntry {
        uint8_t hash[32];
        uint64_t gen;
        int64_t session_id, expires_at, last_seen;
        User user;
        char csrf[65];
        bool used;
} SessionEntry;

static bool enabled;

static pthread_rwlock_t page_lock = PTHREAD_RWLOCK_INITIALIZER;
static PageEntry pages[PAGES];
static pthread_rwlock_t session_lock = PTHREAD_RWLOCK_INITIALIZER;
static SessionEntry sessions[SESSIONS];

void cache_init(bool on) {
        enabled = on;
}

bool cache_enabled(void) {
        return enabled;
}

void cache_done(void) {
        pthread_rwlock_wrlock(&page_lock);
        for (size_t i = 0; i < PAGES; i++)
                if (pages[i].resp) {
                        MHD_destroy_response(pages[i].resp);
                        pages[i].resp = NULL;
                }
        pthread_rwlock_unlock(&page_lock);
}

static size_t session_slot(const uint8_t hash[32]) {
        return (hash[0] | (size_t) hash[1] << 8) % SESSIONS;
}

bool session_cache_get(const uint8_t hash[32], uint64_t gen, Req *r) {
        bool hit = false;
        int64_t now = now_sec();
        pthread_rwlock_rdlock(&session_lock);
        SessionEntry *e = &sessions[session_slot(hash)];
        /* A hit also needs the idle refresh not yet due (session.c writes
         * last_seen once a minute) and the session unexpired. */
        if (e->used && e->gen == gen && memcmp(e->hash, hash, 32) == 0 && now < e->expires_at &&
            now - e->last_seen <= 60) {
                r->authed = true;
                r->session_id = e->session_id;
                r->user = e->user;
                memcpy(r->csrf, e->csrf, sizeof r->csrf);
                hit = true;
        }
        pthread_rwlock_unlock(&session_lock);
        return hit;
}

void session_cache_put(const uint8_t hash[32], uint64_t gen, const Req *r, int64_t expires_at, int64_t last_seen) {
        pthread_rwlock_wrlock(&session_lock);
        SessionEntry *e = &sessions[session_slot(hash)];
        memcpy(e->hash, hash, 32);
        e->gen = gen;
        e->session_id = r->session_id;
        e->expires_at = expires_at;
        e->last_seen = last_seen;
        e->user = r->user;
        memcpy(e->csrf, r->csrf, sizeof e->csrf);
        e->used = true;
        pthread_rwlock_unlock(&session_lock);
}

static size_t page_slot(int64_t session_id, const char *url) {
        uint64_t h = 1469598103934665603ULL ^ (uint64_t) session_id;
        for (const char *p = url; *p; p++)
                h = (h ^ (unsigned char) *p) * 1099511628211ULL;
        return h % PAGES;
}

bool page_cache_send(struct MHD_Connection *conn, int64_t session_id, const char *url, uint64_t gen,
                     enum MHD_Result *ret) {
        if (!enabled)
                return false;
        bool hit = false;
        pthread_rwlock_rdlock(&page_lock);
        PageEntry *e = &pages[page_slot(session_id, url)];
        if (e->resp && e->gen == gen && e->session_id == session_id && streq(e->url, url)) {
                /* Queued under the read lock: MHD takes its own reference
                 * before an eviction (write lock) can drop ours. */
                *ret = MHD_queue_response(conn, MHD_HTTP_OK, e->resp);
                hit = true;
        }
        pthread_rwlock_unlock(&page_lock);
        return hit;
}

void page_cache_put(int64_t session_id, const char *url, uint64_t gen, struct MHD_Response *resp, size_t len) {
        if (!enabled || len > PAGE_CACHE_MAX_BYTES || strlen(url) >= sizeof pages[0].url) {
                MHD_destroy_response(resp);
                return;
        }
        pthread_rwlock_wrlock(&page_lock);
        PageEntry *e = &pages[page_slot(session_id, url)];
        if (e->resp)
                MHD_destroy_response(e->resp);
        e->session_id = session_id;
        snprintf(e->url, sizeof e->url, "%s", url);
        e->gen = gen;
        e->resp = resp;
        pthread_rwlock_unlock(&page_lock);
}
