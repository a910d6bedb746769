#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "players-config.h"
#include "strutil.h"

PlayersConfig players_config = {
        .rcon_timeout_s = 30,
        .roster_interval_ms = 10000,
        .retention_days = 90,
        .profile_ttl_s = 86400,
        .steam_api_timeout_s = 30,
};

static void number(players_setting_fn get, const char *key, long min, long max, unsigned *v) {
        _cleanup_free_ char *s = get(NULL, key, NULL);
        long n;
        if (!s)
                return;
        if (parse_long(s, min, max, &n) < 0) {
                fprintf(stderr, "left4me: %s='%s' is not a number from %ld to %ld; using %u\n", key, s, min, max, *v);
                return;
        }
        *v = (unsigned) n;
}

int players_config_load(players_setting_fn get) {
        PlayersConfig *c = &players_config;
        number(get, "LEFT4ME_RCON_TIMEOUT", 1, 600, &c->rcon_timeout_s);
        number(get, "LEFT4ME_PLAYER_RETENTION_DAYS", 1, 36500, &c->retention_days);
        number(get, "LEFT4ME_STEAM_PROFILE_TTL", 60, 365L * 86400, &c->profile_ttl_s);
        number(get, "LEFT4ME_STEAM_API_TIMEOUT", 1, 600, &c->steam_api_timeout_s);
        _cleanup_free_ char *roster = get(NULL, "LEFT4ME_ROSTER_INTERVAL", NULL);
        if (roster) {
                char *end;
                double v = strtod(roster, &end);
                if (end == roster || *end || !isfinite(v) || (v != 0 && (v < 0.1 || v > 3600)))
                        fprintf(stderr, "left4me: LEFT4ME_ROSTER_INTERVAL='%s' is not 0 or seconds from 0.1 to 3600; "
                                        "using %u s\n", roster, c->roster_interval_ms / 1000);
                else
                        c->roster_interval_ms = (unsigned) (v * 1000 + 0.5);
        }
        c->steam_api_key = get(NULL, "LEFT4ME_STEAM_API_KEY", NULL);
        if (c->steam_api_key && (!*c->steam_api_key || has_control_chars(c->steam_api_key) ||
                                 strlen(c->steam_api_key) > 128)) {
                fprintf(stderr, "left4me: LEFT4ME_STEAM_API_KEY is not a key; Steam profiles are off\n");
                free(c->steam_api_key);
                c->steam_api_key = NULL;
        }
        c->steam_api_url = get(NULL, "LEFT4ME_STEAM_API_URL", "https://api.steampowered.com");
        if (!c->steam_api_url)
                return -ENOMEM;
        size_t n = strlen(c->steam_api_url);
        while (n > 0 && c->steam_api_url[n - 1] == '/')
                c->steam_api_url[--n] = '\0';
        if ((!startswith(c->steam_api_url, "https://") && !startswith(c->steam_api_url, "http://")) ||
            has_control_chars(c->steam_api_url)) {
                fprintf(stderr, "left4me: LEFT4ME_STEAM_API_URL='%s' is not an http(s) URL; Steam profiles are off\n",
                        c->steam_api_url);
                free(c->steam_api_key);
                c->steam_api_key = NULL;
        }
        return 0;
}

void players_config_free(void) {
        free(players_config.steam_api_key);
        free(players_config.steam_api_url);
        players_config.steam_api_key = players_config.steam_api_url = NULL;
}
