/* Host configuration: where state lives, the port range, which programs to
 * run. Resolved once per l4d2ctl invocation from flags, the environment
 * (LEFT4ME_*) and <config>/host.env, in that order of precedence. */
#pragma once

#include <stdbool.h>
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
        /* Supervisor backend, l4d2ctl running as root: the user the game
         * server runs as (LEFT4ME_SERVER_USER, else left4me if it exists,
         * else nobody). An internet-facing game server never runs as root
         * unless LEFT4ME_SERVER_USER=root says so. */
        bool drop_user;
        uid_t server_uid;
        gid_t server_gid;
} HostConfig;

/* state_dir_flag may be NULL (then LEFT4ME_STATE_DIR, then the default). */
int config_load(HostConfig *c, const char *state_dir_flag, Error *err);
void config_free(HostConfig *c);

/* One setting by key: the environment, else <config>/host.env. Returns 1 and
 * a malloc'ed *ret if set, 0 if not (*ret untouched), -errno on error. Used by
 * modules with settings of their own (the Workshop's LEFT4ME_STEAM_API_URL...). */
int config_setting(const HostConfig *c, const char *key, char **ret);

/* Paths below the state dir, malloc'ed: e.g. config_path(c, "instances", name). */
char *config_path(const HostConfig *c, const char *a, const char *b);
