/* Game builds: every version of the game (app 222860) that steamcmd fetched,
 * side by side, immutable once published, so an update never touches what a
 * running server mounts (the kernel calls changing a mounted overlayfs's
 * lower layers undefined).
 *
 *   installations/<id>/             a published build's layer: a full tree, or
 *                                   a diff layer over its parent (below)
 *   install-store/meta/<id>.json    id, parent, layer ("full" | "diff"), created,
 *                                   bytes, patch_version, trusted
 *   install-store/staging/<entry>/  builds being fetched or flattened
 *   install-store/retired/<entry>   layers replaced by a flatten or dropped by
 *                                   gc, until no mount uses them
 *   install-store/canary/<id>/<stack>.json   canary verdicts (canary.c)
 *   instances/NAME/build            the layers start mounts, top first: what
 *                                   left4me-overlay reads (ids, one a line)
 *   instances/NAME/mounted-build    what the current mount stacks (mount id,
 *                                   dev/ino of every layer): the refcount
 *
 * Layers: on a filesystem with reflinks (btrfs, XFS) a new build is a
 * `cp --reflink` of its parent plus steamcmd's changes, a full tree that
 * shares every unchanged extent. Elsewhere (ext4) it is a diff layer: the
 * upper layer of an overlay whose lowers are the parent's layers, into which
 * steamcmd wrote; instances stack `…overlays:diff:…:full`. overlayfs itself
 * keeps whiteouts and opaque folders in that upper layer meaningful when it
 * is stacked, and flattening copies the merged view of a read-only overlay
 * of the chain, so neither is interpreted by hand. Chains deeper than
 * LEFT4ME_BUILD_CHAIN_MAX are flattened in the background.
 *
 * Locks (locks/): ".install" (exclusive) for a fetch and the migration of
 * the old installation/; ".builds", shared by instance start from choosing a
 * build until it has recorded its mount, exclusive for a flatten's swap and
 * gc; ".build-meta" for a read-modify-write of metadata; ".build-flatten"
 * while a flatten runs. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "spec.h"
#include "strutil.h"

#define BUILD_CHAIN_LIMIT 16 /* layers a chain may have before it is refused */
#define STACK_HASH_LEN 16    /* hex digits */

/* ---- settings (the environment or host.env) ---- */

typedef enum BuildLayers {
        BUILD_LAYERS_AUTO,    /* reflinks where the filesystem has them, else diff layers */
        BUILD_LAYERS_REFLINK, /* refuse to fetch without reflinks */
        BUILD_LAYERS_DIFF,
} BuildLayers;

typedef struct UpdateSettings {
        BuildLayers layers;      /* LEFT4ME_BUILD_LAYERS */
        long chain_max;          /* LEFT4ME_BUILD_CHAIN_MAX (4): deeper chains are flattened */
        uint64_t free_min;       /* LEFT4ME_UPDATE_FREE_MIN (4G): free space a fetch needs first */
        long check_timeout_ms;   /* LEFT4ME_UPDATE_CHECK_TIMEOUT (60 s): steamcmd's app_info */
        long canary_a2s_ms;      /* LEFT4ME_CANARY_A2S_TIMEOUT (60 s) */
        long canary_alive_ms;    /* LEFT4ME_CANARY_ALIVE (120 s): no exit for this long */
        long canary_retry_ms;    /* LEFT4ME_CANARY_RETRY (1800 s): re-run a failed canary after */
        long canary_parallel;    /* LEFT4ME_CANARY_PARALLEL (3): stacks at once */
        long migrate_empty_ms;   /* LEFT4ME_MIGRATE_EMPTY (60 s): no humans for this long */
        long migrate_poll_ms;    /* LEFT4ME_MIGRATE_POLL (10 s): between passes of migrate --wait */
} UpdateSettings;

int update_settings_load(const HostConfig *c, UpdateSettings *ret, Error *err);

/* ---- the store ---- */

typedef struct BuildInfo {
        char id[BUILD_ID_MAX_LEN + 1];
        char parent[BUILD_ID_MAX_LEN + 1]; /* "" for none */
        bool diff;                         /* a diff layer over parent (else a full tree) */
        bool trusted;                      /* a target without a canary (the first build, ...) */
        char trusted_why[96];
        char patch_version[32];            /* steam.inf's PatchVersion, "" if unknown */
        int64_t created;
        uint64_t bytes;                    /* the layer's own disk use */
        bool flattened;
} BuildInfo;

/* Every published build, newest (highest id) first. Migrates the old
 * installation/ first when there is no build yet (build_store_ensure). */
int build_list(const HostConfig *c, BuildInfo **ret, size_t *ret_n, Error *err);
/* Compares two build ids as numbers: <0, 0, >0. */
int build_id_compare(const char *a, const char *b);
int build_load(const HostConfig *c, const char *id, BuildInfo *ret, Error *err);
/* Writes a build's metadata (temp file + rename). With the meta lock. */
int build_save(const HostConfig *c, const BuildInfo *b, Error *err);
int build_lock_meta(const HostConfig *c, int *ret_fd, Error *err);

/* Creates installations/ and install-store/, and turns an old
 * installation/ (one with srcds_run) into the first build, trusted, its id
 * from its appmanifest (0 without one). Instances that ran from it get it as
 * their build file, so a restart by systemd finds it. */
int build_store_ensure(const HostConfig *c, Error *err);

/* Opens installations/ID (O_RDONLY | O_DIRECTORY, no symlinks). */
int build_open(const HostConfig *c, const char *id);
/* Opens install-store/SUB, creating the store first. */
int build_store_open(const HostConfig *c, const char *sub, Error *err);

