#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "a2s.h"
#include "netutil.h"

/* ---- Reading a reply ---- */

typedef struct Reader {
        const uint8_t *p;
        size_t n, pos;
        bool bad;
} Reader;

static const uint8_t *take(Reader *r, size_t k) {
        if (r->bad || r->n - r->pos < k) {
                r->bad = true;
                return NULL;
        }
        const uint8_t *q = r->p + r->pos;
        r->pos += k;
        return q;
}

static uint8_t get_u8(Reader *r) {
        const uint8_t *q = take(r, 1);
        return q ? q[0] : 0;
}

static uint16_t get_u16(Reader *r) {
        const uint8_t *q = take(r, 2);
        return q ? (uint16_t) (q[0] | q[1] << 8) : 0;
}

static uint32_t get_u32(Reader *r) {
        const uint8_t *q = take(r, 4);
        return q ? (uint32_t) q[0] | (uint32_t) q[1] << 8 | (uint32_t) q[2] << 16 | (uint32_t) q[3] << 24 : 0;
}

static uint64_t get_u64(Reader *r) {
        uint64_t lo = get_u32(r);
        uint64_t hi = get_u32(r);
        return lo | hi << 32;
}

static float get_float(Reader *r) {
        uint32_t u = get_u32(r);
        float f;
        memcpy(&f, &u, sizeof(f));
        return f;
}

/* A NUL-terminated string inside the reply, copied. NULL (and r->bad) when
 * unterminated or out of memory (r->nomem). */
static char *get_str(Reader *r, bool *nomem) {
        if (r->bad)
                return NULL;
        const uint8_t *start = r->p + r->pos;
        const uint8_t *nul = memchr(start, 0, r->n - r->pos);
        if (!nul) {
                r->bad = true;
                return NULL;
        }
        size_t len = (size_t) (nul - start);
        char *s = strndup((const char *) start, len);
        if (!s) {
                *nomem = true;
                r->bad = true;
                return NULL;
        }
        r->pos += len + 1;
        return s;
}

static int check_header(const uint8_t *p, size_t n, uint8_t kind) {
        if (n < 5 || p[0] != 0xff || p[1] != 0xff || p[2] != 0xff || p[3] != 0xff)
                return -EBADMSG;
        return p[4] == kind ? 0 : -ENOMSG;
}

void a2s_info_done(A2sInfo *i) {
        if (!i)
                return;
        free(i->name);
        free(i->map);
        free(i->folder);
        free(i->game);
        free(i->version);
        free(i->tv_name);
        free(i->keywords);
        memset(i, 0, sizeof(*i));
}

void a2s_players_done(A2sPlayers *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n; i++)
                free(p->v[i].name);
        free(p->v);
        memset(p, 0, sizeof(*p));
}

void a2s_rules_done(A2sRules *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n; i++) {
                free(r->v[i].name);
                free(r->v[i].value);
        }
        free(r->v);
        memset(r, 0, sizeof(*r));
}

int a2s_parse_challenge(const uint8_t *p, size_t n, int32_t *ret) {
        int r = check_header(p, n, 'A');
        if (r < 0)
                return r;
        if (n < 9)
                return -EBADMSG;
        *ret = (int32_t) ((uint32_t) p[5] | (uint32_t) p[6] << 8 | (uint32_t) p[7] << 16 | (uint32_t) p[8] << 24);
        return 0;
}

int a2s_parse_info(const uint8_t *p, size_t n, A2sInfo *ret) {
        int r = check_header(p, n, 'I');
        if (r < 0)
                return r == -ENOMSG ? -EBADMSG : r;
        Reader rd = { .p = p, .n = n, .pos = 5 };
        A2sInfo i = { 0 };
        bool nomem = false;

        i.protocol = get_u8(&rd);
        i.name = get_str(&rd, &nomem);
        i.map = get_str(&rd, &nomem);
        i.folder = get_str(&rd, &nomem);
        i.game = get_str(&rd, &nomem);
        i.appid = get_u16(&rd);
        i.players = get_u8(&rd);
        i.max_players = get_u8(&rd);
        i.bots = get_u8(&rd);
        i.server_type = (char) get_u8(&rd);
        i.environment = (char) get_u8(&rd);
        i.visibility = get_u8(&rd);
        i.vac = get_u8(&rd);
        i.version = get_str(&rd, &nomem);
        if (!rd.bad && rd.pos < rd.n) {
                i.edf = get_u8(&rd);
                if (i.edf & 0x80)
                        i.port = get_u16(&rd);
                if (i.edf & 0x10)
                        i.steamid = get_u64(&rd);
                if (i.edf & 0x40) {
                        i.tv_port = get_u16(&rd);
                        i.tv_name = get_str(&rd, &nomem);
                }
                if (i.edf & 0x20)
                        i.keywords = get_str(&rd, &nomem);
                if (i.edf & 0x01)
                        i.gameid = get_u64(&rd);
        }
        if (rd.bad) {
                a2s_info_done(&i);
                return nomem ? -ENOMEM : -EBADMSG;
        }
        *ret = i;
        return 0;
}

