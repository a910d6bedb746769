/* A2S tests. Replies are queued on the other end of a datagram socketpair
 * before the query runs (the client sends, then reads them in order), and
 * the requests the client sent are read back afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "a2s.h"
#include "strutil.h"

static void put_str(Buf *b, const char *s) {
        assert_int_equal(buf_append(b, s, strlen(s) + 1), 0);
}
static void put_u8(Buf *b, uint8_t v) {
        assert_int_equal(buf_append(b, &v, 1), 0);
}
static void put_u16(Buf *b, uint16_t v) {
        uint8_t x[2] = { v & 0xff, v >> 8 };
        assert_int_equal(buf_append(b, x, 2), 0);
}
static void put_u32(Buf *b, uint32_t v) {
        uint8_t x[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
        assert_int_equal(buf_append(b, x, 4), 0);
}
static void put_u64(Buf *b, uint64_t v) {
        put_u32(b, (uint32_t) v);
        put_u32(b, (uint32_t) (v >> 32));
}

/* An A2S_INFO reply as L4D2 sends it; *base_len = length without EDF. */
static void info_reply(Buf *b, size_t *base_len) {
        put_u32(b, 0xffffffff);
        put_u8(b, 'I');
        put_u8(b, 17);
        put_str(b, "My \"Server\" \xc3\xa9");
        put_str(b, "c2m2_fairgrounds");
        put_str(b, "left4dead2");
        put_str(b, "Left 4 Dead 2");
        put_u16(b, 550);
        put_u8(b, 3);
        put_u8(b, 8);
        put_u8(b, 2);
        put_u8(b, 'd');
        put_u8(b, 'l');
        put_u8(b, 0);
        put_u8(b, 1);
        put_str(b, "2.2.2.6");
        if (base_len)
                *base_len = b->len;
        put_u8(b, 0x80 | 0x10 | 0x40 | 0x20 | 0x01);
        put_u16(b, 27015);
        put_u64(b, UINT64_C(90000000000000001));
        put_u16(b, 27020);
        put_str(b, "SourceTV");
        put_str(b, "coop,versus");
        put_u64(b, 550);
}

static void test_parse_info(void **state) {
        _cleanup_buf_ Buf b = BUF_INIT(0);
        size_t base;
        info_reply(&b, &base);
        A2sInfo i;
        assert_int_equal(a2s_parse_info((uint8_t *) b.data, b.len, &i), 0);
        assert_int_equal(i.protocol, 17);
        assert_string_equal(i.name, "My \"Server\" \xc3\xa9");
        assert_string_equal(i.map, "c2m2_fairgrounds");
        assert_string_equal(i.folder, "left4dead2");
        assert_string_equal(i.game, "Left 4 Dead 2");
        assert_int_equal(i.appid, 550);
        assert_int_equal(i.players, 3);
        assert_int_equal(i.max_players, 8);
        assert_int_equal(i.bots, 2);
        assert_int_equal(i.server_type, 'd');
        assert_int_equal(i.environment, 'l');
        assert_int_equal(i.vac, 1);
        assert_string_equal(i.version, "2.2.2.6");
        assert_int_equal(i.port, 27015);
        assert_true(i.steamid == UINT64_C(90000000000000001));
        assert_int_equal(i.tv_port, 27020);
        assert_string_equal(i.tv_name, "SourceTV");
        assert_string_equal(i.keywords, "coop,versus");
        assert_true(i.gameid == 550);
        a2s_info_done(&i);

        /* Every truncation fails, except right before the optional EDF. */
        for (size_t n = 0; n < b.len; n++) {
                int r = a2s_parse_info((uint8_t *) b.data, n, &i);
                if (n == base) {
                        assert_int_equal(r, 0);
                        assert_int_equal(i.edf, 0);
                        assert_null(i.keywords);
                        a2s_info_done(&i);
                } else if (r != -EBADMSG)
                        fail_msg("length %zu gave %d", n, r);
        }
        /* Wrong kind and wrong header. */
        b.data[4] = 'D';
        assert_int_equal(a2s_parse_info((uint8_t *) b.data, b.len, &i), -EBADMSG);
        b.data[4] = 'I';
        b.data[0] = 0x00;
        assert_int_equal(a2s_parse_info((uint8_t *) b.data, b.len, &i), -EBADMSG);
}

