#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "config.h"
#include "envfile.h"
#include "strutil.h"
#include "build-config.h"


/* A setting: the environment wins over host.env, which wins over the default. */
static int setting(const HostConfig *c, const char *key, char **ret) {
        const char *v = getenv(key);
        if (v && *v) {
                *ret = strdup(v);
                return *ret ? 1 : -ENOMEM;
        }
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/host.env", c->config_dir);
        return envfile_get(path, key, ret);
}

int config_setting(const HostConfig *c, const char *key, char **ret) {
        return setting(c, key, ret);
}

static int setting_long(const HostConfig *c, const char *key, long min, long max, long *val, Error *err) {
        _cleanup_free_ char *s = NULL;
        int r = setting(c, key, &s);
        if (r < 0)
                return error_set(err, r, "cannot read %s/host.env: %s", c->config_dir, strerror(-r));
        if (r == 0)
                return 0;
        if (parse_long(s, min, max, val) < 0)
                return error_set(err, -EINVAL, "%s='%s' is not a number from %ld to %ld", key, s, min, max);
        return 0;
}

/* A size: a whole number with an optional K, M, G or T suffix (powers of
 * 1024), or "infinity"/"0" for none. */
static int setting_size(const HostConfig *c, const char *key, uint64_t *val, Error *err) {
        _cleanup_free_ char *s = NULL;
        int r = setting(c, key, &s);
        if (r < 0)
                return error_set(err, r, "cannot read %s/host.env: %s", c->config_dir, strerror(-r));
        if (r == 0)
                return 0;
        if (parse_size(s, val) < 0)
                return error_set(err, -EINVAL, "%s='%s' is not a size (a number with K, M, G or T, or infinity)", key, s);
        return 0;
}

int config_setting_long(const HostConfig *c, const char *key, long min, long max, long *val, Error *err) {
        return setting_long(c, key, min, max, val, err);
}

int config_setting_size(const HostConfig *c, const char *key, uint64_t *val, Error *err) {
        return setting_size(c, key, val, err);
}

static int load_containment(HostConfig *c, Error *err) {
        c->uid_min = 800000;
        c->uid_max = 800999;
        c->memory_max = 768ULL << 20;
        c->tasks_max = 256;
        c->cpu_percent = 100;
        c->disk_max = 4ULL << 30;
        c->disk_watch_s = 30;
        c->probe_interval_s = 10;
        c->probe_misses = 3;
        c->unresponsive_restart = true;
        c->install_stall_s = 600;

        _cleanup_free_ char *range = NULL;
        int r = setting(c, "LEFT4ME_SERVER_UID_RANGE", &range);
        if (r < 0)
                return r;
        if (r > 0) {
                char *dash = strchr(range, '-');
                long lo, hi;
                if (dash)
                        *dash = '\0';
                if (!dash || parse_long(range, 1000, 0x7fffffffL, &lo) < 0 || parse_long(dash + 1, 1000, 0x7fffffffL, &hi) < 0 ||
                    hi < lo)
                        return error_set(err, -EINVAL, "LEFT4ME_SERVER_UID_RANGE must be FIRST-LAST, two uids from 1000 up "
                                                       "(e.g. 800000-800999)");
                c->uid_min = (uid_t) lo;
                c->uid_max = (uid_t) hi;
        }
        if (setting(c, "LEFT4ME_BWRAP", &c->bwrap) <= 0 && !(c->bwrap = strdup("bwrap")))
                return -ENOMEM;
        _cleanup_free_ char *sandbox = NULL;
        if ((r = setting(c, "LEFT4ME_SANDBOX", &sandbox)) < 0)
                return r;
        if (r == 0 || streq(sandbox, "auto"))
                c->sandbox = SANDBOX_AUTO;
        else if (streq(sandbox, "required"))
                c->sandbox = SANDBOX_REQUIRED;
        else if (streq(sandbox, "off"))
                c->sandbox = SANDBOX_OFF;
        else
                return error_set(err, -EINVAL, "LEFT4ME_SANDBOX='%s' is not one of auto, required, off", sandbox);
        if ((r = setting_size(c, "LEFT4ME_SERVER_MEMORY_MAX", &c->memory_max, err)) < 0 ||
            (r = setting_size(c, "LEFT4ME_SERVER_DISK_MAX", &c->disk_max, err)) < 0 ||
            (r = setting_long(c, "LEFT4ME_SERVER_TASKS_MAX", 0, 1L << 22, &c->tasks_max, err)) < 0 ||
            (r = setting_long(c, "LEFT4ME_SERVER_CPU_QUOTA", 0, 100000, &c->cpu_percent, err)) < 0 ||
            (r = setting_long(c, "LEFT4ME_DISK_WATCH_INTERVAL", 1, 86400, &c->disk_watch_s, err)) < 0 ||
            (r = setting_long(c, "LEFT4ME_PROBE_INTERVAL", 0, 3600, &c->probe_interval_s, err)) < 0 ||
            (r = setting_long(c, "LEFT4ME_PROBE_MISSES", 1, 1000, &c->probe_misses, err)) < 0 ||
            (r = setting_long(c, "LEFT4ME_INSTALL_STALL_TIMEOUT", 1, 86400, &c->install_stall_s, err)) < 0)
                return r;
        if (c->memory_max && c->memory_max < (16ULL << 20))
                return error_set(err, -EINVAL, "LEFT4ME_SERVER_MEMORY_MAX must be at least 16M (or infinity)");
        _cleanup_free_ char *policy = NULL;
        if ((r = setting(c, "LEFT4ME_UNRESPONSIVE", &policy)) < 0)
                return r;
        if (r > 0 && !streq(policy, "restart") && !streq(policy, "report"))
                return error_set(err, -EINVAL, "LEFT4ME_UNRESPONSIVE='%s' is not one of restart, report", policy);
        c->unresponsive_restart = r == 0 || streq(policy, "restart");
        return 0;
}

