/* RCON client tests. The server side is played by a thread on the other end
 * of a socketpair: it reads the client's packets, then sends scripted bytes
 * in chunks of a chosen size (1 = one byte per write), so the client sees
 * every kind of segmentation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rcon.h"
#include "strutil.h"

typedef struct Step {
        int expect;          /* read this many client packets first */
        const uint8_t *data; /* then send these bytes */
        size_t len;
        size_t chunk;        /* in writes of this size (0 = all at once) */
        int delay_ms;        /* wait this long before sending */
} Step;

typedef struct Server {
        int fd;
        Step steps[8];
        size_t n_steps;
        bool close_after;    /* close instead of waiting for the client's EOF */
        /* what the client sent */
        int n_got;
        int32_t got_id[16], got_type[16];
        char got_body[16][600];
        pthread_t thread;
} Server;

static int read_client_packet(Server *s, RconFramer *f, uint8_t *buf, size_t *pos, size_t *len) {
        for (;;) {
                if (*pos < *len) {
                        size_t used;
                        RconPacket p;
                        int r = rcon_framer_feed(f, buf + *pos, *len - *pos, &used, &p);
                        *pos += used;
                        if (r < 0)
                                return r;
                        if (r == 1) {
                                if (s->n_got < 16) {
                                        s->got_id[s->n_got] = p.id;
                                        s->got_type[s->n_got] = p.type;
                                        size_t n = p.body_len < 599 ? p.body_len : 599;
                                        memcpy(s->got_body[s->n_got], p.body, n);
                                        s->got_body[s->n_got][n] = 0;
                                }
                                s->n_got++;
                                return 1;
                        }
                        continue;
                }
                ssize_t k = read(s->fd, buf, 4096);
                if (k <= 0)
                        return 0;
                *pos = 0;
                *len = (size_t) k;
        }
}

static void *server_main(void *arg) {
        Server *s = arg;
        static _Thread_local RconFramer f;
        uint8_t buf[4096];
        size_t pos = 0, len = 0;
        memset(&f, 0, sizeof(f));
        for (size_t i = 0; i < s->n_steps; i++) {
                Step *st = &s->steps[i];
                for (int k = 0; k < st->expect; k++)
                        if (read_client_packet(s, &f, buf, &pos, &len) <= 0)
                                goto out;
                if (st->delay_ms)
                        usleep((useconds_t) st->delay_ms * 1000);
                size_t chunk = st->chunk ? st->chunk : st->len;
                for (size_t off = 0; off < st->len; off += chunk) {
                        size_t n = st->len - off < chunk ? st->len - off : chunk;
                        if (send(s->fd, st->data + off, n, MSG_NOSIGNAL) < 0)
                                goto out;
                        if (st->chunk)
                                sched_yield();
                }
        }
        if (!s->close_after)
                while (read_client_packet(s, &f, buf, &pos, &len) > 0)
                        ;
out:
        close(s->fd);
        return NULL;
}

static RconClient *start(Server *s) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        s->fd = sv[1];
        RconClient *c = NULL;
        assert_int_equal(rcon_client_from_fd(sv[0], &c), 0);
        assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
        return c;
}

/* Closes the client and waits for the server thread (which sees EOF). */
static void finish(Server *s, RconClient *c) {
        rcon_free(c);
        pthread_join(s->thread, NULL);
}

static void step(Server *s, int expect, const Buf *b, size_t chunk) {
        s->steps[s->n_steps++] = (Step) { expect, (const uint8_t *) b->data, b->len, chunk, 0 };
}

static void put(Buf *b, int32_t id, int32_t type, const void *body, size_t len) {
        uint8_t tmp[14 + 4096];
        assert_true(len <= 4096);
        size_t n = rcon_packet_encode(tmp, id, type, body, len);
        assert_int_equal(buf_append(b, tmp, n), 0);
}

static void put_raw(Buf *b, int32_t size, int32_t id, int32_t type, const void *rest, size_t len) {
        uint8_t h[12];
        int32_t v[3] = { size, id, type };
        for (int i = 0; i < 3; i++)
                for (int k = 0; k < 4; k++)
                        h[i * 4 + k] = (uint8_t) ((uint32_t) v[i] >> (8 * k));
        assert_int_equal(buf_append(b, h, 12), 0);
        assert_int_equal(buf_append(b, rest, len), 0);
}

