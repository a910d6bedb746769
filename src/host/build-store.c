/* The build store: settings, metadata, listing, chains, what steamcmd left
 * in a tree, the old installation/, what a layer costs. See build.h for the
 * layout; which build an instance runs is build-choose.c. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "fs.h"
#include "instance.h"
#include "lock.h"

#define META_MAX (64 * 1024)
#define MANIFEST_MAX (1024 * 1024)

/* ---- settings ---- */

/* Seconds, fractions allowed ("0.5"), as milliseconds in [min_ms, max_ms]. */
static int setting_ms(const HostConfig *c, const char *key, long min_ms, long max_ms, long def_ms, long *ret,
                      Error *err) {
        _cleanup_free_ char *s = NULL;
        int r = config_setting(c, key, &s);
        if (r < 0)
                return error_set(err, r, "cannot read %s: %s", key, strerror(-r));
        *ret = def_ms;
        if (r == 0)
                return 0;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || *end || !isfinite(v) || v * 1000.0 < (double) min_ms || v * 1000.0 > (double) max_ms)
                return error_set(err, -EINVAL, "%s='%s' is not a number of seconds from %g to %g", key, s,
                                 min_ms / 1000.0, max_ms / 1000.0);
        *ret = (long) (v * 1000.0 + 0.5);
        return 0;
}

static int setting_num(const HostConfig *c, const char *key, long min, long max, long def, long *ret, Error *err) {
        _cleanup_free_ char *s = NULL;
        int r = config_setting(c, key, &s);
        if (r < 0)
                return error_set(err, r, "cannot read %s: %s", key, strerror(-r));
        *ret = def;
        if (r > 0 && parse_long(s, min, max, ret) < 0)
                return error_set(err, -EINVAL, "%s='%s' is not a number from %ld to %ld", key, s, min, max);
        return 0;
}

int update_settings_load(const HostConfig *c, UpdateSettings *ret, Error *err) {
        UpdateSettings s = { .layers = BUILD_LAYERS_AUTO, .free_min = 4ULL << 30 };
        _cleanup_free_ char *layers = NULL, *free_min = NULL;
        int r = config_setting(c, "LEFT4ME_BUILD_LAYERS", &layers);
        if (r < 0)
                return error_set(err, r, "cannot read LEFT4ME_BUILD_LAYERS: %s", strerror(-r));
        if (r > 0) {
                if (streq(layers, "reflink"))
                        s.layers = BUILD_LAYERS_REFLINK;
                else if (streq(layers, "diff"))
                        s.layers = BUILD_LAYERS_DIFF;
                else if (!streq(layers, "auto"))
                        return error_set(err, -EINVAL, "LEFT4ME_BUILD_LAYERS='%s' is not auto, reflink or diff", layers);
        }
        r = config_setting(c, "LEFT4ME_UPDATE_FREE_MIN", &free_min);
        if (r < 0)
                return error_set(err, r, "cannot read LEFT4ME_UPDATE_FREE_MIN: %s", strerror(-r));
        if (r > 0 && parse_size(free_min, &s.free_min) < 0)
                return error_set(err, -EINVAL, "LEFT4ME_UPDATE_FREE_MIN='%s' is not a size (K, M, G or T)", free_min);
        if ((r = setting_num(c, "LEFT4ME_BUILD_CHAIN_MAX", 1, BUILD_CHAIN_LIMIT - 1, 4, &s.chain_max, err)) < 0 ||
            (r = setting_ms(c, "LEFT4ME_UPDATE_CHECK_TIMEOUT", 100, 3600000, 60000, &s.check_timeout_ms, err)) < 0 ||
            (r = setting_ms(c, "LEFT4ME_CANARY_A2S_TIMEOUT", 100, 3600000, 60000, &s.canary_a2s_ms, err)) < 0 ||
            (r = setting_ms(c, "LEFT4ME_CANARY_ALIVE", 0, 3600000, 120000, &s.canary_alive_ms, err)) < 0 ||
            (r = setting_ms(c, "LEFT4ME_CANARY_RETRY", 0, 86400000, 1800000, &s.canary_retry_ms, err)) < 0 ||
            (r = setting_num(c, "LEFT4ME_CANARY_PARALLEL", 1, 32, 3, &s.canary_parallel, err)) < 0 ||
            (r = setting_ms(c, "LEFT4ME_MIGRATE_EMPTY", 0, 86400000, 60000, &s.migrate_empty_ms, err)) < 0 ||
            (r = setting_ms(c, "LEFT4ME_MIGRATE_POLL", 100, 3600000, 10000, &s.migrate_poll_ms, err)) < 0)
                return r;
        *ret = s;
        return 0;
}

