#include <sodium.h>
#include <string.h>

#include "csrf.h"
#include "keys.h"

#define PRE_PURPOSE "l4m_pre"
#define PRE_BODY 16 /* issue time (4, big-endian) + nonce (12) */
#define PRE_MAC 16

static bool same(const char *a, const char *b) {
        size_t n = strlen(a);
        return n == 64 && strlen(b) == n && sodium_memcmp(a, b, n) == 0;
}

/* The token's age in seconds, or -1 if the panel did not make it. */
static int64_t token_age(const char *token) {
        uint8_t raw[PRE_BODY + PRE_MAC];
        size_t n = 0;
        if (!token || strlen(token) != 2 * sizeof raw ||
            sodium_hex2bin(raw, sizeof raw, token, strlen(token), NULL, &n, NULL) != 0 || n != sizeof raw)
                return -1;
        if (!keys_mac_ok(PRE_PURPOSE, raw, PRE_BODY, raw + PRE_BODY, PRE_MAC))
                return -1;
        int64_t issued = (int64_t) raw[0] << 24 | raw[1] << 16 | raw[2] << 8 | raw[3];
        int64_t age = (now_sec() & 0xffffffff) - issued;
        return age < -60 ? -1 : age < 0 ? 0 : age;
}

bool prelogin_token_valid(const char *token) {
        int64_t age = token_age(token);
        return age >= 0 && age <= PRELOGIN_MAX_AGE;
}

static void prelogin_token_new(char out[65]) {
        uint8_t raw[PRE_BODY + 32];
        uint32_t t = (uint32_t) now_sec();
        raw[0] = (uint8_t) (t >> 24);
        raw[1] = (uint8_t) (t >> 16);
        raw[2] = (uint8_t) (t >> 8);
        raw[3] = (uint8_t) t;
        randombytes_buf(raw + 4, PRE_BODY - 4);
        keys_mac(PRE_PURPOSE, raw, PRE_BODY, raw + PRE_BODY);
        sodium_bin2hex(out, 65, raw, PRE_BODY + PRE_MAC);
}

bool csrf_check(Req *r) {
        const char *sent = form_get(r, CSRF_FIELD);
        if (!sent)
                sent = header_get(r, CSRF_HEADER);
        if (!sent)
                return false;
        if (r->authed)
                return same(sent, r->csrf);
        const char *cookie = cookie_get(r, PRELOGIN_COOKIE);
        return cookie && same(sent, cookie) && prelogin_token_valid(cookie);
}

const char *csrf_token(Req *r) {
        if (r->csrf[0])
                return r->csrf;
        const char *cookie = cookie_get(r, PRELOGIN_COOKIE);
        /* Kept while it has more than half its life left: a form shown
         * now is sent with time to spare. */
        int64_t age = cookie ? token_age(cookie) : -1;
        if (age >= 0 && age <= PRELOGIN_MAX_AGE / 2) {
                snprintf(r->csrf, sizeof r->csrf, "%s", cookie);
                return r->csrf;
        }
        prelogin_token_new(r->csrf);
        req_set_cookie(r, PRELOGIN_COOKIE, r->csrf, PRELOGIN_MAX_AGE);
        return r->csrf;
}
