/* Fuzzes SteamID parsing and checks that every accepted id survives a round
 * trip through the Steam2 and Steam3 forms. */
#include <stdint.h>
#include <stdlib.h>

#include "steamid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint64_t id, back;
        if (steamid_parse_n((const char *) data, size, &id) < 0)
                return 0;
        if (id < STEAMID64_BASE || id > STEAMID64_MAX)
                abort();
        char b[STEAMID_STR_MAX];
        if (steamid_to_steam2(id, 1, b, sizeof(b)) < 0 || steamid_parse(b, &back) < 0 || back != id)
                abort();
        if (steamid_to_steam3(id, b, sizeof(b)) < 0 || steamid_parse(b, &back) < 0 || back != id)
                abort();
        return 0;
}
