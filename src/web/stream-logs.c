/* The live console of an instance: `l4d2ctl logs NAME --lines 200 --follow`
 * through the host link, one process per viewer. Every (re)connection
 * replays the last lines first; app.js clears its view on open so nothing
 * shows twice. */
#include "hostlink.h"
#include "streams.h"

#define LOG_STREAMS_MAX 64 /* each runs an l4d2ctl */

typedef struct Logs {
        HostStream st;
        LineSplitter lines;
} Logs;

static int open_logs(Stream *s, void *state, const void *arg) {
        Logs *l = state;
        const char *args[] = { "logs", arg, "--lines", "200", "--follow", NULL };
        l->st = HOST_STREAM_NULL;
        if (hostlink_spawn(host(), args, &l->st) == 0)
                stream_watch_fd(s, l->st.fd);
        else
                stream_event(s, "end", NULL, "could not run l4d2ctl logs");
        return 0;
}

static int on_line(const char *line, void *userdata) {
        stream_event(userdata, NULL, NULL, line);
        return 0;
}

static bool pump_logs(Stream *s, void *state) {
        Logs *l = state;
        if (l->st.fd < 0)
                return true; /* it never ran: the end was said at open */
        char buf[8192];
        ssize_t n = read(l->st.fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return false;
        if (n <= 0) {
                (void) line_splitter_end(&l->lines, on_line, s);
                stream_event(s, "end", NULL, "the log stream ended");
                return true;
        }
        (void) line_splitter_feed(&l->lines, buf, (size_t) n, on_line, s);
        return false;
}

static void close_logs(void *state) {
        Logs *l = state;
        hostlink_stream_close(&l->st, NULL);
}

StreamSource stream_logs = { .name = "logs", .max_open = LOG_STREAMS_MAX, .state_size = sizeof(Logs),
                             .open = open_logs, .pump = pump_logs, .close = close_logs };
