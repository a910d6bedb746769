/* Script overlays: a bash script (the panel keeps it in its database and
 * hands it over with `l4d2ctl overlay script NAME set`) that builds the
 * overlay's content, e.g. downloads and unpacks MetaMod:Source and
 * SourceMod. It is kept as builds/NAME/script.sh and run by `overlay build`
 * in a sandbox that sees the OS read-only, the network, the script at
 * /build/script.sh and, writable, a fresh folder at /overlay:
 * builds/NAME/overlay, which is published (overlay_publish) only when the
 * script exits 0 within its limits; otherwise the overlay keeps its content
 * and the build says which limit it hit.
 *
 * Two sandboxes, one contract:
 *   - unit: with systemd as PID 1 (the systemd backend), the shipped
 *     left4me-build@NAME.service (deploy/build-sandbox.conf), started over
 *     sd-bus; its output comes from the journal (overlay-script-unit.c);
 *   - bwrap: elsewhere (containers, CI), Debian's bubblewrap with the same
 *     view, as an unprivileged user, in a cgroup with memory, task and CPU
 *     limits where l4d2ctl may make one, else with rlimits
 *     (overlay-script-bwrap.c).
 * LEFT4ME_BUILD_SANDBOX=auto|unit|bwrap picks one (auto: unit with the
 * systemd backend). In both, l4d2ctl enforces the wall-time limit itself.
 *
 * Settings (host.env or the environment): LEFT4ME_BUILD_TIMEOUT (seconds,
 * 1800), LEFT4ME_BUILD_MEMORY_MAX (2G), LEFT4ME_BUILD_TASKS_MAX (512),
 * LEFT4ME_BUILD_CPU_QUOTA (% of one core, 100), LEFT4ME_BUILD_MAX_SIZE (the
 * output, 20G), LEFT4ME_BUILD_USER (bwrap as root: who runs the script,
 * default left4me if it exists, else nobody), LEFT4ME_BWRAP. Memory, tasks
 * and CPU of the unit come from its unit file and slice instead. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"
#include "overlay.h"

#define SCRIPT_MAX (1024 * 1024)

/* Stores the script (bytes from in_fd, at most SCRIPT_MAX, no NUL byte)
 * as builds/NAME/script.sh. */
int overlay_script_set(const HostConfig *c, const char *name, int in_fd, Error *err);
/* Writes the script to out_fd; -ENOENT (err set) if none was set. */
int overlay_script_show(const HostConfig *c, const char *name, int out_fd, Error *err);

/* ---- the kind's hooks (overlay.c) ---- */
int overlay_script_build(OverlayBuild *b, Error *err);
/* Adds "script": {"set", "size", "updated", "needs_build", "sandbox"}. */
void overlay_script_summary(const HostConfig *c, const char *name, const json_t *meta, json_t *show);
/* Removes builds/NAME at overlay delete. */
void overlay_script_forget(const HostConfig *c, const char *name);

/* ---- the sandboxes (internal) ---- */

typedef struct ScriptLimits {
        long timeout_s;
        uint64_t memory_max; /* bytes, 0: none */
        long tasks_max;      /* 0: none */
        long cpu_percent;    /* of one core, 0: none */
} ScriptLimits;

typedef struct ScriptRun {
        /* in */
        const HostConfig *c;
        const char *name;
        OverlayBuild *b;
        int builds_fd;         /* builds/NAME, O_RDONLY | O_DIRECTORY */
        ScriptLimits lim;
        /* out */
        int exit_code;         /* the script's exit code, or -1 */
        int signal;            /* the signal that ended it, or 0 */
        bool timed_out, oom, tasks_hit, cancelled;
        char detail[96];       /* how it ended when there is no exit status (unit) */
        /* output, split into lines */
        char line[4096];
        size_t line_len;
        uint64_t out_bytes;
        bool out_cut, after_cr;
} ScriptRun;

/* The bwrap sandbox's limits (overlay-script-cgroup.c): a cgroup of its own,
 * v2 or the v1 memory, pids and cpu hierarchies, under <hierarchy>/left4me/
 * build.NAME-PID ('.' is never in an instance name: no clash with servers). */
typedef struct BuildGroup {
        int version;        /* 2, 1, or 0 for none */
        char dirs[3][512];  /* v2: dirs[0]; v1: memory, pids, cpu */
        int n;
        int procs[3];       /* cgroup.procs of each, for the child to join */
} BuildGroup;

/* 2 or 1 (the version), or 0 when l4d2ctl cannot make one (not root, no
 * controllers, a read-only /sys/fs/cgroup; how says why, for the log). The
 * child joins it by writing "0" to each procs fd. */
int group_make(const ScriptRun *run, BuildGroup *g, char *how, size_t size);
/* Sets run->oom and run->tasks_hit from the group's counters. */
void group_result(const BuildGroup *g, ScriptRun *run);
/* Closes the procs fds, kills what is left in the group, removes it. */
void group_remove(BuildGroup *g);

int script_run_bwrap(ScriptRun *run, Error *err);
int script_run_unit(ScriptRun *run, Error *err);

/* Feeds the script's output: complete lines become "output" events (and log
 * lines), control characters and invalid UTF-8 replaced; past 16 MiB the
 * rest is dropped, once said. flush emits what is left. */
void script_output(ScriptRun *run, const char *data, size_t len);
void script_output_flush(ScriptRun *run);

/* SIGTERM, SIGINT and SIGHUP as an fd (a build is cancelled by signalling
 * l4d2ctl), blocked until script_cancel_close restores the old mask. */
int script_cancel_open(sigset_t *old);
void script_cancel_close(int fd, const sigset_t *old);
