#pragma once

#include "config.h"

/* Asks the server on 127.0.0.1:port whether it is alive (A2S_INFO): 1 if
 * it answered within timeout_ms, 0 if not. The host library does not speak
 * A2S itself (src/proto does); l4d2ctl passes one in. */
typedef int (*supervisor_probe_fn)(long port, int timeout_ms);

/* `l4d2ctl supervise NAME` (internal): the detached supervisor of one
 * instance under the supervisor backend. notify_fd gets "ok\n" once the
 * server has been spawned, or "error: ...\n"; it is then closed. probe may
 * be NULL (no hang detection). */
int supervisor_main(const HostConfig *c, const char *name, int notify_fd, supervisor_probe_fn probe);
