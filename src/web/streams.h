/* Live views: server-sent event streams, one interface for every source.
 * A stream holds its connection's own thread (thread-per-connection),
 * blocks in poll() on its source, the browser's socket and the shutdown
 * eventfd, and sends a comment every 15 s so proxies keep it open. Browsers
 * reconnect on their own (retry: 2000).
 *
 * A source is a row of three functions and a cap (StreamSource); adding a
 * live view (an RCON console, a player roster) is adding one
 * stream-<source>.c and its page, never another reader loop. Every stream,
 * of any source, passes one admission check (stream_open): at most
 * STREAMS_PER_USER_MAX per user, at most src->max_open of the source.
 *
 * Sources today: stream_logs (stream-logs.c: `l4d2ctl logs NAME --follow`,
 * one process per viewer) and stream_job (stream-job.c: a job's log lines,
 * progress and end, from the database). The seam for one `logs --follow`
 * per server fanned out to all its viewers is stream-logs.c alone: its
 * open() would join a per-server hub (one hostlink stream, a ring of recent
 * lines, subscribers woken through an eventfd given to stream_watch_fd)
 * instead of spawning; pages and the admission check stay as they are. */
#pragma once

#include <stdatomic.h>

#include "web.h"

#define STREAMS_PER_USER_MAX 16 /* one account must not hold every thread */

typedef struct Stream Stream;

typedef struct StreamSource {
        const char *name;
        int max_open;          /* streams of this source at once, panel-wide */
        size_t state_size;     /* the source's per-stream state, zeroed at open */
        /* Starts the source for one stream: arg is what the page passed.
         * A source with a pipe gives it to stream_watch_fd(); one without is
         * pumped every poll_ms. < 0: the stream is not opened. */
        int (*open)(Stream *s, void *state, const void *arg);
        /* Adds what is new (stream_event); true once the source has ended
         * and said its last word. Called at open, when the watched fd is
         * readable, and every poll_ms without one. */
        bool (*pump)(Stream *s, void *state);
        void (*close)(void *state);
        unsigned poll_ms;
        atomic_int open_now;   /* streams.c's count */
} StreamSource;

extern StreamSource stream_logs; /* arg: the instance name */
extern StreamSource stream_job;  /* arg: a StreamJobArg */
typedef struct StreamJobArg {
        int64_t job_id, after_seq;
} StreamJobArg;

/* Opens a stream of src for user_id on conn. -EUSERS: the user has
 * STREAMS_PER_USER_MAX open; -EAGAIN: the source has max_open; other
 * errors from the source. layout.h's stream_refused() answers them. */
int stream_open(struct MHD_Connection *conn, StreamSource *src, const void *arg, int64_t user_id,
                struct MHD_Response **ret);

/* A stream that only says why there is nothing to show, and asks the
 * browser to come back in retry_ms. */
struct MHD_Response *stream_message(const char *event, const char *text, unsigned retry_ms);

/* For sources. */
void stream_watch_fd(Stream *s, int fd);
/* Queues one event: event NULL for a plain message, id NULL for none. A
 * CR or LF in data becomes a space (they would end the data field and let
 * the rest pose as fields, a fake "event: done"). */
void stream_event(Stream *s, const char *event, const char *id, const char *data);
