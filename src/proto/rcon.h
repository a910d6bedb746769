/* Source RCON client (TCP), as srcds speaks it.
 *
 * Wire format, little-endian: int32 size | int32 id | int32 type | body |
 * NUL | NUL, where size counts everything after itself (so >= 10).
 *
 * How this client stays correct where simple clients are not:
 *   - Framing: bytes from the socket go through RconFramer, which assembles
 *     packets from any segmentation (one byte at a time, a split inside the
 *     size field, several packets per read) and rejects a size field that is
 *     negative, < 10 or larger than srcds ever sends.
 *   - End of a multi-packet response: every command is followed by an empty
 *     RESPONSE_VALUE with its own id. srcds answers packets in order and
 *     mirrors the empty one back (then sends one more packet with the
 *     payload 00 01 00 00), so the mirror marks the end of the response
 *     however it was split, including short non-final packets. Each command
 *     uses fresh ids; packets with ids that are not the current command's
 *     (the trailer, late answers to a timed-out command) are dropped.
 *   - Auth: the empty RESPONSE_VALUE srcds sends before AUTH_RESPONSE is
 *     skipped, and servers that do not send it work too; id -1 is a wrong
 *     password. A failed auth is never retried: the client refuses every
 *     further call, because srcds bans an address after a few failures.
 *   - Limits: commands longer than srcds' console accepts are refused
 *     (-E2BIG) instead of being truncated by the server; the response size
 *     is capped; every command has a timeout (default 30 s), and the
 *     authentication its own shorter one (default 5 s).
 *
 * A client is one warm connection: connect and auth once, then run many
 * commands. Not thread-safe; one command at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
        RCON_RESPONSE_VALUE = 0,
        RCON_AUTH_RESPONSE = 2,
        RCON_EXECCOMMAND = 2,
        RCON_AUTH = 3,
};

/* srcds' console tokenizer holds 512 bytes including the NUL; a longer
 * command is skipped by the server ("overflows the tokenizer buffer"). */
#define RCON_COMMAND_MAX 511
/* Largest size field accepted: a 4096-byte body plus id, type and NULs
 * (srcds sends bodies of at most 4095 bytes). */
#define RCON_PACKET_SIZE_MAX (4096 + 10)
#define RCON_PACKET_SIZE_MIN 10
#define RCON_PASSWORD_MAX 256
#define RCON_RESPONSE_MAX_DEFAULT (16u << 20)
#define RCON_TIMEOUT_MS_DEFAULT 30000
/* Authentication has its own, short budget: a server that accepts the
 * connection but never answers the auth packet (hung, or a tarpit) must not
 * hold the caller for a whole command timeout. */
#define RCON_AUTH_TIMEOUT_MS_DEFAULT 5000

/* ---- Framing (pure; what the fuzzer drives) ---- */

typedef struct RconPacket {
        int32_t id, type;
        const uint8_t *body;   /* points into the framer; valid until the next feed */
        size_t body_len;       /* size - 10; the body may hold NUL bytes */
} RconPacket;

typedef struct RconFramer {
        uint8_t buf[4 + RCON_PACKET_SIZE_MAX];
        size_t have;
        int32_t bad_size;      /* the offending size field after -EBADMSG/-EMSGSIZE */
} RconFramer;

/* Consumes bytes from data[0..len) until one packet is complete. Returns 1
 * and fills *ret (and *ret_consumed) when a packet is complete, 0 when all
 * of data was consumed without completing one, or an error after which the
 * stream is unusable: -EBADMSG for a size field < 10 (negative included),
 * -EMSGSIZE for one > RCON_PACKET_SIZE_MAX, -EPROTO for a packet whose last
 * two bytes are not NUL. */
int rcon_framer_feed(RconFramer *f, const uint8_t *data, size_t len, size_t *ret_consumed, RconPacket *ret);

/* Writes one packet into buf (at least 14 + body_len bytes); returns its
 * length. */
size_t rcon_packet_encode(uint8_t *buf, int32_t id, int32_t type, const void *body, size_t body_len);

/* ---- Client ---- */

typedef struct RconClient RconClient;

/* Connects (TCP, CLOEXEC, TCP_NODELAY) to host:port within timeout_ms
 * (<= 0: RCON_TIMEOUT_MS_DEFAULT). host is an IP address or a name. */
int rcon_connect(const char *host, uint16_t port, int timeout_ms, RconClient **ret, Error *err);

/* Wraps an already connected stream socket (tests use a socketpair). Takes
 * the fd, also on failure. */
int rcon_client_from_fd(int fd, RconClient **ret);

RconClient *rcon_free(RconClient *c);
static inline void rcon_freep(RconClient **c) {
        rcon_free(*c);
}
#define _cleanup_rcon_ _cleanup_(rcon_freep)

/* Per-command timeout in ms (<= 0: the default); the response size cap. */
void rcon_set_timeout(RconClient *c, int timeout_ms);
/* The authentication's timeout in ms (<= 0: RCON_AUTH_TIMEOUT_MS_DEFAULT),
 * separate from the command's. */
void rcon_set_auth_timeout(RconClient *c, int timeout_ms);
void rcon_set_response_max(RconClient *c, size_t max);

/* Authenticates. -EACCES for a wrong password (the server answered id -1);
 * after that every call on this client returns -EPERM without touching the
 * network. -ECONNRESET if the server closed the connection (a banned
 * address is disconnected at once), -ETIMEDOUT (no answer within the auth
 * timeout; the connection is closed), -EPROTO for a reply that is
 * not an auth reply. */
int rcon_auth(RconClient *c, const char *password, Error *err);

/* Runs one command and returns its whole output (NUL-terminated, *ret_len
 * bytes, caller frees). -E2BIG for a command longer than RCON_COMMAND_MAX
 * (nothing is sent) or a response larger than the cap (the connection is
 * closed, since the rest of the response is still in flight), -EINVAL for a
 * command with a newline or an empty one, -EACCES if the server says the
 * connection is not authenticated, -ETIMEDOUT (the connection stays usable:
 * the late answer is recognised by its id and dropped), -ECONNRESET,
 * -EBADMSG/-EMSGSIZE/-EPROTO for a broken stream (connection closed),
 * -ENOTCONN after the connection was closed, -EPERM after a failed auth. */
int rcon_exec(RconClient *c, const char *command, char **ret_out, size_t *ret_len, Error *err);

/* True while the connection is open and authenticated. */
bool rcon_is_ready(const RconClient *c);
