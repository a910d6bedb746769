#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "strutil.h"

static int buf_reserve(Buf *b, size_t extra) {
        if (b->max && (b->len + extra > b->max)) {
                b->overflowed = true;
                return -E2BIG;
        }
        if (b->len + extra + 1 <= b->cap)
                return 0;
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + extra + 1)
                ncap *= 2;
        char *n = realloc(b->data, ncap);
        if (!n)
                return -ENOMEM;
        b->data = n;
        b->cap = ncap;
        return 0;
}

int buf_append_grow(Buf *b, const void *data, size_t len) {
        int r = buf_reserve(b, len);
        if (r < 0)
                return r;
        if (len)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
        return 0;
}

int buf_puts(Buf *b, const char *s) {
        return buf_append(b, s, strlen(s));
}

int buf_printf(Buf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        int r = buf_reserve(b, (size_t) n);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t) n;
        return 0;
}

void buf_free(Buf *b) {
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
        b->overflowed = false;
}

bool name_is_valid(const char *s) {
        if (!s || !*s || strlen(s) > NAME_MAX_LEN)
                return false;
        if (!isalnum((unsigned char) s[0]))
                return false;
        for (const char *p = s; *p; p++)
                if (!(isalnum((unsigned char) *p) || *p == '_' || *p == '-') || (unsigned char) *p >= 0x80)
                        return false;
        return true;
}

bool build_id_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > BUILD_ID_MAX_LEN || (s[0] == '0' && n > 1))
                return false;
        for (const char *p = s; *p; p++)
                if (*p < '0' || *p > '9')
                        return false;
        return true;
}

int parse_long(const char *s, long min, long max, long *ret) {
        if (!s || !*s || isspace((unsigned char) *s))
                return -EINVAL;
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno == ERANGE || *end)
                return errno == ERANGE ? -ERANGE : -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        if (!s || !*s || !isdigit((unsigned char) *s)) {
                if (s && streq(s, "infinity")) {
                        *ret = 0;
                        return 0;
                }
                return -EINVAL;
        }
        char *end;
        errno = 0;
        unsigned long long n = strtoull(s, &end, 10);
        unsigned shift = 0;
        switch (*end) {
        case 'K': shift = 10; end++; break;
        case 'M': shift = 20; end++; break;
        case 'G': shift = 30; end++; break;
        case 'T': shift = 40; end++; break;
        }
        if (errno == ERANGE || *end || n > (UINT64_MAX >> shift))
                return -EINVAL;
        *ret = (uint64_t) n << shift;
        return 0;
}

bool has_control_chars(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return true;
        return false;
}

bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

int strv_push(char ***v, size_t *n, char *s) {
        char **nv = realloc(*v, (*n + 2) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        nv[(*n)++] = s;
        nv[*n] = NULL;
        *v = nv;
        return 0;
}

int strv_push_dup(char ***v, size_t *n, const char *s) {
        char *d = strdup(s);
        if (!d)
                return -ENOMEM;
        int r = strv_push(v, n, d);
        if (r < 0)
                free(d);
        return r;
}

void strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

int strv_split_lines(const char *text, size_t max, char ***ret, size_t *ret_n) {
        char **v = calloc(1, sizeof(char *));
        size_t n = 0;
        if (!v)
                return -ENOMEM;
        for (const char *p = text; *p && n <= max;) {
                size_t len = strcspn(p, "\n");
                char *line = strndup(p, len);
                if (!line || strv_push(&v, &n, line) < 0) {
                        free(line);
                        strv_free(v);
                        return -ENOMEM;
                }
                p += len + (p[len] == '\n');
        }
        *ret = v;
        *ret_n = n;
        return 0;
}
