/* Installing and updating the game (app 222860) with steamcmd. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "strutil.h"

#define L4D2_APP_ID "222860"

typedef struct InstallProgress {
        const char *phase;  /* "windows" or "linux": which pass */
        const char *state;  /* steamcmd's word: "downloading", "verifying", ... */
        double percent;
        uint64_t done, total;
} InstallProgress;

/* Called for every line steamcmd prints (progress == NULL), and for each
 * progress line once more with progress parsed. */
typedef void (*install_cb)(const char *line, const InstallProgress *progress, void *userdata);

/* Parses " Update state (0x61) downloading, progress: 45.12 (1234 / 5678)".
 * Returns true and fills *ret (state points into buf, which it modifies). */
bool steamcmd_parse_progress(char *buf, InstallProgress *ret);

/* Takes the .install lock (held by a fetch for as long as steamcmd or
 * anything of its process group lives), waiting for an earlier install as
 * long as LEFT4ME_INSTALL_STALL_TIMEOUT allows, with a line every 10 s. */
int steamcmd_lock(const HostConfig *c, install_cb cb, void *userdata, int *ret_fd, Error *err);

/* Installs or updates the game in dir (a build's staging tree), with the
 * .install lock held (lock: its fd, inherited by steamcmd). A fresh
 * anonymous Linux install of 222860 fails with "Invalid platform"; the
 * workaround is a first pass with the platform forced to windows and then
 * `validate` with linux. Success is judged by steamcmd's "Success!" line and
 * a srcds_run in dir, not by its exit code. */
int steamcmd_update(const HostConfig *c, const char *dir, bool validate, int lock, install_cb cb, void *userdata,
                    Error *err);

/* The public branch's buildid in app_info_print's KeyValues text
 * ("222860" { "depots" { "branches" { "public" { "buildid" "N" } } } }):
 * false when there is none, or it is not a valid build id. */
bool steamcmd_parse_app_info(const char *text, char ret[BUILD_ID_MAX_LEN + 1]);

/* `app_info_update 1 +app_info_print 222860` with the cached appinfo.vdf
 * removed first (its own HOME, <state>/steam-check): the public branch's
 * buildid. -ENODATA ("No app info"), -EBADMSG (no buildid in what it
 * printed, or nothing), -ETIMEDOUT (timeout_ms): err says which. */
int steamcmd_app_info(const HostConfig *c, long timeout_ms, char ret[BUILD_ID_MAX_LEN + 1], Error *err);
