/* The bwrap sandbox's cgroup: see overlay-script.h. Root only; where it
 * cannot be made, overlay-script-bwrap.c falls back to rlimits. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "fs.h"
#include "overlay-script.h"
#include "strutil.h"

#define CPU_PERIOD_US 100000

void group_remove(BuildGroup *g) {
        for (int i = 0; i < g->n; i++) {
                if (g->procs[i] >= 0)
                        close(g->procs[i]);
                g->procs[i] = -1;
                cgroup_empty_and_remove(g->dirs[i]);
        }
        g->n = 0;
}

static int group_dir(const char *root, const char *leaf, char *out, size_t size) {
        char parent[512];
        snprintf(parent, sizeof parent, "%s/left4me", root);
        if (mkdir(parent, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        snprintf(out, size, "%s/%s", parent, leaf);
        return mkdir(out, 0755) < 0 ? negative_errno() : 0;
}

static int group_v2(const char *root, const char *leaf, const ScriptLimits *l, BuildGroup *g) {
        char path[640];
        _cleanup_free_ char *ctrls = NULL;
        snprintf(path, sizeof path, "%s/cgroup.controllers", root);
        if (read_file(path, 4096, &ctrls, NULL) < 0 || !cgroup_list_has(ctrls, "memory") || !cgroup_list_has(ctrls, "pids") ||
            !cgroup_list_has(ctrls, "cpu"))
                return 0;
        (void) cgroup_write(root, "cgroup.subtree_control", "+memory +pids +cpu");
        snprintf(path, sizeof path, "%s/left4me", root);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        int r = cgroup_write(path, "cgroup.subtree_control", "+memory +pids +cpu");
        if (r < 0 || (r = group_dir(root, leaf, g->dirs[0], sizeof g->dirs[0])) < 0)
                return r;
        g->n = 1;
        char v[64];
        snprintf(v, sizeof v, "%llu", (unsigned long long) l->memory_max);
        if ((r = cgroup_write(g->dirs[0], "memory.max", l->memory_max ? v : "max")) < 0)
                return r;
        (void) cgroup_write(g->dirs[0], "memory.swap.max", "0");
        snprintf(v, sizeof v, "%ld", l->tasks_max);
        if ((r = cgroup_write(g->dirs[0], "pids.max", l->tasks_max ? v : "max")) < 0)
                return r;
        snprintf(v, sizeof v, "%ld %d", l->cpu_percent * CPU_PERIOD_US / 100, CPU_PERIOD_US);
        if ((r = cgroup_write(g->dirs[0], "cpu.max", l->cpu_percent ? v : "max")) < 0)
                return r;
        g->version = 2;
        return 2;
}

static int group_v1(const char *leaf, const ScriptLimits *l, BuildGroup *g) {
        static const char *const ctrls[] = { "memory", "pids", "cpu" };
        char roots[3][256];
        for (size_t i = 0; i < ELEMENTSOF(ctrls); i++)
                if (!cgroup_mount(ctrls[i], roots[i], sizeof roots[i]))
                        return 0;
        for (size_t i = 0; i < ELEMENTSOF(ctrls); i++) {
                int r = group_dir(roots[i], leaf, g->dirs[i], sizeof g->dirs[i]);
                if (r < 0)
                        return r;
                g->n = (int) i + 1;
                char v[64];
                if (i == 0) {
                        snprintf(v, sizeof v, "%llu", (unsigned long long) l->memory_max);
                        r = cgroup_write(g->dirs[i], "memory.limit_in_bytes", l->memory_max ? v : "-1");
                        /* No swap either, where swap accounting exists. */
                        if (r >= 0 && l->memory_max)
                                (void) cgroup_write(g->dirs[i], "memory.memsw.limit_in_bytes", v);
                } else if (i == 1) {
                        snprintf(v, sizeof v, "%ld", l->tasks_max);
                        r = cgroup_write(g->dirs[i], "pids.max", l->tasks_max ? v : "max");
                } else {
                        snprintf(v, sizeof v, "%d", CPU_PERIOD_US);
                        r = cgroup_write(g->dirs[i], "cpu.cfs_period_us", v);
                        snprintf(v, sizeof v, "%ld", l->cpu_percent ? l->cpu_percent * CPU_PERIOD_US / 100 : -1L);
                        if (r >= 0)
                                r = cgroup_write(g->dirs[i], "cpu.cfs_quota_us", v);
                }
                if (r < 0)
                        return r;
        }
        g->version = 1;
        return 1;
}

/* Makes the build's group: 2 or 1 (the cgroup version), 0 when l4d2ctl
 * cannot (not root, no controllers, a read-only /sys/fs/cgroup): why in how. */
int group_make(const ScriptRun *run, BuildGroup *g, char *how, size_t size) {
        *g = (BuildGroup) { .procs = { -1, -1, -1 } };
        if (geteuid() != 0) {
                snprintf(how, size, "rlimits (l4d2ctl is not root: no cgroup of its own)");
                return 0;
        }
        /* build.NAME: '.' is never in an instance name, so this cannot clash
         * with a server's group; the pid keeps two state dirs apart. */
        char leaf[96], root[256];
        snprintf(leaf, sizeof leaf, "build.%s-%d", run->name, (int) getpid());
        int r = 0;
        if (cgroup_mount(NULL, root, sizeof root))
                r = group_v2(root, leaf, &run->lim, g);
        if (r == 0)
                r = group_v1(leaf, &run->lim, g);
        if (r <= 0) {
                snprintf(how, size, r == 0 ? "rlimits (no cgroup memory, pids and cpu controllers to use)"
                                           : "rlimits (the cgroup refused the limits: %s)", strerror(-r));
                group_remove(g);
                return 0;
        }
        for (int i = 0; i < g->n; i++) {
                char path[640];
                snprintf(path, sizeof path, "%s/cgroup.procs", g->dirs[i]);
                if ((g->procs[i] = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
                        snprintf(how, size, "rlimits (cannot join the cgroup: %m)");
                        group_remove(g);
                        return 0;
                }
        }
        snprintf(how, size, "cgroup v%d", r);
        return r;
}

static uint64_t counter(const char *dir, const char *file, const char *key) {
        char path[640];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        return cgroup_counter(path, key);
}

void group_result(const BuildGroup *g, ScriptRun *run) {
        if (g->version == 2) {
                run->oom = counter(g->dirs[0], "memory.events", "oom_kill") > 0;
                run->tasks_hit = counter(g->dirs[0], "pids.events", "max") > 0;
        } else if (g->version == 1) {
                run->oom = counter(g->dirs[0], "memory.oom_control", "oom_kill") > 0;
                run->tasks_hit = counter(g->dirs[1], "pids.events", "max") > 0;
        }
}
