/* The panel's secret: 32 random bytes in STATE/panel.key (0600, made at the
 * first start, never in the database, so a copy of left4me.db does not
 * carry it). What the panel hands a browser and must get back unchanged
 * (the pre-login CSRF token, the device cookies) carries a MAC of it, so a
 * value the panel did not make is refused. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Loads the key, creating it if there is none. -errno on failure. */
int keys_init(const char *state_dir);

/* HMAC-SHA-256 of (purpose, data) under the key; purpose separates the
 * uses, so a MAC made for one is worthless for another. */
void keys_mac(const char *purpose, const void *data, size_t len, uint8_t out[32]);
/* True if mac (len bytes, <= 32) is the start of keys_mac()'s. Constant
 * time. */
bool keys_mac_ok(const char *purpose, const void *data, size_t len, const uint8_t *mac, size_t mac_len);
