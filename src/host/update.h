/* Game updates without fleet downtime (issue 14): detecting a new build,
 * the signal servers give, and moving `follow` servers onto the build that
 * passed their canary when nobody plays on them. Builds: build.h;
 * canaries: canary.h. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"

/* ---- detection (update-check.c) ---- */

enum {
        UPDATE_SOURCE_API = 1 << 0,      /* ISteamApps/UpToDateCheck */
        UPDATE_SOURCE_STEAMCMD = 1 << 1, /* app_info_print, appinfo.vdf cleared */
        UPDATE_SOURCE_CONSOLE = 1 << 2,  /* MasterRequestRestart seen by watch */
        UPDATE_SOURCE_ALL = 7,
};

/* {"state":"available"|"current"|"unknown","time":T,"installed":{"build",
 * "patch_version"},"sources":[{"source","state","detail",...}]}: a source
 * that times out, answers nothing or what cannot be parsed is "unknown",
 * never "available". */
int update_check(const HostConfig *c, unsigned sources, json_t **ret, Error *err);

/* ---- the console signal (update-signal.c) ---- */

#define UPDATE_SIGNAL_LINE "MasterRequestRestart"

/* Where the scan of one instance's console has got to. */
typedef struct ConsoleCursor {
        bool started;
        dev_t dev;
        ino_t ino;
        off_t off;               /* supervisor backend: console.log */
        void *journal;           /* systemd backend: the open journal namespace (sd_journal) */
} ConsoleCursor;

void console_cursor_free(ConsoleCursor *cur);

/* Reads what instance name's console printed since the last call (the
 * first call only finds the end) and reports whether a line contained
 * UPDATE_SIGNAL_LINE. At most 1 MiB per call. */
int console_scan(const HostConfig *c, const char *name, ConsoleCursor *cur, bool *ret_found);

/* install-store/state/signals.json: the newest MasterRequestRestart seen
 * {"time":T,"instance":NAME}. */
int update_signal_record(const HostConfig *c, const char *instance, int64_t when);
int update_signal_load(const HostConfig *c, json_t **ret);

/* ---- migration (update-migrate.c) ---- */

/* How many humans (A2S players - bots) a server has: >= 0, or -1 when it
 * did not answer (never "empty"). Given by the caller (src/proto). */
typedef int (*humans_fn)(uint16_t port, void *userdata);

typedef struct MigrateRun {
        humans_fn humans;
        void *userdata;
        void (*cb)(json_t *event, void *userdata); /* borrowed events */
} MigrateRun;

/* One pass over the instances: every running `follow` instance (or one
 * whose pin changed) that does not run the build build_choose() picks now
 * is pending; it is restarted onto it when it has had no humans for
 * LEFT4ME_MIGRATE_EMPTY (observed by this and earlier passes, kept in
 * install-store/state/migrate.json) or when its update_deadline has passed since
 * the build became its target. Never with players on before the deadline.
 * Events: {"event":"migrated","name","from","to","reason":"empty"|
 * "deadline"}, {"event":"pending","name","from","to","humans","empty_for"},
 * {"event":"migrate-failed","name","error"}. *ret_pending: how many are
 * still waiting. */
int update_migrate(const HostConfig *c, const MigrateRun *run, unsigned *ret_pending, Error *err);
