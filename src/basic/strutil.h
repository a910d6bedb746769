#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"

/* A growable byte buffer with a hard cap (max); appends past the cap fail with
 * -E2BIG instead of growing without bound, and set overflowed, which stays
 * set: a writer that ignores each append's result (a page being rendered)
 * still learns at the end that something is missing. data is always
 * NUL-terminated. */
typedef struct Buf {
        char *data;
        size_t len, cap, max;
        bool overflowed;
} Buf;

#define BUF_INIT(maxbytes) { .max = (maxbytes) }

int buf_append_grow(Buf *b, const void *data, size_t len);
/* Inline while it fits: a page is a few thousand small appends. */
static inline int buf_append(Buf *b, const void *data, size_t len) {
        if (b->len + len < b->cap && (!b->max || b->len + len <= b->max)) {
                memcpy(b->data + b->len, data, len);
                b->len += len;
                b->data[b->len] = '\0';
                return 0;
        }
        return buf_append_grow(b, data, len);
}
int buf_puts(Buf *b, const char *s);
int buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3);
void buf_free(Buf *b);
static inline void buf_freep(Buf *b) {
        buf_free(b);
}
#define _cleanup_buf_ _cleanup_(buf_freep)

/* Object names (instances, overlays): 1-32 characters of [A-Za-z0-9_-],
 * starting with a letter or digit. Safe as a path component, a systemd unit
 * instance and an overlayfs option value without escaping. */
#define NAME_MAX_LEN 32
bool name_is_valid(const char *s);

/* Game build ids (Steam's buildid of app 222860): 1-19 decimal digits
 * without a leading zero (or "0"), so every one fits a uint64 and compares
 * as a number. Safe as a path component. */
#define BUILD_ID_MAX_LEN 19
bool build_id_is_valid(const char *s);

/* Parses a decimal integer in [min, max]; the whole string must be used. */
int parse_long(const char *s, long min, long max, long *ret);

/* Parses a size: a whole number with an optional K, M, G or T suffix (powers
 * of 1024), or "infinity" (stored as 0: no limit), as host.env writes them. */
int parse_size(const char *s, uint64_t *ret);

/* True if s contains a byte < 0x20 or 0x7f (newline, tab, escape, ...). */
bool has_control_chars(const char *s);

bool startswith(const char *s, const char *prefix);

/* A NULL-terminated array of owned strings. */
typedef char **strv_t;
int strv_push(char ***v, size_t *n, char *s); /* takes s (on success only) */
int strv_push_dup(char ***v, size_t *n, const char *s);
void strv_free(char **v);
/* Splits text at '\n' into a new array (empty text: no entries). At most
 * max + 1 lines are taken, so that a caller can tell "more than max". */
int strv_split_lines(const char *text, size_t max, char ***ret, size_t *ret_n);
static inline void strv_freep(char ***v) {
        strv_free(*v);
}
#define _cleanup_strv_ _cleanup_(strv_freep)
