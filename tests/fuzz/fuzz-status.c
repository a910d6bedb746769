/* Fuzzes the `status` output parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        volatile size_t sink = 0;
        Status s;
        Error err = { 0 };
        if (status_parse((const char *) data, size, &s, &err) == 0) {
                if (s.n_players > STATUS_PLAYERS_MAX)
                        abort();
                for (size_t i = 0; i < s.n_players; i++) {
                        if (!s.players[i].name || !s.players[i].uniqueid)
                                abort();
                        sink += strlen(s.players[i].name) + s.players[i].connected;
                }
                status_done(&s);
        } else if (!err.msg[0])
                abort(); /* every failure explains itself */
        (void) sink;
        return 0;
}
