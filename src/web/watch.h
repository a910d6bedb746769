/* What the host reports, into the servers table: one `l4d2ctl watch --json`
 * per host (through the host link), read for as long as the panel runs and
 * started again with backoff (1 s doubling to 30 s) when it ends. Each line
 * is a change (docs/l4d2ctl-contract.md); svc-servers.c stores what changed
 * and nothing else, so the database does not grow while nothing happens.
 *
 * A difference between what the owner asked for and what runs (a crash, a
 * crash loop the supervisor gave up on, a stop or start done outside the
 * panel, a hung server) becomes the server's drift text and an event on its
 * page. News older than a server's last job is not a disagreement; what it
 * leaves undecided is settled every interval (servers_reconcile). */
#pragma once

int watch_start(void);
/* After shutdown_signal(): the stream ends and the thread is joined. */
void watch_stop(void);
