/* A2S_INFO to many servers at once, from one non-blocking UDP socket, for a
 * caller's poll loop (`l4d2ctl watch`).
 *
 * The caller sends to every target with a2s_probe_send(), then hands each
 * datagram recvfrom() returns to the target it came from with
 * a2s_probe_feed(). A target keeps the challenge its server last gave, so
 * after the first query one datagram each way is the whole exchange; a
 * challenge reply is answered at once by sending again (at most
 * A2S_CHALLENGE_ROUNDS times per query). Nothing here blocks or waits: a
 * dead or slow server simply never completes, and the caller decides when
 * it has waited long enough. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "a2s.h"

typedef struct A2sProbe {
        struct sockaddr_in addr; /* the server (IPv4: watch polls 127.0.0.1) */
        bool have_challenge;
        int32_t challenge;
        unsigned challenges;     /* challenges followed in the current query */
        A2sAssembler *asmb;      /* split replies; allocated on the first fragment */
} A2sProbe;

/* A non-blocking, CLOEXEC IPv4 UDP socket to send every probe from. */
int a2s_probe_socket(void);

/* Points a probe (zero-initialised, or in use) at 127.0.0.1:port; a new
 * port forgets the old server's challenge and any half-assembled reply. */
void a2s_probe_set_port(A2sProbe *p, uint16_t port);

/* True if the datagram's sender is this probe's server. */
bool a2s_probe_is_from(const A2sProbe *p, const struct sockaddr_in *from);

/* Starts a query: sends A2S_INFO (with the last challenge, if any).
 * -EAGAIN when the socket buffer is full (try again next round), -errno. */
int a2s_probe_send(int fd, A2sProbe *p);

/* One datagram from the probe's server. 1 and *ret (the caller frees it with
 * a2s_info_done) when it completes an A2S_INFO reply; 0 when nothing is
 * complete yet (a fragment, a challenge that was answered by sending again,
 * a stray reply of another kind); -EBADMSG, -EMSGSIZE, -EOPNOTSUPP for a
 * malformed reply, -EPROTO when the server keeps sending challenges,
 * -ENOMEM. */
int a2s_probe_feed(int fd, A2sProbe *p, const uint8_t *d, size_t n, A2sInfo *ret);

/* Drops a half-assembled reply (the caller gave up on this query). */
void a2s_probe_reset(A2sProbe *p);

void a2s_probe_done(A2sProbe *p);
