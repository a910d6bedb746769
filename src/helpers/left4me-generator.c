/* left4me-generator: a systemd generator (systemd.generator(7)). It runs as
 * root at boot and at every daemon-reload, before any unit is loaded, and
 * turns what the service user wrote into unit settings, each one checked,
 * since everything below the state dir is the service user's to write:
 *
 * - autostart/NAME (l4d2ctl start): left4me-servers.target wants
 *   left4me-server@NAME.service, so started servers come back after a boot;
 * - instances/NAME/systemd.env (l4d2ctl initialize and start: PORT=, the game
 *   port, SourceTV on PORT+1; PROJECT=, the instance's project quota id):
 *   the instance's drop-in: its dynamic user, bind() allowed on exactly its
 *   own ports, its memory, task and CPU limits and its disk limit (from
 *   /etc/left4me/host.env, root's), its journal namespace left4me-NAME
 *   (size cap, the service user's read access, no start limit on its sync
 *   unit) and its disk watch.
 *
 * An instance whose settings do not check out (a port outside the range, a
 * port or project another instance has, a file that is not a plain file) gets
 * no drop-in, and its unit refuses to start (its ExecCondition= has no disk
 * limit to check). argv[1] is the normal-priority output dir. The state and
 * config dirs can be moved for tests with LEFT4ME_STATE_DIR,
 * LEFT4ME_CONFIG_DIR and LEFT4ME_JOURNALD_CONF_DIR (a generator gets an empty
 * environment from systemd). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envfile.h"
#include "fs.h"
#include "macro.h"
#include "strutil.h"

#define MAX_INSTANCES 4096
#define SETTINGS_MAX 4096

typedef struct Limits {
        long port_min, port_max;
        uint64_t memory_max; /* 0 = none */
        long tasks_max;      /* 0 = none */
        long cpu_percent;    /* 0 = none */
        uint64_t disk_max;   /* 0 = none */
        long disk_watch_s;
        uint64_t log_max;
        long uid_min, uid_max; /* project ids */
} Limits;

typedef struct Instance {
        char name[NAME_MAX_LEN + 1];
        long port;
        long project;
        char user[32];
        bool ok;
} Instance;

