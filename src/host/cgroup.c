/* See cgroup.h. */
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "fs.h"
#include "macro.h"
#include "strutil.h"

#define CPU_PERIOD_US 100000

/* The mount point of the cgroup2 hierarchy, or of the v1 hierarchy that has
 * controller `ctrl` (NULL for v2). */
bool cgroup_mount(const char *ctrl, char *buf, size_t size) {
        FILE *f = setmntent("/proc/self/mounts", "re");
        if (!f)
                return false;
        bool found = false;
        struct mntent *m;
        while (!found && (m = getmntent(f))) {
                if (!ctrl && streq(m->mnt_type, "cgroup2"))
                        found = true;
                else if (ctrl && streq(m->mnt_type, "cgroup") && hasmntopt(m, ctrl))
                        found = true;
                if (found)
                        snprintf(buf, size, "%s", m->mnt_dir);
        }
        endmntent(f);
        return found;
}

static void group_name(const HostConfig *c, const char *name, char *buf, size_t size) {
        uint32_t h = 2166136261u; /* FNV-1a */
        for (const char *p = c->state_dir; *p; p++)
                h = (h ^ (unsigned char) *p) * 16777619u;
        snprintf(buf, size, "left4me/%s-%08x", name, h);
}

int cgroup_write(const char *dir, const char *file, const char *value) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        ssize_t n = write(fd, value, strlen(value));
        return n < 0 ? negative_errno() : 0;
}

