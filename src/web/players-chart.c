/* The player count of a server over a period, drawn on the server as SVG: a
 * step line (the count holds until the roster changes), gaps where it is
 * not known, a y axis up to the player limit, time ticks in UTC. Every
 * piece of text in it is ours (numbers, times) and still goes through the
 * escapers; the chart is an image with a title and a description for
 * screen readers, followed by the same summary as text. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "html.h"
#include "page-players.h"
#include "svc-players.h"

#define W 600.0
#define H 140.0
#define PAD_L 28.0
#define PAD_B 18.0
#define PAD_T 6.0

static void num(Buf *b, double v) {
        html_fixed(b, v, 1);
}

static double x_of(int64_t t, int64_t from, int64_t to) {
        return PAD_L + (W - PAD_L) * (double) (t - from) / (double) (to - from);
}

static double y_of(int v, int ymax) {
        return PAD_T + (H - PAD_T - PAD_B) * (1.0 - (double) v / (double) ymax);
}

static void time_label(Buf *b, int64_t t, bool days) {
        char s[32];
        time_t tt = (time_t) t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(s, sizeof s, days ? "%a %d" : "%H:%M", &tm);
        html_txt(b, s);
}

typedef struct Summary {
        int peak, now;
        int64_t peak_at, known_s;
        double avg;
} Summary;

static Summary summarize(const CountPoint *p, size_t n, int64_t to) {
        Summary s = { .peak = -1, .now = -1 };
        double weighted = 0;
        for (size_t i = 0; i < n; i++) {
                int64_t end = i + 1 < n ? p[i + 1].at : to;
                if (p[i].humans < 0)
                        continue;
                /* A count that held for no time (changed again within the
                 * second) is still a count that was seen. */
                if (p[i].humans > s.peak) {
                        s.peak = p[i].humans;
                        s.peak_at = p[i].at;
                }
                if (end > p[i].at) {
                        weighted += (double) p[i].humans * (double) (end - p[i].at);
                        s.known_s += end - p[i].at;
                }
        }
        if (n)
                s.now = p[n - 1].humans;
        s.avg = s.known_s > 0 ? weighted / (double) s.known_s : s.now > 0 ? s.now : 0;
        return s;
}

static void summary_text(Buf *b, const Summary *s, int64_t from) {
        if (s->peak < 0) {
                html_raw(b, "No player count is known for this period.");
                return;
        }
        html_raw(b, "Peak: ");
        html_int(b, s->peak);
        html_txt(b, s->peak == 1 ? " player" : " players");
        if (s->peak > 0) {
                char when[40];
                time_t tt = (time_t) (s->peak_at < from ? from : s->peak_at);
                struct tm tm;
                gmtime_r(&tt, &tm);
                strftime(when, sizeof when, " at %Y-%m-%d %H:%M UTC", &tm);
                html_txt(b, when);
        }
        html_raw(b, ". Average: ");
        html_fixed(b, s->avg, 1);
        html_raw(b, " over the time it was known. Now: ");
        if (s->now >= 0)
                html_int(b, s->now);
        else
                html_raw(b, "not known");
        html_raw(b, ".");
}

