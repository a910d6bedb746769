/* What a connection may hold of the panel, whatever the client does:
 *
 * - per address: at most config.max_per_address connections open at once
 *   from one client address, on every listener; the one exception is the
 *   trusted proxy (LEFT4ME_TRUST_PROXY=1: its loopback address), which
 *   carries every client and limits them itself. Refused at accept, before
 *   a byte is read.
 * - deadlines: a request's head must have arrived within
 *   config.header_timeout of the connection's start (or the end of the
 *   previous response on it), its body within config.body_timeout plus a
 *   second per BODY_MIN_RATE bytes received; past a deadline the socket is
 *   shut down. libmicrohttpd's own timeout (config.idle_timeout) only
 *   notices silence: a client that sends a byte every few seconds would
 *   hold its connection for ever.
 *
 * libmicrohttpd tells us of every connection (conns_notify, conns_accept);
 * one thread of our own enforces the deadlines. The kernel shuts the socket
 * down under libmicrohttpd, whose next read sees the end and closes it: a
 * connection is never closed behind its back. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

#include "web.h"

int conns_start(void);
void conns_stop(void);

/* Is this peer the trusted proxy? */
bool conns_peer_is_proxy(const struct sockaddr *sa);

/* libmicrohttpd's accept policy (MHD_OPTION_APCB) and connection
 * notifications (MHD_OPTION_NOTIFY_CONNECTION). */
enum MHD_Result conns_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
void conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context, enum MHD_ConnectionNotificationCode toe);

/* The phases of a request, for its deadlines. */
void conns_head_done(struct MHD_Connection *conn, bool has_body);
void conns_body_progress(struct MHD_Connection *conn, size_t received);
void conns_body_done(struct MHD_Connection *conn);
void conns_response_done(struct MHD_Connection *conn);

/* Open connections now (for tests and the log). */
unsigned conns_count(void);
