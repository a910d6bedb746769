/* Installing and updating the game (app 222860) with steamcmd. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

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

/* Installs or updates <state>/installation. A fresh anonymous Linux install
 * of 222860 fails with "Invalid platform"; the workaround is a first pass
 * with the platform forced to windows and then `validate` with linux.
 * Success is judged by steamcmd's "Success!" line and a srcds_run in the
 * installation, not by its exit code. Refuses while instances are running
 * unless force. */
int steamcmd_install(const HostConfig *c, bool validate, bool force, install_cb cb, void *userdata, Error *err);

/* The build id steamcmd recorded for the installation ("buildid" in
 * steamapps/appmanifest_222860.acf), into buf; -ENOENT when there is none. */
int steamcmd_installed_build(const HostConfig *c, char *buf, size_t size);
