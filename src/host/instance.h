/* Instances: the host library's public operations. Every operation on one
 * instance holds its lock (<state>/locks/<name>.lock), so two l4d2ctl
 * processes never interleave on the same instance. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "config.h"
#include "error.h"
#include "spec.h"

/* Creates or updates an instance from YAML text. On any error nothing is
 * written. An rcon_password the spec leaves out is generated once and kept. */
int instance_initialize(const HostConfig *c, const char *name, const char *yaml, size_t len, const char *source,
                        Error *err);

/* The same for an update canary's hidden instance (canary.c): its name must
 * start with "l4m-canary-", which instance_initialize refuses. */
int instance_initialize_canary(const HostConfig *c, const char *name, const char *yaml, size_t len, Error *err);

/* What a start did that its caller should tell: the allocated port was
 * held by another program, so the instance moved to a free pair (moved_to
 * 0: nothing moved). */
typedef struct StartNote {
        long moved_from, moved_to, taken;
        char what[16];    /* "port" or "SourceTV port": what was taken */
        char holder[128]; /* "'nc', pid 12", or "" when that cannot be told */
} StartNote;

/* Mounts, stages server.cfg and starts; a running instance is left alone.
 * note may be NULL. */
int instance_start(const HostConfig *c, const char *name, StartNote *note, Error *err);
int instance_stop(const HostConfig *c, const char *name, Error *err);
int instance_restart(const HostConfig *c, const char *name, StartNote *note, Error *err);

/* Sets the spec's build: a build id pins it, "follow" follows the newest
 * passing one; with restart, a running instance restarts onto it at once
 * (a rollback). */
int instance_pin(const HostConfig *c, const char *name, const char *build, bool restart, Error *err);

/* Stops, unmounts and removes; a missing instance is success. */
int instance_delete(const HostConfig *c, const char *name, Error *err);

/* The status object of docs/l4d2ctl-contract.md. */
int instance_status(const HostConfig *c, const char *name, json_t **ret, Error *err);

/* Names of all instances, sorted, NULL-terminated (canaries included: ports,
 * uids and mounts count them). */
int instance_list(const HostConfig *c, char ***ret, Error *err);
/* The same without the update canaries' hidden instances: what `list`,
 * `watch` and so the panel show. */
int instance_list_visible(const HostConfig *c, char ***ret, Error *err);

/* The stored spec (with the generated password). */
int instance_load(const HostConfig *c, const char *name, Spec *ret, Error *err);

/* Follows the backend's log. */
int instance_logs(const HostConfig *c, const char *name, unsigned lines, bool follow, int out_fd, Error *err);

/* Runs the overlay helper: verb is "mount" or "umount". */
int overlay_helper_run(const HostConfig *c, const char *verb, const char *name, Error *err);

/* Takes the instance's lock, waiting up to 30 s for another l4d2ctl. */
int instance_lock(const HostConfig *c, const char *name, int *ret_fd, Error *err);

/* Creates the state dir's folders if missing. */
int state_dirs_ensure(const HostConfig *c, Error *err);

/* For the records written beside a mount (instances/NAME/mounted,
 * mounted-build): the instance's folder, opened beneath the state dir
 * without following links, and in *ret_mnt_id the unique id of the mount
 * on its merged dir now (0: none, or unknown). -errno. */
int instance_mount_dir(const HostConfig *c, const char *name, uint64_t *ret_mnt_id);
/* j (taken) as compact JSON into dir/file, atomically; NULL j: the file is
 * removed (no record is better than a wrong one). */
void instance_record_write(int dir, const char *file, json_t *j);
