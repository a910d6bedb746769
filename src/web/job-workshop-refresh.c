/* workshop-refresh: every workshop overlay of the host brought up to date,
 * `l4d2ctl workshop refresh --json`: one metadata request per 100 items,
 * downloads only of items whose time_updated changed, a new tree only for
 * overlays that changed. Overlays being built at the time are skipped (their
 * build is fresher). An API that fails changes nothing.
 *
 * Queued by an admin's button on the Overlays page, and daily by
 * `left4me workshop refresh` (cmd-workshop.c, run by
 * left4me-workshop-refresh.timer), which only inserts the job row: the
 * serving panel's workers pick it up. */
#include <jansson.h>
#include <stdio.h>

#include "jobs.h"

typedef struct Tally {
        int overlays, changed;
} Tally;

static bool on_event(JobCtx *c, json_t *e, void *userdata) {
        Tally *t = userdata;
        const char *event = json_string_value(json_object_get(e, "event"));
        if (event && streq(event, "overlay")) {
                t->overlays++;
                if (json_is_true(json_object_get(e, "changed")))
                        t->changed++;
        }
        (void) c;
        return false;
}

static bool run(JobCtx *c, const char **ret_result) {
        static _Thread_local char result[160];
        Tally t = { 0 };
        c->on_event = on_event;
        c->event_userdata = &t;
        const char *args[] = { "workshop", "refresh", "--json", NULL };
        if (!job_ctl(c, args, NULL))
                return false;
        if (c->last_percent < 100) /* nothing changed: nothing to download */
                job_set_progress(c->db, c->job->id, 100, c->last_label[0] ? c->last_label : "nothing to download");
        if (t.overlays == 0)
                snprintf(result, sizeof result, "No workshop overlay to refresh.");
        else
                snprintf(result, sizeof result, "Refreshed %d workshop overlay%s: %d updated.", t.overlays,
                         t.overlays == 1 ? "" : "s", t.changed);
        *ret_result = result;
        return true;
}

/* In the enqueue transaction: refused when an older refresh waits. */
static int only_one(sqlite3 *db, int64_t job_id, void *userdata) {
        int64_t *waiting = userdata, oldest;
        int r = job_queued_of_kind(db, job_workshop_refresh.name, &oldest);
        if (r < 0)
                return r;
        if (r == 1 && oldest != job_id) {
                *waiting = oldest;
                return -EALREADY;
        }
        return 0;
}

int workshop_refresh_request(sqlite3 *db, const User *u, const char *target, int64_t *ret_id) {
        int64_t waiting = 0;
        int r = jobs_request_for(db, u, job_workshop_refresh.name, target, only_one, &waiting, ret_id);
        if (r == -EALREADY) {
                *ret_id = waiting;
                return 1;
        }
        return r;
}

const JobKind job_workshop_refresh = { .name = "workshop-refresh", .shows_progress = true, .run = run };
