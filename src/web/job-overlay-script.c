#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hostlink.h"
#include "job-overlay-script.h"
#include "svc-overlay-scripts.h"

static pthread_mutex_t hand_over_lock = PTHREAD_MUTEX_INITIALIZER;

static int keep_error(const char *line, void *userdata) {
        char *err = userdata;
        if (startswith(line, "error:") || !startswith(err, "error:"))
                snprintf(err, 256, "%s", line);
        return 0;
}

int overlay_script_hand_over(sqlite3 *db, const Overlay *o, int64_t *ret_version, char *err, size_t errsize) {
        pthread_mutex_lock(&hand_over_lock);
        OverlayScript s = { 0 };
        int r = overlay_script_get(db, o->id, &s);
        if (r < 0) {
                pthread_mutex_unlock(&hand_over_lock);
                snprintf(err, errsize, "%s", r == -ENOENT ? "no script saved yet" : "the database could not be read");
                return r;
        }
        const char *args[] = { "overlay", "script", o->host_name, "set", NULL };
        char line[256] = "";
        int exit_code = -1;
        r = hostlink_run(host(), args, s.text, keep_error, line, &exit_code);
        if (r < 0)
                snprintf(err, errsize, "could not run l4d2ctl on %s: %s", hostlink_name(host()), strerror(-r));
        else if (exit_code != 0)
                snprintf(err, errsize, "%s", line[0] ? line : "l4d2ctl overlay script set failed");
        else
                (void) overlay_script_mark_handed_over(db, o->id, s.version);
        pthread_mutex_unlock(&hand_over_lock);
        if (ret_version)
                *ret_version = s.version;
        overlay_script_free(&s);
        return r < 0 || exit_code != 0 ? -EIO : 0;
}

bool job_overlay_script_prepare(JobCtx *c, const Overlay *o) {
        char err[256], line[320];
        int64_t version = 0;
        int r = overlay_script_hand_over(c->db, o, &version, err, sizeof err);
        if (r == -ENOENT)
                return job_fail(c, "overlay '%s' has no build script yet: write one on its page", o->name);
        if (r < 0) {
                job_log(c->db, c->job->id, err);
                return job_fail(c, "the build script could not be handed to the host: %s", err);
        }
        snprintf(line, sizeof line, "handed the build script (version %lld) to the host", (long long) version);
        job_log(c->db, c->job->id, line);
        return true;
}