/* What srcds sends for a successful auth with request id `id`. */
static void put_auth_ok(Buf *b, int32_t id, bool empty_first) {
        if (empty_first)
                put(b, id, RCON_RESPONSE_VALUE, NULL, 0);
        put(b, id, RCON_AUTH_RESPONSE, NULL, 0);
}

/* The mirror of the empty packet and its trailer. */
static void put_mirror(Buf *b, int32_t id) {
        put(b, id, RCON_RESPONSE_VALUE, NULL, 0);
        put_raw(b, 12, id, RCON_RESPONSE_VALUE, "\x00\x01\x00\x00", 4);
}

/* ---- framing ---- */

static void test_framer_segmentation(void **state) {
        _cleanup_buf_ Buf b = BUF_INIT(0);
        put(&b, 7, RCON_RESPONSE_VALUE, "hello", 5);
        put(&b, 8, RCON_AUTH_RESPONSE, NULL, 0);
        put(&b, 9, RCON_RESPONSE_VALUE, "a\0b", 3);

        /* One byte at a time. */
        RconFramer f = { 0 };
        int got = 0;
        for (size_t i = 0; i < b.len; i++) {
                size_t used;
                RconPacket p;
                int r = rcon_framer_feed(&f, (uint8_t *) b.data + i, 1, &used, &p);
                assert_int_equal(used, 1);
                assert_true(r == 0 || r == 1);
                if (r == 1) {
                        got++;
                        if (got == 1) {
                                assert_int_equal(i, 18); /* the last byte of packet 1 */
                                assert_int_equal(p.id, 7);
                                assert_int_equal(p.body_len, 5);
                                assert_memory_equal(p.body, "hello", 5);
                        } else if (got == 2) {
                                assert_int_equal(p.id, 8);
                                assert_int_equal(p.type, RCON_AUTH_RESPONSE);
                                assert_int_equal(p.body_len, 0);
                        } else {
                                assert_int_equal(p.body_len, 3);
                                assert_memory_equal(p.body, "a\0b", 3); /* byte-exact */
                        }
                }
        }
        assert_int_equal(got, 3);

        /* All three in one feed: one packet per call, consumed counts add up. */
        memset(&f, 0, sizeof(f));
        size_t off = 0;
        for (int k = 0; k < 3; k++) {
                size_t used;
                RconPacket p;
                assert_int_equal(rcon_framer_feed(&f, (uint8_t *) b.data + off, b.len - off, &used, &p), 1);
                assert_int_equal(p.id, 7 + k);
                off += used;
        }
        assert_int_equal(off, b.len);

        /* A split inside the size field: 2 bytes, then the rest. */
        memset(&f, 0, sizeof(f));
        size_t used;
        RconPacket p;
        assert_int_equal(rcon_framer_feed(&f, (uint8_t *) b.data, 2, &used, &p), 0);
        assert_int_equal(used, 2);
        assert_int_equal(rcon_framer_feed(&f, (uint8_t *) b.data + 2, b.len - 2, &used, &p), 1);
        assert_int_equal(p.id, 7);
        assert_int_equal(used, 17);
}

static int feed_all(const Buf *b, int32_t *bad) {
        RconFramer f = { 0 };
        size_t off = 0;
        for (;;) {
                size_t used;
                RconPacket p;
                int r = rcon_framer_feed(&f, (uint8_t *) b->data + off, b->len - off, &used, &p);
                off += used;
                *bad = f.bad_size;
                if (r != 1)
                        return r;
        }
}

static void test_framer_sizes(void **state) {
        int32_t bad;
        struct { int32_t size; int expect; } cases[] = {
                { -1, -EBADMSG }, { INT32_MIN, -EBADMSG }, { 0, -EBADMSG }, { 9, -EBADMSG },
                { RCON_PACKET_SIZE_MAX + 1, -EMSGSIZE }, { INT32_MAX, -EMSGSIZE }, { 0x01000000, -EMSGSIZE },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_buf_ Buf b = BUF_INIT(0);
                put_raw(&b, cases[i].size, 1, 0, "\0\0", 2);
                int r = feed_all(&b, &bad);
                if (r != cases[i].expect)
                        fail_msg("size %d gave %d", cases[i].size, r);
                assert_int_equal(bad, cases[i].size);
        }
        /* The largest allowed packet (a 4096-byte body) passes; 10 passes. */
        _cleanup_buf_ Buf ok = BUF_INIT(0);
        char body[4096];
        memset(body, 'x', sizeof(body));
        put(&ok, 1, 0, body, sizeof(body));
        put_raw(&ok, 10, 2, 0, "\0\0", 2);
        assert_int_equal(feed_all(&ok, &bad), 0);

        /* Missing NUL terminators. */
        _cleanup_buf_ Buf nt = BUF_INIT(0);
        put_raw(&nt, 12, 1, 0, "ab\0x", 4);
        assert_int_equal(feed_all(&nt, &bad), -EPROTO);
        _cleanup_buf_ Buf nt2 = BUF_INIT(0);
        put_raw(&nt2, 12, 1, 0, "abx\0", 4);
        assert_int_equal(feed_all(&nt2, &bad), -EPROTO);
}

