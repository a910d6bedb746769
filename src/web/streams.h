/* Live views: server-sent event streams, one interface for every source.
 *
 * No stream holds a thread. Its connection is suspended in libmicrohttpd
 * whenever it has nothing to send; one thread of ours (the hub) polls every
 * source (pipes, timers) and every viewer's socket (a closed tab ends its
 * stream at once) with epoll, queues events on the streams and resumes
 * their connections. The hub sends a comment every 15 s so that proxies
 * keep a quiet stream open. Browsers reconnect on their own (retry: 2000).
 *
 * A source is a row of three functions and a cap (StreamSource); adding a
 * live view (an RCON console, a player roster) is adding one
 * stream-<source>.c and its page, never another reader loop. Every stream,
 * of any source, passes one admission check (stream_open): at most
 * STREAMS_PER_USER_MAX per user, at most src->max_open of the source, and
 * whatever the source's open() refuses (a cap per server, say).
 *
 * A source either has a stream of its own (stream_watch_fd: pump() runs
 * when that fd is readable; or pump() every poll_ms) or feeds many streams
 * from one descriptor (streams_watch: its callback runs when the fd is
 * readable and calls stream_event on each of its streams). Every source
 * callback runs under the hub's one lock, so a source's shared state needs
 * no lock of its own; open() on the requesting thread, pump() and the
 * watch callbacks on the hub thread, close() on whichever thread ends the
 * stream.
 *
 * Sources today: stream_logs (stream-logs.c: one `l4d2ctl logs NAME
 * --follow` per server, fanned out to all its viewers, a cap per server)
 * and stream_job (stream-job.c: a job's log lines, progress and end, from
 * the database every 250 ms). */
#pragma once

#include <stdatomic.h>

#include "web.h"

#define STREAMS_PER_USER_MAX 16 /* one account must not hold every place */

typedef struct Stream Stream;

typedef struct StreamSource {
        const char *name;
        int max_open;          /* streams of this source at once, panel-wide */
        size_t state_size;     /* the source's per-stream state, zeroed at open */
        /* Starts the source for one stream: arg is what the page passed
         * (valid during the call only). < 0: the stream is not opened
         * (-EAGAIN: a cap of the source; stream_refused() says so). */
        int (*open)(Stream *s, void *state, const void *arg);
        /* Adds what is new (stream_event); true once the source has ended
         * and said its last word. Called at open, when the watched fd is
         * readable, and every poll_ms without one. NULL: a source that
         * feeds its streams from a streams_watch() callback. */
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

/* The hub: started before the HTTP daemon; shutdown() ends every stream
 * (their connections are resumed, nothing stays suspended) and stops the
 * thread; done() after the daemon is gone. */
int streams_start(void);
void streams_shutdown(void);
void streams_done(void);

/* Opens a stream of src for user_id on conn. -EUSERS: the user has
 * STREAMS_PER_USER_MAX open; -EAGAIN: the source (or its open()) is at a
 * cap; -ESHUTDOWN: the panel is stopping; other errors from the source.
 * layout.h's stream_refused() answers them. */
int stream_open(struct MHD_Connection *conn, StreamSource *src, const void *arg, int64_t user_id,
                struct MHD_Response **ret);

/* A stream that only says why there is nothing to show, and asks the
 * browser to come back in retry_ms. */
struct MHD_Response *stream_message(const char *event, const char *text, unsigned retry_ms);

/* For sources, under the hub's lock (in their callbacks). */
void stream_watch_fd(Stream *s, int fd);
/* Queues one event: event NULL for a plain message, id NULL for none. A
 * CR or LF in data becomes a space (they would end the data field and let
 * the rest pose as fields, a fake "event: done"). */
void stream_event(Stream *s, const char *event, const char *id, const char *data);
/* The stream has said its last word: it ends once what is queued is sent. */
void stream_end(Stream *s);
/* Watches fd for many streams: ready(userdata) runs on the hub thread,
 * under the lock, while fd is readable. -ENOSPC past the watch table. */
int streams_watch(int fd, void (*ready)(void *userdata), void *userdata, unsigned *ret_id);
void streams_unwatch(unsigned id);

/* Streams open now (for tests and benchmarks). */
unsigned streams_open_count(void);
