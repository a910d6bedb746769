#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "html.h"


/* What a byte becomes: class 0 is itself (a table lookup a byte is the
 * whole cost of plain text, which is most of a page); 1-5 the markup
 * characters; 6 other control characters, which have no place in a page
 * (tidy rejects them): U+FFFD; 7-8 a newline and a carriage return, which
 * stay in text but not in a double-quoted attribute; 9 the end. */
static const uint8_t cls[256] = {
        [0x00] = 9, [0x01] = 6, [0x02] = 6, [0x03] = 6, [0x04] = 6, [0x05] = 6, [0x06] = 6, [0x07] = 6,
        [0x08] = 6, [0x0a] = 7, [0x0b] = 6, [0x0c] = 6, [0x0d] = 8, [0x0e] = 6, [0x0f] = 6, [0x10] = 6,
        [0x11] = 6, [0x12] = 6, [0x13] = 6, [0x14] = 6, [0x15] = 6, [0x16] = 6, [0x17] = 6, [0x18] = 6,
        [0x19] = 6, [0x1a] = 6, [0x1b] = 6, [0x1c] = 6, [0x1d] = 6, [0x1e] = 6, [0x1f] = 6, [0x7f] = 6,
        ['&'] = 1, ['<'] = 2, ['>'] = 3, ['"'] = 4, ['\''] = 5,
};
static const struct {
        const char *text;
        size_t len;
} reps[] = {
        [1] = { "&amp;", 5 }, [2] = { "&lt;", 4 }, [3] = { "&gt;", 4 }, [4] = { "&quot;", 6 }, [5] = { "&#39;", 5 },
        [6] = { "\xef\xbf\xbd", 3 }, [7] = { "&#10;", 5 }, [8] = { "&#13;", 5 },
};

static void escape(Buf *b, const char *s, int attr) {
        if (!s)
                return;
        const unsigned char *run = (const unsigned char *) s, *p = run;
        for (;; p++) {
                unsigned c = cls[*p];
                if (c == 0 || (c >= 7 && c <= 8 && !attr))
                        continue;
                (void) buf_append(b, run, (size_t) (p - run));
                if (c == 9)
                        return;
                (void) buf_append(b, reps[c].text, reps[c].len);
                run = p + 1;
        }
}

void html_txt(Buf *b, const char *s) {
        escape(b, s, 0);
}

void html_attr(Buf *b, const char *s) {
        escape(b, s, 1);
}

void html_url_arg(Buf *b, const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        if (!s)
                return;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
                        (void) buf_append(b, p, 1);
                } else {
                        char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
                        (void) buf_append(b, e, 3);
                }
        }
}

size_t int_text(char out[24], int64_t v) {
        /* By hand: printf's machinery is a visible cost on the list page. */
        char s[24], *p = s + sizeof s;
        uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
        do
                *--p = (char) ('0' + u % 10);
        while ((u /= 10) > 0);
        if (v < 0)
                *--p = '-';
        size_t n = (size_t) (s + sizeof s - p);
        memcpy(out, p, n);
        return n;
}

void html_int(Buf *b, int64_t v) {
        if (v >= 0 && v < 10) { /* most numbers on a page: a digit */
                char c = (char) ('0' + v);
                (void) buf_append(b, &c, 1);
                return;
        }
        char s[24];
        (void) buf_append(b, s, int_text(s, v));
}

void html_fixed(Buf *b, double v, int decimals) {
        /* Without printf where the digits are sure to be printf's: a chart
         * writes hundreds of these, and printf's floating point was two
         * thirds of rendering a server's page. Away from a tie (a fraction
         * near .5 after scaling, whose rounding printf decides on the exact
         * binary value) and for |v| < 1e9, rounding the scaled value gives
         * the same digits; the rest, zero and -0.0 included, go to printf. */
        static const long long scale[] = { 1, 10, 100, 1000 };
        if (decimals >= 0 && decimals <= 3 && v != 0 && v > -1e9 && v < 1e9) {
                double x = (v < 0 ? -v : v) * (double) scale[decimals];
                long long whole = (long long) x;
                double frac = x - (double) whole;
                if (frac < 0.499 || frac > 0.501) {
                        long long t = whole + (frac > 0.5);
                        if (v < 0)
                                (void) buf_append(b, "-", 1);
                        html_int(b, t / scale[decimals]);
                        if (decimals > 0) {
                                char d[4] = { '.' };
                                long long f = t % scale[decimals];
                                for (int i = decimals; i > 0; i--, f /= 10)
                                        d[i] = (char) ('0' + f % 10);
                                (void) buf_append(b, d, (size_t) decimals + 1);
                        }
                        return;
                }
        }
        (void) buf_printf(b, "%.*f", decimals, v);
}

void html_built(Buf *b, const Buf *escaped) {
        if (escaped->overflowed)
                b->overflowed = true; /* a part is missing: so is the page's */
        if (escaped->len)
                (void) buf_append(b, escaped->data, escaped->len);
}

void json_str(Buf *b, const char *s) {
        (void) buf_puts(b, "\"");
        for (const unsigned char *p = (const unsigned char *) s; p && *p; p++) {
                if (*p == '"' || *p == '\\')
                        (void) buf_printf(b, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        (void) buf_printf(b, "\\u%04x", *p);
                else
                        (void) buf_append(b, p, 1);
        }
        (void) buf_puts(b, "\"");
}