/* ---- auth ---- */

static void test_auth_with_and_without_empty_packet(void **state) {
        for (int empty = 0; empty <= 1; empty++) {
                Server s = { 0 };
                _cleanup_buf_ Buf b = BUF_INIT(0);
                put_auth_ok(&b, 1, empty);
                step(&s, 1, &b, 1);
                RconClient *c = start(&s);
                Error err = { 0 };
                assert_int_equal(rcon_auth(c, "secret", &err), 0);
                assert_true(rcon_is_ready(c));
                finish(&s, c);
                assert_int_equal(s.n_got, 1);
                assert_int_equal(s.got_type[0], RCON_AUTH);
                assert_int_equal(s.got_id[0], 1);
                assert_string_equal(s.got_body[0], "secret");
        }
}

static void test_auth_wrong_password_never_retried(void **state) {
        Server s = { 0 };
        _cleanup_buf_ Buf b = BUF_INIT(0);
        put(&b, 1, RCON_RESPONSE_VALUE, NULL, 0);
        put(&b, -1, RCON_AUTH_RESPONSE, NULL, 0);
        step(&s, 1, &b, 3);
        RconClient *c = start(&s);
        Error err = { 0 };
        assert_int_equal(rcon_auth(c, "wrong", &err), -EACCES);
        assert_string_equal(err.msg, "rcon: wrong password");
        assert_false(rcon_is_ready(c));
        /* Neither a second auth nor a command goes out. */
        assert_int_equal(rcon_auth(c, "wrong", &err), -EPERM);
        assert_non_null(strstr(err.msg, "not retrying"));
        char *out = NULL;
        assert_int_equal(rcon_exec(c, "status", &out, NULL, &err), -EPERM);
        assert_null(out);
        finish(&s, c);
        assert_int_equal(s.n_got, 1);
}

static void test_auth_banned_connection_closed(void **state) {
        Server s = { .close_after = true };
        RconClient *c = start(&s); /* no steps: the server closes at once */
        Error err = { 0 };
        assert_int_equal(rcon_auth(c, "pw", &err), -ECONNRESET);
        assert_non_null(strstr(err.msg, "banned"));
        assert_int_equal(rcon_exec(c, "status", &(char *) { NULL }, NULL, &err), -ENOTCONN);
        finish(&s, c);
}

static void test_auth_no_auth_response(void **state) {
        /* 16 packets that are not an auth reply: the client gives up. */
        Server s = { 0 };
        _cleanup_buf_ Buf b = BUF_INIT(0);
        for (int i = 0; i < 16; i++)
                put(&b, 1, RCON_RESPONSE_VALUE, "noise", 5);
        step(&s, 1, &b, 0);
        RconClient *c = start(&s);
        Error err = { 0 };
        assert_int_equal(rcon_auth(c, "pw", &err), -EPROTO);
        assert_string_equal(err.msg, "rcon: the server sent no auth response");
        assert_int_equal(rcon_exec(c, "status", &(char *) { NULL }, NULL, &err), -ENOTCONN);
        finish(&s, c);

        /* No answer at all: a timeout, and the connection is closed so a
         * late reply cannot be taken for the next auth's. */
        Server s2 = { 0 };
        c = start(&s2);
        rcon_set_auth_timeout(c, 100);
        assert_int_equal(rcon_auth(c, "pw", &err), -ETIMEDOUT);
        assert_string_equal(err.msg, "rcon: no answer to the authentication within 1 s (is the server hung?)");
        assert_false(rcon_is_ready(c));
        assert_int_equal(rcon_auth(c, "pw", &err), -ENOTCONN);
        finish(&s2, c);

        /* An auth reply with another id is skipped; ours follows. */
        Server s3 = { 0 };
        _cleanup_buf_ Buf b3 = BUF_INIT(0);
        put(&b3, 99, RCON_AUTH_RESPONSE, NULL, 0);
        put_auth_ok(&b3, 1, true);
        step(&s3, 1, &b3, 1);
        c = start(&s3);
        assert_int_equal(rcon_auth(c, "pw", &err), 0);
        finish(&s3, c);
}

