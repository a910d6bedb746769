#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "steamid.h"

/* A view of part of the input; never NUL-terminated. */
typedef struct Span {
        const char *p;
        size_t n;
} Span;

static Span span_trim(Span s) {
        while (s.n && isspace((unsigned char) s.p[0]))
                s.p++, s.n--;
        while (s.n && isspace((unsigned char) s.p[s.n - 1]))
                s.n--;
        return s;
}

static bool span_eq(Span s, const char *lit) {
        size_t l = strlen(lit);
        return s.n == l && memcmp(s.p, lit, l) == 0;
}

static bool span_startswith(Span s, const char *lit) {
        size_t l = strlen(lit);
        return s.n >= l && memcmp(s.p, lit, l) == 0;
}

static int span_dup(Span s, char **ret) {
        char *c = strndup(s.p, s.n);
        if (!c)
                return -ENOMEM;
        /* An embedded NUL would silently cut the string short; the caller
         * sees the text up to it, which is all a C string can carry. */
        *ret = c;
        return 0;
}

/* Next whitespace-separated token of *s, advancing *s. */
static bool span_token(Span *s, Span *tok) {
        *s = span_trim(*s);
        if (!s->n)
                return false;
        size_t i = 0;
        while (i < s->n && !isspace((unsigned char) s->p[i]))
                i++;
        *tok = (Span) { s->p, i };
        s->p += i;
        s->n -= i;
        return true;
}