void players_chart(Req *r, const Server *v, const char *id, const char *title, int64_t from, int64_t to) {
        Buf *b = &r->out;
        CountPoint *p = NULL;
        size_t n = 0;
        if (players_counts(r->db, v->id, from, to, &p, &n) < 0)
                return;
        Summary s = summarize(p, n, to);
        int ymax = v->maxplayers > 0 ? v->maxplayers : 1;
        if (s.peak > ymax)
                ymax = s.peak;
        bool days = to - from > 2 * 86400;

        /* The name as aria-label and in <title> (an id on an SVG title
         * is not valid to tidy), the summary as <desc>. */
        html_raw(b, "<figure class=\"chart\">\n<svg class=\"chart-svg\" viewBox=\"0 0 600 140\" role=\"img\" "
                    "aria-label=\"");
        html_attr(b, title);
        html_raw(b, "\" aria-describedby=\"");
        html_attr(b, id);
        html_raw(b, "-desc\" id=\"");
        html_attr(b, id);
        html_raw(b, "\">\n<title>");
        html_txt(b, title);
        html_raw(b, "</title>\n<desc id=\"");
        html_attr(b, id);
        html_raw(b, "-desc\">");
        summary_text(b, &s, from);
        html_raw(b, "</desc>\n");

        /* Grid: 0 and the limit, and time ticks (every 6 hours, or days). */
        double y0 = y_of(0, ymax), y1 = y_of(ymax, ymax);
        html_raw(b, "<g class=\"chart-grid\">\n<line x1=\"");
        num(b, PAD_L);
        html_raw(b, "\" y1=\"");
        num(b, y0);
        html_raw(b, "\" x2=\"600\" y2=\"");
        num(b, y0);
        html_raw(b, "\"/>\n<line x1=\"");
        num(b, PAD_L);
        html_raw(b, "\" y1=\"");
        num(b, y1);
        html_raw(b, "\" x2=\"600\" y2=\"");
        num(b, y1);
        html_raw(b, "\"/>\n<text x=\"");
        num(b, PAD_L - 4);
        html_raw(b, "\" y=\"");
        num(b, y0);
        html_raw(b, "\" class=\"chart-y\">0</text>\n<text x=\"");
        num(b, PAD_L - 4);
        html_raw(b, "\" y=\"");
        num(b, y1 + 8);
        html_raw(b, "\" class=\"chart-y\">");
        html_int(b, ymax);
        html_raw(b, "</text>\n");
        int64_t step = days ? 86400 : 6 * 3600;
        for (int64_t t = (from / step + 1) * step; t < to; t += step) {
                double x = x_of(t, from, to);
                html_raw(b, "<line class=\"chart-tick\" x1=\"");
                num(b, x);
                html_raw(b, "\" y1=\"");
                num(b, y1);
                html_raw(b, "\" x2=\"");
                num(b, x);
                html_raw(b, "\" y2=\"");
                num(b, y0);
                html_raw(b, "\"/>\n<text class=\"chart-x\" x=\"");
                num(b, x);
                html_raw(b, "\" y=\"");
                num(b, H - 4);
                html_raw(b, "\">");
                time_label(b, t, days);
                html_raw(b, "</text>\n");
        }
        html_raw(b, "</g>\n");

        /* The steps: a new subpath after every gap. */
        html_raw(b, "<path class=\"chart-line\" d=\"");
        bool drawing = false;
        for (size_t i = 0; i < n; i++) {
                int64_t end = i + 1 < n ? p[i + 1].at : to;
                if (p[i].humans < 0) {
                        drawing = false;
                        continue;
                }
                double y = y_of(p[i].humans > ymax ? ymax : p[i].humans, ymax);
                html_txt(b, drawing ? " V" : " M");
                if (!drawing) {
                        num(b, x_of(p[i].at, from, to));
                        html_raw(b, " ");
                }
                num(b, y);
                html_raw(b, " H");
                num(b, x_of(end, from, to));
                drawing = true;
        }
        html_raw(b, "\"/>\n");
        /* Now, as a dot: a count that just began has no length yet. */
        if (s.now >= 0) {
                html_raw(b, "<circle class=\"chart-now\" cx=\"");
                num(b, x_of(to, from, to) - 3);
                html_raw(b, "\" cy=\"");
                num(b, y_of(s.now > ymax ? ymax : s.now, ymax));
                html_raw(b, "\" r=\"3\"/>\n");
        }
        html_raw(b, "</svg>\n<figcaption>");
        html_txt(b, title);
        html_raw(b, ": ");
        summary_text(b, &s, from);
        html_raw(b, "</figcaption>\n</figure>\n");
        free(p);
}