static void test_auth_has_its_own_timeout(void **state) {
        /* The command budget does not apply to the authentication: an auth
         * answered after 300 ms succeeds with a 50 ms command timeout... */
        Error err = { 0 };
        Server s = { 0 };
        _cleanup_buf_ Buf b = BUF_INIT(0);
        put_auth_ok(&b, 1, true);
        step(&s, 1, &b, 0);
        s.steps[0].delay_ms = 300;
        RconClient *c = start(&s);
        rcon_set_timeout(c, 50);
        assert_int_equal(rcon_auth(c, "pw", &err), 0);
        finish(&s, c);

        /* ... and a long command budget does not stretch it: with a 60 s
         * command timeout, an auth that never comes fails after its own. */
        Server s2 = { 0 };
        c = start(&s2);
        rcon_set_timeout(c, 60000);
        rcon_set_auth_timeout(c, 200);
        assert_int_equal(rcon_auth(c, "pw", &err), -ETIMEDOUT);
        assert_false(rcon_is_ready(c));
        finish(&s2, c);
}

static void test_auth_input_checks(void **state) {
        Server s = { 0 };
        RconClient *c = start(&s);
        Error err = { 0 };
        assert_int_equal(rcon_auth(c, "", &err), -EINVAL);
        char pw[RCON_PASSWORD_MAX + 2];
        memset(pw, 'p', sizeof(pw) - 1);
        pw[sizeof(pw) - 1] = 0;
        assert_int_equal(rcon_auth(c, pw, &err), -E2BIG);
        /* Commands before auth are refused locally. */
        char *out = NULL;
        assert_int_equal(rcon_exec(c, "status", &out, NULL, &err), -EPERM);
        finish(&s, c);
        assert_int_equal(s.n_got, 0);
}

/* ---- exec ---- */

static void test_exec_multipacket_byte_by_byte(void **state) {
        static char big_a[4095], big_c[4095];
        memset(big_a, 'a', sizeof(big_a));
        memset(big_c, 'c', sizeof(big_c));
        Server s = { 0 };
        _cleanup_buf_ Buf auth = BUF_INIT(0), r1 = BUF_INIT(0), r2 = BUF_INIT(0);
        put_auth_ok(&auth, 1, true);
        /* Command 1 has ids 2 (command) and 3 (mirror): a full packet, a
         * short non-final one, another full one, then the mirror. */
        put(&r1, 2, 0, big_a, sizeof(big_a));
        put(&r1, 2, 0, "short\n", 6);
        put(&r1, 2, 0, big_c, sizeof(big_c));
        put_mirror(&r1, 3);
        /* Command 2 (ids 4, 5) on the same warm connection. */
        put(&r2, 4, 0, "second\n", 7);
        put_mirror(&r2, 5);
        step(&s, 1, &auth, 1);
        step(&s, 2, &r1, 1);
        step(&s, 2, &r2, 7);
        RconClient *c = start(&s);
        Error err = { 0 };
        assert_int_equal(rcon_auth(c, "pw", &err), 0);

        char *out = NULL;
        size_t len = 0;
        assert_int_equal(rcon_exec(c, "cvarlist", &out, &len, &err), 0);
        assert_int_equal(len, 4095 + 6 + 4095);
        assert_memory_equal(out, big_a, 4095);
        assert_memory_equal(out + 4095, "short\n", 6);
        assert_memory_equal(out + 4101, big_c, 4095);
        assert_int_equal(out[len], '\0');
        free(out);

        assert_int_equal(rcon_exec(c, "echo second", &out, &len, &err), 0);
        assert_string_equal(out, "second\n"); /* the first trailer was dropped */
        free(out);
        finish(&s, c);

        assert_int_equal(s.n_got, 5);
        assert_int_equal(s.got_type[1], RCON_EXECCOMMAND);
        assert_string_equal(s.got_body[1], "cvarlist");
        assert_int_equal(s.got_type[2], RCON_RESPONSE_VALUE);
        assert_int_equal(s.got_id[2], 3);
        assert_string_equal(s.got_body[2], "");
        assert_int_equal(s.got_id[3], 4);
}

