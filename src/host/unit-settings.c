/* See unit-settings.h. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "macro.h"
#include "serveruid.h"
#include "strutil.h"
#include "unit-settings.h"
#include "unit.h"

#define SETTINGS_FILE "systemd.env"
#define RELOAD_UNIT "left4me-units.service"
/* Where left4me-generator puts an instance's drop-in (the normal-priority
 * generator dir of the system manager). */
#define GENERATED_DROPIN "/run/systemd/generator/left4me-server@%s.service.d/50-left4me-instance.conf"

static bool newer_or_same(const struct stat *a, const struct stat *b) {
        return a->st_mtim.tv_sec > b->st_mtim.tv_sec ||
               (a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec >= b->st_mtim.tv_nsec);
}

/* The generator's drop-in exists and was made from the current settings. */
static bool loaded(const char *name, int dir_fd) {
        char path[256];
        snprintf(path, sizeof path, GENERATED_DROPIN, name);
        struct stat gen, env;
        return stat(path, &gen) == 0 && fstatat(dir_fd, SETTINGS_FILE, &env, AT_SYMLINK_NOFOLLOW) == 0 &&
               newer_or_same(&gen, &env);
}

int unit_settings_sync(const HostConfig *c, const char *name, long port, Error *err) {
        if (c->backend != BACKEND_SYSTEMD)
                return 0;
        char rel[64];
        snprintf(rel, sizeof rel, "instances/%s", name);
        _cleanup_close_ int dir = path_open_beneath_dir(c->state_dir, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (dir < 0)
                return error_set(err, dir, "instance '%s': cannot open %s/%s: %s", name, c->state_dir, rel, strerror(-dir));
        /* The server runs as a dynamic user: it reaches launch.json by name,
         * it cannot list the folder, and instance.json (0600) stays closed. */
        struct stat st;
        if (fstat(dir, &st) < 0 || ((st.st_mode & 07777) != 0711 && fchmod(dir, 0711) < 0))
                return error_set(err, negative_errno(), "instance '%s': cannot open %s/%s to its server: %m", name,
                                 c->state_dir, rel);

        /* The project quota id is the instance's own uid (serveruid.h). */
        uid_t project = 0;
        (void) server_uid_stored(c, name, &project);
        char text[256];
        snprintf(text, sizeof text,
                 "# Written by l4d2ctl; left4me-generator (root) turns it into the drop-in of\n"
                 "# left4me-server@%s.service at the next daemon-reload.\n"
                 "PORT=%ld\nPROJECT=%u\n",
                 name, port, (unsigned) project);
        _cleanup_free_ char *old = NULL;
        bool same = read_file_at(dir, SETTINGS_FILE, sizeof text, &old, NULL) >= 0 && streq(old, text);
        if (!same) {
                int r = write_file_atomic_flags(dir, SETTINGS_FILE, text, strlen(text), 0644, 0);
                if (r < 0)
                        return error_set(err, r, "instance '%s': cannot write %s/%s/%s: %s", name, c->state_dir, rel,
                                         SETTINGS_FILE, strerror(-r));
        }
        if (same && loaded(name, dir))
                return 0;
        int r = unit_start_named(RELOAD_UNIT, err);
        if (r < 0)
                return error_prefix(err, r, "instance '%s': cannot have systemd load its settings", name);
        if (!loaded(name, dir))
                return error_set(err, -EINVAL, "instance '%s': left4me-generator made no unit settings for it (its "
                                 "reason is in the system journal: journalctl -b | grep left4me-generator)", name);
        return 0;
}

void unit_settings_forget(const HostConfig *c, const char *name) {
        char path[256];
        snprintf(path, sizeof path, GENERATED_DROPIN, name);
        if (c->backend == BACKEND_SYSTEMD && access(path, F_OK) == 0)
                (void) unit_start_named(RELOAD_UNIT, NULL);
}
