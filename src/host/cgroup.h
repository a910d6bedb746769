/* Resource limits of one server under the supervisor backend, through the
 * kernel's cgroups: memory (LEFT4ME_SERVER_MEMORY_MAX), tasks
 * (LEFT4ME_SERVER_TASKS_MAX) and CPU (LEFT4ME_SERVER_CPU_QUOTA, % of one
 * core).
 *
 * cgroup v2 where its memory, pids and cpu controllers are available (a
 * unified hierarchy), else cgroup v1 (hybrid hosts: those controllers
 * mounted as v1 hierarchies), else none, said in one line. The instance's
 * group is <hierarchy>/left4me/<name>-<8 hex digits of the state dir> so
 * that two state dirs on one host never share one. The supervisor moves
 * itself in before it drops privileges (its server inherits the group and
 * never has to move), with oom_score_adj -1000 so that the kernel's OOM
 * killer picks the server, never its supervisor. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Creates the group, writes the limits and moves the calling process into
 * it. Returns 2 (v2) or 1 (v1) with a description of the limits in `what`,
 * 0 if no limits could be applied (why in `what`), -errno on error. Root
 * only. */
int cgroup_enter(const HostConfig *c, const char *name, char *what, size_t size);

/* How many times the kernel's OOM killer has killed in the instance's
 * group (memory.events / memory.oom_control); 0 if unknown. */
uint64_t cgroup_oom_kills(const HostConfig *c, const char *name);

/* Kills every process left in the instance's group (SIGKILL), waits up to
 * 2 s for them to go, then removes the group; best effort, root only. Run
 * when the supervisor is gone: whatever escaped the box's PID namespace
 * (bwrap's init orphaned before it could ask to die with its parent) is
 * still in the group, so it goes too. */
void cgroup_remove(const HostConfig *c, const char *name);

/* Shared with the script overlays' build group (overlay-script-cgroup.c). */
/* The mount point of the cgroup2 hierarchy (ctrl NULL), or of the v1
 * hierarchy that has controller ctrl. */
bool cgroup_mount(const char *ctrl, char *buf, size_t size);
/* Writes value to dir/file; -errno. */
int cgroup_write(const char *dir, const char *file, const char *value);
/* True if word is one of the space-separated words of text. */
bool cgroup_list_has(const char *text, const char *word);
/* The value of "key N" in the flat-keyed file at path (memory.events,
 * pids.events, memory.oom_control); 0 if unknown. */
uint64_t cgroup_counter(const char *path, const char *key);
/* Kills what is left in the group dir, then removes it. */
void cgroup_empty_and_remove(const char *dir);
