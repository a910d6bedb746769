#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "streams.h"

#define KEEPALIVE_MS 15000
#define PENDING_MAX (256 * 1024)
#define SLOTS_MAX 16384   /* streams open at once, every source together */
#define WATCH_MAX 1024

struct Stream {
        StreamSource *src;      /* set once open() succeeded: close() is then due */
        void *state;
        pthread_mutex_t lock;   /* pending, sent, ended, gone, suspended: the reader and the hub */
        Buf pending;            /* bytes ready for the client */
        size_t sent;            /* how much of pending went out */
        atomic_bool ended;      /* the source said its last word (or the panel stops) */
        atomic_bool gone;       /* the browser hung up */
        bool suspended;         /* its connection waits for news */
        struct MHD_Connection *conn;
        int client_fd;          /* a dup of the browser's socket, watched for hangup; -1: none */
        int fd;                 /* the source's own descriptor, or -1 */
        int64_t user_id;        /* counted in users[] while > 0 */
        unsigned slot;          /* in hub.slot[] while registered */
        bool registered;
        int64_t next_pump_ms;   /* 0: none due */
        int64_t last_out_ms;    /* for the keepalive */
};

enum { EV_WAKE = 1, EV_CLIENT, EV_SOURCE, EV_WATCH };

static struct {
        pthread_mutex_t lock;
        int ep, wake_fd;
        Stream *slot[SLOTS_MAX];
        uint32_t slot_gen[SLOTS_MAX];
        unsigned high;          /* slots below this may be used */
        unsigned n;
        struct {
                int fd;
                void (*ready)(void *);
                void *userdata;
                uint32_t gen;
                bool used;
        } watch[WATCH_MAX];
        bool running, stopping;
        pthread_t tid;
} hub = { .lock = PTHREAD_MUTEX_INITIALIZER, .ep = -1, .wake_fd = -1 };

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t ev_data(int kind, unsigned idx, uint32_t gen) {
        return (uint64_t) kind << 56 | (uint64_t) (idx & 0xffffff) << 32 | gen;
}

/* ---- per user ---- */

#define USERS_MAX 1024
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

/* ---- one stream ---- */

/* With s->lock held: its connection goes on if it waits. */
static void wake_locked(Stream *s) {
        if (s->suspended) {
                s->suspended = false;
                MHD_resume_connection(s->conn);
        }
}

static void append_event(Stream *s, const char *event, const char *id, const char *data) {
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

void stream_event(Stream *s, const char *event, const char *id, const char *data) {
        pthread_mutex_lock(&s->lock);
        append_event(s, event, id, data);
        s->last_out_ms = now_ms();
        wake_locked(s);
        pthread_mutex_unlock(&s->lock);
}

void stream_end(Stream *s) {
        pthread_mutex_lock(&s->lock);
        s->ended = true;
        s->next_pump_ms = 0;
        wake_locked(s);
        pthread_mutex_unlock(&s->lock);
}

void stream_watch_fd(Stream *s, int fd) {
        s->fd = fd;
}

/* libmicrohttpd asks for the next bytes: what is queued, else the end, else
 * the connection is suspended until the hub has news (returning 0 without
 * suspending would have it ask again at once, for ever). */
static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max) {
        Stream *s = cls;
        pthread_mutex_lock(&s->lock);
        ssize_t ret;
        size_t left = s->pending.len - s->sent;
        if (s->gone)
                ret = MHD_CONTENT_READER_END_WITH_ERROR;
        else if (left > 0) {
                size_t n = left < max ? left : max;
                memcpy(out, s->pending.data + s->sent, n);
                s->sent += n;
                if (s->sent == s->pending.len)
                        s->pending.len = s->sent = 0;
                ret = (ssize_t) n;
        } else if (s->ended || !s->conn)
                ret = MHD_CONTENT_READER_END_OF_STREAM;
        else {
                s->suspended = true;
                MHD_suspend_connection(s->conn);
                ret = 0;
        }
        pthread_mutex_unlock(&s->lock);
        return ret;
}

static void unregister_locked(Stream *s) {
        if (!s->registered)
                return;
        if (s->client_fd >= 0)
                (void) epoll_ctl(hub.ep, EPOLL_CTL_DEL, s->client_fd, NULL);
        if (s->fd >= 0)
                (void) epoll_ctl(hub.ep, EPOLL_CTL_DEL, s->fd, NULL);
        hub.slot[s->slot] = NULL;
        hub.slot_gen[s->slot]++;
        hub.n--;
        s->registered = false;
}

