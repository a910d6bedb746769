/* What running instances mount, and the garbage that is left when they no
 * longer do.
 *
 * A retired tree (overlay-store/retired/NAME.*) may still be a lower layer
 * of a running server: it is removed only when no mounted instance can be
 * using it. Two ways to know:
 *
 * - exactly: instance start records, right after its mount, the mount's
 *   unique id and the dev/ino of every overlay tree it stacked
 *   (instances/NAME/mounted). It holds each overlay's publish lock shared
 *   from before the mount until then, so no swap can slip in between. The
 *   record counts only while the merged dir is still that very mount
 *   (STATX_MNT_ID_UNIQUE, never reused; Linux >= 6.8);
 * - conservatively, for mounts nobody recorded (systemd restarting a unit,
 *   servers started at boot, a mount seen from another mount namespace): a
 *   mounted instance whose overlay list names NAME keeps every retired tree
 *   of NAME.
 *
 * A tree retired in the last few seconds is kept too: a mount helper may
 * have opened it just before the swap and not yet mounted it. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "instance.h"
#include "lock.h"
#include "overlay.h"
#include "workshop.h"

#define GC_GRACE_SEC 2
#define LIST_MAX 8192
#define RECORD_MAX (64 * 1024)

/* ---- pins: instance start ---- */

int overlay_pins_take(const HostConfig *c, char *const *names, size_t n, OverlayPins *ret, Error *err) {
        OverlayPins p = { .fds = calloc(n + 1, sizeof(int)), .n = 0 };
        if (!p.fds)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char ln[96], what[96];
                snprintf(ln, sizeof ln, ".overlay-%s.publish", names[i]);
                snprintf(what, sizeof what, "overlay '%s'", names[i]);
                int r = host_lock(c, ln, LOCK_SH, 30000, what, &p.fds[i], err);
                if (r < 0) {
                        overlay_pins_release(&p);
                        return r;
                }
                p.n++;
        }
        *ret = p;
        return 0;
}

void overlay_pins_release(OverlayPins *p) {
        for (size_t i = 0; p->fds && i < p->n; i++)
                close(p->fds[i]);
        free(p->fds);
        *p = (OverlayPins) { 0 };
}

/* The overlay list the helper mounted (instances/NAME/overlays). */
static int read_overlay_list(int state, const char *instance, char ***ret) {
        char rel[96];
        snprintf(rel, sizeof rel, "instances/%s/overlays", instance);
        _cleanup_close_ int fd = path_open_beneath(state, rel, O_RDONLY, 0, PATH_NO_SYMLINKS);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *text = NULL;
        int r = read_fd(fd, LIST_MAX, &text, NULL);
        if (r < 0)
                return r;
        _cleanup_strv_ char **v = calloc(1, sizeof(char *));
        size_t n = 0;
        if (!v)
                return -ENOMEM;
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (name_is_valid(l) && (r = strv_push_dup(&v, &n, l)) < 0)
                        return r;
        *ret = TAKE_PTR(v);
        return 0;
}

void overlay_pins_record(const HostConfig *c, const char *instance, const OverlayPins *p) {
        uint64_t id = 0;
        _cleanup_close_ int dir = instance_mount_dir(c, instance, &id);
        if (dir < 0)
                return;
        _cleanup_close_ int state = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_strv_ char **names = NULL;
        if (id == 0 || state < 0 || read_overlay_list(state, instance, &names) < 0) {
                instance_record_write(dir, "mounted", NULL);
                return;
        }
        json_t *lowers = json_array();
        for (char **n = names; lowers && *n; n++) {
                struct stat st;
                _cleanup_close_ int fd = overlay_open_published(c, *n);
                if (fd < 0 || fstat(fd, &st) < 0) {
                        /* Then the record is not exact: leave none. */
                        json_decref(lowers);
                        instance_record_write(dir, "mounted", NULL);
                        return;
                }
                json_array_append_new(lowers, json_pack("{s:s, s:I, s:I}", "overlay", *n, "dev", (json_int_t) st.st_dev,
                                                        "ino", (json_int_t) st.st_ino));
        }
        instance_record_write(dir, "mounted", json_pack("{s:I, s:o}", "mnt_id", (json_int_t) id, "lowers", lowers));
        (void) p;
}