int a2s_parse_players(const uint8_t *p, size_t n, A2sPlayers *ret) {
        int r = check_header(p, n, 'D');
        if (r < 0)
                return r == -ENOMSG ? -EBADMSG : r;
        Reader rd = { .p = p, .n = n, .pos = 5 };
        A2sPlayers ps = { 0 };
        bool nomem = false;
        uint8_t count = get_u8(&rd);
        if (rd.bad)
                return -EBADMSG;
        if (count) {
                ps.v = calloc(count, sizeof(*ps.v));
                if (!ps.v)
                        return -ENOMEM;
        }
        for (unsigned k = 0; k < count && !rd.bad; k++) {
                A2sPlayer *pl = &ps.v[ps.n];
                pl->index = get_u8(&rd);
                pl->name = get_str(&rd, &nomem);
                pl->score = (int32_t) get_u32(&rd);
                pl->duration = get_float(&rd);
                ps.n++;
        }
        if (rd.bad) {
                a2s_players_done(&ps);
                return nomem ? -ENOMEM : -EBADMSG;
        }
        *ret = ps;
        return 0;
}

int a2s_parse_rules(const uint8_t *p, size_t n, A2sRules *ret) {
        int r = check_header(p, n, 'E');
        if (r < 0)
                return r == -ENOMSG ? -EBADMSG : r;
        Reader rd = { .p = p, .n = n, .pos = 5 };
        A2sRules rs = { 0 };
        bool nomem = false;
        uint16_t count = get_u16(&rd);
        if (rd.bad || count > A2S_RULES_MAX)
                return -EBADMSG;
        /* Each rule takes at least two bytes, so count cannot claim more
         * memory than the reply could fill. */
        if ((size_t) count * 2 > n - rd.pos)
                return -EBADMSG;
        if (count) {
                rs.v = calloc(count, sizeof(*rs.v));
                if (!rs.v)
                        return -ENOMEM;
        }
        for (unsigned k = 0; k < count && !rd.bad; k++) {
                A2sRule *ru = &rs.v[rs.n++];
                ru->name = get_str(&rd, &nomem);
                ru->value = get_str(&rd, &nomem);
        }
        if (rd.bad) {
                a2s_rules_done(&rs);
                return nomem ? -ENOMEM : -EBADMSG;
        }
        *ret = rs;
        return 0;
}

/* ---- Split replies ---- */

static void pending_clear(A2sPending *q) {
        for (unsigned i = 0; i < A2S_FRAGMENTS_MAX; i++)
                free(q->frag[i]);
        memset(q, 0, sizeof(*q));
}

void a2s_assembler_done(A2sAssembler *a) {
        for (unsigned i = 0; i < A2S_PENDING_MAX; i++)
                pending_clear(&a->pending[i]);
}

void a2s_assembler_progress(const A2sAssembler *a, unsigned *ret_have, unsigned *ret_total) {
        unsigned h = 0, t = 0;
        for (unsigned i = 0; i < A2S_PENDING_MAX; i++)
                if (a->pending[i].used && a->pending[i].have >= h) {
                        h = a->pending[i].have;
                        t = a->pending[i].total;
                }
        *ret_have = h;
        *ret_total = t;
}

