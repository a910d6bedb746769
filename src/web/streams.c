#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "server.h"
#include "streams.h"

#define KEEPALIVE_MS 15000
#define PENDING_MAX (256 * 1024)

struct Stream {
        StreamSource *src;
        void *state;
        Buf pending;      /* bytes ready for the client */
        size_t sent;      /* how much of pending went out */
        bool ended, pumped;
        int fd;           /* the source's pipe, or -1 */
        int client_fd;    /* the browser's socket (MHD's), watched for hangup */
        int64_t user_id;  /* counted in users[] while > 0 */
};

/* Open streams per user. */
#define USERS_MAX 128
static pthread_mutex_t users_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
        int64_t id;
        int n;
} users[USERS_MAX];

static int user_take(int64_t id) {
        int r = -EAGAIN, free_slot = -1;
        pthread_mutex_lock(&users_lock);
        for (int i = 0; i < USERS_MAX; i++) {
                if (users[i].n > 0 && users[i].id == id) {
                        r = users[i].n >= STREAMS_PER_USER_MAX ? -EUSERS : (users[i].n++, 0);
                        goto out;
                }
                if (users[i].n == 0 && free_slot < 0)
                        free_slot = i;
        }
        if (free_slot >= 0) {
                users[free_slot].id = id;
                users[free_slot].n = 1;
                r = 0;
        }
out:
        pthread_mutex_unlock(&users_lock);
        return r;
}

static void user_give(int64_t id) {
        pthread_mutex_lock(&users_lock);
        for (int i = 0; i < USERS_MAX; i++)
                if (users[i].n > 0 && users[i].id == id) {
                        users[i].n--;
                        break;
                }
        pthread_mutex_unlock(&users_lock);
}

/* The one admission check, for streams of every source. */
static int admit(StreamSource *src, int64_t user_id) {
        int r = user_take(user_id);
        if (r < 0)
                return r;
        if (atomic_fetch_add(&src->open_now, 1) >= src->max_open) {
                atomic_fetch_sub(&src->open_now, 1);
                user_give(user_id);
                return -EAGAIN;
        }
        return 0;
}

static void stream_free(void *cls) {
        Stream *s = cls;
        if (s->src) {
                if (s->src->close)
                        s->src->close(s->state);
                atomic_fetch_sub(&s->src->open_now, 1);
        }
        if (s->user_id > 0)
                user_give(s->user_id);
        free(s->state);
        buf_free(&s->pending);
        free(s);
}

void stream_watch_fd(Stream *s, int fd) {
        s->fd = fd;
}

void stream_event(Stream *s, const char *event, const char *id, const char *data) {
        /* A client that does not read must not make us buffer forever:
         * past half the cap the unsent output is dropped, and it says so. */
        if (s->pending.len - s->sent > PENDING_MAX / 2) {
                s->pending.len = s->sent = 0;
                (void) buf_puts(&s->pending, "data: (output skipped: the browser did not keep up)\n\n");
        }
        if (id)
                (void) buf_printf(&s->pending, "id: %s\n", id);
        if (event)
                (void) buf_printf(&s->pending, "event: %s\n", event);
        (void) buf_puts(&s->pending, "data: ");
        for (const char *p = data; *p;) {
                size_t n = strcspn(p, "\r\n");
                (void) buf_append(&s->pending, p, n);
                p += n;
                if (*p) {
                        (void) buf_puts(&s->pending, " ");
                        p++;
                }
        }
        (void) buf_puts(&s->pending, "\n\n");
}

static ssize_t drain(Stream *s, char *out, size_t max) {
        size_t left = s->pending.len - s->sent;
        size_t n = left < max ? left : max;
        memcpy(out, s->pending.data + s->sent, n);
        s->sent += n;
        if (s->sent == s->pending.len)
                s->pending.len = s->sent = 0;
        return (ssize_t) n;
}

/* Waits for the source up to timeout_ms. 1: the source's fd is readable,
 * 0: timeout, -1: shutdown, or the browser went away (a closed tab gives
 * its stream, and an l4d2ctl behind it, back at once, not at the next
 * write). */
