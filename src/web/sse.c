#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "hostlink.h"
#include "db.h"
#include "html.h"
#include "server.h"
#include "svc-jobs.h"
#include "sse.h"

#define KEEPALIVE_MS 15000
#define PENDING_MAX (256 * 1024)
#define JOB_LINES_BATCH 500

typedef struct Stream {
        Buf pending;      /* bytes ready for the client */
        size_t sent;      /* how much of pending went out */
        bool ended;
        /* server logs */
        HostStream src;
        int fd;           /* src.fd, or -1 */
        char line[4097];
        size_t line_len;
        /* job events */
        int64_t job_id, seq;
        double percent;
        char label[64];
        int64_t user_id;  /* counted in users[] while > 0 */
        int client_fd;    /* the browser's socket (MHD's), watched for hangup */
} Stream;

static _Atomic int log_streams, job_streams;

/* Open streams per user: one account must not hold every stream (and with
 * them the connection threads) of the panel. */
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
                        r = users[i].n >= SSE_STREAMS_PER_USER_MAX ? -EUSERS : (users[i].n++, 0);
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

static void stream_free(void *cls) {
        Stream *s = cls;
        if (s->user_id > 0)
                user_give(s->user_id);
        if (s->job_id > 0)
                atomic_fetch_sub(&job_streams, 1);
        if (s->src.pid > 0) {
                hostlink_stream_close(&s->src, NULL);
                atomic_fetch_sub(&log_streams, 1);
        }
        buf_free(&s->pending);
        free(s);
}

/* Hands out pending bytes; true if something was copied. */
static ssize_t drain(Stream *s, char *out, size_t max) {
        size_t left = s->pending.len - s->sent;
        size_t n = left < max ? left : max;
        memcpy(out, s->pending.data + s->sent, n);
        s->sent += n;
        if (s->sent == s->pending.len)
                s->pending.len = s->sent = 0;
        return (ssize_t) n;
}

