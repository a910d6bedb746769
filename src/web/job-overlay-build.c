/* overlay-build: one overlay built on the host, `l4d2ctl overlay build NAME
 * --json`. For a workshop overlay that resolves its items and collections
 * and downloads what the cache lacks: every item is a line in the job's log,
 * and the progress bar counts the bytes of the whole build (the build's
 * `progress` events). A build that fails leaves the overlay with its last
 * good content; servers that run keep what they mounted.
 *
 * Queued by the Overlays pages (overlay_request_build in page-overlays.c),
 * tied to its overlay by a row of overlay_jobs. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hostlink.h"
#include "job-overlay-script.h"
#include "jobs.h"
#include "svc-overlays.h"

/* How long a build waits for another build of its overlay (the daily
 * refresh, or l4d2ctl by hand) before it gives up. */
#define WAIT_MAX_S (2 * 3600)
#define WAIT_STEP_S 2

typedef struct Counts {
        int ok, failed, missing, wrong_app;
        bool changed;
} Counts;

static bool on_event(JobCtx *c, json_t *e, void *userdata) {
        Counts *n = userdata;
        const char *event = json_string_value(json_object_get(e, "event"));
        const char *state = json_string_value(json_object_get(e, "state"));
        if (event && streq(event, "item") && state) {
                if (streq(state, "downloaded") || streq(state, "cached"))
                        n->ok++;
                else if (streq(state, "failed") || streq(state, "kept"))
                        n->failed++;
                else if (streq(state, "missing"))
                        n->missing++;
                else if (streq(state, "wrong-app"))
                        n->wrong_app++;
        } else if (event && streq(event, "done"))
                n->changed = json_is_true(json_object_get(e, "changed"));
        (void) c;
        return false; /* and the generic handling: the line, done's outcome */
}

/* Whether another build holds the overlay now; false when it cannot tell. */
static bool being_built(const char *host_name) {
        const char *args[] = { "overlay", "show", host_name, "--json", NULL };
        json_t *j = NULL;
        char err[256];
        if (hostlink_run_json(host(), args, NULL, &j, err, sizeof err) < 0)
                return false;
        bool b = json_is_true(json_object_get(j, "building"));
        json_decref(j);
        return b;
}

static bool run(JobCtx *c, const char **ret_result) {
        static _Thread_local char result[256];
        Overlay o;
        if (overlay_of_job(c->db, c->job->id, &o) < 0)
                return job_fail(c, "the overlay no longer exists");
        if (o.deleting)
                return job_fail(c, "overlay '%s' is being deleted", o.name);
        /* A script overlay builds the panel's script (job-overlay-script.h). */
        if (streq(o.kind, "script") && !job_overlay_script_prepare(c, &o))
                return false;
        const char *args[] = { "overlay", "build", o.host_name, "--json", NULL };
        Counts n = { 0 };
        c->on_event = on_event;
        c->event_userdata = &n;
        int waited = 0;
        for (;;) {
                n = (Counts) { 0 };
                c->last_error[0] = '\0';
                if (job_ctl(c, args, NULL))
                        break;
                /* l4d2ctl fails a second build of an overlay at once. What
                 * this job was asked to build (sources just added) is not in
                 * the other build, so wait for it and build then. */
                if (!being_built(o.host_name))
                        return false;
                job_log(c->db, c->job->id, "another build of this overlay is running (the daily refresh, or "
                                           "l4d2ctl by hand); waiting for it to finish");
                while (waited < WAIT_MAX_S && being_built(o.host_name)) {
                        struct timespec ts = { .tv_sec = WAIT_STEP_S };
                        nanosleep(&ts, NULL);
                        waited += WAIT_STEP_S;
                }
                if (waited >= WAIT_MAX_S)
                        return job_fail(c, "overlay '%s' was still being built by another build after %d minutes",
                                        o.name, WAIT_MAX_S / 60);
        }
        /* A build with nothing to download sent no progress: its bar is full. */
        if (c->last_percent < 100)
                job_set_progress(c->db, c->job->id, 100, c->last_label[0] ? c->last_label : "nothing to download");
        _cleanup_buf_ Buf b = BUF_INIT(sizeof result - 1);
        (void) buf_puts(&b, n.changed ? "Built: servers get the new content at their next start."
                                      : "Built: nothing changed.");
        if (n.ok + n.missing + n.wrong_app > 0)
                (void) buf_printf(&b, " Items: %d ok", n.ok);
        if (n.missing)
                (void) buf_printf(&b, ", %d missing", n.missing);
        if (n.wrong_app)
                (void) buf_printf(&b, ", %d of another game", n.wrong_app);
        snprintf(result, sizeof result, "%s", b.data ? b.data : "Built.");
        *ret_result = result;
        return true;
}

const JobKind job_overlay_build = { .name = "overlay-build", .shows_progress = true, .run = run };
