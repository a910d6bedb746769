/* The state poller: every config.poll_ms it asks `l4d2ctl list --json` what
 * really runs, writes it to the servers' rows, and compares it with what each
 * owner asked for. A difference (a crash, a crash loop the supervisor gave up
 * on, a stop or start done outside the panel) becomes the server's drift text
 * and an event on its page. Servers with a queued or running job are left
 * alone: their state is changing on purpose. */
#pragma once

int poller_start(void);
void poller_stop(void);
/* One pass, used by the thread and by tests through the admin command. */
int poller_run_once(void);