static void event_line(Stream *s, const char *line) {
        /* A CR or LF inside would end the data: field and let the rest of
         * the line pose as SSE fields (a fake "event: done"); send them as
         * spaces. */
        (void) buf_puts(&s->pending, "data: ");
        for (const char *p = line; *p;) {
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

/* Waits for s->fd (if >= 0) up to timeout_ms. Returns 1 if it is readable,
 * 0 on timeout, -1 on shutdown or when the browser went away: a closed tab
 * gives its stream (and its l4d2ctl) back at once, not at the next write. */
static int wait_fd(Stream *s, int timeout_ms) {
        struct pollfd p[3] = { { .fd = shutdown_fd(), .events = POLLIN },
                               { .fd = s->client_fd, .events = POLLRDHUP },
                               { .fd = s->fd, .events = POLLIN } };
        int r = poll(p, s->fd >= 0 ? 3 : 2, timeout_ms);
        if (r < 0)
                return errno == EINTR ? 0 : -1;
        if (p[0].revents || p[1].revents)
                return -1;
        if (s->fd >= 0 && p[2].revents)
                return 1;
        return 0;
}

static ssize_t logs_reader(void *cls, uint64_t pos, char *out, size_t max) {
        Stream *s = cls;
        for (;;) {
                if (s->pending.len > s->sent)
                        return drain(s, out, max);
                if (s->ended)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                int w = wait_fd(s, KEEPALIVE_MS);
                if (w < 0)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                if (w == 0) {
                        (void) buf_puts(&s->pending, ": keepalive\n\n");
                        continue;
                }
                char buf[8192];
                ssize_t n = read(s->fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (s->line_len) {
                                s->line[s->line_len] = '\0';
                                event_line(s, s->line);
                                s->line_len = 0;
                        }
                        (void) buf_puts(&s->pending, "event: end\ndata: the log stream ended\n\n");
                        s->ended = true;
                        continue;
                }
                for (ssize_t i = 0; i < n; i++) {
                        char c = buf[i];
                        if (c == '\n' || c == '\r' || s->line_len == sizeof s->line - 1) {
                                if (s->line_len) {
                                        s->line[s->line_len] = '\0';
                                        event_line(s, s->line);
                                }
                                s->line_len = 0;
                                if (c == '\n' || c == '\r')
                                        continue;
                        }
                        s->line[s->line_len++] = c == '\0' ? ' ' : c;
                }
                /* A client that does not read must not make us buffer forever:
                 * past the cap the oldest unsent output is dropped. */
                if (s->pending.len - s->sent > PENDING_MAX / 2) {
                        s->pending.len = s->sent = 0;
                        (void) buf_puts(&s->pending, "data: (output skipped: the browser did not keep up)\n\n");
                }
        }
}

static struct MHD_Response *make_response(Stream *s, MHD_ContentReaderCallback reader) {
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

static Stream *stream_new(struct MHD_Connection *conn) {
        Stream *s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        s->pending.max = PENDING_MAX;
        s->fd = -1;
        s->src = HOST_STREAM_NULL;
        /* poll() skips a negative fd: without the socket, hangups are
         * noticed at the next write, as before. */
        const union MHD_ConnectionInfo *ci = conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD)
                                                  : NULL;
        s->client_fd = ci ? ci->connect_fd : -1;
        (void) buf_puts(&s->pending, "retry: 2000\n\n");
        return s;
}

struct MHD_Response *sse_message(const char *event, const char *text, unsigned retry_ms) {
        Stream *s = stream_new(NULL);
        if (!s)
                return NULL;
        s->pending.len = 0;
        (void) buf_printf(&s->pending, "retry: %u\n\nevent: %s\ndata: ", retry_ms, event);
        (void) buf_puts(&s->pending, text);
        (void) buf_puts(&s->pending, "\n\n");
        s->ended = true;
        return make_response(s, logs_reader);
}

int sse_server_logs(struct MHD_Connection *conn, const char *instance, int64_t user_id, struct MHD_Response **ret) {
        int r = user_take(user_id);
        if (r < 0)
                return r;
        if (atomic_fetch_add(&log_streams, 1) >= SSE_LOG_STREAMS_MAX) {
                atomic_fetch_sub(&log_streams, 1);
                user_give(user_id);
                return -EAGAIN;
        }
        Stream *s = stream_new(conn);
        if (!s) {
                atomic_fetch_sub(&log_streams, 1);
                user_give(user_id);
                return -ENOMEM;
        }
        s->user_id = user_id;
        const char *args[] = { "logs", instance, "--lines", "200", "--follow", NULL };
        if (hostlink_spawn(host(), args, &s->src) == 0)
                s->fd = s->src.fd;
        else {
                atomic_fetch_sub(&log_streams, 1);
                (void) buf_puts(&s->pending, "event: end\ndata: could not run l4d2ctl logs\n\n");
                s->ended = true;
        }
        *ret = make_response(s, logs_reader);
        return *ret ? 0 : -ENOMEM;
}

/* Reads what is new for the job: lines after s->seq, the progress, and the
 * final state. Returns true when the job has finished and all is sent. */
static bool job_poll(Stream *s) {
        sqlite3 *db = db_acquire();
        /* The job first, then its lines: a job seen finished has written
         * every line already, so the lines read next are all of them. */
        JobRow j;
        bool finished = true;
        if (job_load(db, s->job_id, NULL, &j) == 0) {
                finished = streq(j.state, "succeeded") || streq(j.state, "failed");
                _cleanup_iter_ DbIter it = DB_ITER_INIT;
                JobLine line;
                int n = 0;
                if (job_lines_after(&it, db, s->job_id, s->seq, JOB_LINES_BATCH) == 0)
                        for (; job_line_next(&it, &line); n++) {
                                s->seq = line.seq;
                                (void) buf_printf(&s->pending, "id: %lld\nevent: line\n", (long long) line.seq);
                                event_line(s, line.text);
                        }
                if (n == JOB_LINES_BATCH)
                        finished = false; /* more lines to send first */
                if (j.has_progress && (j.progress != s->percent || !streq(j.progress_label, s->label))) {
                        s->percent = j.progress;
                        snprintf(s->label, sizeof s->label, "%s", j.progress_label);
                        (void) buf_printf(&s->pending, "event: progress\ndata: {\"percent\":%.2f,\"label\":", j.progress);
                        json_str(&s->pending, j.progress_label);
                        (void) buf_puts(&s->pending, "}\n\n");
                }
                if (finished) {
                        (void) buf_puts(&s->pending, "event: done\ndata: {\"state\":");
                        json_str(&s->pending, j.state);
                        (void) buf_puts(&s->pending, ",\"result\":");
                        json_str(&s->pending, j.result);
                        (void) buf_puts(&s->pending, "}\n\n");
                }
        }
        db_release(db);
        return finished;
}

static ssize_t job_reader(void *cls, uint64_t pos, char *out, size_t max) {
        Stream *s = cls;
        int idle_ms = 0;
        for (;;) {
                if (s->pending.len > s->sent)
                        return drain(s, out, max);
                if (s->ended)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                if (job_poll(s)) {
                        s->ended = true;
                        continue;
                }
                if (s->pending.len > s->sent)
                        continue;
                if (wait_fd(s, 250) < 0)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                idle_ms += 250;
                if (idle_ms >= KEEPALIVE_MS) {
                        idle_ms = 0;
                        (void) buf_puts(&s->pending, ": keepalive\n\n");
                }
        }
}

int sse_job_events(struct MHD_Connection *conn, int64_t job_id, int64_t after_seq, int64_t user_id,
                   struct MHD_Response **ret) {
        int r = user_take(user_id);
        if (r < 0)
                return r;
        if (atomic_fetch_add(&job_streams, 1) >= SSE_JOB_STREAMS_MAX) {
                atomic_fetch_sub(&job_streams, 1);
                user_give(user_id);
                return -EAGAIN;
        }
        Stream *s = stream_new(conn);
        if (!s) {
                atomic_fetch_sub(&job_streams, 1);
                user_give(user_id);
                return -ENOMEM;
        }
        s->user_id = user_id;
        s->job_id = job_id;
        s->seq = after_seq;
        s->percent = -1;
        *ret = make_response(s, job_reader);
        return *ret ? 0 : -ENOMEM;
}
