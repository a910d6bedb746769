/* Downloads: what an l4d2ctl writes on its stdout (a file of an overlay, a
 * folder as a zip) streamed to the browser as it comes, never held whole.
 *
 * l4d2ctl writes into a pipe; libmicrohttpd's content reader blocks on that
 * pipe (thread-per-connection, as streams.c's readers do), on the browser's
 * socket and on the shutdown eventfd. The length is not sent (chunked
 * encoding): the body is whole only when l4d2ctl exited 0, and when it did
 * not (a read error, the file replaced midway is not one: l4d2ctl reads one
 * whole version) the connection is cut before the last chunk, so the browser
 * reports a failed download instead of saving a short file. A browser that
 * goes away ends l4d2ctl at once (its process group gets SIGTERM). */
#pragma once

#include <microhttpd.h>

/* The response for `l4d2ctl args` (through the host link), saved by the
 * browser as filename (any bytes: it is made safe for the header here).
 * The l4d2ctl is running when this returns 0. */
int download_response(struct MHD_Connection *conn, const char *const args[], const char *filename,
                      struct MHD_Response **ret);
