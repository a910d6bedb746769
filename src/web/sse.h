/* Server-sent event streams. Each stream holds its connection's own thread
 * (thread-per-connection), blocks in poll() on its source and the shutdown
 * eventfd, and sends a comment every 15 s so proxies keep it open. Browsers
 * reconnect on their own (retry: 2000). */
#pragma once

#include "web.h"

/* The live console of an instance: `l4d2ctl logs NAME --follow`. Every
 * (re)connection replays the last lines first; app.js clears its view on
 * open so nothing shows twice. */
int sse_server_logs(struct MHD_Connection *conn, const char *instance, int64_t user_id, struct MHD_Response **ret);

/* A stream that only says why there is nothing to show, and asks the
 * browser to come back in retry_ms. */
struct MHD_Response *sse_message(const char *event, const char *text, unsigned retry_ms);

/* At most this many server log streams at once (each runs an l4d2ctl),
 * and job streams (each polls the database); past it: -EAGAIN (503). One
 * user holds at most SSE_STREAMS_PER_USER_MAX streams of both kinds; past
 * it: -EUSERS (429). */
#define SSE_LOG_STREAMS_MAX 64
#define SSE_JOB_STREAMS_MAX 64
#define SSE_STREAMS_PER_USER_MAX 16

/* A job's log lines, progress and final state, read from the database.
 * Resumes after Last-Event-ID (the line number) on reconnect. */
int sse_job_events(struct MHD_Connection *conn, int64_t job_id, int64_t after_seq, int64_t user_id,
                   struct MHD_Response **ret);
