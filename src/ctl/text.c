/* Text that came from somewhere else (a game server, a backend's detail),
 * made safe for l4d2ctl's two kinds of output: a terminal and JSON. */
#include <string.h>

#include "ctl.h"
#include "strutil.h"

const char *ctl_shown(const char *s) {
        static char ring[8][1024];
        static unsigned next;
        if (!s)
                return "-";
        if (!has_control_chars(s))
                return s;
        char *b = ring[next++ % ELEMENTSOF(ring)];
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *) s; *p && o + 5 < sizeof(ring[0]); p++) {
                if (*p < 0x20 || *p == 0x7f)
                        o += (size_t) snprintf(b + o, 5, "\\x%02x", *p);
                else
                        b[o++] = (char) *p;
        }
        b[o] = 0;
        return b;
}

json_t *ctl_json_text_n(const char *s, size_t len) {
        json_t *j = json_stringn(s, len);
        if (j)
                return j;
        _cleanup_buf_ Buf b = BUF_INIT(4 * len + 4);
        for (size_t i = 0; i < len;) {
                unsigned char ch = (unsigned char) s[i];
                size_t n = ch < 0x80 ? 1 : (ch >> 5) == 6 ? 2 : (ch >> 4) == 14 ? 3 : (ch >> 3) == 30 ? 4 : 0;
                json_t *t = n && i + n <= len ? json_stringn(s + i, n) : NULL;
                if (t) {
                        json_decref(t);
                        buf_append(&b, s + i, n);
                        i += n;
                } else {
                        buf_puts(&b, "\xef\xbf\xbd");
                        i++;
                }
        }
        return json_stringn(b.data ? b.data : "", b.len);
}

json_t *ctl_json_text(const char *s) {
        return s ? ctl_json_text_n(s, strlen(s)) : json_null();
}