static void test_parse_players_and_rules(void **state) {
        _cleanup_buf_ Buf b = BUF_INIT(0);
        put_u32(&b, 0xffffffff);
        put_u8(&b, 'D');
        put_u8(&b, 2);
        put_u8(&b, 0);
        put_str(&b, "Ellis \"the\" Mechanic");
        put_u32(&b, (uint32_t) -3);
        float f = 312.5f;
        uint32_t u;
        memcpy(&u, &f, 4);
        put_u32(&b, u);
        put_u8(&b, 1);
        put_str(&b, "");
        put_u32(&b, 7);
        put_u32(&b, 0);
        A2sPlayers ps;
        assert_int_equal(a2s_parse_players((uint8_t *) b.data, b.len, &ps), 0);
        assert_int_equal(ps.n, 2);
        assert_string_equal(ps.v[0].name, "Ellis \"the\" Mechanic");
        assert_int_equal(ps.v[0].score, -3);
        assert_true(ps.v[0].duration == 312.5f);
        assert_string_equal(ps.v[1].name, "");
        assert_int_equal(ps.v[1].score, 7);
        a2s_players_done(&ps);
        for (size_t n = 0; n < b.len; n++)
                if (a2s_parse_players((uint8_t *) b.data, n, &ps) != -EBADMSG)
                        fail_msg("players truncated at %zu accepted", n);
        /* A count that claims more players than there are. */
        b.data[5] = 3;
        assert_int_equal(a2s_parse_players((uint8_t *) b.data, b.len, &ps), -EBADMSG);
        /* Zero players. */
        const uint8_t empty[] = { 0xff, 0xff, 0xff, 0xff, 'D', 0 };
        assert_int_equal(a2s_parse_players(empty, sizeof(empty), &ps), 0);
        assert_int_equal(ps.n, 0);
        a2s_players_done(&ps);

        _cleanup_buf_ Buf r = BUF_INIT(0);
        put_u32(&r, 0xffffffff);
        put_u8(&r, 'E');
        put_u16(&r, 2);
        put_str(&r, "sv_cheats");
        put_str(&r, "0");
        put_str(&r, "mp_gamemode");
        put_str(&r, "coop");
        A2sRules rs;
        assert_int_equal(a2s_parse_rules((uint8_t *) r.data, r.len, &rs), 0);
        assert_int_equal(rs.n, 2);
        assert_string_equal(rs.v[1].name, "mp_gamemode");
        assert_string_equal(rs.v[1].value, "coop");
        a2s_rules_done(&rs);
        for (size_t n = 0; n < r.len; n++)
                if (a2s_parse_rules((uint8_t *) r.data, n, &rs) != -EBADMSG)
                        fail_msg("rules truncated at %zu accepted", n);
        /* A huge count in a tiny reply is refused before allocating. */
        r.data[5] = (char) 0xff;
        r.data[6] = (char) 0x7f;
        assert_int_equal(a2s_parse_rules((uint8_t *) r.data, r.len, &rs), -EBADMSG);

        int32_t ch;
        const uint8_t chal[] = { 0xff, 0xff, 0xff, 0xff, 'A', 0x78, 0x56, 0x34, 0x12 };
        assert_int_equal(a2s_parse_challenge(chal, sizeof(chal), &ch), 0);
        assert_int_equal(ch, 0x12345678);
        assert_int_equal(a2s_parse_challenge(chal, 8, &ch), -EBADMSG);
        assert_int_equal(a2s_parse_challenge(empty, sizeof(empty), &ch), -ENOMSG);
}

/* Splits payload into `total` fragments of id. */
static void fragment(const Buf *payload, int32_t id, unsigned total, Buf frags[]) {
        size_t per = (payload->len + total - 1) / total;
        for (unsigned i = 0; i < total; i++) {
                frags[i] = (Buf) BUF_INIT(0);
                put_u32(&frags[i], 0xfffffffe);
                put_u32(&frags[i], (uint32_t) id);
                put_u8(&frags[i], (uint8_t) total);
                put_u8(&frags[i], (uint8_t) i);
                put_u16(&frags[i], 1248);
                size_t off = i * per, n = off >= payload->len ? 0 : payload->len - off < per ? payload->len - off : per;
                assert_int_equal(buf_append(&frags[i], payload->data + off, n), 0);
        }
}

static int feed(A2sAssembler *a, const Buf *d, uint8_t **out, size_t *len) {
        return a2s_assembler_feed(a, (const uint8_t *) d->data, d->len, out, len);
}

