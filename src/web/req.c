/* Reading a request (form body, query, headers, cookies) and the small parts
 * of building a response that every handler shares. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "web.h"

int64_t now_sec(void) {
        return (int64_t) time(NULL);
}

bool utf8_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        while (*p) {
                unsigned n;
                uint32_t cp;
                if (*p < 0x80) {
                        p++;
                        continue;
                } else if ((*p & 0xe0) == 0xc0) {
                        n = 1, cp = *p & 0x1f;
                } else if ((*p & 0xf0) == 0xe0) {
                        n = 2, cp = *p & 0x0f;
                } else if ((*p & 0xf8) == 0xf0) {
                        n = 3, cp = *p & 0x07;
                } else
                        return false;
                p++;
                for (unsigned i = 0; i < n; i++, p++) {
                        if ((*p & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (*p & 0x3f);
                }
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
        }
        return true;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decodes one application/x-www-form-urlencoded component into a new string.
 * Refuses bad escapes, NUL bytes and invalid UTF-8. */
static int decode(const char *s, size_t len, char **ret) {
        char *o = malloc(len + 1);
        if (!o)
                return -ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '+')
                        o[k++] = ' ';
                else if (s[i] == '%') {
                        if (len - i < 3) {
                                free(o);
                                return -EINVAL;
                        }
                        int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
                        if (a < 0 || b < 0 || (a == 0 && b == 0)) {
                                free(o);
                                return -EINVAL;
                        }
                        o[k++] = (char) (a * 16 + b);
                        i += 2;
                } else
                        o[k++] = s[i];
        }
        o[k] = '\0';
        if (!utf8_is_valid(o)) {
                free(o);
                return -EINVAL;
        }
        *ret = o;
        return 0;
}

int form_parse(const char *body, size_t len, Form *f) {
        size_t i = 0;
        while (i < len) {
                const char *amp = memchr(body + i, '&', len - i);
                size_t end = amp ? (size_t) (amp - body) : len;
                if (end > i) {
                        if (f->n >= FORM_FIELDS_MAX)
                                return -E2BIG;
                        const char *eq = memchr(body + i, '=', end - i);
                        size_t klen = eq ? (size_t) (eq - (body + i)) : end - i;
                        char *k = NULL, *v = NULL;
                        int r = decode(body + i, klen, &k);
                        if (r < 0)
                                return r;
                        r = eq ? decode(eq + 1, end - i - klen - 1, &v) : decode("", 0, &v);
                        if (r < 0) {
                                free(k);
                                return r;
                        }
                        f->f[f->n].key = k;
                        f->f[f->n].value = v;
                        f->n++;
                }
                i = end + 1;
        }
        return 0;
}

void form_free(Form *f) {
        for (size_t i = 0; i < f->n; i++) {
                free(f->f[i].key);
                free(f->f[i].value);
        }
        f->n = 0;
}

const char *form_get(const Req *r, const char *key) {
        for (size_t i = 0; i < r->form.n; i++)
                if (streq(r->form.f[i].key, key))
                        return r->form.f[i].value;
        return NULL;
}

const char *query_get(const Req *r, const char *key) {
        return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *header_get(const Req *r, const char *key) {
        return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

const char *cookie_get(const Req *r, const char *key) {
        return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, key);
}

void req_redirect(Req *r, const char *location) {
        free(r->location);
        r->location = strdup(location);
        r->status = MHD_HTTP_SEE_OTHER;
}

void req_json(Req *r, unsigned status, json_t *j) {
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        r->out.len = 0;
        r->out.overflowed = false;
        if (!text || buf_puts(&r->out, text) < 0 || buf_puts(&r->out, "\n") < 0) {
                r->out.len = 0;
                r->out.overflowed = false;
                (void) buf_puts(&r->out, "{\"error\":\"The answer could not be written.\"}\n");
                status = 500;
        }
        free(text);
        r->status = status;
        r->content_type = "application/json";
}

int req_body_tmpfile(void) {
        int fd = open(config.state_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
                return fd >= 0 ? fd : negative_errno();
        /* A file system without O_TMPFILE: a named one, unlinked at once. */
        char path[4096];
        snprintf(path, sizeof path, "%s/.upload-XXXXXX", config.state_dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        (void) unlink(path);
        return fd;
}

void req_set_cookie(Req *r, const char *name, const char *value, long max_age) {
        if (r->n_cookies >= ELEMENTSOF(r->cookies))
                return;
        char *c = NULL;
        /* HttpOnly: scripts never see it; SameSite=Lax: other sites' forms
         * do not carry it (CSRF tokens are the main defence, this a second). */
        /* Secure whenever the browser reached us over TLS (the trusted
         * proxy says so), unless configured otherwise: a cookie set over
         * TLS must never travel in clear text later. */
        bool secure = config.cookie_secure == COOKIE_SECURE_ALWAYS ||
                      (config.cookie_secure == COOKIE_SECURE_AUTO && r->tls);
        if (asprintf(&c, "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s", name, value, max_age,
                     secure ? "; Secure" : "") < 0)
                return;
        r->cookies[r->n_cookies++] = c;
}

void errors_add(FieldErrors *e, const char *field, const char *fmt, ...) {
        if (e->n >= ELEMENTSOF(e->field))
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg[e->n], sizeof e->msg[e->n], fmt, ap);
        va_end(ap);
        e->field[e->n++] = field;
}

const char *errors_get(const FieldErrors *e, const char *field) {
        for (size_t i = 0; i < e->n; i++)
                if (streq(e->field[i], field))
                        return e->msg[i];
        return NULL;
}