bool cgroup_list_has(const char *text, const char *word) {
        size_t n = strlen(word);
        for (const char *p = text; (p = strstr(p, word)); p += n)
                if ((p == text || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
                        return true;
        return false;
}

static void describe(const HostConfig *c, int version, char *what, size_t size) {
        char mem[32] = "none", tasks[32] = "none", cpu[32] = "none";
        if (c->memory_max)
                snprintf(mem, sizeof mem, "%lluM", (unsigned long long) (c->memory_max >> 20));
        if (c->tasks_max)
                snprintf(tasks, sizeof tasks, "%ld", c->tasks_max);
        if (c->cpu_percent)
                snprintf(cpu, sizeof cpu, "%ld%%", c->cpu_percent);
        snprintf(what, size, "cgroup v%d limits: memory %s, tasks %s, cpu %s", version, mem, tasks, cpu);
}

static int enter_v2(const HostConfig *c, const char *root, const char *group, char *what, size_t size) {
        char path[512], pid[32];
        _cleanup_free_ char *ctrls = NULL;
        snprintf(path, sizeof path, "%s/cgroup.controllers", root);
        if (read_file(path, 4096, &ctrls, NULL) < 0 || !cgroup_list_has(ctrls, "memory") ||
            !cgroup_list_has(ctrls, "pids") || !cgroup_list_has(ctrls, "cpu"))
                return 0;
        (void) cgroup_write(root, "cgroup.subtree_control", "+memory +pids +cpu");
        snprintf(path, sizeof path, "%s/left4me", root);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        int r = cgroup_write(path, "cgroup.subtree_control", "+memory +pids +cpu");
        if (r < 0)
                return r;
        snprintf(path, sizeof path, "%s/%s", root, group);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        char v[64];
        snprintf(v, sizeof v, "%llu", (unsigned long long) c->memory_max);
        if ((r = cgroup_write(path, "memory.max", c->memory_max ? v : "max")) < 0)
                return r;
        /* Past the limit the kernel reclaims, then kills: swap would only
         * move the server's memory elsewhere. */
        (void) cgroup_write(path, "memory.swap.max", c->memory_max ? "0" : "max");
        snprintf(v, sizeof v, "%ld", c->tasks_max);
        if ((r = cgroup_write(path, "pids.max", c->tasks_max ? v : "max")) < 0)
                return r;
        snprintf(v, sizeof v, "%ld %d", c->cpu_percent * CPU_PERIOD_US / 100, CPU_PERIOD_US);
        if ((r = cgroup_write(path, "cpu.max", c->cpu_percent ? v : "max")) < 0)
                return r;
        snprintf(pid, sizeof pid, "%d", (int) getpid());
        if ((r = cgroup_write(path, "cgroup.procs", pid)) < 0)
                return r;
        describe(c, 2, what, size);
        return 2;
}

static int enter_v1(const HostConfig *c, const char *group, char *what, size_t size) {
        static const char *const ctrls[] = { "memory", "pids", "cpu" };
        char roots[3][256];
        for (size_t i = 0; i < ELEMENTSOF(ctrls); i++)
                if (!cgroup_mount(ctrls[i], roots[i], sizeof roots[i]))
                        return 0;
        char pid[32];
        snprintf(pid, sizeof pid, "%d", (int) getpid());
        for (size_t i = 0; i < ELEMENTSOF(ctrls); i++) {
                char path[512], v[64];
                snprintf(path, sizeof path, "%s/left4me", roots[i]);
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                snprintf(path, sizeof path, "%s/%s", roots[i], group);
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                int r = 0;
                if (i == 0) {
                        snprintf(v, sizeof v, "%llu", (unsigned long long) c->memory_max);
                        r = cgroup_write(path, "memory.limit_in_bytes", c->memory_max ? v : "-1");
                } else if (i == 1) {
                        snprintf(v, sizeof v, "%ld", c->tasks_max);
                        r = cgroup_write(path, "pids.max", c->tasks_max ? v : "max");
                } else {
                        snprintf(v, sizeof v, "%d", CPU_PERIOD_US);
                        r = cgroup_write(path, "cpu.cfs_period_us", v);
                        snprintf(v, sizeof v, "%ld", c->cpu_percent ? c->cpu_percent * CPU_PERIOD_US / 100 : -1L);
                        if (r >= 0)
                                r = cgroup_write(path, "cpu.cfs_quota_us", v);
                }
                if (r < 0 || (r = cgroup_write(path, "cgroup.procs", pid)) < 0)
                        return r;
        }
        describe(c, 1, what, size);
        return 1;
}

int cgroup_enter(const HostConfig *c, const char *name, char *what, size_t size) {
        char group[128], root[256];
        group_name(c, name, group, sizeof group);
        if (!c->memory_max && !c->tasks_max && !c->cpu_percent) {
                snprintf(what, size, "no resource limits (none configured)");
                return 0;
        }
        int r = 0;
        if (cgroup_mount(NULL, root, sizeof root)) {
                r = enter_v2(c, root, group, what, size);
                if (r != 0) {
                        if (r < 0)
                                snprintf(what, size, "no resource limits: cgroup v2 at %s refused them: %s", root,
                                         strerror(-r));
                        return r;
                }
        }
        r = enter_v1(c, group, what, size);
        if (r < 0)
                snprintf(what, size, "no resource limits: cgroup v1 refused them: %s", strerror(-r));
        else if (r == 0)
                snprintf(what, size, "no resource limits: this host has no cgroup memory, pids and cpu controllers "
                         "l4d2ctl can use");
        return r;
}

uint64_t cgroup_counter(const char *path, const char *key) {
        _cleanup_free_ char *text = NULL;
        if (read_file(path, 65536, &text, NULL) < 0)
                return 0;
        size_t n = strlen(key);
        for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                if (strncmp(line, key, n) == 0 && line[n] == ' ')
                        return strtoull(line + n + 1, NULL, 10);
        return 0;
}

uint64_t cgroup_oom_kills(const HostConfig *c, const char *name) {
        char group[128], root[256], path[512];
        group_name(c, name, group, sizeof group);
        if (cgroup_mount(NULL, root, sizeof root)) {
                snprintf(path, sizeof path, "%s/%s/memory.events", root, group);
                if (access(path, F_OK) == 0)
                        return cgroup_counter(path, "oom_kill");
        }
        if (cgroup_mount("memory", root, sizeof root)) {
                snprintf(path, sizeof path, "%s/%s/memory.oom_control", root, group);
                return cgroup_counter(path, "oom_kill");
        }
        return 0;
}

/* SIGKILLs every pid in dir/cgroup.procs; returns how many were there. */
static int kill_procs(const char *dir) {
        char path[512];
        snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        _cleanup_free_ char *text = NULL;
        if (read_file(path, 1 << 20, &text, NULL) < 0)
                return 0;
        int n = 0;
        for (char *p = text; *p;) {
                char *end;
                long pid = strtol(p, &end, 10);
                if (end == p)
                        break;
                if (pid > 1) {
                        kill((pid_t) pid, SIGKILL);
                        n++;
                }
                p = end + (*end == '\n');
        }
        return n;
}

void cgroup_empty_and_remove(const char *dir) {
        if (access(dir, F_OK) < 0)
                return;
        for (int i = 0; i < 100 && kill_procs(dir) > 0; i++)
                usleep(20 * 1000);
        /* A killed process leaves its group a moment after it is reaped
         * (seen with v1 memory groups): busy until then. */
        for (int i = 0; rmdir(dir) < 0 && errno == EBUSY && i < 100; i++)
                usleep(20 * 1000);
}

void cgroup_remove(const HostConfig *c, const char *name) {
        char group[128], root[256], path[512];
        group_name(c, name, group, sizeof group);
        if (cgroup_mount(NULL, root, sizeof root)) {
                snprintf(path, sizeof path, "%s/%s", root, group);
                cgroup_empty_and_remove(path);
        }
        static const char *const ctrls[] = { "memory", "pids", "cpu" };
        for (size_t i = 0; i < ELEMENTSOF(ctrls); i++)
                if (cgroup_mount(ctrls[i], root, sizeof root)) {
                        snprintf(path, sizeof path, "%s/%s", root, group);
                        cgroup_empty_and_remove(path);
                }
}