/* ---- what is mounted now ---- */

typedef struct Mounted {
        char instance[NAME_MAX_LEN + 1];
        char **overlays; /* its overlay list */
        json_t *lowers;  /* exact record, or NULL */
} Mounted;

typedef struct MountedSet {
        Mounted *v;
        size_t n;
} MountedSet;

static void mounted_set_free(MountedSet *s) {
        for (size_t i = 0; i < s->n; i++) {
                strv_free(s->v[i].overlays);
                json_decref(s->v[i].lowers);
        }
        free(s->v);
        *s = (MountedSet) { 0 };
}

static json_t *read_record(int state, const char *instance, const char *merged) {
        char rel[96];
        snprintf(rel, sizeof rel, "instances/%s/mounted", instance);
        _cleanup_close_ int fd = path_open_beneath(state, rel, O_RDONLY, 0, PATH_NO_SYMLINKS);
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (fd < 0 || read_fd(fd, RECORD_MAX, &text, &len) < 0)
                return NULL;
        json_t *j = json_loadb(text, len, 0, NULL);
        uint64_t id = mount_unique_id(merged);
        json_t *lowers = json_object_get(j, "lowers");
        if (id == 0 || (uint64_t) json_integer_value(json_object_get(j, "mnt_id")) != id || !json_is_array(lowers)) {
                json_decref(j);
                return NULL; /* stale: another mount than the one recorded */
        }
        json_incref(lowers);
        json_decref(j);
        return lowers;
}

static int scan_mounted(const HostConfig *c, MountedSet *ret) {
        _cleanup_strv_ char **names = NULL;
        int r = instance_list(c, &names, NULL);
        if (r < 0)
                return r;
        _cleanup_close_ int state = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (state < 0)
                return negative_errno();
        size_t cap = 0;
        for (char **n = names; *n; n++)
                cap++;
        MountedSet s = { .v = calloc(cap + 1, sizeof(Mounted)) };
        if (!s.v)
                return -ENOMEM;
        for (char **n = names; *n; n++) {
                _cleanup_free_ char *merged = NULL;
                if (asprintf(&merged, "%s/runtime/%s/merged", c->state_dir, *n) < 0) {
                        mounted_set_free(&s);
                        return -ENOMEM;
                }
                if (!path_is_mount_point(merged))
                        continue;
                Mounted *m = &s.v[s.n];
                snprintf(m->instance, sizeof m->instance, "%s", *n);
                if (read_overlay_list(state, *n, &m->overlays) < 0)
                        m->overlays = calloc(1, sizeof(char *));
                m->lowers = read_record(state, *n, merged);
                s.n++;
        }
        *ret = s;
        return 0;
}

static bool lists(const Mounted *m, const char *overlay) {
        for (char **o = m->overlays; o && *o; o++)
                if (streq(*o, overlay))
                        return true;
        return false;
}

/* The dev/ino m's exact record holds for overlay, or false. */
static bool recorded(const Mounted *m, const char *overlay, dev_t *dev, ino_t *ino) {
        size_t i;
        json_t *l;
        json_array_foreach(m->lowers, i, l)
                if (streq(json_string_value(json_object_get(l, "overlay")) ?: "", overlay)) {
                        *dev = (dev_t) json_integer_value(json_object_get(l, "dev"));
                        *ino = (ino_t) json_integer_value(json_object_get(l, "ino"));
                        return true;
                }
        return false;
}

static bool tree_in_use(const MountedSet *s, const char *overlay, const struct stat *st) {
        for (size_t i = 0; i < s->n; i++) {
                const Mounted *m = &s->v[i];
                if (!m->lowers) {
                        if (lists(m, overlay))
                                return true;
                        continue;
                }
                size_t k;
                json_t *l;
                json_array_foreach(m->lowers, k, l)
                        if ((dev_t) json_integer_value(json_object_get(l, "dev")) == st->st_dev &&
                            (ino_t) json_integer_value(json_object_get(l, "ino")) == st->st_ino)
                                return true;
        }
        return false;
}