int config_load(HostConfig *c, const char *state_dir_flag, Error *err) {
        *c = (HostConfig) { .port_min = 27000, .port_max = 27999 };
        const char *cfg = getenv("LEFT4ME_CONFIG_DIR");
        c->config_dir = strdup(cfg && *cfg ? cfg : "/etc/left4me");
        if (!c->config_dir)
                return -ENOMEM;

        if (state_dir_flag)
                c->state_dir = strdup(state_dir_flag);
        else if (setting(c, "LEFT4ME_STATE_DIR", &c->state_dir) <= 0)
                c->state_dir = strdup("/var/lib/left4me");
        if (!c->state_dir)
                return -ENOMEM;
        if (c->state_dir[0] != '/') {
                /* Relative paths would change meaning for the supervisor and
                 * the helper, which run elsewhere: make it absolute now. */
                char *abs = realpath(c->state_dir, NULL);
                if (!abs)
                        return error_set(err, negative_errno(), "state dir '%s': %s", c->state_dir, strerror(errno));
                free(c->state_dir);
                c->state_dir = abs;
        }
        /* The admin's path may go through symlinks (/srv -> /data/srv);
         * below it, nothing is followed. */
        char *canonical = realpath(c->state_dir, NULL);
        if (canonical) {
                free(c->state_dir);
                c->state_dir = canonical;
        }
        size_t n = strlen(c->state_dir);
        while (n > 1 && c->state_dir[n - 1] == '/')
                c->state_dir[--n] = '\0';

        int r = setting_long(c, "LEFT4ME_PORT_RANGE_START", 1024, 65534, &c->port_min, err);
        if (r < 0)
                return r;
        r = setting_long(c, "LEFT4ME_PORT_RANGE_END", 1025, 65535, &c->port_max, err);
        if (r < 0)
                return r;
        if (c->port_max <= c->port_min)
                return error_set(err, -EINVAL, "port range %ld-%ld is empty: LEFT4ME_PORT_RANGE_END must be above _START",
                                 c->port_min, c->port_max);

        if (setting(c, "LEFT4ME_STEAMCMD", &c->steamcmd) <= 0 && !(c->steamcmd = strdup("steamcmd")))
                return -ENOMEM;

        c->self_exe = realpath("/proc/self/exe", NULL);
        if (!c->self_exe)
                return negative_errno();

        if (setting(c, "LEFT4ME_OVERLAY_HELPER", &c->overlay_helper) <= 0) {
                /* Next to this binary in a build tree (src/ctl -> src/helpers),
                 * else where the package installs it. */
                char path[PATH_MAX];
                char *slash = strrchr(c->self_exe, '/');
                snprintf(path, sizeof path, "%.*s/../helpers/left4me-overlay", (int) (slash - c->self_exe), c->self_exe);
                if (access(path, X_OK) == 0)
                        c->overlay_helper = realpath(path, NULL);
                else
                        c->overlay_helper = strdup(LEFT4ME_LIBEXECDIR "/left4me-overlay");
                if (!c->overlay_helper)
                        return -ENOMEM;
        }

        if ((r = load_containment(c, err)) < 0)
                return r;
        if (geteuid() == 0) {
                _cleanup_free_ char *user = NULL;
                r = setting(c, "LEFT4ME_SERVER_USER", &user);
                if (r < 0)
                        return r;
                if (r > 0) {
                        struct passwd *pw = getpwnam(user);
                        if (!pw)
                                return error_set(err, -ENOENT, "LEFT4ME_SERVER_USER='%s': no such user", user);
                        c->shared_user = true;
                        if (pw->pw_uid != 0) {
                                c->drop_user = true;
                                c->server_uid = pw->pw_uid;
                                c->server_gid = pw->pw_gid;
                        }
                }
                struct passwd *pw = r > 0 ? getpwnam(user) : getpwnam("left4me");
                if (!pw)
                        pw = getpwnam("nobody");
                if (pw && pw->pw_uid != 0) {
                        c->unit_user = true;
                        c->unit_uid = pw->pw_uid;
                        c->unit_gid = pw->pw_gid;
                }
        }

        _cleanup_free_ char *backend = NULL;
        r = setting(c, "LEFT4ME_BACKEND", &backend);
        if (r < 0)
                return r;
        if (r == 0 || streq(backend, "auto"))
                c->backend = backend_systemd_available() ? BACKEND_SYSTEMD : BACKEND_SUPERVISOR;
        else if (streq(backend, "systemd"))
                c->backend = BACKEND_SYSTEMD;
        else if (streq(backend, "supervisor"))
                c->backend = BACKEND_SUPERVISOR;
        else
                return error_set(err, -EINVAL, "LEFT4ME_BACKEND='%s' is not one of auto, systemd, supervisor", backend);
        return 0;
}

void config_free(HostConfig *c) {
        free(c->state_dir);
        free(c->config_dir);
        free(c->steamcmd);
        free(c->overlay_helper);
        free(c->self_exe);
        free(c->bwrap);
        *c = (HostConfig) { 0 };
}

char *config_path(const HostConfig *c, const char *a, const char *b) {
        char *p = NULL;
        int r = b ? asprintf(&p, "%s/%s/%s", c->state_dir, a, b) : asprintf(&p, "%s/%s", c->state_dir, a);
        return r < 0 ? NULL : p;
}
