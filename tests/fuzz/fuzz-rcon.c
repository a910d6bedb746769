/* Fuzzes the RCON stream: the framer fed in chunks whose sizes come from
 * the input, and a whole client session (auth + two commands) reading the
 * input as everything the server sends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rcon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static RconFramer f;
        volatile size_t sink = 0;

        /* 1. Framing with segmentation chosen by the first byte. */
        memset(&f, 0, sizeof(f));
        size_t chunk = size ? (data[0] % 16) + 1 : 1;
        for (size_t off = 0; off < size;) {
                size_t n = size - off < chunk ? size - off : chunk;
                size_t used = 0;
                RconPacket p;
                int r = rcon_framer_feed(&f, data + off, n, &used, &p);
                if (used > n)
                        abort();
                off += used;
                if (r < 0)
                        break;
                if (r == 1) {
                        if (p.body_len > RCON_PACKET_SIZE_MAX - 10)
                                abort();
                        sink += p.body_len + (p.body_len ? p.body[p.body_len - 1] : 0);
                } else if (used == 0)
                        break;
        }

        /* 2. A client session against this byte stream. */
        int sv[2];
        if (size > 150000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return 0;
        if (size && write(sv[1], data, size) != (ssize_t) size) {
                close(sv[0]);
                close(sv[1]);
                return 0;
        }
        close(sv[1]); /* EOF after the input: the client never waits */
        RconClient *c = NULL;
        if (rcon_client_from_fd(sv[0], &c) < 0)
                return 0;
        rcon_set_timeout(c, 1000);
        rcon_set_response_max(c, 64 * 1024);
        if (rcon_auth(c, "password", NULL) == 0) {
                for (int i = 0; i < 2; i++) {
                        char *out = NULL;
                        size_t len = 0;
                        if (rcon_exec(c, "status", &out, &len, NULL) == 0) {
                                if (!out || out[len] != '\0')
                                        abort();
                                sink += len;
                                free(out);
                        }
                }
        }
        rcon_free(c);
        (void) sink;
        return 0;
}
