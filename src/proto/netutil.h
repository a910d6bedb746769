/* Small socket helpers shared by the RCON and A2S clients (internal). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t net_now_ms(void);

/* Waits until fd is ready for events or deadline (ms, monotonic) passes.
 * Returns 0 when ready, -ETIMEDOUT, or -errno. */
int net_wait(int fd, short events, int64_t deadline);

/* Opens a non-blocking, CLOEXEC socket of type (SOCK_STREAM/SOCK_DGRAM)
 * connected to host:port, trying every address host resolves to, within
 * deadline. Returns the fd or -errno with a message in err. */
int net_connect(const char *host, uint16_t port, int type, int64_t deadline, Error *err);