static void warn(const char *fmt, ...) _printf_(1, 2);
static void warn(const char *fmt, ...) {
        /* A generator's stderr goes to the kernel log / journal. */
        va_list ap;
        va_start(ap, fmt);
        fputs("left4me-generator: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

static const char *env_or(const char *key, const char *fallback) {
        const char *v = getenv(key);
        return v && *v ? v : fallback;
}

/* host.env, with l4d2ctl's defaults (config.c) for what it leaves out. A
 * value that does not parse keeps the default, with a warning. */
static void limits_load(const char *config_dir, Limits *l) {
        *l = (Limits) {
                .port_min = 27000, .port_max = 27999, .memory_max = 768ULL << 20, .tasks_max = 256,
                .cpu_percent = 100, .disk_max = 4ULL << 30, .disk_watch_s = 30, .log_max = 64ULL << 20,
                .uid_min = 800000, .uid_max = 800999,
        };
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/host.env", config_dir);
        static const struct {
                const char *key;
                int kind; /* 0 long, 1 size */
                long min, max;
                size_t off;
        } keys[] = {
                { "LEFT4ME_PORT_RANGE_START", 0, 1024, 65534, offsetof(Limits, port_min) },
                { "LEFT4ME_PORT_RANGE_END", 0, 1025, 65535, offsetof(Limits, port_max) },
                { "LEFT4ME_SERVER_MEMORY_MAX", 1, 0, 0, offsetof(Limits, memory_max) },
                { "LEFT4ME_SERVER_TASKS_MAX", 0, 0, 1L << 22, offsetof(Limits, tasks_max) },
                { "LEFT4ME_SERVER_CPU_QUOTA", 0, 0, 100000, offsetof(Limits, cpu_percent) },
                { "LEFT4ME_SERVER_DISK_MAX", 1, 0, 0, offsetof(Limits, disk_max) },
                { "LEFT4ME_DISK_WATCH_INTERVAL", 0, 1, 86400, offsetof(Limits, disk_watch_s) },
                { "LEFT4ME_SERVER_LOG_MAX", 1, 0, 0, offsetof(Limits, log_max) },
        };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_free_ char *v = NULL;
                int r = envfile_get(path, keys[i].key, &v);
                if (r <= 0)
                        continue;
                void *field = (char *) l + keys[i].off;
                long n;
                uint64_t size;
                if (keys[i].kind == 0 && parse_long(v, keys[i].min, keys[i].max, &n) == 0)
                        *(long *) field = n;
                else if (keys[i].kind == 1 && parse_size(v, &size) == 0)
                        *(uint64_t *) field = size;
                else
                        warn("%s: %s='%s' is not valid; using the default", path, keys[i].key, v);
        }
        _cleanup_free_ char *range = NULL;
        if (envfile_get(path, "LEFT4ME_SERVER_UID_RANGE", &range) > 0) {
                char *dash = strchr(range, '-');
                long lo, hi;
                if (dash)
                        *dash = '\0';
                if (dash && parse_long(range, 1000, 0x7fffffffL, &lo) == 0 &&
                    parse_long(dash + 1, 1000, 0x7fffffffL, &hi) == 0 && lo <= hi) {
                        l->uid_min = lo;
                        l->uid_max = hi;
                } else
                        warn("%s: LEFT4ME_SERVER_UID_RANGE is not FIRST-LAST; using the default", path);
        }
        if (l->port_max <= l->port_min) {
                warn("%s: the port range is empty; using 27000-27999", path);
                l->port_min = 27000;
                l->port_max = 27999;
        }
        if (l->memory_max && l->memory_max < (16ULL << 20))
                l->memory_max = 16ULL << 20;
        if (l->log_max < (8ULL << 20))
                l->log_max = 8ULL << 20; /* journald's smallest useful size */
}

/* instances/NAME/systemd.env: PORT=N and PROJECT=N lines, nothing else. */
static int settings_load(int instances, Instance *in, const Limits *l) {
        char rel[NAME_MAX_LEN + 16];
        snprintf(rel, sizeof rel, "%s/systemd.env", in->name);
        _cleanup_close_ int fd = path_open_beneath(instances, rel, O_RDONLY | O_NONBLOCK, 0, PATH_NO_SYMLINKS);
        if (fd == -ENOENT)
                return 0; /* not initialized through the systemd backend yet */
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                warn("instance '%s': systemd.env is not a plain file; no unit settings", in->name);
                return -EINVAL;
        }
        _cleanup_free_ char *text = NULL;
        if (read_fd(fd, SETTINGS_MAX, &text, NULL) < 0) {
                warn("instance '%s': cannot read systemd.env; no unit settings", in->name);
                return -EINVAL;
        }
        in->port = in->project = -1;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (line[0] == '#')
                        continue;
                long *field = startswith(line, "PORT=") ? &in->port : startswith(line, "PROJECT=") ? &in->project : NULL;
                const char *v = field ? strchr(line, '=') + 1 : NULL;
                if (!field || *field != -1 || parse_long(v, 0, 0x7fffffffL, field) < 0) {
                        warn("instance '%s': systemd.env: unexpected line; no unit settings", in->name);
                        return -EINVAL;
                }
        }
        if (in->port < l->port_min || in->port + 1 > l->port_max) {
                warn("instance '%s': port %ld is outside %ld-%ld; no unit settings", in->name, in->port, l->port_min,
                     l->port_max);
                return -EINVAL;
        }
        if (in->project != 0 && (in->project < l->uid_min || in->project > l->uid_max)) {
                warn("instance '%s': project %ld is outside LEFT4ME_SERVER_UID_RANGE; no unit settings", in->name,
                     in->project);
                return -EINVAL;
        }
        return 1;
}

/* The DynamicUser= name: short enough for systemd (31 characters), one per
 * instance. Long names keep a prefix and get a hash of the whole name. */
static void user_name(const char *name, char *buf, size_t size) {
        if (strlen(name) <= 27) {
                snprintf(buf, size, "l4m-%s", name);
                return;
        }
        uint32_t h = 2166136261u; /* FNV-1a */
        for (const char *p = name; *p; p++)
                h = (h ^ (uint8_t) *p) * 16777619u;
        snprintf(buf, size, "l4m-%.17s-%08" PRIx32, name, h);
}

static int write_text(const char *dir, const char *unit_dropin_dir, const char *file, const char *text) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, unit_dropin_dir);
        int r = mkdir_p(path, 0755);
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        return write_file_atomic_flags(dfd, file, text, strlen(text), 0644, WRITE_NO_SYNC);
}

