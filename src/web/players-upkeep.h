/* The player data's background work, in one thread of `serve`: the Steam
 * profile cache (when LEFT4ME_STEAM_API_KEY is set: the profiles of players
 * seen in the last week that are missing or older than
 * LEFT4ME_STEAM_PROFILE_TTL, 100 SteamIDs a request, and their avatars),
 * and the retention of player data (older than
 * LEFT4ME_PLAYER_RETENTION_DAYS: pruned in batches, shortly after the
 * start and then every hour). */
#pragma once

int players_upkeep_start(void);
/* After shutdown_signal(): the thread ends and is joined. */
void players_upkeep_stop(void);
