/* Host configuration: where state lives, the port range, which programs to
 * run. Resolved once per l4d2ctl invocation from flags, the environment
 * (LEFT4ME_*) and <config>/host.env, in that order of precedence. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

typedef enum BackendKind {
        BACKEND_AUTO,
        BACKEND_SYSTEMD,
        BACKEND_SUPERVISOR,
} BackendKind;

typedef struct HostConfig {
        char *state_dir;      /* /var/lib/left4me */
        char *config_dir;     /* /etc/left4me */
        long port_min, port_max; /* 27000-27999: game port and SourceTV port (+1) */
        char *steamcmd;       /* LEFT4ME_STEAMCMD, else "steamcmd" from PATH */
        char *overlay_helper; /* LEFT4ME_OVERLAY_HELPER, else beside l4d2ctl, else libexec */
        char *self_exe;       /* this l4d2ctl, for the supervisor to re-exec */
        BackendKind backend;  /* resolved: never BACKEND_AUTO after config_load */
        /* Supervisor backend, l4d2ctl running as root: every server runs as
         * a uid of its own from LEFT4ME_SERVER_UID_RANGE (default
         * 800000-800999, gid = uid, no supplementary groups), fixed per
         * instance at initialize, like systemd's DynamicUser. Setting
         * LEFT4ME_SERVER_USER instead runs every server as that one user
         * (shared_user; `root` means no switch at all: development only). */
        uid_t uid_min, uid_max;
        bool shared_user;     /* LEFT4ME_SERVER_USER is set */
        bool drop_user;       /* shared_user and it is not root */
        uid_t server_uid;     /* the shared user */
        gid_t server_gid;
        /* systemd backend, l4d2ctl as root: whether start hands the upper
         * layer over (server_hand_over: to the state dir's owner, onto whom
         * the overlay helper maps the unit's dynamic user). */
        bool unit_user;
        uid_t unit_uid;
        gid_t unit_gid;
        /* Containment under the supervisor backend (host.env). */
        char *bwrap;          /* LEFT4ME_BWRAP, else "bwrap" from PATH */
        int sandbox;          /* LEFT4ME_SANDBOX: SANDBOX_AUTO, _REQUIRED or _OFF */
        uint64_t memory_max;  /* LEFT4ME_SERVER_MEMORY_MAX bytes (768M), 0 = none */
        long tasks_max;       /* LEFT4ME_SERVER_TASKS_MAX (256), 0 = none */
        long cpu_percent;     /* LEFT4ME_SERVER_CPU_QUOTA, % of one core (100), 0 = none */
        uint64_t disk_max;    /* LEFT4ME_SERVER_DISK_MAX bytes of upper layer (4G), 0 = none */
        long disk_watch_s;    /* LEFT4ME_DISK_WATCH_INTERVAL (30 s): the size watch without quotas */
        long probe_interval_s; /* LEFT4ME_PROBE_INTERVAL (10 s), 0 = no A2S probes */
        long probe_misses;    /* LEFT4ME_PROBE_MISSES (3): missed probes that make it unresponsive */
        bool unresponsive_restart; /* LEFT4ME_UNRESPONSIVE=restart (default) | report */
        long install_stall_s; /* LEFT4ME_INSTALL_STALL_TIMEOUT (600 s without output) */
} HostConfig;

enum { SANDBOX_AUTO, SANDBOX_REQUIRED, SANDBOX_OFF };

/* state_dir_flag may be NULL (then LEFT4ME_STATE_DIR, then the default). */
int config_load(HostConfig *c, const char *state_dir_flag, Error *err);
void config_free(HostConfig *c);

/* One setting by key: the environment, else <config>/host.env. Returns 1 and
 * a malloc'ed *ret if set, 0 if not (*ret untouched), -errno on error. Used by
 * modules with settings of their own (the Workshop's LEFT4ME_STEAM_API_URL...). */
int config_setting(const HostConfig *c, const char *key, char **ret);
/* The same, parsed: a number in [min, max], or a size (K, M, G, T;
 * "infinity" or 0 for none). *val keeps its value (the default) when the
 * setting is not there; err names the key and the value when it is bad. */
int config_setting_long(const HostConfig *c, const char *key, long min, long max, long *val, Error *err);
int config_setting_size(const HostConfig *c, const char *key, uint64_t *val, Error *err);

/* Paths below the state dir, malloc'ed: e.g. config_path(c, "instances", name). */
char *config_path(const HostConfig *c, const char *a, const char *b);
