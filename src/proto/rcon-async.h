/* Source RCON for a caller's poll loop (`l4d2ctl watch`'s player roster):
 * one non-blocking connection that never waits. The same wire rules as
 * rcon.h (its framer, the empty-packet mirror that ends a multi-packet
 * response, the skipped empty packet before AUTH_RESPONSE); what differs is
 * who waits: the caller polls rcon_async_fd() for rcon_async_events(),
 * calls rcon_async_handle() with what poll() said, and rcon_async_expire()
 * when the step's deadline passed.
 *
 * A connection authenticates exactly once: a wrong password (-EACCES) or a
 * server that closes the connection during authentication (which is what a
 * srcds that banned the address does) leaves it closed, and deciding
 * whether and when to try again is the caller's business (srcds bans an
 * address after a few wrong passwords: never retry in a loop).
 *
 *   rcon_async_connect()  CLOSED -> CONNECTING -> (auth sent) AUTHING
 *                         -> READY: handle() returns RCON_ASYNC_AUTHED
 *   rcon_async_exec()     READY -> BUSY -> READY: handle() returns
 *                         RCON_ASYNC_OUTPUT with the whole output
 * Any error closes the connection (state CLOSED); a late answer to an
 * expired command is never mistaken for the next one's (fresh ids). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcon.h"
#include "strutil.h"

typedef enum RconAsyncState {
        RCON_ASYNC_CLOSED,
        RCON_ASYNC_CONNECTING,
        RCON_ASYNC_AUTHING,
        RCON_ASYNC_READY,
        RCON_ASYNC_BUSY,
} RconAsyncState;

enum {
        RCON_ASYNC_NOTHING = 0, /* handled; nothing finished */
        RCON_ASYNC_AUTHED = 1,  /* authentication succeeded: exec may be called */
        RCON_ASYNC_OUTPUT = 2,  /* the command's whole output is in *ret_out */
};

typedef struct RconAsync {
        int fd;
        RconAsyncState state;
        int64_t deadline;       /* ms, CLOCK_MONOTONIC: when the current step gives up */
        int32_t next_id, step_id, mirror_id;
        char password[RCON_PASSWORD_MAX + 1];
        size_t response_max;
        Buf out;                /* the output being collected */
        uint8_t wbuf[2 * 14 + RCON_COMMAND_MAX + RCON_PASSWORD_MAX];
        size_t wlen, woff;      /* bytes still to send */
        RconFramer framer;
} RconAsync;

/* A closed connection; response_max 0: RCON_RESPONSE_MAX_DEFAULT. */
void rcon_async_init(RconAsync *c, size_t response_max);

/* Starts connecting to 127.0.0.1:port; authentication follows by itself.
 * timeout_ms bounds connect and auth together. -EINVAL for an empty or too
 * long password, -errno when no socket could be made. */
int rcon_async_connect(RconAsync *c, uint16_t port, const char *password, int timeout_ms);

/* Sends command (READY only: -EBUSY otherwise) with its own deadline. */
int rcon_async_exec(RconAsync *c, const char *command, int timeout_ms);

/* The fd to poll (-1 when closed) and the events to poll it for. */
int rcon_async_fd(const RconAsync *c);
short rcon_async_events(const RconAsync *c);

/* Progress after poll() said revents. RCON_ASYNC_NOTHING, _AUTHED or
 * _OUTPUT (*ret_out then holds the NUL-terminated output, *ret_len bytes,
 * which the caller frees), or an error after which the connection is
 * closed: -EACCES wrong password, -ECONNREFUSED (nothing listens),
 * -ECONNRESET (closed by the server; during authentication: banned?),
 * -E2BIG (output past response_max), -EBADMSG/-EMSGSIZE/-EPROTO (a broken
 * stream), -errno. */
int rcon_async_handle(RconAsync *c, short revents, char **ret_out, size_t *ret_len);

/* -ETIMEDOUT (and the connection closed) when the current step's deadline
 * is past now_ms; 0 otherwise. */
int rcon_async_expire(RconAsync *c, int64_t now_ms);

/* Closes the connection (and forgets the password). */
void rcon_async_close(RconAsync *c);