static void test_exec_empty_response_and_stale_packets(void **state) {
        Server s = { 0 };
        _cleanup_buf_ Buf b = BUF_INIT(0);
        put_auth_ok(&b, 1, false);
        step(&s, 1, &b, 0);
        _cleanup_buf_ Buf r = BUF_INIT(0);
        put(&r, 77, 0, "stale from someone else\n", 24);     /* unknown id */
        put(&r, 2, RCON_AUTH_RESPONSE, NULL, 0);              /* wrong type */
        put(&r, 2, 0, NULL, 0);                               /* empty response */
        put_mirror(&r, 3);
        step(&s, 2, &r, 5);
        RconClient *c = start(&s);
        assert_int_equal(rcon_auth(c, "pw", NULL), 0);
        char *out = NULL;
        size_t len = 99;
        assert_int_equal(rcon_exec(c, "say hi", &out, &len, NULL), 0);
        assert_int_equal(len, 0);
        assert_string_equal(out, "");
        free(out);
        finish(&s, c);
}

static void test_exec_bad_size_closes(void **state) {
        int32_t sizes[] = { -5, 3, 50000000 };
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                Server s = { 0 };
                _cleanup_buf_ Buf a = BUF_INIT(0), r = BUF_INIT(0);
                put_auth_ok(&a, 1, true);
                put(&r, 2, 0, "partial", 7);
                put_raw(&r, sizes[i], 2, 0, "xx\0\0", 4);
                step(&s, 1, &a, 0);
                step(&s, 2, &r, 2);
                RconClient *c = start(&s);
                Error err = { 0 };
                assert_int_equal(rcon_auth(c, "pw", &err), 0);
                char *out = NULL;
                int rr = rcon_exec(c, "status", &out, NULL, &err);
                assert_int_equal(rr, sizes[i] < 10 ? -EBADMSG : -EMSGSIZE);
                assert_null(out);
                assert_non_null(strstr(err.msg, "connection closed"));
                char num[16];
                snprintf(num, sizeof(num), "%d", sizes[i]);
                assert_non_null(strstr(err.msg, num));
                assert_int_equal(rcon_exec(c, "status", &out, NULL, &err), -ENOTCONN);
                finish(&s, c);
        }
}

static void test_exec_response_cap(void **state) {
        static char body[4095];
        memset(body, 'z', sizeof(body));
        Server s = { 0 };
        _cleanup_buf_ Buf a = BUF_INIT(0), r = BUF_INIT(0);
        put_auth_ok(&a, 1, true);
        for (int i = 0; i < 3; i++)
                put(&r, 2, 0, body, sizeof(body));
        put_mirror(&r, 3);
        step(&s, 1, &a, 0);
        step(&s, 2, &r, 0);
        RconClient *c = start(&s);
        rcon_set_response_max(c, 8190); /* exactly two packets fit */
        Error err = { 0 };
        assert_int_equal(rcon_auth(c, "pw", &err), 0);
        char *out = NULL;
        assert_int_equal(rcon_exec(c, "cvarlist", &out, NULL, &err), -E2BIG);
        assert_string_equal(err.msg, "rcon: response larger than 8190 bytes; connection closed");
        assert_null(out);
        assert_int_equal(rcon_exec(c, "cvarlist", &out, NULL, &err), -ENOTCONN);
        finish(&s, c);
}

static void test_exec_command_checks(void **state) {
        Server s = { 0 };
        _cleanup_buf_ Buf a = BUF_INIT(0), r = BUF_INIT(0);
        put_auth_ok(&a, 1, true);
        put(&r, 2, 0, "ok", 2);
        put_mirror(&r, 3);
        step(&s, 1, &a, 0);
        step(&s, 2, &r, 0);
        RconClient *c = start(&s);
        Error err = { 0 };
        assert_int_equal(rcon_auth(c, "pw", &err), 0);

        char cmd[RCON_COMMAND_MAX + 2];
        memset(cmd, 'x', sizeof(cmd));
        cmd[RCON_COMMAND_MAX + 1] = 0; /* 512 bytes: one too many */
        char *out = NULL;
        assert_int_equal(rcon_exec(c, cmd, &out, NULL, &err), -E2BIG);
        assert_string_equal(err.msg, "rcon: command is 512 bytes; the server accepts at most 511");
        assert_int_equal(rcon_exec(c, "echo a\necho b", &out, NULL, &err), -EINVAL);
        assert_int_equal(rcon_exec(c, "", &out, NULL, &err), -EINVAL);
        assert_null(out);

        cmd[RCON_COMMAND_MAX] = 0; /* 511 bytes: accepted, sent whole */
        assert_int_equal(rcon_exec(c, cmd, &out, NULL, &err), 0);
        assert_string_equal(out, "ok");
        free(out);
        finish(&s, c);
        assert_int_equal(s.n_got, 3);
        assert_int_equal(strlen(s.got_body[1]), RCON_COMMAND_MAX);
}

