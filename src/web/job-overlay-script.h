/* A script overlay's script handed to its host: the panel's copy
 * (svc-overlay-scripts) goes to `l4d2ctl overlay script NAME set` on stdin.
 * The page does it at every save, the build job (job-overlay-build.c)
 * before every build, so the host always builds what the panel shows. */
#pragma once

#include "jobs.h"
#include "svc-overlays.h"

/* Hands the newest saved script of o to the host. One hand-over at a time
 * in this panel, each sending the newest version, so the last one to run
 * leaves the newest on the host whatever the order of saves and builds.
 * 0; -ENOENT: no script saved yet; -EIO: the host refused or could not be
 * run (err says why: l4d2ctl's error line). *ret_version (may be NULL): the
 * version handed over. */
int overlay_script_hand_over(sqlite3 *db, const Overlay *o, int64_t *ret_version, char *err, size_t errsize);

/* For the build job: the hand-over as a step of the job, in its log.
 * False (the job failed, with its reason) when it did not happen. */
bool job_overlay_script_prepare(JobCtx *c, const Overlay *o);
