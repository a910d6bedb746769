/* Locks below <state>/locks: flock(2) on files that are never deleted
 * (deleting a lock file while someone waits on it would split the lock).
 * Names that start with '.' cannot clash with instance names, which start
 * with a letter or digit. */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "error.h"

/* Takes locks/<lockname>.lock with mode LOCK_EX or LOCK_SH, waiting up to
 * wait_ms for whoever holds it; -EBUSY after that (err says so, naming
 * what). The fd is the lock: close it to let go. */
int host_lock(const HostConfig *c, const char *lockname, int mode, int wait_ms, const char *what, int *ret_fd,
              Error *err);

/* True if someone holds locks/<lockname>.lock exclusively right now (a
 * build in progress). Never blocks. */
bool host_lock_is_held(const HostConfig *c, const char *lockname);