int a2s_assembler_feed(A2sAssembler *a, const uint8_t *d, size_t n, uint8_t **ret, size_t *ret_len) {
        if (n > A2S_DATAGRAM_MAX)
                return -EMSGSIZE;
        if (n < 5)
                return -EBADMSG;
        uint32_t hdr = (uint32_t) d[0] | (uint32_t) d[1] << 8 | (uint32_t) d[2] << 16 | (uint32_t) d[3] << 24;
        if (hdr == 0xffffffffu) {
                uint8_t *c = malloc(n);
                if (!c)
                        return -ENOMEM;
                memcpy(c, d, n);
                *ret = c;
                *ret_len = n;
                return 1;
        }
        if (hdr != 0xfffffffeu)
                return -EBADMSG;
        if (n < 12)
                return -EBADMSG;
        int32_t id = (int32_t) ((uint32_t) d[4] | (uint32_t) d[5] << 8 | (uint32_t) d[6] << 16 | (uint32_t) d[7] << 24);
        uint8_t total = d[8], number = d[9];
        if ((uint32_t) id & 0x80000000u)
                return -EOPNOTSUPP;
        if (total == 0 || total > A2S_FRAGMENTS_MAX || number >= total)
                return -EBADMSG;

        A2sPending *q = NULL, *free_slot = NULL, *oldest = NULL;
        for (unsigned i = 0; i < A2S_PENDING_MAX; i++) {
                A2sPending *x = &a->pending[i];
                if (x->used && x->id == id) {
                        q = x;
                        break;
                }
                if (!x->used && !free_slot)
                        free_slot = x;
                if (x->used && (!oldest || x->age < oldest->age))
                        oldest = x;
        }
        if (!q) {
                q = free_slot;
                if (!q) {
                        pending_clear(oldest);
                        q = oldest;
                }
                q->used = true;
                q->id = id;
                q->total = total;
                q->age = ++a->clock;
        }
        if (q->total != total)
                return -EBADMSG;
        if (q->seen & (UINT64_C(1) << number))
                return 0; /* a duplicate */

        size_t plen = n - 12;
        q->frag[number] = malloc(plen ? plen : 1);
        if (!q->frag[number])
                return -ENOMEM;
        memcpy(q->frag[number], d + 12, plen);
        q->frag_len[number] = (uint16_t) plen;
        q->seen |= UINT64_C(1) << number;
        q->have++;
        if (q->have < q->total)
                return 0;

        size_t len = 0;
        for (unsigned i = 0; i < q->total; i++)
                len += q->frag_len[i];
        uint8_t *all = malloc(len ? len : 1);
        if (!all)
                return -ENOMEM;
        size_t off = 0;
        for (unsigned i = 0; i < q->total; i++) {
                memcpy(all + off, q->frag[i], q->frag_len[i]);
                off += q->frag_len[i];
        }
        pending_clear(q);
        *ret = all;
        *ret_len = len;
        return 1;
}

/* ---- Client ---- */

struct A2sClient {
        int fd;
        int timeout_ms;
        bool have_challenge;    /* the last challenge the server gave us */
        int32_t challenge;
};

int a2s_client_from_fd(int fd, A2sClient **ret) {
        if (fd < 0)
                return -EBADF;
        A2sClient *c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        c->fd = fd;
        c->timeout_ms = A2S_TIMEOUT_MS_DEFAULT;
        *ret = c;
        return 0;
}

int a2s_open(const char *host, uint16_t port, A2sClient **ret, Error *err) {
        int fd = net_connect(host, port, SOCK_DGRAM, net_now_ms() + A2S_TIMEOUT_MS_DEFAULT, err);
        if (fd < 0)
                return fd;
        int r = a2s_client_from_fd(fd, ret);
        if (r < 0)
                return error_set(err, r, "out of memory");
        return 0;
}

A2sClient *a2s_free(A2sClient *c) {
        if (!c)
                return NULL;
        if (c->fd >= 0)
                close(c->fd);
        free(c);
        return NULL;
}

void a2s_set_timeout(A2sClient *c, int timeout_ms) {
        c->timeout_ms = timeout_ms > 0 ? timeout_ms : A2S_TIMEOUT_MS_DEFAULT;
}

static void put_le32(uint8_t *p, int32_t v) {
        uint32_t u = (uint32_t) v;
        p[0] = u & 0xff;
        p[1] = (u >> 8) & 0xff;
        p[2] = (u >> 16) & 0xff;
        p[3] = (u >> 24) & 0xff;
}

size_t a2s_info_request(uint8_t *buf, bool have_challenge, int32_t challenge) {
        static const char info_req[] = "\xff\xff\xff\xffTSource Engine Query";
        memcpy(buf, info_req, sizeof(info_req)); /* with its NUL */
        if (!have_challenge)
                return sizeof(info_req);
        put_le32(buf + sizeof(info_req), challenge);
        return sizeof(info_req) + 4;
}

static const char *kind_name(uint8_t kind) {
        return kind == 'I' ? "A2S_INFO" : kind == 'D' ? "A2S_PLAYER" : "A2S_RULES";
}

/* Sends the request for reply kind ('I', 'D', 'E'), follows challenges, and
 * returns the whole reply. */