/* ---- paths ---- */

int build_store_open(const HostConfig *c, const char *sub, Error *err) {
        _cleanup_close_ int state = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (state < 0)
                return error_set(err, negative_errno(), "cannot open state dir '%s': %m", c->state_dir);
        char rel[64];
        snprintf(rel, sizeof rel, "install-store/%s", sub);
        int r = mkdir_p_at(state, rel, 0755);
        if (r < 0)
                return error_set(err, r, "cannot create '%s/%s': %s", c->state_dir, rel, strerror(-r));
        int fd = path_open_beneath(state, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (fd < 0)
                return error_set(err, fd, "cannot open '%s/%s': %s", c->state_dir, rel, strerror(-fd));
        return fd;
}

int build_open(const HostConfig *c, const char *id) {
        if (!build_id_is_valid(id))
                return -EINVAL;
        char rel[64];
        snprintf(rel, sizeof rel, "installations/%s", id);
        return path_open_beneath_dir(c->state_dir, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
}

int build_lock_meta(const HostConfig *c, int *ret_fd, Error *err) {
        return host_lock(c, ".build-meta", LOCK_EX, 30000, "the build metadata", ret_fd, err);
}

int build_pin_take(const HostConfig *c, int *ret_fd, Error *err) {
        return host_lock(c, ".builds", LOCK_SH, 30000, "the game builds", ret_fd, err);
}

/* ---- metadata ---- */

static json_t *info_to_json(const BuildInfo *b) {
        json_t *j = json_pack("{s:s, s:s, s:b, s:s, s:s, s:I, s:I, s:b}", "id", b->id, "layer", b->diff ? "diff" : "full",
                              "trusted", b->trusted, "trusted_why", b->trusted_why, "patch_version", b->patch_version,
                              "created", (json_int_t) b->created, "bytes", (json_int_t) b->bytes, "flattened",
                              b->flattened);
        if (j && b->parent[0])
                json_object_set_new(j, "parent", json_string(b->parent));
        return j;
}

static int info_from_json(json_t *j, BuildInfo *ret) {
        const char *id = NULL, *parent = NULL, *layer = NULL, *why = "", *patch = "";
        json_int_t created = 0, bytes = 0;
        int trusted = 0, flattened = 0;
        if (json_unpack(j, "{s:s, s?s, s:s, s?b, s?s, s?s, s?I, s?I, s?b}", "id", &id, "parent", &parent, "layer",
                        &layer, "trusted", &trusted, "trusted_why", &why, "patch_version", &patch, "created", &created,
                        "bytes", &bytes, "flattened", &flattened) < 0)
                return -EBADMSG;
        if (!build_id_is_valid(id) || (parent && !build_id_is_valid(parent)) ||
            (!streq(layer, "full") && !streq(layer, "diff")) || (streq(layer, "diff") && !parent))
                return -EBADMSG;
        BuildInfo b = { .diff = streq(layer, "diff"), .trusted = trusted, .created = created,
                        .bytes = bytes > 0 ? (uint64_t) bytes : 0, .flattened = flattened };
        snprintf(b.id, sizeof b.id, "%s", id);
        snprintf(b.parent, sizeof b.parent, "%s", parent ? parent : "");
        snprintf(b.trusted_why, sizeof b.trusted_why, "%s", why);
        snprintf(b.patch_version, sizeof b.patch_version, "%s", patch);
        *ret = b;
        return 0;
}

int build_load(const HostConfig *c, const char *id, BuildInfo *ret, Error *err) {
        if (!build_id_is_valid(id))
                return error_set(err, -EINVAL, "'%s' is not a build id (a number, as 'l4d2ctl builds' lists them)", id);
        _cleanup_close_ int meta = build_store_open(c, "meta", err);
        if (meta < 0)
                return meta;
        char name[64];
        snprintf(name, sizeof name, "%s.json", id);
        _cleanup_close_ int fd = path_open_beneath(meta, name, O_RDONLY, 0, PATH_NO_SYMLINKS);
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (fd == -ENOENT)
                return error_set(err, -ENOENT, "build '%s' is not installed (see 'l4d2ctl builds')", id);
        int r = fd < 0 ? fd : read_fd(fd, META_MAX, &text, &len);
        if (r < 0)
                return error_set(err, r, "build '%s': cannot read its metadata: %s", id, strerror(-r));
        json_t *j = json_loadb(text, len, 0, NULL);
        r = j ? info_from_json(j, ret) : -EBADMSG;
        json_decref(j);
        if (r >= 0 && !streq(ret->id, id))
                r = -EBADMSG;
        if (r < 0)
                return error_set(err, r, "build '%s': its metadata install-store/meta/%s is damaged", id, name);
        return 0;
}

int build_save(const HostConfig *c, const BuildInfo *b, Error *err) {
        _cleanup_close_ int meta = build_store_open(c, "meta", err);
        if (meta < 0)
                return meta;
        json_t *j = info_to_json(b);
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        json_decref(j);
        if (!text)
                return -ENOMEM;
        char name[64];
        snprintf(name, sizeof name, "%s.json", b->id);
        int r = write_file_atomic_at(meta, name, text, strlen(text), 0644);
        if (r < 0)
                return error_set(err, r, "build '%s': cannot write its metadata: %s", b->id, strerror(-r));
        return 0;
}

static int cmp_id_desc(const void *a, const void *b) {
        const BuildInfo *x = a, *y = b;
        size_t lx = strlen(x->id), ly = strlen(y->id);
        if (lx != ly)
                return lx < ly ? 1 : -1;
        return -strcmp(x->id, y->id);
}

int build_id_compare(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        if (la != lb)
                return la < lb ? -1 : 1;
        int r = strcmp(a, b);
        return r < 0 ? -1 : r > 0;
}

/* The builds whose metadata and layer both exist (a crash between the two
 * leaves one without the other: not a build). */
static int list_raw(const HostConfig *c, BuildInfo **ret, size_t *ret_n, Error *err) {
        _cleanup_close_ int meta = build_store_open(c, "meta", err);
        if (meta < 0)
                return meta;
        DIR *d = fdopendir(fcntl(meta, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return error_set(err, negative_errno(), "cannot list the builds: %m");
        BuildInfo *v = NULL;
        size_t n = 0, cap = 0;
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                char id[BUILD_ID_MAX_LEN + 8];
                const char *dot = strrchr(de->d_name, '.');
                if (!dot || !streq(dot, ".json") || (size_t) (dot - de->d_name) > BUILD_ID_MAX_LEN)
                        continue;
                snprintf(id, sizeof id, "%.*s", (int) (dot - de->d_name), de->d_name);
                if (!build_id_is_valid(id))
                        continue;
                BuildInfo b;
                _cleanup_close_ int tree = build_open(c, id);
                if (tree < 0 || build_load(c, id, &b, NULL) < 0)
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        BuildInfo *nv = realloc(v, cap * sizeof *v);
                        if (!nv) {
                                r = -ENOMEM;
                                break;
                        }
                        v = nv;
                }
                v[n++] = b;
        }
        closedir(d);
        if (r < 0) {
                free(v);
                return r;
        }
        if (n > 1)
                qsort(v, n, sizeof *v, cmp_id_desc);
        *ret = v;
        *ret_n = n;
        return 0;
}

int build_list(const HostConfig *c, BuildInfo **ret, size_t *ret_n, Error *err) {
        int r = build_store_ensure(c, err);
        if (r < 0)
                return r;
        return list_raw(c, ret, ret_n, err);
}

int build_chain(const HostConfig *c, const char *id, char ***ret, size_t *ret_n, Error *err) {
        _cleanup_strv_ char **v = calloc(1, sizeof(char *));
        size_t n = 0;
        if (!v)
                return -ENOMEM;
        char cur[BUILD_ID_MAX_LEN + 1];
        snprintf(cur, sizeof cur, "%s", id);
        for (;;) {
                if (n >= BUILD_CHAIN_LIMIT)
                        return error_set(err, -ELOOP, "build '%s': its layers are more than %d deep (or loop)", id,
                                         BUILD_CHAIN_LIMIT);
                BuildInfo b;
                int r = build_load(c, cur, &b, err);
                if (r < 0)
                        return n ? error_prefix(err, r, "build '%s' is missing a layer", id) : r;
                _cleanup_close_ int tree = build_open(c, cur);
                if (tree < 0)
                        return error_set(err, tree, "build '%s': its layer installations/%s is missing", id, cur);
                if ((r = strv_push_dup(&v, &n, cur)) < 0)
                        return r;
                if (!b.diff)
                        break;
                snprintf(cur, sizeof cur, "%s", b.parent);
        }
        *ret = TAKE_PTR(v);
        if (ret_n)
                *ret_n = n;
        return 0;
}

/* ---- what steamcmd left in a tree ---- */

/* The value of "key" "value" in Valve's KeyValues text, at any depth (the
 * manifest's buildid appears once). */
static bool kv_find(const char *text, const char *key, char *out, size_t size) {
        char pat[64];
        snprintf(pat, sizeof pat, "\"%s\"", key);
        for (const char *p = text; (p = strcasestr(p, pat)); p += strlen(pat)) {
                const char *q = p + strlen(pat);
                while (*q == ' ' || *q == '\t')
                        q++;
                if (*q != '"')
                        continue;
                const char *e = strchr(q + 1, '"');
                if (!e || (size_t) (e - q - 1) >= size)
                        return false;
                snprintf(out, size, "%.*s", (int) (e - q - 1), q + 1);
                return true;
        }
        return false;
}

int build_read_manifest(int tree_fd, char ret[BUILD_ID_MAX_LEN + 1]) {
        _cleanup_close_ int fd = path_open_beneath(tree_fd, "steamapps/appmanifest_222860.acf", O_RDONLY, 0,
                                                   PATH_NO_SYMLINKS);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *text = NULL;
        int r = read_fd(fd, MANIFEST_MAX, &text, NULL);
        if (r < 0)
                return r;
        char id[64];
        if (!kv_find(text, "buildid", id, sizeof id) || !build_id_is_valid(id))
                return -EBADMSG;
        snprintf(ret, BUILD_ID_MAX_LEN + 1, "%s", id);
        return 0;
}

int build_read_steam_inf(int tree_fd, char *patch, size_t patch_size, long *ret_appid) {
        patch[0] = '\0';
        if (ret_appid)
                *ret_appid = 550;
        _cleanup_close_ int fd = path_open_beneath(tree_fd, "left4dead2/steam.inf", O_RDONLY, 0, PATH_NO_SYMLINKS);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *text = NULL;
        int r = read_fd(fd, 64 * 1024, &text, NULL);
        if (r < 0)
                return r;
        char *save = NULL;
        for (char *l = strtok_r(text, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save)) {
                char *eq = strchr(l, '=');
                if (!eq)
                        continue;
                *eq = '\0';
                const char *v = eq + 1;
                if (strcasecmp(l, "PatchVersion") == 0) {
                        /* Digits and dots only: it goes into a URL and a JSON. */
                        bool ok = *v && strlen(v) < patch_size;
                        for (const char *p = v; ok && *p; p++)
                                ok = isdigit((unsigned char) *p) || *p == '.';
                        if (ok)
                                snprintf(patch, patch_size, "%s", v);
                } else if (strcasecmp(l, "appID") == 0 && ret_appid) {
                        long a;
                        if (parse_long(v, 1, 100000000, &a) == 0)
                                *ret_appid = a;
                }
        }
        return 0;
}

/* ---- the old installation/ ---- */

/* Every instance without a build file gets `id`: it ran from the old
 * installation/, which is now that build, and a restart by systemd
 * mounts what the file says. */
static void adopt_instances(const HostConfig *c, const char *id) {
        _cleanup_strv_ char **names = NULL;
        if (instance_list(c, &names, NULL) < 0)
                return;
        _cleanup_close_ int state = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        for (char **n = names; state >= 0 && *n; n++) {
                char rel[96];
                snprintf(rel, sizeof rel, "instances/%s", *n);
                _cleanup_close_ int dir = path_open_beneath(state, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
                if (dir < 0 || faccessat(dir, "build", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                        continue;
                char line[BUILD_ID_MAX_LEN + 2];
                snprintf(line, sizeof line, "%s\n", id);
                (void) write_file_atomic_flags(dir, "build", line, strlen(line), 0644, 0);
        }
}

static int migrate_legacy(const HostConfig *c, int state, Error *err) {
        _cleanup_close_ int old = path_open_beneath(state, "installation", O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (old < 0 || faccessat(old, "srcds_run", X_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return 0; /* nothing to migrate (tmpfiles.d makes an empty one) */
        BuildInfo b = { .trusted = true, .created = time(NULL) };
        int r = build_read_manifest(old, b.id);
        if (r < 0)
                snprintf(b.id, sizeof b.id, "0"); /* copied by hand: no manifest */
        snprintf(b.trusted_why, sizeof b.trusted_why, "the installation before builds");
        (void) build_read_steam_inf(old, b.patch_version, sizeof b.patch_version, NULL);
        unsigned long long bytes = 0;
        (void) disk_usage_fd(old, &bytes);
        b.bytes = bytes;
        _cleanup_close_ int inst = path_open_beneath(state, "installations", O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (inst < 0)
                return error_set(err, inst, "cannot open '%s/installations': %s", c->state_dir, strerror(-inst));
        /* A mounted overlay holds its lower dirs by reference: moving the
         * installation changes nothing for a running server. */
        if (renameat2(state, "installation", inst, b.id, RENAME_NOREPLACE) < 0)
                return error_set(err, negative_errno(), "cannot move '%s/installation' to installations/%s: %m",
                                 c->state_dir, b.id);
        (void) fsync(inst);
        if ((r = build_save(c, &b, err)) < 0)
                return r;
        adopt_instances(c, b.id);
        return 0;
}

int build_store_ensure(const HostConfig *c, Error *err) {
        int r = state_dirs_ensure(c, err);
        if (r < 0)
                return r;
        _cleanup_close_ int state = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (state < 0)
                return error_set(err, negative_errno(), "cannot open state dir '%s': %m", c->state_dir);
        if ((r = mkdir_p_at(state, "installations", 0755)) < 0)
                return error_set(err, r, "cannot create '%s/installations': %s", c->state_dir, strerror(-r));
        _cleanup_close_ int meta = build_store_open(c, "meta", err);
        if (meta < 0)
                return meta;
        /* Cheap check first: an old installation with srcds_run? */
        _cleanup_close_ int old = path_open_beneath(state, "installation", O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (old < 0 || faccessat(old, "srcds_run", X_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        /* An install (or another migration) holds .install for as long as
         * it runs; it leaves either builds or the installation: look again
         * once we hold it. */
        _cleanup_close_ int lock = -1;
        if ((r = host_lock(c, ".install", LOCK_EX, 0, "the game installation", &lock, err)) < 0)
                return error_set(err, r, "the game is being installed or updated; try again when 'l4d2ctl install' "
                                 "has finished");
        BuildInfo *v = NULL;
        size_t n = 0;
        if ((r = list_raw(c, &v, &n, err)) < 0)
                return r;
        free(v);
        if (n > 0)
                return 0; /* builds exist: an installation/ beside them is not ours to move */
        return migrate_legacy(c, state, err);
}

/* ---- what a layer costs on disk ---- */

/* The bytes of fd's extents that no other file shares (FIEMAP). */
static unsigned long long unshared_bytes(int fd) {
        enum { N = 128 };
        _cleanup_free_ struct fiemap *fm = calloc(1, sizeof *fm + N * sizeof(struct fiemap_extent));
        if (!fm)
                return 0;
        unsigned long long sum = 0;
        uint64_t start = 0;
        for (;;) {
                memset(fm, 0, sizeof *fm);
                fm->fm_start = start;
                fm->fm_length = FIEMAP_MAX_OFFSET - start;
                fm->fm_flags = FIEMAP_FLAG_SYNC;
                fm->fm_extent_count = N;
                if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0 || fm->fm_mapped_extents == 0)
                        return sum;
                bool last = false;
                for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
                        const struct fiemap_extent *e = &fm->fm_extents[i];
                        if (!(e->fe_flags & FIEMAP_EXTENT_SHARED))
                                sum += e->fe_length;
                        start = e->fe_logical + e->fe_length;
                        last |= e->fe_flags & FIEMAP_EXTENT_LAST;
                }
                if (last)
                        return sum;
        }
}

static void walk_unshared(int dir, unsigned depth, unsigned long long *sum) {
        struct stat st;
        if (depth > 64 || fstat(dir, &st) < 0)
                return;
        *sum += (unsigned long long) st.st_blocks * 512ULL;
        int fd = fcntl(dir, F_DUPFD_CLOEXEC, 3);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_close_ int cfd = openat(dir, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                if (cfd < 0 || fstat(cfd, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode))
                        walk_unshared(cfd, depth + 1, sum);
                else if (S_ISREG(st.st_mode))
                        *sum += unshared_bytes(cfd);
        }
        closedir(d);
}

int build_layer_bytes(int layer_fd, bool exclusive, unsigned long long *ret) {
        if (!exclusive)
                return disk_usage_fd(layer_fd, ret);
        unsigned long long sum = 0;
        walk_unshared(layer_fd, 0, &sum);
        *ret = sum;
        return 0;
}
