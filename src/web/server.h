/* libmicrohttpd glue: one thread per connection (so a log stream may block
 * its own thread without stalling anyone), bodies capped at BODY_MAX,
 * sessions loaded, CSRF checked, then the handler from routes.c. */
#pragma once

#include "web.h"

int http_start(void);
void http_stop(void);

/* An eventfd that becomes readable when the panel shuts down, so streams
 * blocked in poll() end at once. */
int shutdown_fd(void);
void shutdown_signal(void);
