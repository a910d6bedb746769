#include <sodium.h>
#include <string.h>

#include "csrf.h"

static bool same(const char *a, const char *b) {
        size_t n = strlen(a);
        return n == 64 && strlen(b) == n && sodium_memcmp(a, b, n) == 0;
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
        return cookie && same(sent, cookie);
}

const char *csrf_token(Req *r) {
        if (r->csrf[0])
                return r->csrf;
        const char *cookie = cookie_get(r, PRELOGIN_COOKIE);
        if (cookie && strlen(cookie) == 64 && strspn(cookie, "0123456789abcdef") == 64) {
                snprintf(r->csrf, sizeof r->csrf, "%s", cookie);
                return r->csrf;
        }
        unsigned char raw[32];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(r->csrf, sizeof r->csrf, raw, sizeof raw);
        req_set_cookie(r, PRELOGIN_COOKIE, r->csrf, 3600);
        return r->csrf;
}
