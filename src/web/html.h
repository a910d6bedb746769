/* The only way markup is written: literal template text through html_raw()
 * (string literals from our code, never data), and every value through the
 * escaper for its context. Modelled on cgit's html.c. Appends that pass the
 * page cap are dropped; the page then fails as a whole (see server.c). */
#pragma once

#include <stdint.h>

#include "strutil.h"

/* Template text written by us: a string literal only. The compiler holds
 * it to that (a variable after "" does not compile), so no data reaches a
 * page unescaped through here; and its length is known at compile time. */
#define html_raw(b, literal) html_rawn((b), "" literal, sizeof(literal) - 1)
static inline void html_rawn(Buf *b, const char *literal, size_t len) {
        (void) buf_append(b, literal, len);
}
/* Text content: & < > " ' escaped. */
void html_txt(Buf *b, const char *s);
/* A double-quoted attribute value: the same escaping plus newlines as &#10;. */
void html_attr(Buf *b, const char *s);
/* A URL query argument or path segment: percent-encoded except [A-Za-z0-9-._~]. */
void html_url_arg(Buf *b, const char *s);
/* Numbers need no escaping. */
void html_int(Buf *b, int64_t v);
/* v in decimal into out (not NUL-terminated); returns its length. */
size_t int_text(char out[24], int64_t v);
void html_fixed(Buf *b, double v, int decimals);
/* Appends markup that an escaper of this file already produced (a part of
 * the page rendered into its own buffer first). */
void html_built(Buf *b, const Buf *escaped);
/* A JSON string value inside an SSE data line (no raw newlines). */
void json_str(Buf *b, const char *s);