/* The layers of build id, top first (id, its parent, ... down to a full
 * tree): NULL-terminated. -ENOENT / -ELOOP (err set) for a broken chain. */
int build_chain(const HostConfig *c, const char *id, char ***ret, size_t *ret_n, Error *err);

/* steam.inf's PatchVersion and appID of a tree (a merged view or a full
 * layer); "" / 550 when it has none. */
int build_read_steam_inf(int tree_fd, char *patch, size_t patch_size, long *ret_appid);
/* The buildid in steamapps/appmanifest_222860.acf of a tree. -ENOENT when
 * there is no manifest, -EBADMSG when it names no valid buildid. */
int build_read_manifest(int tree_fd, char ret[BUILD_ID_MAX_LEN + 1]);

/* A layer's own disk use: allocated blocks, or with exclusive (a reflink
 * copy) only the extents no other file shares. */
int build_layer_bytes(int layer_fd, bool exclusive, unsigned long long *ret);

/* ---- which build an instance runs ---- */

/* The stack hash: the overlays' names, in order. Servers with the same hash
 * get one canary. */
int build_stack_hash(const HostConfig *c, char *const *overlays, size_t n, char ret[STACK_HASH_LEN + 1]);

typedef struct BuildChoice {
        char id[BUILD_ID_MAX_LEN + 1];
        char **chain;        /* its layers, top first */
        size_t n_chain;
        char **dropped;      /* overlays left out (degrade), NULL-terminated */
        size_t n_dropped;
        char stack[STACK_HASH_LEN + 1];
        bool pinned;         /* the spec names the build */
} BuildChoice;

void build_choice_free(BuildChoice *b);

/* The build spec s starts on now: its pin, or for `follow` the newest build
 * that is trusted or passed the canary of its stack, or, for a stack no
 * canary tried on it, passed every canary it had (or, with
 * on_canary_failure: degrade, the newest build that failed it, without the
 * overlays it named). -ENOENT (err
 * says "run 'l4d2ctl install' first") when there is none. */
int build_choose(const HostConfig *c, const Spec *s, BuildChoice *ret, Error *err);

/* Held by instance start from build_choose until build_record_mount: no
 * flatten swap or gc in between. */
int build_pin_take(const HostConfig *c, int *ret_fd, Error *err);

/* Writes instances/NAME/build (the chain, for the mount helper). */
int build_write_instance_file(const HostConfig *c, int instance_dir_fd, const BuildChoice *b, Error *err);
/* After the mount: instances/NAME/mounted-build. Best effort (without it,
 * gc keeps everything while the instance runs). */
void build_record_mount(const HostConfig *c, const char *instance, const BuildChoice *b);

/* The build the instance's current mount stacks ("" when not mounted or not
 * known), for its status object. */
void build_mounted(const HostConfig *c, const char *instance, char ret[BUILD_ID_MAX_LEN + 1]);
/* instances/NAME/mounted-build if it describes the current mount, else
 * NULL: {"mnt_id","build","stack","layers":[{"id","dev","ino"}],"dropped"}. */
json_t *build_mount_record(const HostConfig *c, const char *instance);
/* instances/NAME/build: the chain start wrote (valid ids only). */
int build_instance_file(const HostConfig *c, const char *instance, char ***ret);

/* ---- use, gc, flatten (build-gc.c) ---- */

/* For every build: how many mounted instances stack one of its layers
 * (refcount), which instances run it as their build, which pin it. A JSON
 * object id -> {"refcount":N,"instances":[...],"pinned":[...]}; *ret_exact
 * false when a mounted instance has no exact record (its build file then
 * counts). */
int build_usage(const HostConfig *c, json_t **ret, bool *ret_exact, Error *err);

/* Removes builds nobody needs: keeps the newest passing build and the
 * passing one before it, every newer build (still to be decided), every
 * build with refcount > 0 or pinned by a spec, and the layers those need.
 * Then removes retired layers no mount uses. Names what it removed. */
int build_gc(const HostConfig *c, json_t **ret_removed, Error *err);

/* Replaces a diff build's layer with a full tree of the same content (the
 * merged view of its chain); running servers keep the layers they mount. */
int build_flatten(const HostConfig *c, const char *id, Error *err);
/* Starts `l4d2ctl build flatten ID` in the background (log in
 * install-store/logs/flatten-ID.log). */
int build_flatten_background(const HostConfig *c, const char *id, Error *err);

/* True when every verdict of b (canary.c) passed or it is trusted. */
bool build_passing(const HostConfig *c, const BuildInfo *b);

/* ---- fetching (build-fetch.c) ---- */

typedef struct FetchResult {
        char id[BUILD_ID_MAX_LEN + 1];
        char parent[BUILD_ID_MAX_LEN + 1];
        bool created;        /* a new build; false: Steam had nothing newer */
        bool diff;
        uint64_t bytes;
        bool flattening;     /* a background flatten was started */
} FetchResult;

typedef struct InstallProgress InstallProgress;
typedef void (*fetch_cb)(const char *line, const InstallProgress *progress, void *userdata);

/* Fetches the newest build beside the published ones: steamcmd (the two
 * platform passes) into a staging tree made from the newest build (reflink
 * copy or diff overlay), after checking free disk; publishes it if Steam
 * had a new buildid. Touches no published build and no running instance. */
int build_fetch(const HostConfig *c, bool validate, fetch_cb cb, void *userdata, FetchResult *ret, Error *err);

/* The helper's staging verbs, mount-staging and umount-staging ENTRY: run
 * directly as root, else through left4me-stage@ENTRY.service (systemd). */
int build_helper_run(const HostConfig *c, const char *verb, const char *entry, Error *err);