static void test_assembler(void **state) {
        _cleanup_buf_ Buf payload = BUF_INIT(0);
        put_u32(&payload, 0xffffffff);
        put_u8(&payload, 'E');
        for (int i = 0; i < 500; i++)
                put_u8(&payload, (uint8_t) i);
        Buf fr[3];
        fragment(&payload, 0x1234, 3, fr);
        uint8_t *out = NULL;
        size_t len;

        /* Reordered and duplicated: 2, 2, 0, 0, 1. */
        A2sAssembler a = { 0 };
        assert_int_equal(feed(&a, &fr[2], &out, &len), 0);
        assert_int_equal(feed(&a, &fr[2], &out, &len), 0);
        assert_int_equal(feed(&a, &fr[0], &out, &len), 0);
        assert_int_equal(feed(&a, &fr[0], &out, &len), 0);
        unsigned h, t;
        a2s_assembler_progress(&a, &h, &t);
        assert_int_equal(h, 2);
        assert_int_equal(t, 3);
        assert_int_equal(feed(&a, &fr[1], &out, &len), 1);
        assert_int_equal(len, payload.len);
        assert_memory_equal(out, payload.data, len);
        free(out);
        a2s_assembler_progress(&a, &h, &t);
        assert_int_equal(t, 0);

        /* Interleaved with another id; a missing fragment never completes. */
        Buf other[2];
        fragment(&payload, 0x99, 2, other);
        assert_int_equal(feed(&a, &fr[0], &out, &len), 0);
        assert_int_equal(feed(&a, &other[1], &out, &len), 0);
        assert_int_equal(feed(&a, &fr[1], &out, &len), 0);
        assert_int_equal(feed(&a, &other[0], &out, &len), 1);
        assert_memory_equal(out, payload.data, payload.len);
        free(out);
        a2s_assembler_progress(&a, &h, &t);
        assert_int_equal(h, 2);
        assert_int_equal(t, 3);
        a2s_assembler_done(&a);

        /* More ids in flight than slots: the oldest is dropped. */
        A2sAssembler b = { 0 };
        Buf many[A2S_PENDING_MAX + 1][2];
        for (int k = 0; k <= A2S_PENDING_MAX; k++) {
                fragment(&payload, 100 + k, 2, many[k]);
                assert_int_equal(feed(&b, &many[k][0], &out, &len), 0);
        }
        assert_int_equal(feed(&b, &many[0][1], &out, &len), 0); /* id 100 restarted */
        assert_int_equal(feed(&b, &many[A2S_PENDING_MAX][1], &out, &len), 1);
        free(out);
        a2s_assembler_done(&b);
        for (int k = 0; k <= A2S_PENDING_MAX; k++)
                buf_free(&many[k][0]), buf_free(&many[k][1]);

        /* Malformed datagrams. */
        A2sAssembler m = { 0 };
        Buf bad = BUF_INIT(0);
        assert_int_equal(buf_append(&bad, fr[1].data, fr[1].len), 0);
        bad.data[8] = 4; /* total differs from the pending id's */
        assert_int_equal(feed(&m, &fr[0], &out, &len), 0);
        assert_int_equal(feed(&m, &bad, &out, &len), -EBADMSG);
        bad.data[8] = 3;
        bad.data[9] = 3; /* number >= total */
        assert_int_equal(feed(&m, &bad, &out, &len), -EBADMSG);
        bad.data[8] = 0; /* total 0 */
        bad.data[9] = 0;
        assert_int_equal(feed(&m, &bad, &out, &len), -EBADMSG);
        bad.data[8] = A2S_FRAGMENTS_MAX + 1;
        assert_int_equal(feed(&m, &bad, &out, &len), -EBADMSG);
        bad.data[8] = 3;
        bad.data[7] = (char) 0x80; /* compressed */
        assert_int_equal(feed(&m, &bad, &out, &len), -EOPNOTSUPP);
        assert_int_equal(a2s_assembler_feed(&m, (uint8_t *) fr[0].data, 11, &out, &len), -EBADMSG);
        assert_int_equal(a2s_assembler_feed(&m, (uint8_t *) fr[0].data, 4, &out, &len), -EBADMSG);
        const uint8_t junk[] = { 1, 2, 3, 4, 5, 6 };
        assert_int_equal(a2s_assembler_feed(&m, junk, sizeof(junk), &out, &len), -EBADMSG);
        uint8_t huge[A2S_DATAGRAM_MAX + 1] = { 0xff, 0xff, 0xff, 0xff, 'I' };
        assert_int_equal(a2s_assembler_feed(&m, huge, sizeof(huge), &out, &len), -EMSGSIZE);
        buf_free(&bad);
        a2s_assembler_done(&m);
        for (int i = 0; i < 3; i++)
                buf_free(&fr[i]);
        buf_free(&other[0]);
        buf_free(&other[1]);
}

