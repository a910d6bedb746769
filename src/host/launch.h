/* The server's command line, written by instance_start into
 * <state>/instances/<name>/launch.json (beside the spec, out of the server's
 * reach) and read back by whoever runs it: the
 * supervisor backend, or `l4d2ctl run` in the systemd unit. */
#pragma once

#include "config.h"
#include "error.h"

#include "launchguard.h"

/* launch_guard on <state>/runtime/NAME/upper. */
int launch_guard_instance(const HostConfig *c, const char *name, launch_note_fn note, void *userdata, Error *err);

int launch_load(const HostConfig *c, const char *name, char ***ret_argv, char **ret_cwd, Error *err);

/* `l4d2ctl run NAME`: a tiny init for the unit's main process. Runs
 * launch_guard first: if it had to remove anything, it says so and fails
 * (exit 1), so that systemd restarts the unit with a fresh overlay mount
 * instead of a cached one. Then starts the server in its own process group,
 * forwards SIGTERM/SIGINT/SIGHUP to it, reaps every child (under
 * PrivatePIDs it is PID 1) and returns the server's exit status. */
int launch_run(const HostConfig *c, const char *name, Error *err);
