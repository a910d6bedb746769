/* The parts of other pages that issue 11 adds, each called with one line
 * from its page: the RCON console and the players of a server page, the
 * "did it become reachable" line of a start's job page. */
#pragma once

#include "model.h"
#include "svc-jobs.h"
#include "web.h"

/* page-console.c */
void console_section(Req *r, const Server *v);

/* page-players.c: the roster now, the recent players and their sessions,
 * the player count charts (24 hours, 7 days); refreshed by htmx from
 * GET /servers/<id>/players. Also says when a running server stopped
 * answering queries. */
void players_section(Req *r, const Server *v);

/* players-chart.c: the number of people on a server over [from, to] as an
 * SVG step chart with a title, a description and a text summary. */
void players_chart(Req *r, const Server *v, const char *id, const char *title, int64_t from, int64_t to);

/* page-players.c: on a start or restart job's page, the line that says
 * whether the server became reachable (answers A2S queries) after it,
 * loaded from GET /jobs/<id>/reach (the job page stays cached on the job's
 * tables alone). */
void job_reach_section(Req *r, const JobRow *j);