static int write_instance(const char *out, const char *journald_dir, const Instance *in, const Limits *l,
                          const char *state_dir, const char *config_dir) {
        _cleanup_buf_ Buf b = BUF_INIT(8192);
        char mem[32], tasks[32], cpu[32];
        if (l->memory_max)
                snprintf(mem, sizeof mem, "%" PRIu64, l->memory_max);
        else
                snprintf(mem, sizeof mem, "infinity");
        if (l->tasks_max)
                snprintf(tasks, sizeof tasks, "%ld", l->tasks_max);
        else
                snprintf(tasks, sizeof tasks, "infinity");
        if (l->cpu_percent)
                snprintf(cpu, sizeof cpu, "%ld%%", l->cpu_percent);
        else
                cpu[0] = '\0';
        int r = buf_printf(&b,
                           "# Generated by left4me-generator from %s/instances/%s/systemd.env and %s/host.env.\n"
                           "[Unit]\n"
                           "Wants=left4me-diskwatch@%s.timer\n"
                           "[Service]\n"
                           "User=%s\n"
                           "Environment=LEFT4ME_DISK_MAX=%" PRIu64 " LEFT4ME_PROJECT=%ld\n"
                           "SocketBindAllow=udp:%ld-%ld\n"
                           "SocketBindAllow=tcp:%ld\n"
                           "MemoryMax=%s\n"
                           "TasksMax=%s\n"
                           "LimitNPROC=%s\n"
                           "CPUQuota=%s\n",
                           state_dir, in->name, config_dir, in->name, in->user, l->disk_max, in->project, in->port,
                           in->port + 1, in->port, mem, tasks, tasks, cpu);
        char dropin[128];
        snprintf(dropin, sizeof dropin, "left4me-server@%s.service.d", in->name);
        if (r < 0 || (r = write_text(out, dropin, "50-left4me-instance.conf", b.data)) < 0)
                return r;

        buf_free(&b);
        r = buf_printf(&b, "# Generated by left4me-generator.\n[Service]\nEnvironment=LEFT4ME_DISK_MAX=%" PRIu64
                           " LEFT4ME_PROJECT=%ld\n", l->disk_max, in->project);
        snprintf(dropin, sizeof dropin, "left4me-diskwatch@%s.service.d", in->name);
        if (r < 0 || (r = write_text(out, dropin, "50-left4me-instance.conf", b.data)) < 0)
                return r;

        /* The journal namespace left4me-NAME: the service user may read it
         * (tmpfiles ACLs, applied as journald creates the directory), its
         * sync unit has no start limit (quick restarts of the server would
         * hit the default 5 in 10 s), its size is capped. */
        snprintf(dropin, sizeof dropin, "systemd-journald@left4me-%s.service.d", in->name);
        if ((r = write_text(out, dropin, "50-left4me.conf",
                            "# Generated by left4me-generator: the service user may read this namespace.\n"
                            "[Service]\n"
                            "ExecStartPre=-+/usr/bin/systemd-tmpfiles --create left4me-journal.conf\n")) < 0)
                return r;
        snprintf(dropin, sizeof dropin, "systemd-journald-sync@left4me-%s.service.d", in->name);
        if ((r = write_text(out, dropin, "50-left4me.conf",
                            "# Generated by left4me-generator: a server may be restarted quickly.\n"
                            "[Unit]\nStartLimitIntervalSec=0\n")) < 0)
                return r;
        buf_free(&b);
        uint64_t file_max = l->log_max / 4 < (8ULL << 20) ? (8ULL << 20) : l->log_max / 4;
        r = buf_printf(&b,
                       "# Generated by left4me-generator: the journal of game server %s (LEFT4ME_SERVER_LOG_MAX).\n"
                       "# A server that floods its console pushes out its own lines only.\n"
                       "[Journal]\n"
                       "Storage=persistent\n"
                       "SystemMaxUse=%" PRIu64 "\n"
                       "SystemMaxFileSize=%" PRIu64 "\n"
                       "RuntimeMaxUse=%" PRIu64 "\n"
                       "MaxRetentionSec=1month\n",
                       in->name, l->log_max, file_max, file_max);
        char conf[64];
        snprintf(conf, sizeof conf, "journald@left4me-%s.conf", in->name);
        _cleanup_close_ int jfd = open(journald_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r < 0 || jfd < 0)
                return r < 0 ? r : negative_errno();
        return write_file_atomic_flags(jfd, conf, b.data, b.len, 0644, WRITE_NO_SYNC);
}

static void autostart(const char *out, const char *state_dir) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/autostart", state_dir);
        DIR *d = opendir(path);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                struct stat st;
                if (!name_is_valid(de->d_name) || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                char wants[PATH_MAX], link[PATH_MAX];
                snprintf(wants, sizeof wants, "%s/left4me-servers.target.wants", out);
                snprintf(link, sizeof link, "%s/left4me-server@%s.service", wants, de->d_name);
                if (mkdir_p(wants, 0755) < 0 || (symlink(LEFT4ME_SYSTEMUNITDIR "/left4me-server@.service", link) < 0 &&
                                                  errno != EEXIST))
                        warn("cannot link %s: %s", link, strerror(errno));
        }
        closedir(d);
}