static void test_exec_timeout_then_late_answer(void **state) {
        Server s = { 0 };
        _cleanup_buf_ Buf a = BUF_INIT(0), r = BUF_INIT(0);
        put_auth_ok(&a, 1, true);
        /* The answer to the first (timed-out) command arrives only after
         * the second command was sent, followed by the second's answer. */
        put(&r, 2, 0, "late\n", 5);
        put_mirror(&r, 3);
        put(&r, 4, 0, "fresh\n", 6);
        put_mirror(&r, 5);
        step(&s, 1, &a, 0);
        step(&s, 4, &r, 3);
        RconClient *c = start(&s);
        Error err = { 0 };
        assert_int_equal(rcon_auth(c, "pw", &err), 0);
        rcon_set_timeout(c, 100);
        char *out = NULL;
        assert_int_equal(rcon_exec(c, "slow", &out, NULL, &err), -ETIMEDOUT);
        assert_null(out);
        assert_true(rcon_is_ready(c));
        rcon_set_timeout(c, 0); /* back to the default */
        assert_int_equal(rcon_exec(c, "echo fresh", &out, NULL, &err), 0);
        assert_string_equal(out, "fresh\n");
        free(out);
        finish(&s, c);
}

static void test_exec_server_disconnects_or_deauths(void **state) {
        Server s = { .close_after = true };
        _cleanup_buf_ Buf a = BUF_INIT(0), r = BUF_INIT(0);
        put_auth_ok(&a, 1, true);
        put(&r, 2, 0, "half", 4);
        step(&s, 1, &a, 0);
        step(&s, 2, &r, 0);
        RconClient *c = start(&s);
        Error err = { 0 };
        assert_int_equal(rcon_auth(c, "pw", &err), 0);
        char *out = NULL;
        assert_int_equal(rcon_exec(c, "quit", &out, NULL, &err), -ECONNRESET);
        assert_null(out);
        finish(&s, c);

        Server s2 = { 0 };
        _cleanup_buf_ Buf a2 = BUF_INIT(0), r2 = BUF_INIT(0);
        put_auth_ok(&a2, 1, true);
        put(&r2, -1, RCON_AUTH_RESPONSE, NULL, 0);
        step(&s2, 1, &a2, 0);
        step(&s2, 2, &r2, 0);
        c = start(&s2);
        assert_int_equal(rcon_auth(c, "pw", &err), 0);
        assert_int_equal(rcon_exec(c, "status", &out, NULL, &err), -EACCES);
        assert_int_equal(rcon_exec(c, "status", &out, NULL, &err), -EPERM);
        finish(&s2, c);
}

static void test_connect_refused(void **state) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        socklen_t sl = sizeof(sa);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &sl), 0);
        close(fd); /* bound, never listened: the port is now closed */
        RconClient *c = NULL;
        Error err = { 0 };
        assert_int_equal(rcon_connect("127.0.0.1", ntohs(sa.sin_port), 2000, &c, &err), -ECONNREFUSED);
        assert_null(c);
        assert_non_null(strstr(err.msg, "cannot connect to 127.0.0.1 port"));
        assert_int_equal(rcon_connect("no-such-host.invalid", 27015, 2000, &c, &err), -EHOSTUNREACH);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_framer_segmentation),
                cmocka_unit_test(test_framer_sizes),
                cmocka_unit_test(test_auth_with_and_without_empty_packet),
                cmocka_unit_test(test_auth_wrong_password_never_retried),
                cmocka_unit_test(test_auth_banned_connection_closed),
                cmocka_unit_test(test_auth_no_auth_response),
                cmocka_unit_test(test_auth_has_its_own_timeout),
                cmocka_unit_test(test_auth_input_checks),
                cmocka_unit_test(test_exec_multipacket_byte_by_byte),
                cmocka_unit_test(test_exec_empty_response_and_stale_packets),
                cmocka_unit_test(test_exec_bad_size_closes),
                cmocka_unit_test(test_exec_response_cap),
                cmocka_unit_test(test_exec_command_checks),
                cmocka_unit_test(test_exec_timeout_then_late_answer),
                cmocka_unit_test(test_exec_server_disconnects_or_deauths),
                cmocka_unit_test(test_connect_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