/* ---- the client over a datagram socketpair ---- */

static A2sClient *pair(int *server_fd) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
        *server_fd = sv[1];
        A2sClient *c = NULL;
        assert_int_equal(a2s_client_from_fd(sv[0], &c), 0);
        a2s_set_timeout(c, 300);
        return c;
}

static void queue(int fd, const void *d, size_t n) {
        assert_int_equal(send(fd, d, n, 0), (ssize_t) n);
}

static void queue_buf(int fd, const Buf *b) {
        queue(fd, b->data, b->len);
}

/* Reads the next request the client sent. */
static size_t request(int fd, uint8_t *buf, size_t size) {
        ssize_t k = recv(fd, buf, size, MSG_DONTWAIT);
        assert_true(k > 0);
        return (size_t) k;
}

static const uint8_t CHALLENGE[] = { 0xff, 0xff, 0xff, 0xff, 'A', 0x11, 0x22, 0x33, 0x44 };

static void test_client_info_with_and_without_challenge(void **state) {
        static const char q[] = "\xff\xff\xff\xffTSource Engine Query";
        for (int need = 0; need <= 1; need++) {
                int s;
                A2sClient *c = pair(&s);
                _cleanup_buf_ Buf b = BUF_INIT(0);
                info_reply(&b, NULL);
                if (need)
                        queue(s, CHALLENGE, sizeof(CHALLENGE));
                queue_buf(s, &b);
                A2sInfo i;
                Error err = { 0 };
                assert_int_equal(a2s_info(c, &i, &err), 0);
                assert_string_equal(i.map, "c2m2_fairgrounds");
                a2s_info_done(&i);

                uint8_t req[64];
                size_t n = request(s, req, sizeof(req));
                assert_int_equal(n, sizeof(q)); /* no challenge at first */
                assert_memory_equal(req, q, sizeof(q));
                if (need) {
                        n = request(s, req, sizeof(req));
                        assert_int_equal(n, sizeof(q) + 4);
                        assert_memory_equal(req + sizeof(q), CHALLENGE + 5, 4);
                }
                assert_true(recv(s, req, sizeof(req), MSG_DONTWAIT) < 0); /* nothing more */
                a2s_free(c);
                close(s);
        }
}

static void test_client_players_challenge(void **state) {
        int s;
        A2sClient *c = pair(&s);
        const uint8_t reply[] = { 0xff, 0xff, 0xff, 0xff, 'D', 1, 0, 'B', 'o', 'b', 0, 5, 0, 0, 0, 0, 0, 0, 0 };
        queue(s, CHALLENGE, sizeof(CHALLENGE));
        queue(s, reply, sizeof(reply));
        A2sPlayers ps;
        assert_int_equal(a2s_players(c, &ps, NULL), 0);
        assert_int_equal(ps.n, 1);
        assert_string_equal(ps.v[0].name, "Bob");
        assert_int_equal(ps.v[0].score, 5);
        a2s_players_done(&ps);
        uint8_t req[64];
        const uint8_t first[] = { 0xff, 0xff, 0xff, 0xff, 'U', 0xff, 0xff, 0xff, 0xff };
        assert_int_equal(request(s, req, sizeof(req)), sizeof(first));
        assert_memory_equal(req, first, sizeof(first));
        assert_int_equal(request(s, req, sizeof(req)), 9);
        assert_memory_equal(req + 5, CHALLENGE + 5, 4);

        /* The next query on this client sends the known challenge at once. */
        queue(s, reply, sizeof(reply));
        assert_int_equal(a2s_players(c, &ps, NULL), 0);
        a2s_players_done(&ps);
        assert_int_equal(request(s, req, sizeof(req)), 9);
        assert_int_equal(req[4], 'U');
        assert_memory_equal(req + 5, CHALLENGE + 5, 4);
        assert_true(recv(s, req, sizeof(req), MSG_DONTWAIT) < 0);
        a2s_free(c);
        close(s);
}