static void stream_free(void *cls) {
        Stream *s = cls;
        pthread_mutex_lock(&hub.lock);
        unregister_locked(s);
        if (s->src) {
                if (s->src->close)
                        s->src->close(s->state);
                atomic_fetch_sub(&s->src->open_now, 1);
        }
        pthread_mutex_unlock(&hub.lock);
        if (s->user_id > 0)
                user_give(s->user_id);
        if (s->client_fd >= 0)
                close(s->client_fd);
        free(s->state);
        buf_free(&s->pending);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

static Stream *stream_new(struct MHD_Connection *conn) {
        Stream *s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        pthread_mutex_init(&s->lock, NULL);
        s->pending.max = PENDING_MAX;
        s->fd = s->client_fd = -1;
        s->conn = conn;
        s->last_out_ms = now_ms();
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

static void hub_wake(void) {
        uint64_t one = 1;
        (void) !write(hub.wake_fd, &one, sizeof one);
}

int stream_open(struct MHD_Connection *conn, StreamSource *src, const void *arg, int64_t user_id,
                struct MHD_Response **ret) {
        int r = admit(src, user_id);
        if (r < 0)
                return r;
        Stream *s = stream_new(conn);
        void *state = s ? calloc(1, src->state_size ? src->state_size : 1) : NULL;
        if (!state) {
                if (s)
                        pthread_mutex_destroy(&s->lock);
                free(s);
                atomic_fetch_sub(&src->open_now, 1);
                user_give(user_id);
                return -ENOMEM;
        }
        s->state = state;
        s->user_id = user_id;
        /* The browser's socket, watched for a hangup while the stream is
         * suspended (libmicrohttpd does not look then). A dup: its number
         * stays ours until the stream is freed, whatever libmicrohttpd
         * does with its own. */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci)
                s->client_fd = fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 3);

        pthread_mutex_lock(&hub.lock);
        unsigned slot = SLOTS_MAX;
        if (hub.running && !hub.stopping)
                for (unsigned i = 0; i < SLOTS_MAX; i++)
                        if (!hub.slot[i]) {
                                slot = i;
                                break;
                        }
        r = slot == SLOTS_MAX ? (hub.running && !hub.stopping ? -EAGAIN : -ESHUTDOWN) : src->open(s, state, arg);
        if (r < 0) {
                pthread_mutex_unlock(&hub.lock);
                s->src = NULL;
                stream_free(s); /* gives the user's place back */
                atomic_fetch_sub(&src->open_now, 1);
                return r;
        }
        s->src = src; /* from here stream_free() closes the source */
        s->slot = slot;
        hub.slot[slot] = s;
        if (slot >= hub.high)
                hub.high = slot + 1;
        hub.n++;
        s->registered = true;
        uint32_t gen = hub.slot_gen[slot];
        if (s->client_fd >= 0) {
                struct epoll_event ev = { .events = EPOLLRDHUP, .data.u64 = ev_data(EV_CLIENT, slot, gen) };
                (void) epoll_ctl(hub.ep, EPOLL_CTL_ADD, s->client_fd, &ev);
        }
        if (s->fd >= 0) {
                struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ev_data(EV_SOURCE, slot, gen) };
                (void) epoll_ctl(hub.ep, EPOLL_CTL_ADD, s->fd, &ev);
        }
        /* What there is already goes out at once. */
        if (src->pump)
                s->next_pump_ms = now_ms();
        pthread_mutex_unlock(&hub.lock);
        hub_wake();
        *ret = make_response(s);
        return *ret ? 0 : -ENOMEM;
}

struct MHD_Response *stream_message(const char *event, const char *text, unsigned retry_ms) {
        Stream *s = stream_new(NULL);
        if (!s)
                return NULL;
        s->pending.len = 0;
        (void) buf_printf(&s->pending, "retry: %u\n\n", retry_ms);
        append_event(s, event, NULL, text);
        s->ended = true;
        return make_response(s);
}

/* ---- fan-out watches ---- */

