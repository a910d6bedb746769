/* The admin's view of password guessing: the failed password checks of the
 * last 15 minutes per counter (an account from unknown browsers, an
 * address, one known browser of an account), most first, and whether the
 * counter is at its limit now. A section of the users page
 * (admin_attempts_section()); the counters are svc-sessions' throttle rows. */
#include <string.h>
#include <time.h>

#include "html.h"
#include "layout.h"
#include "pages.h"
#include "svc-sessions.h"

#define SHOWN_MAX 50

void admin_attempts_section(Req *r) {
        Buf *b = &r->out;
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        html_raw(b, "<h2 id=\"attempts\">Failed password checks (last 15 minutes)</h2>\n");
        if (attempts_recent(&it, r->db, SHOWN_MAX) < 0) {
                html_raw(b, "<p class=\"error\">The database is busy; reload to see them.</p>\n");
                return;
        }
        AttemptRow a;
        bool any = false;
        while (attempt_next(&it, &a)) {
                if (!any)
                        html_raw(b, "<table class=\"list attempts\">\n<thead><tr><th>Counted on</th><th>Who</th>"
                                    "<th>Failures</th><th>Last</th><th>Limit</th></tr></thead>\n<tbody>\n");
                any = true;
                const char *v = strchr(a.key, ':');
                v = v ? v + 1 : a.key;
                int max;
                html_raw(b, "<tr><td data-label=\"Counted on\">");
                if (strncmp(a.key, "u:", 2) == 0) {
                        html_raw(b, "account, from unknown browsers");
                        max = THROTTLE_USER_MAX;
                } else if (strncmp(a.key, "ip:", 3) == 0) {
                        html_raw(b, "address");
                        max = THROTTLE_IP_MAX;
                } else {
                        html_raw(b, "account, from a browser it knows");
                        max = THROTTLE_DEVICE_MAX;
                }
                html_raw(b, "</td><td data-label=\"Who\"><code>");
                /* A device counter is "name:nonce": the name is enough. */
                if (a.key[0] == 'd') {
                        char name[80];
                        snprintf(name, sizeof name, "%.*s", (int) strcspn(v, ":"), v);
                        html_txt(b, name);
                } else
                        html_txt(b, v);
                html_raw(b, "</code></td><td data-label=\"Failures\">");
                html_int(b, a.count);
                html_raw(b, "</td><td data-label=\"Last\">");
                html_utc(b, a.last, true);
                html_raw(b, "</td><td data-label=\"Limit\">");
                if (a.count >= max)
                        html_raw(b, "<strong>locked</strong>");
                else
                        html_raw(b, "below");
                html_raw(b, "</td></tr>\n");
        }
        if (any)
                html_raw(b, "</tbody>\n</table>\n");
        else
                html_raw(b, "<p>None.</p>\n");
}
