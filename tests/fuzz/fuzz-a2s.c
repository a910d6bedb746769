/* Fuzzes the A2S reply parsers on the input as one reply, and the split
 * assembler on the input cut into datagrams (each prefixed by a length
 * byte). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "a2s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        volatile size_t sink = 0;
        A2sInfo i;
        if (a2s_parse_info(data, size, &i) == 0) {
                sink += strlen(i.name) + strlen(i.map) + strlen(i.version);
                a2s_info_done(&i);
        }
        A2sPlayers ps;
        if (a2s_parse_players(data, size, &ps) == 0) {
                for (size_t k = 0; k < ps.n; k++)
                        sink += strlen(ps.v[k].name);
                a2s_players_done(&ps);
        }
        A2sRules rs;
        if (a2s_parse_rules(data, size, &rs) == 0) {
                for (size_t k = 0; k < rs.n; k++)
                        sink += strlen(rs.v[k].name) + strlen(rs.v[k].value);
                a2s_rules_done(&rs);
        }
        int32_t ch;
        if (a2s_parse_challenge(data, size, &ch) == 0)
                sink += (size_t) (uint32_t) ch;

        A2sAssembler a = { 0 };
        for (size_t off = 0; off < size;) {
                size_t n = data[off++];
                if (n > size - off)
                        n = size - off;
                uint8_t *out = NULL;
                size_t len = 0;
                int r = a2s_assembler_feed(&a, data + off, n, &out, &len);
                if (r == 1) {
                        if (!out)
                                abort();
                        if (a2s_parse_rules(out, len, &rs) == 0)
                                a2s_rules_done(&rs);
                        sink += len;
                        free(out);
                }
                off += n;
        }
        a2s_assembler_done(&a);
        (void) sink;
        return 0;
}
