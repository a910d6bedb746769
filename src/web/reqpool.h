/* The request threads: handlers that may block run here, never on one of
 * libmicrohttpd's event loops, where they would stall every connection of
 * that loop. Every POST (writes that may wait for SQLite's lock, password
 * hashes, host calls with a body) and every ROUTE_SLOW GET; plain pages
 * render on the event loops. The connection is suspended while its
 * handler is queued and runs (no thread waits for it), and resumed when
 * the response is ready. */
#pragma once

#include "web.h"

int reqpool_start(unsigned threads);
/* Runs every queued handler, then joins the threads: no connection stays
 * suspended. */
void reqpool_stop(void);

/* On the event loop, from the access handler: suspends r's connection and
 * queues fn(r); when fn returns, r->pooled_done is set and the connection
 * resumed (the access handler is then called again and sends the answer).
 * -EBUSY: the queue is full, -ESHUTDOWN: stopping (nothing was suspended;
 * answer at once). */
int reqpool_run(Req *r, handler_fn fn);