static int wait_source(Stream *s, int timeout_ms) {
        struct pollfd p[3] = { { .fd = shutdown_fd(), .events = POLLIN },
                               { .fd = s->client_fd, .events = POLLRDHUP },
                               { .fd = s->fd, .events = POLLIN } };
        int r = poll(p, s->fd >= 0 ? 3 : 2, timeout_ms);
        if (r < 0)
                return errno == EINTR ? 0 : -1;
        if (p[0].revents || p[1].revents)
                return -1;
        return s->fd >= 0 && p[2].revents ? 1 : 0;
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max) {
        Stream *s = cls;
        int idle_ms = 0;
        for (;;) {
                if (s->pending.len > s->sent)
                        return drain(s, out, max);
                if (s->ended)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                if (!s->pumped) {
                        /* What there is already goes out at once. */
                        s->pumped = true;
                        s->ended = s->src->pump(s, s->state);
                        continue;
                }
                int timeout = s->fd >= 0 ? KEEPALIVE_MS - idle_ms : (int) s->src->poll_ms;
                int w = wait_source(s, timeout);
                if (w < 0)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                if (w > 0 || s->fd < 0)
                        s->ended = s->src->pump(s, s->state);
                if (s->pending.len > s->sent) {
                        idle_ms = 0;
                        continue;
                }
                idle_ms += w > 0 ? 0 : timeout;
                if (idle_ms >= KEEPALIVE_MS) {
                        idle_ms = 0;
                        (void) buf_puts(&s->pending, ": keepalive\n\n");
                }
        }
}

static Stream *stream_new(struct MHD_Connection *conn) {
        Stream *s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        s->pending.max = PENDING_MAX;
        s->fd = -1;
        /* poll() skips a negative fd: without the socket, hangups are
         * noticed at the next write. */
        const union MHD_ConnectionInfo *ci = conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD)
                                                  : NULL;
        s->client_fd = ci ? ci->connect_fd : -1;
        (void) buf_puts(&s->pending, "retry: 2000\n\n");
        return s;
}

static struct MHD_Response *make_response(Stream *s) {
        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, s, stream_free);
        if (!resp) {
                stream_free(s);
                return NULL;
        }
        MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        return resp;
}

int stream_open(struct MHD_Connection *conn, StreamSource *src, const void *arg, int64_t user_id,
                struct MHD_Response **ret) {
        int r = admit(src, user_id);
        if (r < 0)
                return r;
        Stream *s = stream_new(conn);
        void *state = s ? calloc(1, src->state_size ? src->state_size : 1) : NULL;
        if (!state) {
                free(s);
                atomic_fetch_sub(&src->open_now, 1);
                user_give(user_id);
                return -ENOMEM;
        }
        s->state = state;
        s->user_id = user_id;
        r = src->open(s, state, arg);
        if (r < 0) {
                s->user_id = 0;
                stream_free(s);
                atomic_fetch_sub(&src->open_now, 1);
                user_give(user_id);
                return r;
        }
        s->src = src; /* from here stream_free() closes the source */
        *ret = make_response(s);
        return *ret ? 0 : -ENOMEM;
}

/* The source of a stream that has said everything at its start. */
static int said_open(Stream *s, void *state, const void *arg) {
        return 0;
}

static bool said_pump(Stream *s, void *state) {
        return true;
}

static StreamSource said = { .name = "message", .max_open = 1 << 30, .open = said_open, .pump = said_pump };

struct MHD_Response *stream_message(const char *event, const char *text, unsigned retry_ms) {
        Stream *s = stream_new(NULL);
        if (!s)
                return NULL;
        s->pending.len = 0;
        (void) buf_printf(&s->pending, "retry: %u\n\n", retry_ms);
        stream_event(s, event, NULL, text);
        s->ended = true;
        s->src = &said;
        atomic_fetch_add(&said.open_now, 1);
        return make_response(s);
}
