/* The settings of the live server view (issue 11): the RCON console, the
 * player roster, the Steam profile cache and the retention of player data.
 * Set once by `serve` before any thread starts (flag > environment >
 * web.env > default, like every setting); read-only afterwards. */
#pragma once

#include <stdint.h>

typedef struct PlayersConfig {
        unsigned rcon_timeout_s;      /* LEFT4ME_RCON_TIMEOUT: a console command's, default 30 */
        unsigned roster_interval_ms;  /* LEFT4ME_ROSTER_INTERVAL (s, may be fractional; 0: off), default 10 */
        unsigned retention_days;      /* LEFT4ME_PLAYER_RETENTION_DAYS, default 90 */
        unsigned profile_ttl_s;       /* LEFT4ME_STEAM_PROFILE_TTL (s), default 86400 */
        char *steam_api_key;          /* LEFT4ME_STEAM_API_KEY; NULL: no Steam profiles, in-game names */
        char *steam_api_url;          /* LEFT4ME_STEAM_API_URL, default https://api.steampowered.com */
        unsigned steam_api_timeout_s; /* LEFT4ME_STEAM_API_TIMEOUT, default 30 */
} PlayersConfig;

extern PlayersConfig players_config;

/* Reads every setting through get (main.c's setting()); a value that is not
 * valid keeps the default and is said on stderr. */
typedef char *(*players_setting_fn)(const char *flag, const char *key, const char *dflt);
int players_config_load(players_setting_fn get);
void players_config_free(void);
