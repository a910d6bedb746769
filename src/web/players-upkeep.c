#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "players-config.h"
#include "players-steam.h"
#include "players-upkeep.h"
#include "server.h"
#include "svc-players.h"

#define TICK_MS 5000
#define PROFILE_REQUESTS_PER_TICK 5
#define AVATARS_PER_TICK 20
#define SEEN_DAYS 7                  /* profiles are kept fresh for players seen this recently */
#define PRUNE_FIRST_MS 2000
#define PRUNE_EVERY_MS (3600 * 1000)
#define PRUNE_BATCH 1000
#define BACKOFF_MAX_MS (3600 * 1000)

static pthread_t thread;
static bool running;

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms for shutdown; true if the panel is shutting down. */
static bool sleep_or_shutdown(int64_t ms) {
        struct pollfd p = { .fd = shutdown_fd(), .events = POLLIN };
        return poll(&p, 1, (int) (ms > 0 ? ms : 0)) > 0;
}

/* One round of profiles and avatars; -errno with err filled when Steam
 * failed (the caller backs off). The database is held only between
 * requests, never during one. */
static int refresh_profiles(SteamClient *c, char *err, size_t errsize) {
        int64_t now = now_sec();
        for (int round = 0; round < PROFILE_REQUESTS_PER_TICK; round++) {
                int64_t ids[STEAM_SUMMARIES_MAX];
                size_t n = 0;
                sqlite3 *db = db_acquire();
                int r = players_profiles_due(db, now - SEEN_DAYS * 86400, now - players_config.profile_ttl_s, ids,
                                             STEAM_SUMMARIES_MAX, &n);
                db_release(db);
                if (r < 0 || n == 0)
                        break;
                SteamProfile *p = calloc(n, sizeof *p);
                if (!p)
                        return -ENOMEM;
                r = steam_player_summaries(c, ids, n, p, err, errsize);
                if (r == 0) {
                        db = db_acquire();
                        /* One transaction for the batch: one commit, one
                         * generation bump. */
                        if (db_begin(db) == 0) {
                                for (size_t i = 0; i < n; i++)
                                        (void) players_profile_store(db, p[i].steamid64, p[i].persona, p[i].profile_url,
                                                                     p[i].avatar_url, now);
                                if (db_commit(db) < 0)
                                        db_rollback(db);
                        }
                        db_release(db);
                }
                free(p);
                if (r < 0)
                        return r;
                if (n < STEAM_SUMMARIES_MAX)
                        break;
        }
        AvatarDue due[AVATARS_PER_TICK];
        size_t n = 0;
        sqlite3 *db = db_acquire();
        (void) players_avatars_due(db, due, AVATARS_PER_TICK, &n);
        db_release(db);
        for (size_t i = 0; i < n; i++) {
                void *data = NULL;
                size_t len = 0;
                const char *type = NULL;
                char e[256];
                int r = steam_avatar_fetch(c, due[i].url, &data, &len, &type, e, sizeof e);
                db = db_acquire();
                /* A failed avatar is noted and not fetched again until its
                 * URL changes: the name shows without it. */
                (void) players_avatar_store(db, due[i].steamid64, due[i].url, r == 0 ? data : NULL, len, type);
                db_release(db);
                free(data);
        }
        return 0;
}

static void prune(void) {
        int64_t before = now_sec() - (int64_t) players_config.retention_days * 86400;
        int total = 0;
        for (;;) {
                sqlite3 *db = db_acquire();
                int n = 0;
                int r = players_prune(db, before, PRUNE_BATCH, &n);
                db_release(db);
                if (r < 0) {
                        fprintf(stderr, "left4me: players: pruning old player data failed; trying again in an hour\n");
                        return;
                }
                total += n;
                /* Batches, so that no request waits long for the lock. */
                if (n < PRUNE_BATCH || sleep_or_shutdown(50))
                        break;
        }
        if (total > 0)
                fprintf(stderr, "left4me: players: pruned %d rows of player data older than %u days\n", total,
                        players_config.retention_days);
}

static void *loop(void *arg) {
        SteamClient *c = NULL;
        if (players_config.steam_api_key &&
            steam_client_new(players_config.steam_api_url, players_config.steam_api_key,
                             players_config.steam_api_timeout_s, &c) < 0)
                fprintf(stderr, "left4me: players: cannot set up libcurl; no Steam profiles\n");
        int64_t next_prune = mono_ms() + PRUNE_FIRST_MS, next_steam = mono_ms(), backoff = 0;
        bool said = false;
        for (;;) {
                int64_t now = mono_ms();
                if (now >= next_prune) {
                        prune();
                        next_prune = mono_ms() + PRUNE_EVERY_MS;
                }
                if (c && now >= next_steam) {
                        char err[512] = "";
                        int r = refresh_profiles(c, err, sizeof err);
                        if (r < 0) {
                                backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2) : 30000;
                                /* Said once per run of failures. */
                                if (!said)
                                        fprintf(stderr, "left4me: players: Steam profiles: %s; trying again with "
                                                        "backoff (up to an hour), showing in-game names meanwhile\n",
                                                err[0] ? err : strerror(-r));
                                said = true;
                                next_steam = mono_ms() + backoff;
                        } else {
                                backoff = 0;
                                said = false;
                                next_steam = mono_ms() + TICK_MS;
                        }
                }
                int64_t wake = next_prune;
                if (c && next_steam < wake)
                        wake = next_steam;
                if (sleep_or_shutdown(wake - mono_ms()))
                        break;
        }
        steam_client_free(c);
        return NULL;
}

int players_upkeep_start(void) {
        if (pthread_create(&thread, NULL, loop, NULL) != 0)
                return -EAGAIN;
        running = true;
        return 0;
}

void players_upkeep_stop(void) {
        if (running)
                pthread_join(thread, NULL);
        running = false;
}