static int query(A2sClient *c, uint8_t kind, uint8_t **ret, size_t *ret_len, Error *err) {
        uint8_t req[64];
        size_t base;
        /* A challenge from an earlier query is sent right away, saving a
         * round trip; the server answers with a fresh one if it expired. */
        bool have_challenge = kind != 'I' || c->have_challenge;
        int32_t challenge = c->have_challenge ? c->challenge : -1;

        if (kind == 'I') {
                base = a2s_info_request(req, false, 0);
        } else {
                memcpy(req, "\xff\xff\xff\xff", 4);
                req[4] = kind == 'D' ? 'U' : 'V';
                base = 5;
        }

        int64_t deadline = net_now_ms() + c->timeout_ms;
        _cleanup_(a2s_assembler_done) A2sAssembler asmb = { 0 };
        uint8_t dgram[A2S_DATAGRAM_MAX + 1];

        for (int round = 0;; round++) {
                size_t len = base;
                if (have_challenge) {
                        put_le32(req + base, challenge);
                        len += 4;
                }
                if (send(c->fd, req, len, MSG_NOSIGNAL) < 0) {
                        int r = negative_errno();
                        return error_set(err, r, "%s: sending failed: %s", kind_name(kind), strerror(-r));
                }
                for (;;) {
                        ssize_t k = recv(c->fd, dgram, sizeof(dgram), MSG_DONTWAIT | MSG_TRUNC);
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                if (errno == ECONNREFUSED)
                                        return error_set(err, -ECONNREFUSED, "%s: nothing answers on that port (connection refused)", kind_name(kind));
                                if (errno != EAGAIN && errno != EWOULDBLOCK) {
                                        int r = negative_errno();
                                        return error_set(err, r, "%s: receiving failed: %s", kind_name(kind), strerror(-r));
                                }
                                int r = net_wait(c->fd, POLLIN, deadline);
                                if (r == -ETIMEDOUT) {
                                        unsigned h, t;
                                        a2s_assembler_progress(&asmb, &h, &t);
                                        if (t)
                                                return error_set(err, r, "%s: no complete reply in time (%u of %u fragments arrived)", kind_name(kind), h, t);
                                        return error_set(err, r, "%s: no reply in time", kind_name(kind));
                                }
                                if (r < 0)
                                        return error_set(err, r, "%s: waiting failed", kind_name(kind));
                                continue;
                        }
                        uint8_t *reply = NULL;
                        size_t rlen = 0;
                        int r = a2s_assembler_feed(&asmb, dgram, (size_t) k, &reply, &rlen);
                        if (r == -EOPNOTSUPP)
                                return error_set(err, r, "%s: the server sent a compressed split reply, which is not supported", kind_name(kind));
                        if (r == -EMSGSIZE)
                                return error_set(err, r, "%s: datagram of %zd bytes is larger than %d", kind_name(kind), k, A2S_DATAGRAM_MAX);
                        if (r < 0)
                                return error_set(err, r, "%s: malformed reply datagram", kind_name(kind));
                        if (r == 0)
                                continue;
                        int32_t ch;
                        if (a2s_parse_challenge(reply, rlen, &ch) == 0) {
                                free(reply);
                                if (round + 1 > A2S_CHALLENGE_ROUNDS)
                                        return error_set(err, -EPROTO, "%s: the server keeps answering with a new challenge", kind_name(kind));
                                challenge = ch;
                                have_challenge = true;
                                c->challenge = ch;
                                c->have_challenge = true;
                                break; /* send again */
                        }
                        if (rlen >= 5 && reply[4] == kind) {
                                *ret = reply;
                                *ret_len = rlen;
                                return 0;
                        }
                        /* A late reply to some earlier query: not ours. */
                        free(reply);
                }
        }
}

int a2s_info(A2sClient *c, A2sInfo *ret, Error *err) {
        _cleanup_free_ uint8_t *p = NULL;
        size_t n;
        int r = query(c, 'I', &p, &n, err);
        if (r < 0)
                return r;
        r = a2s_parse_info(p, n, ret);
        if (r < 0)
                return error_set(err, r, "A2S_INFO: %s", r == -ENOMEM ? "out of memory" : "malformed reply");
        return 0;
}

int a2s_players(A2sClient *c, A2sPlayers *ret, Error *err) {
        _cleanup_free_ uint8_t *p = NULL;
        size_t n;
        int r = query(c, 'D', &p, &n, err);
        if (r < 0)
                return r;
        r = a2s_parse_players(p, n, ret);
        if (r < 0)
                return error_set(err, r, "A2S_PLAYER: %s", r == -ENOMEM ? "out of memory" : "malformed reply");
        return 0;
}

int a2s_rules(A2sClient *c, A2sRules *ret, Error *err) {
        _cleanup_free_ uint8_t *p = NULL;
        size_t n;
        int r = query(c, 'E', &p, &n, err);
        if (r < 0)
                return r;
        r = a2s_parse_rules(p, n, ret);
        if (r < 0)
                return error_set(err, r, "A2S_RULES: %s", r == -ENOMEM ? "out of memory" : "malformed reply");
        return 0;
}
