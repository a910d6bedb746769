/* Canaries: before any `follow` server moves onto a new build, every
 * distinct overlay stack (build_stack_hash) is tried on it by a hidden
 * clone of one of its servers (a spare port, a random sv_password and RCON
 * password, `build:` pinned), and at the same time by a second clone on the
 * build that stack runs now, the baseline. The verdict is the difference:
 * what fails only on the new build.
 *
 * Checks, on both clones: an A2S_INFO answer within LEFT4ME_CANARY_A2S_TIMEOUT;
 * RCON `version` shows the build's PatchVersion (new build only); `meta
 * version` and `sm version` answer; `sm exts list` and `sm plugins list`
 * name no failed extension or plugin; no new lines in SourceMod's error
 * log; a `changelevel` and an A2S answer again; no exit for
 * LEFT4ME_CANARY_ALIVE.
 *
 * The host library cannot speak A2S or RCON (src/proto sits beside it, not
 * below): the caller passes them in as CanaryProbes.
 *
 * Verdicts live in install-store/canary/<build>/<stack>.json. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "build.h"
#include "config.h"
#include "error.h"

typedef struct CanaryVerdict {
        bool passed;
        bool degradable;          /* every failure is a plugin or extension of a known overlay */
        char **failing_overlays;  /* the overlays providing what failed, NULL-terminated */
        size_t n_failing_overlays;
        int64_t finished;         /* unix time */
} CanaryVerdict;

void canary_verdict_free(CanaryVerdict *v);
/* The verdict of build id for stack; -ENOENT if there is none. */
int canary_verdict_load(const HostConfig *c, const char *id, const char *stack, CanaryVerdict *ret);
/* Every report of build id, as a JSON object stack -> report; a build with
 * none gives an empty object. */
int canary_reports(const HostConfig *c, const char *id, json_t **ret);
int canary_report_save(const HostConfig *c, const char *id, const char *stack, json_t *report, Error *err);

/* What the caller knows how to ask a server (cmd-update.c, with src/proto). */
typedef struct CanaryProbes {
        /* One A2S_INFO to 127.0.0.1:port: 1 and the map on an answer
         * within timeout_ms, 0 without one. */
        int (*a2s)(uint16_t port, int timeout_ms, char *map, size_t map_size);
        /* One RCON command: 0 and a malloc'ed answer, or -errno (err). */
        int (*rcon)(uint16_t port, const char *password, const char *command, char **ret, Error *err);
} CanaryProbes;

/* Events for people and the panel: {"event":"canary", ...}; borrowed. */
typedef void (*canary_event_cb)(json_t *event, void *userdata);

typedef struct CanaryRun {
        const char *build;     /* NULL: the newest build */
        bool force;            /* re-run stacks that have a verdict */
        bool retry_failed;     /* re-run failed verdicts older than LEFT4ME_CANARY_RETRY */
        const CanaryProbes *probes;
        canary_event_cb cb;
        void *userdata;
} CanaryRun;

/* Tries the build on every distinct stack of the `follow` instances that
 * has no verdict for it yet (LEFT4ME_CANARY_PARALLEL at a time), stores
 * the verdicts and returns them as a JSON array of reports. A fleet with no
 * `follow` instance has nothing to test: the build becomes trusted. */
int canary_run(const HostConfig *c, const CanaryRun *run, json_t **ret, Error *err);

/* The hidden instances the canaries use ("l4m-canary-..."): never listed
 * (instance_list_visible), and a name no user may give an instance. */
bool canary_instance_name(const char *name);
