#pragma once

#include "config.h"

/* `l4d2ctl supervise NAME` (internal): the detached supervisor of one
 * instance under the supervisor backend. notify_fd gets "ok\n" once the
 * server has been spawned, or "error: ...\n"; it is then closed. */
int supervisor_main(const HostConfig *c, const char *name, int notify_fd);
