/* Fetching a build beside the published ones: nothing a running server
 * mounts is written. steamcmd updates a staging tree made from the newest
 * build, either a reflink copy of it (btrfs, XFS) or the merged view of an
 * overlay whose lowers are its layers (elsewhere); what steamcmd changed is
 * then published as installations/<buildid>. */
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "fs.h"
#include "lock.h"
#include "process.h"
#include "random.h"
#include "steamcmd.h"

/* Whether the state dir's filesystem clones files (FICLONE), tried on two
 * scratch files in the staging folder. */
static bool reflinks_work(int staging) {
        char a[48], b[48], hex[9];
        random_hex(hex, sizeof hex);
        snprintf(a, sizeof a, ".reflink-probe-%s-a", hex);
        snprintf(b, sizeof b, ".reflink-probe-%s-b", hex);
        _cleanup_close_ int fa = openat(staging, a, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        _cleanup_close_ int fb = openat(staging, b, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        bool ok = false;
        if (fa >= 0 && fb >= 0) {
                char block[4096];
                memset(block, 'r', sizeof block);
                ok = write(fa, block, sizeof block) == (ssize_t) sizeof block && ioctl(fb, FICLONE, fa) == 0;
        }
        (void) unlinkat(staging, a, 0);
        (void) unlinkat(staging, b, 0);
        return ok;
}

static int run_cp(char **argv, Error *err) {
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        o.search_path = true;
        pid_t pid;
        int code = -1;
        int r = spawn(argv, &o, &pid);
        if (r >= 0)
                r = spawn_wait(pid, &code);
        if (r < 0 || code != 0)
                return error_set(err, r < 0 ? r : -EIO, "'cp --reflink=always' of the newest build failed (exit %d)",
                                 code);
        return 0;
}

typedef enum FetchMode { FETCH_FULL, FETCH_REFLINK, FETCH_DIFF } FetchMode;

typedef struct Staging {
        const HostConfig *c;
        int fd;             /* install-store/staging */
        char entry[96];
        FetchMode mode;
        bool mounted;
} Staging;

static void staging_discard(Staging *s) {
        if (s->mounted)
                (void) build_helper_run(s->c, "umount-staging", s->entry, NULL);
        s->mounted = false;
        if (s->fd >= 0 && s->entry[0])
                (void) rm_rf_at(s->fd, s->entry);
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -1;
}

static int write_chain(int dir, char **chain, Error *err) {
        Buf list = BUF_INIT(4096);
        int r = 0;
        for (char **l = chain; r >= 0 && *l; l++)
                r = buf_printf(&list, "%s\n", *l);
        if (r >= 0)
                r = write_file_atomic_flags(dir, "chain", list.data, list.len, 0644, WRITE_NO_SYNC);
        buf_free(&list);
        return r < 0 ? error_set(err, r, "cannot write the staging chain: %s", strerror(-r)) : 0;
}

/* Makes the staging tree steamcmd writes into; *ret_dir is its path. */
static int staging_prepare(Staging *s, const UpdateSettings *set, const BuildInfo *parent, char **ret_dir, Error *err) {
        const HostConfig *c = s->c;
        char hex[9];
        random_hex(hex, sizeof hex);
        snprintf(s->entry, sizeof s->entry, "fetch-%lld-%s", (long long) time(NULL), hex);
        if (mkdirat(s->fd, s->entry, 0755) < 0) {
                s->entry[0] = '\0';
                return error_set(err, negative_errno(), "cannot make a staging tree: %m");
        }
        _cleanup_close_ int dir = openat(s->fd, s->entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return error_set(err, negative_errno(), "cannot open the staging tree: %m");
        _cleanup_strv_ char **chain = NULL;
        size_t depth = 0;
        int r;
        s->mode = FETCH_FULL;
        if (parent) {
                if ((r = build_chain(c, parent->id, &chain, &depth, err)) < 0)
                        return r;
                bool reflink = set->layers != BUILD_LAYERS_DIFF && depth == 1 && reflinks_work(s->fd);
                if (set->layers == BUILD_LAYERS_REFLINK && !reflink)
                        return error_set(err, -EOPNOTSUPP, "LEFT4ME_BUILD_LAYERS=reflink, but %s",
                                         depth > 1 ? "the newest build is a diff layer (flatten it first)"
                                                   : "the state dir's filesystem cannot reflink (ext4?)");
                s->mode = reflink ? FETCH_REFLINK : FETCH_DIFF;
        }
        const char *sub = s->mode == FETCH_DIFF ? "merged" : "tree";
        if (asprintf(ret_dir, "%s/install-store/staging/%s/%s", c->state_dir, s->entry, sub) < 0)
                return -ENOMEM;
        if (s->mode == FETCH_REFLINK) {
                /* cp keeps modes, owners, times, links and xattrs; every
                 * extent is shared with the parent until steamcmd writes. */
                _cleanup_free_ char *src = NULL;
                if (asprintf(&src, "%s/installations/%s/.", c->state_dir, parent->id) < 0 || mkdirat(dir, "tree", 0755) < 0)
                        return -ENOMEM;
                char *argv[] = { (char *) "cp", (char *) "-a", (char *) "--reflink=always", (char *) "--", src,
                                 *ret_dir, NULL };
                return run_cp(argv, err);
        }
        if (s->mode == FETCH_FULL)
                return mkdirat(dir, "tree", 0755) < 0 ? error_set(err, negative_errno(), "cannot make a staging tree: %m")
                                                      : 0;
        /* A diff layer: the parent's layers below, an empty upper layer
         * that receives whatever steamcmd changes. */
        if ((r = write_chain(dir, chain, err)) < 0)
                return r;
        if (mkdirat(dir, "upper", 0755) < 0 || mkdirat(dir, "work", 0755) < 0 || mkdirat(dir, "merged", 0755) < 0)
                return error_set(err, negative_errno(), "cannot make the staging layers: %m");
        if ((r = build_helper_run(c, "mount-staging", s->entry, err)) < 0)
                return error_prefix(err, r, "cannot mount the staging overlay");
        s->mounted = true;
        return 0;
}

static int check_free(const HostConfig *c, const UpdateSettings *set, Error *err) {
        struct statvfs vfs;
        if (statvfs(c->state_dir, &vfs) < 0)
                return error_set(err, negative_errno(), "cannot read the free space of '%s': %m", c->state_dir);
        uint64_t avail = (uint64_t) vfs.f_bavail * vfs.f_frsize;
        if (avail < set->free_min)
                return error_set(err, -ENOSPC,
                                 "only %llu MiB are free on the filesystem of '%s'; a fetch needs %llu MiB first "
                                 "(LEFT4ME_UPDATE_FREE_MIN): remove old builds ('l4d2ctl build gc') or free space",
                                 (unsigned long long) (avail >> 20), c->state_dir,
                                 (unsigned long long) (set->free_min >> 20));
        return 0;
}

/* steamcmd into the staging tree, then publish what it made. */
static int fetch_into(const HostConfig *c, const UpdateSettings *set, Staging *s, const BuildInfo *parent, bool first,
                      bool validate, int lock, fetch_cb cb, void *userdata, FetchResult *res, Error *err) {
        _cleanup_free_ char *dir = NULL;
        int r = staging_prepare(s, set, parent, &dir, err);
        if (r < 0 || (r = steamcmd_update(c, dir, validate, lock, cb, userdata, err)) < 0)
                return r;
        _cleanup_close_ int tree = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tree < 0)
                return error_set(err, negative_errno(), "cannot open the staging tree '%s': %m", dir);
        if ((r = build_read_manifest(tree, res->id)) < 0)
                return error_set(err, -EIO, "steamcmd left no buildid in steamapps/appmanifest_%s.acf (%s)",
                                 L4D2_APP_ID, strerror(-r));
        snprintf(res->parent, sizeof res->parent, "%s", parent ? parent->id : "");
        _cleanup_close_ int existing = build_open(c, res->id);
        if (existing >= 0)
                return 0; /* Steam had nothing newer: the build is there already */

        BuildInfo b = { .created = time(NULL), .diff = s->mode == FETCH_DIFF, .trusted = first };
        snprintf(b.id, sizeof b.id, "%s", res->id);
        snprintf(b.parent, sizeof b.parent, "%s", res->parent);
        if (b.trusted)
                snprintf(b.trusted_why, sizeof b.trusted_why, "the first build");
        (void) build_read_steam_inf(tree, b.patch_version, sizeof b.patch_version, NULL);
        close(TAKE_FD(tree));
        if (s->mounted) {
                if ((r = build_helper_run(c, "umount-staging", s->entry, err)) < 0)
                        return r;
                s->mounted = false;
        }
        /* Published by one rename: its data reaches the disk first. */
        char layer[160];
        snprintf(layer, sizeof layer, "%s/%s", s->entry, s->mode == FETCH_DIFF ? "upper" : "tree");
        _cleanup_close_ int inst = path_open_beneath_dir(c->state_dir, "installations", O_RDONLY | O_DIRECTORY, 0,
                                                         PATH_NO_SYMLINKS);
        if (inst < 0)
                return error_set(err, inst, "cannot open '%s/installations': %s", c->state_dir, strerror(-inst));
        (void) syncfs(inst);
        if (renameat2(s->fd, layer, inst, b.id, RENAME_NOREPLACE) < 0)
                return error_set(err, negative_errno(), "cannot publish build '%s': %m", b.id);
        (void) fsync(inst);
        _cleanup_close_ int pub = build_open(c, b.id);
        unsigned long long bytes = 0;
        if (pub >= 0)
                (void) build_layer_bytes(pub, s->mode == FETCH_REFLINK, &bytes);
        b.bytes = bytes;
        _cleanup_close_ int mlock = -1;
        if ((r = build_lock_meta(c, &mlock, err)) < 0 || (r = build_save(c, &b, err)) < 0)
                return r;
        res->created = true;
        res->diff = b.diff;
        res->bytes = b.bytes;
        size_t depth = 0;
        _cleanup_strv_ char **chain = NULL;
        if (b.diff && build_chain(c, b.id, &chain, &depth, NULL) == 0 && (long) depth > set->chain_max)
                res->flattening = build_flatten_background(c, b.id, NULL) == 0;
        return 0;
}

int build_fetch(const HostConfig *c, bool validate, fetch_cb cb, void *userdata, FetchResult *ret, Error *err) {
        UpdateSettings set;
        int r = update_settings_load(c, &set, err);
        if (r < 0)
                return r;
        _cleanup_close_ int lock = -1;
        if ((r = steamcmd_lock(c, cb, userdata, &lock, err)) < 0)
                return r;
        /* The migration of an old installation/ takes .install itself. */
        close(TAKE_FD(lock));
        if ((r = build_store_ensure(c, err)) < 0)
                return r;
        if ((r = steamcmd_lock(c, cb, userdata, &lock, err)) < 0)
                return r;
        _cleanup_free_ BuildInfo *v = NULL;
        size_t n = 0;
        if ((r = build_list(c, &v, &n, err)) < 0 || (r = check_free(c, &set, err)) < 0)
                return r;
        Staging s = { .c = c, .fd = build_store_open(c, "staging", err) };
        if (s.fd < 0)
                return s.fd;
        FetchResult res = { 0 };
        r = fetch_into(c, &set, &s, n ? &v[0] : NULL, n == 0, validate, lock, cb, userdata, &res, err);
        staging_discard(&s);
        if (r >= 0)
                *ret = res;
        return r;
}