int overlay_running_users(const HostConfig *c, const char *name, json_t **ret, Error *err) {
        MountedSet s = { 0 };
        int r = scan_mounted(c, &s);
        if (r < 0)
                return error_set(err, r, "cannot find the running instances: %s", strerror(-r));
        struct stat pub;
        _cleanup_close_ int fd = overlay_open_published(c, name);
        bool have_pub = fd >= 0 && fstat(fd, &pub) == 0;
        json_t *a = json_array();
        for (size_t i = 0; a && i < s.n; i++) {
                const Mounted *m = &s.v[i];
                dev_t dev;
                ino_t ino;
                if (m->lowers) {
                        if (!recorded(m, name, &dev, &ino))
                                continue;
                        bool outdated = !have_pub || dev != pub.st_dev || ino != pub.st_ino;
                        json_array_append_new(a, json_pack("{s:s, s:b}", "instance", m->instance, "outdated", outdated));
                } else if (lists(m, name))
                        json_array_append_new(a, json_pack("{s:s, s:n}", "instance", m->instance, "outdated"));
        }
        mounted_set_free(&s);
        if (!a)
                return -ENOMEM;
        *ret = a;
        return 0;
}

/* ---- garbage ---- */

/* The overlay an entry of staging/ or retired/ belongs to (NAME.<time>.<hex>). */
static bool entry_overlay(const char *entry, char *buf, size_t size) {
        const char *dot = strchr(entry, '.');
        if (!dot || (size_t) (dot - entry) >= size)
                return false;
        snprintf(buf, size, "%.*s", (int) (dot - entry), entry);
        return name_is_valid(buf);
}

/* Trees a crashed build left in staging/ may include an old published tree
 * (a crash between the swap and the retire): never delete them from here,
 * retire them and let the mount check decide. */
static void sweep_staging(const HostConfig *c, int retired, time_t now) {
        _cleanup_close_ int staging = overlay_store_open(c, "staging", NULL);
        DIR *d = staging >= 0 ? fdopendir(fcntl(staging, F_DUPFD_CLOEXEC, 3)) : NULL;
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                char overlay[NAME_MAX_LEN + 1], ln[96];
                struct stat st;
                if (!entry_overlay(de->d_name, overlay, sizeof overlay) ||
                    fstatat(staging, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || now - st.st_ctime < GC_GRACE_SEC)
                        continue;
                snprintf(ln, sizeof ln, ".overlay-%s.build", overlay);
                if (!host_lock_is_held(c, ln))
                        (void) renameat(staging, de->d_name, retired, de->d_name);
        }
        closedir(d);
}

void overlay_gc(const HostConfig *c) {
        _cleanup_close_ int lock = -1;
        if (host_lock(c, ".overlay-gc", LOCK_EX, 0, "overlay GC", &lock, NULL) < 0)
                return; /* another l4d2ctl is collecting */
        _cleanup_close_ int retired = overlay_store_open(c, "retired", NULL);
        if (retired < 0)
                return;
        time_t now = time(NULL);
        sweep_staging(c, retired, now);
        MountedSet s = { 0 };
        if (scan_mounted(c, &s) < 0)
                return;
        DIR *d = fdopendir(fcntl(retired, F_DUPFD_CLOEXEC, 3));
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        char overlay[NAME_MAX_LEN + 1];
                        struct stat st;
                        if (!entry_overlay(de->d_name, overlay, sizeof overlay) ||
                            fstatat(retired, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        if (now - st.st_ctime < GC_GRACE_SEC || tree_in_use(&s, overlay, &st))
                                continue;
                        (void) rm_rf_at(retired, de->d_name);
                }
                closedir(d);
        }
        mounted_set_free(&s);
        workshop_cache_gc(c);
}

unsigned overlay_retired_count(const HostConfig *c, const char *name) {
        _cleanup_close_ int retired = path_open_beneath_dir(c->state_dir, "overlay-store/retired",
                                                            O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        DIR *d = retired >= 0 ? fdopendir(TAKE_FD(retired)) : NULL;
        if (!d)
                return 0;
        unsigned n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                char overlay[NAME_MAX_LEN + 1];
                if (entry_overlay(de->d_name, overlay, sizeof overlay) && streq(overlay, name))
                        n++;
        }
        closedir(d);
        return n;
}
