/* watch's part in game updates (watch-update.c). */
#pragma once

#include <jansson.h>

#include "config.h"

/* Scans what instance name (running as pid) printed since the last call;
 * the first MasterRequestRestart of a run is recorded and returned as an
 * event {"event":"update","time","name","signal":"MasterRequestRestart"}
 * (the caller owns it); NULL otherwise. */
json_t *watch_update_scan(const HostConfig *c, const char *name, long long pid, long long now);
/* Frees what the scans keep. */
void watch_update_done(void);
