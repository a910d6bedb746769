/* libmicrohttpd glue: event loops (epoll, a thread pool of
 * LEFT4ME_HTTP_THREADS) that read requests and render pages; handlers that
 * may block (POSTs, ROUTE_SLOW) on the request threads (reqpool.h) with
 * their connection suspended; live streams suspended until they have news
 * (streams.h); per-address limits and read deadlines (conns.h). Bodies
 * capped at BODY_MAX (or the route's cap), sessions loaded, CSRF checked,
 * then the handler from routes.c. */
#pragma once

#include "web.h"

int http_start(void);
void http_stop(void);

/* The headers every response carries (pages, errors, streams, static
 * files): CSP, nosniff, frame and referrer policies. */
void http_security_headers(struct MHD_Response *resp);

/* An eventfd that becomes readable when the panel shuts down, so threads
 * blocked in poll() (the watch) end at once. */
int shutdown_fd(void);
void shutdown_signal(void);
