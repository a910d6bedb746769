#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "steamid.h"

/* Reads a canonical decimal number (no sign, no leading zero unless it is
 * "0") from s[*i..len) that must be <= max. */
static int read_uint(const char *s, size_t len, size_t *i, uint64_t max, uint64_t *ret) {
        size_t start = *i;
        uint64_t v = 0;
        while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
                unsigned d = (unsigned) (s[*i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
                (*i)++;
        }
        if (*i == start)
                return -EINVAL;
        if (s[start] == '0' && *i - start > 1)
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static bool eat(const char *s, size_t len, size_t *i, const char *lit) {
        size_t l = strlen(lit);
        if (len - *i < l || memcmp(s + *i, lit, l) != 0)
                return false;
        *i += l;
        return true;
}

int steamid_parse_n(const char *s, size_t len, uint64_t *ret) {
        size_t i = 0;
        uint64_t x, y, z, w;
        int r;

        if (!s || len == 0)
                return -EINVAL;

        if (eat(s, len, &i, "STEAM_")) {
                if ((r = read_uint(s, len, &i, UINT64_MAX, &x)) < 0)
                        return r;
                if (!eat(s, len, &i, ":"))
                        return -EINVAL;
                if ((r = read_uint(s, len, &i, UINT64_MAX, &y)) < 0)
                        return r;
                if (!eat(s, len, &i, ":"))
                        return -EINVAL;
                if ((r = read_uint(s, len, &i, UINT64_MAX, &z)) < 0)
                        return r;
                if (i != len)
                        return -EINVAL;
                /* Universe 0 ("individual/unspecified", what old engines
                 * print) and 1 (public) both mean the public universe. */
                if (x > 1 || y > 1 || z > 0x7fffffff)
                        return -ERANGE;
                *ret = STEAMID64_BASE + 2 * z + y;
                return 0;
        }

        if (eat(s, len, &i, "[U:1:")) {
                if ((r = read_uint(s, len, &i, UINT64_MAX, &w)) < 0)
                        return r;
                if (!eat(s, len, &i, "]") || i != len)
                        return -EINVAL;
                if (w > 0xffffffff)
                        return -ERANGE;
                *ret = STEAMID64_BASE + w;
                return 0;
        }

        if ((r = read_uint(s, len, &i, UINT64_MAX, &w)) < 0)
                return r;
        if (i != len)
                return -EINVAL;
        if (w < STEAMID64_BASE || w > STEAMID64_MAX)
                return -ERANGE;
        *ret = w;
        return 0;
}

int steamid_parse(const char *s, uint64_t *ret) {
        if (!s)
                return -EINVAL;
        return steamid_parse_n(s, strlen(s), ret);
}

int steamid_to_steam2(uint64_t id, unsigned universe, char *buf, size_t n) {
        if (id < STEAMID64_BASE || id > STEAMID64_MAX || universe > 1)
                return -ERANGE;
        uint64_t w = id - STEAMID64_BASE;
        int k = snprintf(buf, n, "STEAM_%u:%u:%u", universe, (unsigned) (w & 1), (unsigned) (w >> 1));
        if (k < 0 || (size_t) k >= n)
                return -ENOBUFS;
        return 0;
}

int steamid_to_steam3(uint64_t id, char *buf, size_t n) {
        if (id < STEAMID64_BASE || id > STEAMID64_MAX)
                return -ERANGE;
        int k = snprintf(buf, n, "[U:1:%u]", (unsigned) (id - STEAMID64_BASE));
        if (k < 0 || (size_t) k >= n)
                return -ENOBUFS;
        return 0;
}