/* A non-negative decimal in [0, max], the whole span. */
static int span_uint(Span s, long max, long *ret) {
        if (!s.n || s.n > 10)
                return -EINVAL;
        long v = 0;
        for (size_t i = 0; i < s.n; i++) {
                if (!isdigit((unsigned char) s.p[i]))
                        return -EINVAL;
                v = v * 10 + (s.p[i] - '0');
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* Reads digits at *s (after optional spaces), advancing. */
static int span_eat_uint(Span *s, long max, long *ret) {
        *s = span_trim(*s);
        size_t i = 0;
        while (i < s->n && isdigit((unsigned char) s->p[i]))
                i++;
        int r = span_uint((Span) { s->p, i }, max, ret);
        if (r < 0)
                return r;
        s->p += i;
        s->n -= i;
        return 0;
}

static int span_eat_long(Span *s, long *ret) {
        *s = span_trim(*s);
        bool neg = false;
        if (s->n && (s->p[0] == '-' || s->p[0] == '+')) {
                neg = s->p[0] == '-';
                s->p++, s->n--;
        }
        long v;
        int r = span_eat_uint(s, 1000000000L, &v);
        if (r < 0)
                return r;
        /* Coordinates may be printed with decimals by other builds. */
        if (s->n && s->p[0] == '.') {
                s->p++, s->n--;
                while (s->n && isdigit((unsigned char) s->p[0]))
                        s->p++, s->n--;
        }
        *ret = neg ? -v : v;
        return 0;
}

static bool span_eat(Span *s, const char *lit) {
        *s = span_trim(*s);
        if (!span_startswith(*s, lit))
                return false;
        s->p += strlen(lit);
        s->n -= strlen(lit);
        return true;
}

int status_parse_connected(const char *str, size_t len, unsigned *ret) {
        Span parts[3];
        size_t np = 0, start = 0;
        for (size_t i = 0; i <= len; i++) {
                if (i == len || str[i] == ':') {
                        if (np == 3)
                                return -EINVAL;
                        parts[np++] = (Span) { str + start, i - start };
                        start = i + 1;
                }
        }
        if (np < 2)
                return -EINVAL;
        long v[3];
        for (size_t i = 0; i < np; i++) {
                /* Minutes and seconds are two digits; hours (or minutes in
                 * the MM:SS form) may be longer. */
                if (i > 0 && parts[i].n != 2)
                        return -EINVAL;
                if (span_uint(parts[i], 1000000L, &v[i]) < 0)
                        return -EINVAL;
                if (i > 0 && v[i] > 59)
                        return -EINVAL;
        }
        if (np == 2 && parts[0].n < 2)
                return -EINVAL;
        *ret = np == 3 ? (unsigned) (v[0] * 3600 + v[1] * 60 + v[2]) : (unsigned) (v[0] * 60 + v[1]);
        return 0;
}

static void player_done(StatusPlayer *p) {
        free(p->name);
        free(p->uniqueid);
        free(p->state);
        free(p->adr);
}

void status_done(Status *s) {
        if (!s)
                return;
        free(s->hostname);
        free(s->version);
        free(s->udp_ip);
        free(s->os);
        free(s->map);
        free(s->reserved);
        for (size_t i = 0; i < s->n_players; i++)
                player_done(&s->players[i]);
        free(s->players);
        memset(s, 0, sizeof(*s));
}

/* "c2m2_fairgrounds at ( 1621, 2786, 66 )" */
static int parse_map(Status *st, Span v) {
        Span tok;
        if (!span_token(&v, &tok))
                return 0;
        int r = span_dup(tok, &st->map);
        if (r < 0)
                return r;
        long pos[3];
        if (!span_eat(&v, "at") || !span_eat(&v, "("))
                return 0;
        for (int i = 0; i < 3; i++) {
                if (span_eat_long(&v, &pos[i]) < 0)
                        return 0;
                if (i < 2 && !span_eat(&v, ","))
                        return 0;
        }
        if (!span_eat(&v, ")"))
                return 0;
        memcpy(st->position, pos, sizeof(pos));
        st->has_position = true;
        return 0;
}

/* "3 humans, 2 bots (8 max) (not hibernating) (unreserved)" or the older
 * "1 (8 max)". Fields it cannot read stay -1 / NULL. */
static int parse_players(Status *st, Span v) {
        long a, b, m;
        if (span_eat_uint(&v, 100000, &a) < 0)
                return 0;
        if (span_eat(&v, "humans,")) {
                if (span_eat_uint(&v, 100000, &b) < 0 || !span_eat(&v, "bots"))
                        return 0;
                st->humans = (int) a;
                st->bots = (int) b;
        } else
                st->humans = (int) a;

        while (span_eat(&v, "(")) {
                const char *close = memchr(v.p, ')', v.n);
                if (!close)
                        break;
                Span inner = span_trim((Span) { v.p, (size_t) (close - v.p) });
                const char *end = v.p + v.n;
                v = (Span) { close + 1, (size_t) (end - (close + 1)) };
                if (span_eq(inner, "hibernating"))
                        st->hibernating = 1;
                else if (span_eq(inner, "not hibernating"))
                        st->hibernating = 0;
                else if (span_startswith(inner, "reserved") || span_startswith(inner, "unreserved")) {
                        free(st->reserved);
                        st->reserved = NULL;
                        int r = span_dup(inner, &st->reserved);
                        if (r < 0)
                                return r;
                } else {
                        /* "8 max" or "4/8 max": the last number before "max". */
                        Span t = inner;
                        if (t.n > 4 && memcmp(t.p + t.n - 4, " max", 4) == 0) {
                                t.n -= 4;
                                const char *slash = memchr(t.p, '/', t.n);
                                if (slash) {
                                        t.n -= (size_t) (slash + 1 - t.p);
                                        t.p = slash + 1;
                                }
                                if (span_uint(span_trim(t), 100000, &m) == 0)
                                        st->max_players = (int) m;
                        }
                }
        }
        return 0;
}

static int parse_header(Status *st, Span line) {
        const char *colon = memchr(line.p, ':', line.n);
        if (!colon)
                return 0;
        Span key = span_trim((Span) { line.p, (size_t) (colon - line.p) });
        Span val = span_trim((Span) { colon + 1, line.n - (size_t) (colon + 1 - line.p) });
        char **field = NULL;
        if (span_eq(key, "hostname"))
                field = &st->hostname;
        else if (span_eq(key, "version"))
                field = &st->version;
        else if (span_eq(key, "udp/ip"))
                field = &st->udp_ip;
        else if (span_eq(key, "os"))
                field = &st->os;
        else if (span_eq(key, "map")) {
                if (st->map)
                        return 0;
                return parse_map(st, val);
        } else if (span_eq(key, "players"))
                return parse_players(st, val);
        if (!field || *field)
                return 0;
        return span_dup(val, field);
}

static int parse_row(Status *st, Span line, size_t lineno, Error *err) {
        StatusPlayer p = { .slot = -1, .ping = -1, .loss = -1, .rate = -1 };
        Span s = { line.p + 1, line.n - 1 }; /* after '#' */
        long v;
        int r;

        if (span_eat_uint(&s, INT_MAX, &v) < 0)
                return error_set(err, -EBADMSG, "status line %zu: no userid in player row", lineno);
        p.userid = (int) v;
        s = span_trim(s);
        if (s.n && isdigit((unsigned char) s.p[0])) {
                if (span_eat_uint(&s, INT_MAX, &v) < 0)
                        return error_set(err, -EBADMSG, "status line %zu: bad slot in player row", lineno);
                p.slot = (int) v;
                s = span_trim(s);
        }
        if (!s.n || s.p[0] != '"')
                return error_set(err, -EBADMSG, "status line %zu: no quoted name in player row", lineno);
        const char *q1 = s.p, *q2 = NULL;
        for (const char *c = s.p + s.n - 1; c > q1; c--)
                if (*c == '"') {
                        q2 = c;
                        break;
                }
        if (!q2)
                return error_set(err, -EBADMSG, "status line %zu: unterminated name in player row", lineno);

        Span tail = { q2 + 1, (size_t) (s.p + s.n - (q2 + 1)) };
        Span tok[8];
        size_t nt = 0;
        Span t;
        while (span_token(&tail, &t)) {
                if (nt == ELEMENTSOF(tok))
                        return error_set(err, -EBADMSG, "status line %zu: too many fields in player row", lineno);
                tok[nt++] = t;
        }
        if (nt == 0)
                return error_set(err, -EBADMSG, "status line %zu: player row ends after the name", lineno);

        if (span_eq(tok[0], "BOT")) {
                if (nt > 3)
                        return error_set(err, -EBADMSG, "status line %zu: too many fields in bot row", lineno);
                p.bot = true;
        } else {
                if (nt < 6 || nt > 7)
                        return error_set(err, -EBADMSG,
                                         "status line %zu: player row has %zu fields after the name, expected 6 or 7",
                                         lineno, nt);
                if (status_parse_connected(tok[1].p, tok[1].n, &p.connected) < 0)
                        return error_set(err, -EBADMSG, "status line %zu: bad connected time '%.*s'",
                                         lineno, (int) (tok[1].n > 16 ? 16 : tok[1].n), tok[1].p);
                if (span_uint(tok[2], 100000, &v) < 0)
                        return error_set(err, -EBADMSG, "status line %zu: bad ping", lineno);
                p.ping = (int) v;
                if (span_uint(tok[3], 100000, &v) < 0)
                        return error_set(err, -EBADMSG, "status line %zu: bad loss", lineno);
                p.loss = (int) v;
                if (span_uint(tok[5], INT_MAX, &v) < 0)
                        return error_set(err, -EBADMSG, "status line %zu: bad rate", lineno);
                p.rate = (int) v;
                uint64_t id;
                if (steamid_parse_n(tok[0].p, tok[0].n, &id) == 0)
                        p.steamid64 = id;
        }

        if (st->n_players >= STATUS_PLAYERS_MAX)
                return error_set(err, -E2BIG, "status: more than %d player rows", STATUS_PLAYERS_MAX);
        StatusPlayer *np = realloc(st->players, (st->n_players + 1) * sizeof(*np));
        if (!np)
                return error_set(err, -ENOMEM, "status: out of memory");
        st->players = np;

        if ((r = span_dup((Span) { q1 + 1, (size_t) (q2 - q1 - 1) }, &p.name)) < 0 ||
            (r = span_dup(tok[0], &p.uniqueid)) < 0)
                goto fail;
        if (p.bot) {
                if (nt >= 2 && (r = span_dup(tok[1], &p.state)) < 0)
                        goto fail;
        } else {
                if ((r = span_dup(tok[4], &p.state)) < 0)
                        goto fail;
                if (nt == 7 && (r = span_dup(tok[6], &p.adr)) < 0)
                        goto fail;
        }
        st->players[st->n_players++] = p;
        return 0;
fail:
        player_done(&p);
        return error_set(err, r, "status: out of memory");
}

int status_parse(const char *text, size_t len, Status *ret, Error *err) {
        Status st = { .humans = -1, .bots = -1, .max_players = -1, .hibernating = -1 };
        bool columns = false;
        size_t lineno = 0;
        int r;

        if (!text)
                return error_set(err, -EINVAL, "status: no input");
        if (len > STATUS_TEXT_MAX)
                return error_set(err, -E2BIG, "status: output of %zu bytes is larger than %u", len, STATUS_TEXT_MAX);

        for (size_t pos = 0; pos < len;) {
                const char *nl = memchr(text + pos, '\n', len - pos);
                size_t end = nl ? (size_t) (nl - text) : len;
                Span line = { text + pos, end - pos };
                pos = end + 1;
                lineno++;
                if (line.n && line.p[line.n - 1] == '\r')
                        line.n--;
                Span t = span_trim(line);
                if (!t.n)
                        continue;
                if (t.p[0] == '#') {
                        Span rest = span_trim((Span) { t.p + 1, t.n - 1 });
                        if (span_eq(rest, "end"))
                                break;
                        if (span_startswith(rest, "userid")) {
                                columns = true;
                                continue;
                        }
                        if (rest.n && isdigit((unsigned char) rest.p[0])) {
                                if ((r = parse_row(&st, t, lineno, err)) < 0)
                                        goto fail;
                                continue;
                        }
                        continue;
                }
                if (!columns && (r = parse_header(&st, t)) < 0) {
                        error_set(err, r, "status: out of memory");
                        goto fail;
                }
        }
        if (!columns) {
                r = error_set(err, -EBADMSG, "not the output of 'status' (no '# userid' column line)");
                goto fail;
        }
        *ret = st;
        return 0;
fail:
        status_done(&st);
        return r;
}
