/* SteamID conversions for individual accounts in the public universe, the
 * only kind that plays on a game server:
 *   Steam2  STEAM_X:Y:Z   (X = universe as the game prints it, 0 or 1)
 *   Steam3  [U:1:W]       W = 2Z + Y (the account id)
 *   SteamID64             76561197960265728 + W
 * Parsers are strict: no spaces, signs or leading zeros, no overflow. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define STEAMID64_BASE UINT64_C(76561197960265728)
#define STEAMID64_MAX (STEAMID64_BASE + UINT64_C(0xffffffff))

/* Longest text form ("STEAM_1:1:2147483647" / "[U:1:4294967295]" /
 * "76561202255233023") plus NUL. */
#define STEAMID_STR_MAX 24

/* Parses any of the three forms. Returns 0 and the SteamID64, -EINVAL for
 * text that is none of them, -ERANGE for numbers out of range (Y not 0/1,
 * Z >= 2^31, W >= 2^32, a 64-bit id that is not an individual account). */
int steamid_parse(const char *s, uint64_t *ret);

/* Same, for a string of length len that need not be NUL-terminated. */
int steamid_parse_n(const char *s, size_t len, uint64_t *ret);

/* Formats id; -ERANGE if it is not an individual public account, -ENOBUFS
 * if n is too small. universe is the X printed in STEAM_X (L4D2 prints 1). */
int steamid_to_steam2(uint64_t id, unsigned universe, char *buf, size_t n);
int steamid_to_steam3(uint64_t id, char *buf, size_t n);
