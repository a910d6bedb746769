#include <errno.h>
#include <sys/random.h>

#include "random.h"

static int fill(unsigned char *b, size_t n) {
        size_t got = 0;
        while (got < n) {
                ssize_t k = getrandom(b + got, n - got, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t) k;
        }
        return 0;
}

void random_hex(char *buf, size_t size) {
        static const char hex[] = "0123456789abcdef";
        unsigned char b[64];
        if (size == 0)
                return;
        size_t n = size - 1 > sizeof b ? sizeof b : size - 1;
        if (fill(b, n) < 0)
                for (size_t i = 0; i < n; i++)
                        b[i] = (unsigned char) (i * 131u + 7u); /* only for temp-file names */
        for (size_t i = 0; i < n; i++)
                buf[i] = hex[b[i] & 15];
        buf[n] = '\0';
}

int random_alnum(char *buf, size_t size) {
        static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        if (size == 0)
                return 0;
        size_t i = 0;
        while (i < size - 1) {
                unsigned char b[32];
                int r = fill(b, sizeof b);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < sizeof b && i < size - 1; k++)
                        if (b[k] < 248) /* 248 = 4 * 62: no modulo bias */
                                buf[i++] = set[b[k] % 62];
        }
        buf[size - 1] = '\0';
        return 0;
}
