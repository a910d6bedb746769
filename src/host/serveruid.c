/* See serveruid.h. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "fs.h"
#include "macro.h"
#include "instance.h"
#include "serveruid.h"
#include "strutil.h"

#define INSTANCE_JSON_MAX (1024 * 1024)

static json_t *instance_json(const HostConfig *c, const char *name) {
        char rel[128];
        snprintf(rel, sizeof rel, "instances/%s/instance.json", name);
        _cleanup_close_ int fd = path_open_beneath_dir(c->state_dir, rel, O_RDONLY, 0, PATH_NO_SYMLINKS);
        if (fd < 0)
                return NULL;
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (read_fd(fd, INSTANCE_JSON_MAX, &text, &len) < 0)
                return NULL;
        return json_loadb(text, len, 0, NULL);
}

int server_uid_stored(const HostConfig *c, const char *name, uid_t *ret) {
        if (!name_is_valid(name))
                return 0;
        json_t *j = instance_json(c, name);
        json_t *u = json_object_get(j, "uid");
        int r = 0;
        if (json_is_integer(u) && json_integer_value(u) >= 1000 && json_integer_value(u) <= 0x7fffffff) {
                *ret = (uid_t) json_integer_value(u);
                r = 1;
        }
        json_decref(j);
        return r;
}

int server_uid_allocate(const HostConfig *c, const char *self, uid_t *ret, Error *err) {
        _cleanup_strv_ char **names = NULL;
        int r = instance_list(c, &names, err);
        if (r < 0)
                return r;
        size_t n = 0;
        for (char **p = names; *p; p++)
                n++;
        _cleanup_free_ uid_t *used = calloc(n + 1, sizeof(uid_t));
        if (!used)
                return -ENOMEM;
        size_t k = 0;
        for (char **p = names; *p; p++)
                if (!streq(*p, self) && server_uid_stored(c, *p, &used[k]) > 0)
                        k++;
        for (uid_t u = c->uid_min; u <= c->uid_max && u >= c->uid_min; u++) {
                bool taken = false;
                for (size_t i = 0; i < k && !taken; i++)
                        taken = used[i] == u;
                if (taken || getpwuid(u))
                        continue;
                *ret = u;
                return 0;
        }
        return error_set(err, -EUSERS, "no free server uid left in LEFT4ME_SERVER_UID_RANGE %u-%u: widen it in host.env",
                         (unsigned) c->uid_min, (unsigned) c->uid_max);
}

/* Stores a newly allocated uid into an instance initialized without one. */
static int store_uid(const HostConfig *c, const char *name, uid_t uid, Error *err) {
        json_t *j = instance_json(c, name);
        if (!j)
                return error_set(err, -EBADMSG, "instance '%s': cannot read its instance.json", name);
        json_object_set_new(j, "uid", json_integer(uid));
        _cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        json_decref(j);
        if (!text)
                return -ENOMEM;
        char rel[128];
        snprintf(rel, sizeof rel, "instances/%s", name);
        _cleanup_close_ int dfd = path_open_beneath_dir(c->state_dir, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (dfd < 0)
                return error_set(err, dfd, "instance '%s': cannot open its directory: %s", name, strerror(-dfd));
        int r = write_file_atomic_at(dfd, "instance.json", text, strlen(text), 0600);
        return r < 0 ? error_set(err, r, "instance '%s': cannot store its uid: %s", name, strerror(-r)) : 0;
}

int server_identity(const HostConfig *c, const char *name, ServerIdentity *ret, Error *err) {
        ServerIdentity id = { 0 };
        if (geteuid() != 0) {
                snprintf(id.note, sizeof id.note, "no uid of its own: l4d2ctl is not root, the server runs as uid %u",
                         (unsigned) geteuid());
        } else if (c->shared_user) {
                if (c->drop_user) {
                        id.switch_user = true;
                        id.uid = c->server_uid;
                        id.gid = c->server_gid;
                        snprintf(id.note, sizeof id.note, "no uid of its own: LEFT4ME_SERVER_USER runs every server as uid %u",
                                 (unsigned) c->server_uid);
                } else
                        snprintf(id.note, sizeof id.note, "runs as root: LEFT4ME_SERVER_USER=root (development only)");
        } else {
                uid_t uid;
                int r = server_uid_stored(c, name, &uid);
                if (r == 0) {
                        _cleanup_close_ int plock = -1;
                        if ((r = instance_lock(c, ".ports", &plock, err)) < 0)
                                return r;
                        if ((r = server_uid_stored(c, name, &uid)) == 0) {
                                if ((r = server_uid_allocate(c, name, &uid, err)) < 0 ||
                                    (r = store_uid(c, name, uid, err)) < 0)
                                        return r;
                        }
                }
                id.switch_user = true;
                id.uid = uid;
                id.gid = (gid_t) uid;
        }
        *ret = id;
        return 0;
}

int server_hand_over(const HostConfig *c, const char *name, int rtdir, int upper, int cfg, Error *err) {
        ServerIdentity id = { .switch_user = c->unit_user, .uid = c->unit_uid, .gid = c->unit_gid };
        int r;
        if (c->backend == BACKEND_SUPERVISOR && (r = server_identity(c, name, &id, err)) < 0)
                return r;
        /* Under systemd the server is a dynamic user whose overlay maps the
         * state dir's owner onto it (left4me-overlay --server-user): the
         * upper layer belongs to that owner on disk. */
        struct stat st;
        if (c->backend == BACKEND_SYSTEMD && c->unit_user && stat(c->state_dir, &st) == 0 && st.st_uid != 0)
                id = (ServerIdentity) { .switch_user = true, .uid = st.st_uid, .gid = st.st_gid };
        if (!id.switch_user)
                return 0;
        bool own_runtime = c->backend == BACKEND_SUPERVISOR;
        _cleanup_close_ int l4d2 = path_open_beneath(upper, "left4dead2", O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if ((own_runtime && (fchownat(rtdir, "", id.uid, id.gid, AT_EMPTY_PATH) < 0 || fchmod(rtdir, 0700) < 0)) ||
            fchownat(upper, "", id.uid, id.gid, AT_EMPTY_PATH) < 0 || l4d2 < 0 ||
            fchownat(l4d2, "", id.uid, id.gid, AT_EMPTY_PATH) < 0 || fchownat(cfg, "", id.uid, id.gid, AT_EMPTY_PATH) < 0 ||
            fchownat(cfg, "server.cfg", id.uid, id.gid, AT_SYMLINK_NOFOLLOW) < 0)
                return error_set(err, negative_errno(), "instance '%s': cannot hand the upper layer to uid %u: %m", name,
                                 (unsigned) id.uid);
        /* What an earlier run (another uid, or root) left there. */
        static const char *const mine[] = { "console.log", "console.log.1", "state.json" };
        for (size_t i = 0; own_runtime && i < ELEMENTSOF(mine); i++)
                (void) fchownat(rtdir, mine[i], id.uid, id.gid, AT_SYMLINK_NOFOLLOW);
        return 0;
}
