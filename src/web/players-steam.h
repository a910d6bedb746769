/* The Steam Web API's player profiles (ISteamUser/GetPlayerSummaries/v2),
 * through libcurl, and the avatars they point to. The Steam Web API is not
 * a host: the panel calls it itself, not through l4d2ctl
 * (docs/architecture.md). The key goes in the request only, never in a
 * message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STEAM_SUMMARIES_MAX 100       /* SteamIDs a request (the API's limit) */
#define STEAM_AVATAR_MAX (256 * 1024)

typedef struct SteamProfile {
        int64_t steamid64;
        char persona[512];
        char profile_url[256];
        char avatar_url[512];
        bool found;                   /* false: the API does not know the account */
} SteamProfile;

typedef struct SteamClient SteamClient;

/* base_url without a trailing slash (LEFT4ME_STEAM_API_URL). */
int steam_client_new(const char *base_url, const char *key, unsigned timeout_s, SteamClient **ret);
void steam_client_free(SteamClient *c);

/* Asks for n (<= STEAM_SUMMARIES_MAX) profiles; fills ret[0..n) in the
 * order of ids. -EIO with a message in err (no key in it) when the API
 * failed or answered something that is not its answer. */
int steam_player_summaries(SteamClient *c, const int64_t *ids, size_t n, SteamProfile *ret, char *err,
                           size_t errsize);

/* Fetches an avatar (http or https, at most STEAM_AVATAR_MAX bytes, a JPEG
 * or PNG by its first bytes). *ret_type is "image/jpeg" or "image/png". */
int steam_avatar_fetch(SteamClient *c, const char *url, void **ret_data, size_t *ret_len, const char **ret_type,
                       char *err, size_t errsize);
