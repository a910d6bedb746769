/* The live console of an instance: one `l4d2ctl logs NAME --lines 200
 * --follow` per server (through the host link), however many viewers it
 * has, fanned out to all of them. The server's hub keeps its last 200
 * lines, so a viewer who joins (or reconnects: app.js clears its view on
 * open) sees the same start as the first one did. The process ends with
 * its last viewer.
 *
 * Caps: LOG_SERVERS_MAX processes (servers being watched) panel-wide and
 * LOG_VIEWERS_PER_SERVER viewers of one server; past either, -EAGAIN (503).
 * Everything here runs under the streams hub's lock (streams.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostlink.h"
#include "streams.h"

#define LOG_SERVERS_MAX 64
#define LOG_VIEWERS_PER_SERVER 64
#define RING_LINES 200

typedef struct LogHub {
        struct LogHub *next;
        char name[128];
        HostStream st;
        LineSplitter lines;
        unsigned watch_id;
        bool watching, ended;
        char *ring[RING_LINES];
        unsigned ring_start, ring_n;
        Stream *viewers[LOG_VIEWERS_PER_SERVER];
        unsigned n_viewers;
} LogHub;

typedef struct Viewer {
        LogHub *hub;
        Stream *s;
} Viewer;

static LogHub *hubs; /* the live ones, by name; an ended hub leaves this list */
static unsigned n_hubs;

static void ring_push(LogHub *h, const char *line) {
        char *copy = strdup(line);
        if (!copy)
                return;
        if (h->ring_n == RING_LINES) {
                free(h->ring[h->ring_start]);
                h->ring[h->ring_start] = copy;
                h->ring_start = (h->ring_start + 1) % RING_LINES;
        } else
                h->ring[(h->ring_start + h->ring_n++) % RING_LINES] = copy;
}

static int on_line(const char *line, void *userdata) {
        LogHub *h = userdata;
        ring_push(h, line);
        for (unsigned i = 0; i < h->n_viewers; i++)
                stream_event(h->viewers[i], NULL, NULL, line);
        return 0;
}

static void detach(LogHub *h) {
        for (LogHub **p = &hubs; *p; p = &(*p)->next)
                if (*p == h) {
                        *p = h->next;
                        n_hubs--;
                        break;
                }
        if (h->watching)
                streams_unwatch(h->watch_id);
        h->watching = false;
        hostlink_stream_close(&h->st, NULL);
}

static void hub_free(LogHub *h) {
        for (unsigned i = 0; i < h->ring_n; i++)
                free(h->ring[(h->ring_start + i) % RING_LINES]);
        free(h);
}

/* The process wrote something, or ended. */
static void ready(void *userdata) {
        LogHub *h = userdata;
        char buf[16384];
        ssize_t n = read(h->st.fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n > 0) {
                (void) line_splitter_feed(&h->lines, buf, (size_t) n, on_line, h);
                return;
        }
        (void) line_splitter_end(&h->lines, on_line, h);
        for (unsigned i = 0; i < h->n_viewers; i++) {
                stream_event(h->viewers[i], "end", NULL, "the log stream ended");
                stream_end(h->viewers[i]);
        }
        /* Its viewers keep it until they are gone; a new viewer starts a
         * new one. */
        h->ended = true;
        detach(h);
}

static LogHub *hub_start(const char *name) {
        LogHub *h = calloc(1, sizeof *h);
        if (!h)
                return NULL;
        snprintf(h->name, sizeof h->name, "%s", name);
        h->st = HOST_STREAM_NULL;
        const char *args[] = { "logs", name, "--lines", "200", "--follow", NULL };
        if (hostlink_spawn(host(), args, &h->st) < 0 || streams_watch(h->st.fd, ready, h, &h->watch_id) < 0) {
                hostlink_stream_close(&h->st, NULL);
                free(h);
                return NULL;
        }
        h->watching = true;
        h->next = hubs;
        hubs = h;
        n_hubs++;
        return h;
}

static int open_logs(Stream *s, void *state, const void *arg) {
        const char *name = arg;
        Viewer *v = state;
        if (strlen(name) >= sizeof ((LogHub *) NULL)->name)
                return -EINVAL;
        LogHub *h = hubs;
        while (h && !streq(h->name, name))
                h = h->next;
        if (h && h->n_viewers >= LOG_VIEWERS_PER_SERVER)
                return -EAGAIN;
        if (!h) {
                if (n_hubs >= LOG_SERVERS_MAX)
                        return -EAGAIN;
                h = hub_start(name);
                if (!h) {
                        stream_event(s, "end", NULL, "could not run l4d2ctl logs");
                        stream_end(s);
                        return 0; /* v->hub stays NULL */
                }
        }
        h->viewers[h->n_viewers++] = s;
        *v = (Viewer) { .hub = h, .s = s };
        for (unsigned i = 0; i < h->ring_n; i++)
                stream_event(s, NULL, NULL, h->ring[(h->ring_start + i) % RING_LINES]);
        return 0;
}

static void close_logs(void *state) {
        Viewer *v = state;
        LogHub *h = v->hub;
        if (!h)
                return;
        for (unsigned i = 0; i < h->n_viewers; i++)
                if (h->viewers[i] == v->s) {
                        h->viewers[i] = h->viewers[--h->n_viewers];
                        break;
                }
        if (h->n_viewers > 0)
                return;
        if (!h->ended)
                detach(h);
        hub_free(h);
}

/* The cap that matters is per server (above); this one only bounds the
 * streams' memory. */
StreamSource stream_logs = { .name = "logs", .max_open = LOG_SERVERS_MAX * LOG_VIEWERS_PER_SERVER,
                             .state_size = sizeof(Viewer), .open = open_logs, .close = close_logs };
