#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "keys.h"
#include "macro.h"

static uint8_t key[crypto_auth_hmacsha256_KEYBYTES];
static bool loaded;

int keys_init(const char *state_dir) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/panel.key", state_dir);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_file(path, 64, &data, &len);
        if (r == -ENOENT) {
                uint8_t fresh[sizeof key];
                randombytes_buf(fresh, sizeof fresh);
                /* One `serve` per state dir (its lock) makes this the
                 * only writer; temp file + rename, so a crash leaves the
                 * old state (no key) or the whole key. */
                r = write_file_atomic(path, fresh, sizeof fresh, 0600);
                if (r < 0)
                        return r;
                memcpy(key, fresh, sizeof key);
                sodium_memzero(fresh, sizeof fresh);
                loaded = true;
                return 0;
        }
        if (r < 0)
                return r;
        if (len != sizeof key) {
                sodium_memzero(data, len);
                return -EBADMSG;
        }
        memcpy(key, data, sizeof key);
        sodium_memzero(data, len);
        loaded = true;
        return 0;
}

void keys_mac(const char *purpose, const void *data, size_t len, uint8_t out[32]) {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, key, sizeof key);
        /* The purpose with its NUL: "a" + "bc" never equals "ab" + "c". */
        crypto_auth_hmacsha256_update(&st, (const uint8_t *) purpose, strlen(purpose) + 1);
        crypto_auth_hmacsha256_update(&st, data, len);
        crypto_auth_hmacsha256_final(&st, out);
        sodium_memzero(&st, sizeof st);
}

bool keys_mac_ok(const char *purpose, const void *data, size_t len, const uint8_t *mac, size_t mac_len) {
        if (!loaded || mac_len == 0 || mac_len > 32)
                return false;
        uint8_t want[32];
        keys_mac(purpose, data, len, want);
        return sodium_memcmp(want, mac, mac_len) == 0;
}