/* Journal configs of instances that are gone (deleted, or refused now). */
static void journald_confs_prune(const char *journald_dir, const Instance *v, size_t n) {
        DIR *d = opendir(journald_dir);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                const char *prefix = "journald@left4me-";
                size_t len = strlen(de->d_name);
                if (!startswith(de->d_name, prefix) || len <= strlen(prefix) + 5 ||
                    !streq(de->d_name + len - 5, ".conf"))
                        continue;
                char name[NAME_MAX_LEN + 1];
                size_t nlen = len - strlen(prefix) - 5;
                if (nlen > NAME_MAX_LEN)
                        continue;
                snprintf(name, sizeof name, "%.*s", (int) nlen, de->d_name + strlen(prefix));
                bool keep = false;
                for (size_t i = 0; i < n && !keep; i++)
                        keep = v[i].ok && streq(v[i].name, name);
                if (!keep)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

static int cmp_port(const void *a, const void *b) {
        const Instance *x = a, *y = b;
        return x->port < y->port ? -1 : x->port > y->port;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fputs("usage: left4me-generator NORMAL_DIR [EARLY_DIR LATE_DIR]\n", stderr);
                return 2;
        }
        const char *out = argv[1];
        const char *state_dir = env_or("LEFT4ME_STATE_DIR", "/var/lib/left4me");
        const char *config_dir = env_or("LEFT4ME_CONFIG_DIR", "/etc/left4me");
        const char *journald_dir = env_or("LEFT4ME_JOURNALD_CONF_DIR", "/run/systemd");

        autostart(out, state_dir);

        Limits l;
        limits_load(config_dir, &l);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/instances", state_dir);
        _cleanup_close_ int instances = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (instances < 0)
                return 0; /* nothing initialized yet (or /var is not mounted) */
        DIR *d = fdopendir(fcntl(instances, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return 0;
        _cleanup_free_ Instance *v = calloc(MAX_INSTANCES, sizeof(Instance));
        size_t n = 0;
        struct dirent *de;
        while (v && (de = readdir(d)) && n < MAX_INSTANCES) {
                if (!name_is_valid(de->d_name))
                        continue;
                Instance *in = &v[n];
                snprintf(in->name, sizeof in->name, "%s", de->d_name);
                if (settings_load(instances, in, &l) <= 0)
                        continue;
                user_name(in->name, in->user, sizeof in->user);
                in->ok = true;
                n++;
        }
        closedir(d);
        if (!v)
                return 1;

        /* Ports, projects and user names belong to one instance each: on a
         * clash (l4d2ctl never makes one) neither instance gets settings. */
        qsort(v, n, sizeof *v, cmp_port);
        for (size_t i = 0; i < n; i++)
                for (size_t k = i + 1; k < n; k++) {
                        bool port = v[k].port <= v[i].port + 1;
                        bool project = v[i].project && v[i].project == v[k].project;
                        bool user = streq(v[i].user, v[k].user);
                        if (port || project || user) {
                                warn("instances '%s' and '%s' share a %s; neither gets unit settings", v[i].name,
                                     v[k].name, port ? "port" : project ? "project id" : "user name");
                                v[i].ok = v[k].ok = false;
                        }
                }
        for (size_t i = 0; i < n; i++) {
                if (!v[i].ok)
                        continue;
                int r = write_instance(out, journald_dir, &v[i], &l, state_dir, config_dir);
                if (r < 0)
                        warn("instance '%s': cannot write its unit settings: %s", v[i].name, strerror(-r));
        }

        journald_confs_prune(journald_dir, v, n);

        /* The disk watch interval is one for all servers. An empty
         * assignment resets every monotonic trigger of the timer, so it
         * comes first. */
        char timer[256];
        snprintf(timer, sizeof timer, "# Generated by left4me-generator (LEFT4ME_DISK_WATCH_INTERVAL).\n"
                                      "[Timer]\nOnActiveSec=\nOnActiveSec=%lds\nOnUnitActiveSec=%lds\n", l.disk_watch_s, l.disk_watch_s);
        int r = write_text(out, "left4me-diskwatch@.timer.d", "50-left4me.conf", timer);
        if (r < 0)
                warn("cannot write the disk watch interval: %s", strerror(-r));
        return 0;
}
