/* Service backends: how an instance's server process is run and watched.
 *
 * - systemd (production): the template unit left4me-server@<name>.service.
 *   start = the autostart marker <state>/autostart/<name> (which
 *   left4me-generator turns into a want at boot; no EnableUnitFiles, see
 *   backend-systemd.c) + StartUnit, stop = StopUnit and the marker removed,
 *   status from the unit's properties, logs from the journal. The unit's own ExecStartPre=+ mounts the overlay (left4me-overlay)
 *   and ExecStopPost=+ unmounts it; ExecStart is `l4d2ctl run <name>`.
 * - supervisor (containers, dev machines, CI): l4d2ctl mounts through the
 *   helper itself and starts one detached supervisor process per instance
 *   (restart with backoff, crash-loop breaker, pidfile, log file).
 *
 * Before calling start, the caller (instance.c) has staged server.cfg into the
 * upper layer and written <state>/instances/<name>/launch.json, the argv of
 * the server (beside the spec, where the server cannot write), so both
 * backends launch exactly the same command. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"

typedef enum InstanceState {
        STATE_STOPPED,
        STATE_STARTING,
        STATE_RUNNING,
        STATE_CRASHED, /* gave up restarting (crash loop), or failed */
        STATE_UNRESPONSIVE, /* running, but missed LEFT4ME_PROBE_MISSES A2S probes in a row */
} InstanceState;

const char *instance_state_to_string(InstanceState s);

typedef struct BackendStatus {
        InstanceState state;
        pid_t pid;               /* the server's main pid, 0 if none */
        uint64_t started_usec;   /* CLOCK_REALTIME when the current run began, 0 if none */
        unsigned restarts;       /* automatic restarts since the last start */
        char detail[160];        /* e.g. "crash loop: 5 exits in 60 s", may be empty */
        char containment[384];   /* supervisor backend: how the server is contained (sandbox, uid,
                                  * limits, disk), or why not; empty otherwise */
} BackendStatus;

typedef struct Backend {
        const char *name;
        int (*start)(const HostConfig *c, const char *instance, Error *err);
        /* Stops the server and unmounts; success if it was not running. */
        int (*stop)(const HostConfig *c, const char *instance, Error *err);
        int (*status)(const HostConfig *c, const char *instance, BackendStatus *ret, Error *err);
        /* Writes the last `lines` lines to out_fd; with follow, keeps writing
         * new lines until the reader goes away or a signal arrives. */
        int (*logs)(const HostConfig *c, const char *instance, unsigned lines, bool follow, int out_fd, Error *err);
} Backend;

extern const Backend backend_supervisor;
extern const Backend backend_systemd;

const Backend *backend_get(const HostConfig *c);

/* True when systemd is PID 1 (/run/systemd/system exists). */
bool backend_systemd_available(void);

/* The systemd unit of an instance: "left4me-server@<name>.service". */
int backend_unit_name(const char *instance, char *buf, size_t size);