int streams_watch(int fd, void (*ready)(void *userdata), void *userdata, unsigned *ret_id) {
        for (unsigned i = 0; i < WATCH_MAX; i++)
                if (!hub.watch[i].used) {
                        struct epoll_event ev = { .events = EPOLLIN,
                                                  .data.u64 = ev_data(EV_WATCH, i, hub.watch[i].gen) };
                        if (epoll_ctl(hub.ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                                return negative_errno();
                        hub.watch[i].fd = fd;
                        hub.watch[i].ready = ready;
                        hub.watch[i].userdata = userdata;
                        hub.watch[i].used = true;
                        *ret_id = i;
                        return 0;
                }
        return -ENOSPC;
}

void streams_unwatch(unsigned id) {
        if (id >= WATCH_MAX || !hub.watch[id].used)
                return;
        (void) epoll_ctl(hub.ep, EPOLL_CTL_DEL, hub.watch[id].fd, NULL);
        hub.watch[id].used = false;
        hub.watch[id].gen++;
}

/* ---- the hub ---- */

static void pump_one(Stream *s, int64_t now) {
        if (s->ended || s->gone) {
                s->next_pump_ms = 0; /* nothing more is due: no busy timer */
                return;
        }
        bool ended = s->src->pump(s, s->state);
        if (ended) {
                if (s->fd >= 0)
                        (void) epoll_ctl(hub.ep, EPOLL_CTL_DEL, s->fd, NULL);
                stream_end(s);
        } else
                s->next_pump_ms = s->fd < 0 && s->src->poll_ms ? now + s->src->poll_ms : 0;
}

static Stream *slot_stream(unsigned idx, uint32_t gen) {
        return idx < SLOTS_MAX && hub.slot[idx] && hub.slot_gen[idx] == gen ? hub.slot[idx] : NULL;
}

static void *hub_thread(void *arg) {
        struct epoll_event evs[64];
        int timeout = 0;
        for (;;) {
                int n = epoll_wait(hub.ep, evs, ELEMENTSOF(evs), timeout);
                if (n < 0 && errno != EINTR)
                        break;
                pthread_mutex_lock(&hub.lock);
                if (hub.stopping) {
                        pthread_mutex_unlock(&hub.lock);
                        break;
                }
                int64_t now = now_ms();
                for (int i = 0; i < n; i++) {
                        int kind = (int) (evs[i].data.u64 >> 56);
                        unsigned idx = (unsigned) (evs[i].data.u64 >> 32) & 0xffffff;
                        uint32_t gen = (uint32_t) evs[i].data.u64;
                        if (kind == EV_WAKE) {
                                uint64_t v;
                                (void) !read(hub.wake_fd, &v, sizeof v);
                        } else if (kind == EV_WATCH) {
                                if (idx < WATCH_MAX && hub.watch[idx].used && hub.watch[idx].gen == gen)
                                        hub.watch[idx].ready(hub.watch[idx].userdata);
                        } else {
                                Stream *s = slot_stream(idx, gen);
                                if (!s)
                                        continue;
                                if (kind == EV_CLIENT) {
                                        /* A closed tab: its connection is
                                         * resumed to end, which frees the
                                         * stream and its source at once. */
                                        (void) epoll_ctl(hub.ep, EPOLL_CTL_DEL, s->client_fd, NULL);
                                        pthread_mutex_lock(&s->lock);
                                        s->gone = true;
                                        wake_locked(s);
                                        pthread_mutex_unlock(&s->lock);
                                } else
                                        pump_one(s, now);
                        }
                }
                /* Timers: the sources polled every poll_ms, the first pump of
                 * a new stream, the keepalive of a quiet one. */
                int64_t next = now + KEEPALIVE_MS;
                for (unsigned i = 0; i < hub.high; i++) {
                        Stream *s = hub.slot[i];
                        if (!s)
                                continue;
                        if (s->next_pump_ms && now >= s->next_pump_ms)
                                pump_one(s, now);
                        if (s->next_pump_ms && s->next_pump_ms < next)
                                next = s->next_pump_ms;
                        pthread_mutex_lock(&s->lock);
                        if (now - s->last_out_ms >= KEEPALIVE_MS && !s->ended) {
                                (void) buf_puts(&s->pending, ": keepalive\n\n");
                                s->last_out_ms = now;
                                wake_locked(s);
                        }
                        int64_t last = s->last_out_ms;
                        pthread_mutex_unlock(&s->lock);
                        if (last + KEEPALIVE_MS < next)
                                next = last + KEEPALIVE_MS;
                }
                while (hub.high > 0 && !hub.slot[hub.high - 1])
                        hub.high--;
                pthread_mutex_unlock(&hub.lock);
                timeout = next > now ? (int) (next - now) : 0;
        }
        return NULL;
}

int streams_start(void) {
        hub.ep = epoll_create1(EPOLL_CLOEXEC);
        hub.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (hub.ep < 0 || hub.wake_fd < 0)
                return -EMFILE;
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ev_data(EV_WAKE, 0, 0) };
        if (epoll_ctl(hub.ep, EPOLL_CTL_ADD, hub.wake_fd, &ev) < 0)
                return negative_errno();
        hub.stopping = false;
        int r = pthread_create(&hub.tid, NULL, hub_thread, NULL);
        if (r != 0)
                return -r;
        hub.running = true;
        return 0;
}

void streams_shutdown(void) {
        pthread_mutex_lock(&hub.lock);
        if (!hub.running) {
                pthread_mutex_unlock(&hub.lock);
                return;
        }
        hub.stopping = true;
        /* Every stream ends now: its connection is resumed, sends what is
         * queued and ends. Nothing may stay suspended when the daemon
         * stops. */
        for (unsigned i = 0; i < hub.high; i++)
                if (hub.slot[i])
                        stream_end(hub.slot[i]);
        pthread_mutex_unlock(&hub.lock);
        hub_wake();
        pthread_join(hub.tid, NULL);
        hub.running = false;
}

void streams_done(void) {
        if (hub.ep >= 0)
                close(hub.ep);
        if (hub.wake_fd >= 0)
                close(hub.wake_fd);
        hub.ep = hub.wake_fd = -1;
}

unsigned streams_open_count(void) {
        pthread_mutex_lock(&hub.lock);
        unsigned n = hub.n;
        pthread_mutex_unlock(&hub.lock);
        return n;
}
