#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "html.h"

void html_raw(Buf *b, const char *literal) {
        (void) buf_puts(b, literal);
}

static void escape(Buf *b, const char *s, int attr) {
        if (!s)
                return;
        const char *run = s;
        for (const char *p = s; *p; p++) {
                const char *rep = NULL;
                switch (*p) {
                case '&': rep = "&amp;"; break;
                case '<': rep = "&lt;"; break;
                case '>': rep = "&gt;"; break;
                case '"': rep = "&quot;"; break;
                case '\'': rep = "&#39;"; break;
                case '\n': rep = attr ? "&#10;" : NULL; break;
                case '\r': rep = attr ? "&#13;" : NULL; break;
                default:
                        /* Other control characters have no place in a page
                         * (tidy rejects them); show them as U+FFFD. */
                        if ((unsigned char) *p < 0x20 && *p != '\n' && *p != '\r' && *p != '\t')
                                rep = "\xef\xbf\xbd";
                        else if (*p == 0x7f)
                                rep = "\xef\xbf\xbd";
                }
                if (!rep)
                        continue;
                (void) buf_append(b, run, (size_t) (p - run));
                (void) buf_puts(b, rep);
                run = p + 1;
        }
        (void) buf_puts(b, run);
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

void html_int(Buf *b, int64_t v) {
        /* By hand: printf's machinery is a visible cost on the list page. */
        char s[24], *p = s + sizeof s;
        uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
        do
                *--p = (char) ('0' + u % 10);
        while ((u /= 10) > 0);
        if (v < 0)
                *--p = '-';
        (void) buf_append(b, p, (size_t) (s + sizeof s - p));
}

void html_fixed(Buf *b, double v, int decimals) {
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