static void test_client_rules_split_reordered(void **state) {
        int s;
        A2sClient *c = pair(&s);
        _cleanup_buf_ Buf payload = BUF_INIT(0);
        put_u32(&payload, 0xffffffff);
        put_u8(&payload, 'E');
        put_u16(&payload, 300);
        for (int i = 0; i < 300; i++) {
                char k[32], v[32];
                snprintf(k, sizeof(k), "rule_%03d", i);
                snprintf(v, sizeof(v), "value %d", i);
                put_str(&payload, k);
                put_str(&payload, v);
        }
        Buf fr[4];
        fragment(&payload, 7, 4, fr);
        /* A stale single reply of another kind, then 3, 1, 1, 0, 2. */
        const uint8_t stale[] = { 0xff, 0xff, 0xff, 0xff, 'D', 0 };
        queue(s, CHALLENGE, sizeof(CHALLENGE));
        queue(s, stale, sizeof(stale));
        int order[] = { 3, 1, 1, 0, 2 };
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                queue_buf(s, &fr[order[i]]);
        A2sRules rs;
        Error err = { 0 };
        assert_int_equal(a2s_rules(c, &rs, &err), 0);
        assert_int_equal(rs.n, 300);
        assert_string_equal(rs.v[299].name, "rule_299");
        assert_string_equal(rs.v[299].value, "value 299");
        a2s_rules_done(&rs);
        for (int i = 0; i < 4; i++)
                buf_free(&fr[i]);
        a2s_free(c);
        close(s);
}

static void test_client_missing_fragment_times_out(void **state) {
        int s;
        A2sClient *c = pair(&s);
        _cleanup_buf_ Buf payload = BUF_INIT(0);
        put_u32(&payload, 0xffffffff);
        put_u8(&payload, 'E');
        put_u16(&payload, 0);
        for (int i = 0; i < 100; i++)
                put_u8(&payload, 'x');
        Buf fr[3];
        fragment(&payload, 9, 3, fr);
        queue(s, CHALLENGE, sizeof(CHALLENGE));
        queue_buf(s, &fr[0]);
        queue_buf(s, &fr[2]);
        A2sRules rs = { 0 };
        Error err = { 0 };
        assert_int_equal(a2s_rules(c, &rs, &err), -ETIMEDOUT);
        assert_string_equal(err.msg, "A2S_RULES: no complete reply in time (2 of 3 fragments arrived)");
        assert_null(rs.v);
        for (int i = 0; i < 3; i++)
                buf_free(&fr[i]);
        a2s_free(c);
        close(s);
}

static void test_client_errors(void **state) {
        int s;
        Error err = { 0 };
        A2sInfo i;

        /* Nothing at all. */
        A2sClient *c = pair(&s);
        assert_int_equal(a2s_info(c, &i, &err), -ETIMEDOUT);
        assert_string_equal(err.msg, "A2S_INFO: no reply in time");
        a2s_free(c);
        close(s);

        /* Endless challenges. */
        c = pair(&s);
        for (int k = 0; k <= A2S_CHALLENGE_ROUNDS; k++)
                queue(s, CHALLENGE, sizeof(CHALLENGE));
        assert_int_equal(a2s_info(c, &i, &err), -EPROTO);
        a2s_free(c);
        close(s);

        /* A malformed datagram and a truncated reply. */
        c = pair(&s);
        const uint8_t junk[] = { 0xfe, 0xff, 0xff, 0xff, 1 };
        queue(s, junk, sizeof(junk));
        assert_int_equal(a2s_info(c, &i, &err), -EBADMSG);
        a2s_free(c);
        close(s);

        c = pair(&s);
        const uint8_t trunc[] = { 0xff, 0xff, 0xff, 0xff, 'I', 17, 'a' };
        queue(s, trunc, sizeof(trunc));
        assert_int_equal(a2s_info(c, &i, &err), -EBADMSG);
        assert_string_equal(err.msg, "A2S_INFO: malformed reply");
        a2s_free(c);
        close(s);

        /* UDP to a closed port on loopback: refused, not a timeout. */
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        socklen_t sl = sizeof(sa);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &sl), 0);
        close(fd);
        assert_int_equal(a2s_open("127.0.0.1", ntohs(sa.sin_port), &c, &err), 0);
        assert_int_equal(a2s_info(c, &i, &err), -ECONNREFUSED);
        a2s_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_info),
                cmocka_unit_test(test_parse_players_and_rules),
                cmocka_unit_test(test_assembler),
                cmocka_unit_test(test_client_info_with_and_without_challenge),
                cmocka_unit_test(test_client_players_challenge),
                cmocka_unit_test(test_client_rules_split_reordered),
                cmocka_unit_test(test_client_missing_fragment_times_out),
                cmocka_unit_test(test_client_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
