#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "fs.h"
#include "instance.h"
#include "process.h"
#include "steamcmd.h"
#include "strutil.h"

extern char **environ;

bool steamcmd_parse_progress(char *buf, InstallProgress *ret) {
        char *p = strstr(buf, "Update state (");
        if (!p)
                return false;
        p = strchr(p, ')');
        if (!p || p[1] != ' ')
                return false;
        char *state = p + 2;
        char *comma = strstr(state, ", progress: ");
        if (!comma)
                return false;
        *comma = '\0';
        char *num = comma + strlen(", progress: ");
        char *end;
        double pct = strtod(num, &end);
        if (end == num || pct < 0 || pct > 100)
                return false;
        unsigned long long done = 0, total = 0;
        if (sscanf(end, " (%llu / %llu)", &done, &total) != 2)
                done = total = 0;
        *ret = (InstallProgress) { .state = state, .percent = pct, .done = done, .total = total };
        return true;
}

typedef struct Pass {
        const char *phase;
        install_cb cb;
        void *userdata;
        bool success;
        bool invalid_platform;
        char last_error[256];
} Pass;

static int on_line(const char *line, void *userdata) {
        Pass *p = userdata;
        if (p->cb)
                p->cb(line, NULL, p->userdata);
        char copy[4097];
        snprintf(copy, sizeof copy, "%s", line);
        InstallProgress pr;
        if (steamcmd_parse_progress(copy, &pr)) {
                pr.phase = p->phase;
                if (p->cb)
                        p->cb(line, &pr, p->userdata);
        }
        if (strstr(line, "Success! App '" L4D2_APP_ID "'") && (strstr(line, "fully installed") || strstr(line, "already up to date")))
                p->success = true;
        if (strstr(line, "Invalid platform"))
                p->invalid_platform = true;
        if (strncasecmp(line, "ERROR!", 6) == 0 || strncasecmp(line, "Error!", 6) == 0 || strstr(line, "FAILED"))
                snprintf(p->last_error, sizeof p->last_error, "%s", line);
        return 0;
}

static int run_pass(const HostConfig *c, char **envp, const char *dir, const char *platform, bool validate, Pass *p,
                    Error *err) {
        char *argv[] = { c->steamcmd,
                         (char *) "+force_install_dir", (char *) dir,
                         (char *) "+login", (char *) "anonymous",
                         (char *) "+@sSteamCmdForcePlatformType", (char *) platform,
                         (char *) "+app_update", (char *) L4D2_APP_ID,
                         validate ? (char *) "validate" : NULL, (char *) "+quit", NULL };
        if (!validate) {
                argv[9] = (char *) "+quit";
                argv[10] = NULL;
        }
        p->phase = platform;
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        o.envp = envp;
        o.search_path = true;
        o.cwd = c->state_dir;
        int exit_code;
        int r = spawn_lines(argv, &o, on_line, p, &exit_code);
        if (r == -ENOENT)
                return error_set(err, r, "steamcmd '%s' not found: install it (Debian: apt install steamcmd, from "
                                 "non-free) or set LEFT4ME_STEAMCMD", c->steamcmd);
        if (r < 0)
                return error_set(err, r, "cannot run steamcmd '%s': %s", c->steamcmd, strerror(-r));
        return 0;
}

int steamcmd_install(const HostConfig *c, bool validate, bool force, install_cb cb, void *userdata, Error *err) {
        int r = state_dirs_ensure(c, err);
        if (r < 0)
                return r;

        /* Lock first, then look: start takes this lock shared, so no
         * instance can start between the check and the update. */
        _cleanup_close_ int lock = -1;
        if ((r = instance_lock(c, ".install", &lock, err)) < 0)
                return r;

        if (!force) {
                _cleanup_strv_ char **names = NULL;
                if ((r = instance_list(c, &names, err)) < 0)
                        return r;
                Buf running = BUF_INIT(512);
                for (char **n = names; *n; n++) {
                        BackendStatus st;
                        if (backend_get(c)->status(c, *n, &st, NULL) == 0 &&
                            (st.state == STATE_RUNNING || st.state == STATE_STARTING ||
                             st.state == STATE_UNRESPONSIVE))
                                buf_printf(&running, "%s%s", running.len ? ", " : "", *n);
                }
                if (running.len) {
                        r = error_set(err, -EBUSY, "instances are running (%s): stop them first, or pass --force",
                                      running.data);
                        buf_free(&running);
                        return r;
                }
        }


        _cleanup_free_ char *dir = config_path(c, "installation", NULL);
        _cleanup_free_ char *home = config_path(c, "steam", NULL);
        _cleanup_free_ char *srcds = config_path(c, "installation", "srcds_run");
        if (!dir || !home || !srcds)
                return -ENOMEM;
        if ((r = mkdir_p(dir, 0755)) < 0 || (r = mkdir_p(home, 0755)) < 0)
                return error_set(err, r, "cannot create '%s' or '%s': %s", dir, home, strerror(-r));

        /* steamcmd keeps its own files under $HOME/Steam: give it ours. */
        _cleanup_strv_ char **envp = NULL;
        size_t n = 0;
        for (char **e = environ; *e; e++)
                if (!startswith(*e, "HOME=") && (r = strv_push_dup(&envp, &n, *e)) < 0)
                        return r;
        char *h = NULL;
        if (asprintf(&h, "HOME=%s", home) < 0 || strv_push(&envp, &n, h) < 0) {
                free(h);
                return -ENOMEM;
        }

        bool fresh = access(srcds, X_OK) < 0;
        Pass p = { .cb = cb, .userdata = userdata };
        if (!fresh) {
                if ((r = run_pass(c, envp, dir, "linux", validate, &p, err)) < 0)
                        return r;
                if (p.success && access(srcds, X_OK) == 0)
                        return 0;
                if (!p.invalid_platform)
                        goto failed;
        }
        /* Fresh install (or the update hit "Invalid platform"). */
        p = (Pass) { .cb = cb, .userdata = userdata };
        if ((r = run_pass(c, envp, dir, "windows", false, &p, err)) < 0)
                return r;
        if (!p.success)
                goto failed;
        p = (Pass) { .cb = cb, .userdata = userdata };
        if ((r = run_pass(c, envp, dir, "linux", true, &p, err)) < 0)
                return r;
        if (p.success && access(srcds, X_OK) == 0)
                return 0;
failed:
        if (p.success)
                return error_set(err, -EIO, "steamcmd reported success but '%s' has no srcds_run", dir);
        return error_set(err, -EIO, "steamcmd failed (%s pass): %s", p.phase,
                         p.last_error[0] ? p.last_error : "it never reported \"Success! App '222860' fully installed\"");
}
