#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "download.h"
#include "hostlink.h"
#include "server.h"
#include "web.h"

#define CHUNK (64 * 1024)
#define PIPE_SIZE (1024 * 1024) /* fewer wake-ups; best effort */

typedef struct Download {
        HostStream ctl;  /* pid, and its stderr on ctl.fd */
        int out;         /* its stdout */
        int client_fd;   /* the browser's socket: a hangup ends the download */
        LineSplitter err_lines;
        char err[256];   /* l4d2ctl's last stderr line */
        char what[64];   /* for the panel's log: the verb */
} Download;

static int keep_error(const char *line, void *userdata) {
        Download *d = userdata;
        if (startswith(line, "error:") || !startswith(d->err, "error:"))
                snprintf(d->err, sizeof d->err, "%s", line);
        return 0;
}

static void read_stderr(Download *d) {
        char buf[4096];
        ssize_t n = read(d->ctl.fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                (void) line_splitter_end(&d->err_lines, keep_error, d);
                close(d->ctl.fd);
                d->ctl.fd = -1;
                return;
        }
        (void) line_splitter_feed(&d->err_lines, buf, (size_t) n, keep_error, d);
}

/* l4d2ctl closed its stdout: the rest of stderr, then its exit code. */
static ssize_t finish(Download *d) {
        while (d->ctl.fd >= 0)
                read_stderr(d);
        int exit_code = -1;
        if (spawn_wait(d->ctl.pid, &exit_code) < 0)
                exit_code = -1;
        d->ctl.pid = 0;
        if (exit_code == 0)
                return MHD_CONTENT_READER_END_OF_STREAM;
        fprintf(stderr, "left4me: download (l4d2ctl %s) failed midway, the browser's copy was cut off: %s\n", d->what,
                d->err[0] ? d->err : "no message");
        return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* Called by an event loop when the browser's socket can take more: it
 * waits for l4d2ctl's next bytes, which come within a millisecond or two
 * (a file read, or deflate at about 50 MB/s), so the loop's other
 * connections wait about that long per chunk. An l4d2ctl silent for
 * STALL_MS (stuck on a lock) ends the download rather than holding the
 * loop. Handing the pipe to the streams hub (suspend, resume when
 * readable) would take even that off the loop. */
#define STALL_MS 5000
static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
        Download *d = cls;
        (void) pos;
        for (;;) {
                struct pollfd p[4] = { { .fd = shutdown_fd(), .events = POLLIN },
                                       { .fd = d->client_fd, .events = POLLRDHUP },
                                       { .fd = d->out, .events = POLLIN },
                                       { .fd = d->ctl.fd, .events = POLLIN } };
                int k = poll(p, 4, STALL_MS);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                }
                if (k == 0) {
                        fprintf(stderr, "left4me: download (l4d2ctl %s) sent nothing for %d s; cut off\n", d->what,
                                STALL_MS / 1000);
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                }
                if (p[0].revents || p[1].revents)
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                if (p[3].revents)
                        read_stderr(d);
                if (p[2].revents) {
                        ssize_t n = read(d->out, buf, max);
                        if (n > 0)
                                return n;
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        return finish(d);
                }
        }
}

static void download_free(void *cls) {
        Download *d = cls;
        if (d->out >= 0)
                close(d->out);
        /* Still running: the browser went away, or the panel stops. */
        hostlink_stream_close(&d->ctl, NULL);
        free(d);
}

/* filename as a Content-Disposition value: an ASCII stand-in for old
 * clients and the real name percent-encoded (RFC 6266), so no byte of it
 * can end the header or add another. */
static char *disposition(const char *filename) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(filename);
        if (n > 1024)
                n = 1024;
        char *v = malloc(64 + 4 * n);
        if (!v)
                return NULL;
        char *o = v + sprintf(v, "attachment; filename=\"");
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) filename[i];
                if (c >= 0x80 && c < 0xc0)
                        continue; /* one '_' a character, not a byte */
                *o++ = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                                       c == '-' || c == '_' || c == ' '
                               ? (char) c
                               : '_';
        }
        o += sprintf(o, "\"; filename*=UTF-8''");
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) filename[i];
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || c == '~')
                        *o++ = (char) c;
                else {
                        *o++ = '%';
                        *o++ = hex[c >> 4];
                        *o++ = hex[c & 15];
                }
        }
        *o = '\0';
        return v;
}

int download_response(struct MHD_Connection *conn, const char *const args[], const char *filename,
                      struct MHD_Response **ret) {
        _cleanup_free_ char *cd = disposition(filename && *filename ? filename : "download");
        Download *d = calloc(1, sizeof *d);
        if (!cd || !d) {
                free(d);
                return -ENOMEM;
        }
        *d = (Download) { .ctl = HOST_STREAM_NULL, .out = -1, .client_fd = -1 };
        snprintf(d->what, sizeof d->what, "%s %s", args[0], args[1] ? args[1] : "");
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) {
                free(d);
                return negative_errno();
        }
        (void) fcntl(p[0], F_SETPIPE_SZ, PIPE_SIZE);
        int r = hostlink_spawn_out(host(), args, p[1], &d->ctl);
        close(p[1]); /* l4d2ctl holds the only write end: its exit is our EOF */
        d->out = p[0];
        if (r < 0) {
                download_free(d);
                return r;
        }
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        d->client_fd = ci ? ci->connect_fd : -1;
        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, CHUNK, reader, d,
                                                                      download_free);
        if (!resp) {
                download_free(d);
                return -ENOMEM;
        }
        /* Bytes from a user's overlay, served from the panel's origin: never
         * rendered, never sniffed, never a page with the panel's rights. */
        MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
        MHD_add_response_header(resp, "Content-Disposition", cd);
        MHD_add_response_header(resp, "Content-Security-Policy", "default-src 'none'; sandbox");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        *ret = resp;
        return 0;
}
