#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "session.h"
#include "svc-sessions.h"

static void token_hash(const char *token, unsigned char out[32]) {
        crypto_generichash(out, 32, (const unsigned char *) token, strlen(token), NULL, 0);
}

int session_create(Req *r, const User *user) {
        unsigned char raw[32], hash[32], craw[32];
        char token[65], csrf[65];
        randombytes_buf(raw, sizeof raw);
        randombytes_buf(craw, sizeof craw);
        sodium_bin2hex(token, sizeof token, raw, sizeof raw);
        sodium_bin2hex(csrf, sizeof csrf, craw, sizeof craw);
        token_hash(token, hash);
        int64_t id;
        if (session_insert(r->db, user->id, hash, csrf, now_sec(), &id) < 0)
                return -EIO;
        r->authed = true;
        r->user = *user;
        r->session_id = id;
        memcpy(r->csrf, csrf, sizeof csrf);
        req_set_cookie(r, SESSION_COOKIE, token, SESSION_MAX_SECONDS);
        return 0;
}

bool session_load_cached(Req *r) {
        const char *token = cookie_get(r, SESSION_COOKIE);
        if (!token || strlen(token) != 64)
                return false;
        unsigned char hash[32];
        token_hash(token, hash);
        return session_cache_get(hash, r->session_gen, r);
}

void session_load(Req *r) {
        const char *token = cookie_get(r, SESSION_COOKIE);
        if (!token || strlen(token) != 64)
                return;
        unsigned char hash[32];
        token_hash(token, hash);
        if (session_cache_get(hash, r->session_gen, r))
                return;
        int64_t now = now_sec();
        SessionRow row;
        if (session_find(r->db, hash, now, &row) < 0)
                return;
        r->authed = true;
        r->session_id = row.id;
        r->user = row.user;
        memcpy(r->csrf, row.csrf, sizeof r->csrf);

        /* Refresh the idle timer at most once a minute: a page view is then
         * a read, not a write. */
        if (now - row.last_seen > 60) {
                (void) session_touch(r->db, row.id, now);
                return; /* that write made this generation stale anyway */
        }
        session_cache_put(hash, r->session_gen, r, row.expires_at, row.last_seen);
}

void session_end(Req *r) {
        if (r->session_id)
                (void) session_delete(r->db, r->session_id);
        r->authed = false;
        r->session_id = 0;
        req_set_cookie(r, SESSION_COOKIE, "", 0);
}

