/* left4me-overlay: mounts and unmounts one instance's overlayfs. Runs as root
 * (the server unit's ExecStartPre=+/ExecStopPost=+, or l4d2ctl as root with
 * the supervisor backend), so it trusts nothing it reads:
 *
 * - the instance name must be a valid name (no '/', no '..');
 * - every directory is opened beneath the state dir with openat2
 *   (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), and the
 *   mount is given those fds as /proc/self/fd/N paths, so what was checked is
 *   exactly what gets mounted (no window to swap a directory for a symlink);
 * - the overlay list (<state>/instances/NAME/overlays, one name a line, out of
 *   the server's reach) is re-validated
 *   name by name.
 *
 * It refuses to run unless its real uid is 0, and sets PR_SET_NO_NEW_PRIVS
 * before anything else.
 *
 * With --launch-guard (the systemd unit) it first removes the launch files a
 * server planted in its upper layer (launch_guard); check-disk and
 * over-disk (the units' ExecCondition=) enforce the upper layer's disk
 * limit. For
 * the systemd unit, whose server runs as a DynamicUser= uid, it builds the
 * overlay from idmapped layers (idmap.h): the state dir owner's files appear
 * as the server's, and everything the server writes stays the owner's.
 *
 * With --host-mountns it first enters PID 1's mount namespace: a `+` step of
 * a unit with PrivateTmp/ProtectSystem/... runs in the unit's private
 * namespace, where a mount would vanish before ExecStart. setns() is done by
 * this short-lived process itself, so nothing pins the unit's namespace. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diskquota.h"
#include "fs.h"
#include "idmap.h"
#include "launchguard.h"
#include "macro.h"
#include "strutil.h"

#define MAX_OVERLAYS 32
#define MAX_BUILD_LAYERS 16 /* BUILD_CHAIN_LIMIT in src/host/build.h */

static int die(const char *fmt, ...) _printf_(1, 2);
static int die(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("error: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        return 1;
}

static int usage(void) {
        fputs("usage: left4me-overlay [--state-dir DIR] [--host-mountns] [--launch-guard] [--server-user NAME]\n"
              "                       mount NAME\n"
              "       left4me-overlay [--state-dir DIR] [--host-mountns] umount NAME\n"
              "       left4me-overlay [--state-dir DIR] --disk-max SIZE [--project ID] check-disk|over-disk NAME\n"
              "       left4me-overlay [--state-dir DIR] [--host-mountns] mount-staging|umount-staging ENTRY\n"
              "\n"
              "Mounts <state>/runtime/NAME/merged as an overlayfs of the overlays listed in\n"
              "<state>/instances/NAME/overlays (first = highest precedence) over the game\n"
              "build's layers listed in <state>/instances/NAME/build (<state>/installations/ID,\n"
              "top first; without that file <state>/installation), with upper and work dirs\n"
              "beside it; or unmounts it. Both are idempotent. Default state dir:\n"
              "/var/lib/left4me.\n"
              "\n"
              "mount-staging mounts a game build being fetched or flattened,\n"
              "<state>/install-store/staging/ENTRY/merged: the layers its file 'chain' lists,\n"
              "below its folder 'upper' (writable, for steamcmd) or, without one, read-only;\n"
              "umount-staging unmounts it (l4d2ctl as root, or left4me-stage@ENTRY.service).\n"
              "\n"
              "--launch-guard: first remove launch files the server planted in its upper layer.\n"
              "--server-user: the unit's dynamic user; every layer is idmapped so that the\n"
              "  state dir owner's files appear as that user's (and its writes land as the owner's).\n"
              "check-disk exits 0 if the upper layer is within --disk-max (K/M/G/T; 0 = none),\n"
              "  1 if it is over, 255 on errors; over-disk the other way round. With --project\n"
              "  it sets a project quota where the filesystem has them (then always within).\n",
              stderr);
        return 2;
}

static int enter_host_mountns(void) {
        _cleanup_close_ int fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat("/proc/self/ns/mnt", &b) == 0 && a.st_ino == b.st_ino)
                return 0; /* already there */
        if (setns(fd, CLONE_NEWNS) < 0)
                return negative_errno();
        return 0;
}

static int open_dir(int state, const char *rel, const char *what, const char *name) {
        int fd = path_open_beneath(state, rel, O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (fd < 0)
                die("instance '%s': %s '%s' %s", name, what, rel,
                    fd == -ENOENT ? "does not exist" : fd == -EXDEV || fd == -ELOOP ? "escapes the state dir (symlink?)" : strerror(-fd));
        return fd;
}

/* Opens the build layers a list file names (ids, one a line, top first)
 * into fds; returns how many, 0 after an error (printed). */
static size_t open_build_layers(int state, int list_fd, int *fds, size_t max, const char *what) {
        _cleanup_free_ char *list = NULL;
        if (read_fd(list_fd, 4096, &list, NULL) < 0) {
                die("%s: cannot read its build file", what);
                return 0;
        }
        size_t n = 0;
        char *save = NULL;
        for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (!build_id_is_valid(line)) {
                        die("%s: invalid build id '%s' in its build file", what, line);
                        return 0;
                }
                if (n == max) {
                        die("%s: more than %zu build layers", what, max);
                        return 0;
                }
                char rel[64];
                snprintf(rel, sizeof rel, "installations/%s", line);
                if ((fds[n] = open_dir(state, rel, "build layer", what)) < 0)
                        return 0;
                n++;
        }
        if (n == 0)
                die("%s: its build file names no build", what);
        return n;
}

/* What the systemd units add (all optional; the supervisor backend passes
 * none of them). */
typedef struct MountOptions {
        const char *server_user; /* --server-user: the unit's DynamicUser= name */
        bool launch_guard;       /* --launch-guard: clean the upper layer first */
        bool disk_set;           /* --disk-max given (check-disk, over-disk) */
        uint64_t disk_max;       /* bytes of upper layer, 0 = no limit */
        uint32_t project;        /* --project: the project quota id, 0 = none */
} MountOptions;

static void print_note(const char *line, void *userdata) {
        fprintf(stderr, "%s\n", line);
}

/* Exit statuses of the disk verbs, for the units' ExecCondition=: 0 runs
 * the unit, 1 skips it (it stays stopped, the line says why), 255 fails it. */
#define EXIT_DISK_ERROR 255

/* check-disk (over = false): 0 if the upper layer is within its limit, 1
 * if over. over-disk (over = true): the other way round, for the watch that
 * restarts a server which went over while running. A project quota where
 * the filesystem has them is set here (the kernel enforces it from then on:
 * within, always); without one the size is measured. */
static int do_disk(int state, const char *name, const MountOptions *o, bool over) {
        int within = over ? 1 : 0, exceeded = over ? 0 : 1;
        if (!o->disk_set) {
                die("instance '%s': --disk-max is missing", name);
                return EXIT_DISK_ERROR;
        }
        if (o->disk_max == 0)
                return within;
        char rel[128];
        snprintf(rel, sizeof rel, "runtime/%s/upper", name);
        _cleanup_close_ int upper = path_open_beneath(state, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (upper == -ENOENT)
                return within; /* never started: nothing written yet */
        if (upper < 0) {
                die("instance '%s': upper dir '%s': %s", name, rel, strerror(-upper));
                return EXIT_DISK_ERROR;
        }
        if (o->project) {
                int r = disk_quota_apply(upper, o->project, o->disk_max);
                if (r > 0)
                        return within;
                if (r < 0) {
                        die("instance '%s': cannot set the project quota of its upper layer: %s", name, strerror(-r));
                        return EXIT_DISK_ERROR;
                }
        }
        unsigned long long bytes;
        int r = disk_usage_fd(upper, &bytes);
        if (r < 0) {
                die("instance '%s': cannot measure its upper layer: %s", name, strerror(-r));
                return EXIT_DISK_ERROR;
        }
        if (bytes <= o->disk_max)
                return within;
        die("instance '%s': disk limit: its upper layer holds %llu MiB, over LEFT4ME_SERVER_DISK_MAX (%llu MiB); "
            "%s: delete files from it (or raise the limit in host.env)", name, bytes >> 20,
            (unsigned long long) (o->disk_max >> 20), over ? "stopping the server" : "the server is not started");
        return exceeded;
}

static int do_mount(int state, const char *name, const MountOptions *o) {
        char rel[128];
        snprintf(rel, sizeof rel, "runtime/%s/merged", name);
        _cleanup_close_ int merged = open_dir(state, rel, "mount point", name);
        if (merged < 0)
                return 1;
        char target[64];
        snprintf(target, sizeof target, "/proc/self/fd/%d", merged);
        if (fd_is_mount_point(merged))
                return 0; /* already mounted */

        /* The server's uid, and who owns the state on disk: the idmap turns
         * the owner's files into the server's. */
        uid_t server_uid = 0;
        struct stat owner;
        if (o->server_user) {
                int r = dynamic_user_uid(o->server_user, &server_uid);
                if (r < 0)
                        return die("instance '%s': '%s' is not a dynamic user of a running unit (%s)", name,
                                   o->server_user, strerror(-r));
                if (fstat(state, &owner) < 0)
                        return die("cannot stat the state dir: %s", strerror(errno));
                if (owner.st_uid == 0 || owner.st_gid == 0)
                        return die("the state dir belongs to root: the server's idmapped layers need it to belong to "
                                   "the service user (tmpfiles.d/left4me.conf)");
        }

        /* The overlay list, written by l4d2ctl start. */
        snprintf(rel, sizeof rel, "instances/%s/overlays", name);
        _cleanup_close_ int lf = path_open_beneath(state, rel, O_RDONLY, 0, PATH_NO_SYMLINKS);
        _cleanup_free_ char *list = NULL;
        if (lf < 0 || read_fd(lf, 8192, &list, NULL) < 0)
                return die("instance '%s': cannot read its overlay list '%s' (start it with l4d2ctl)", name, rel);

        /* Lower layers, highest precedence first, the game build last. */
        int lower[MAX_OVERLAYS + MAX_BUILD_LAYERS];
        size_t n = 0;
        char *save = NULL;
        for (char *line = list ? strtok_r(list, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
                if (!name_is_valid(line))
                        return die("instance '%s': invalid overlay name '%s' in its overlay list", name, line);
                if (n == MAX_OVERLAYS)
                        return die("instance '%s': more than %d overlays", name, MAX_OVERLAYS);
                snprintf(rel, sizeof rel, "overlays/%s", line);
                if ((lower[n] = open_dir(state, rel, "overlay", name)) < 0)
                        return 1;
                n++;
        }
        snprintf(rel, sizeof rel, "instances/%s/build", name);
        _cleanup_close_ int bf = path_open_beneath(state, rel, O_RDONLY, 0, PATH_NO_SYMLINKS);
        if (bf == -ENOENT) {
                /* Started before builds existed: the one installation. */
                if ((lower[n] = open_dir(state, "installation", "installation", name)) < 0)
                        return 1;
                n++;
        } else {
                size_t got = 0;
                if (bf < 0 || (got = open_build_layers(state, bf, lower + n, MAX_BUILD_LAYERS, name)) == 0)
                        return 1;
                n += got;
        }
        snprintf(rel, sizeof rel, "runtime/%s", name);
        int rt = open_dir(state, rel, "runtime dir", name);
        if (rt < 0)
                return 1;
        _cleanup_close_ int upper = path_open_beneath(rt, "upper", O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (upper < 0)
                return die("instance '%s': upper dir '%s/upper': %s", name, rel, strerror(-upper));

        /* What runs at start comes from the installation and the overlays,
         * never from the upper layer (the server writes it). The supervisor
         * backend runs the guard itself before it calls us. */
        int r = o->launch_guard ? launch_guard(upper, print_note, NULL) : 0;
        if (r < 0)
                return die("instance '%s': cannot clean its upper layer of launch files: %s", name, strerror(-r));

        if (o->server_user) {
                _cleanup_close_ int ns = idmap_userns(owner.st_uid, owner.st_gid, server_uid, (gid_t) server_uid);
                if (ns < 0)
                        return die("instance '%s': cannot make a user namespace for its idmapped layers: %s", name,
                                   strerror(-ns));
                for (size_t i = 0; i < n; i++)
                        if ((lower[i] = idmap_clone(lower[i], ns)) < 0)
                                return die("instance '%s': cannot idmap its layers: %s%s", name, strerror(-lower[i]),
                                           lower[i] == -EINVAL ? " (the state dir's filesystem does not support "
                                                                 "idmapped mounts)" : "");
                /* upperdir and workdir must be on one mount: idmap their
                 * parent, then find both beneath that clone. */
                if ((rt = idmap_clone(rt, ns)) < 0)
                        return die("instance '%s': cannot idmap its runtime dir: %s", name, strerror(-rt));
        }
        int up = path_open_beneath(rt, "upper", O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        int work = path_open_beneath(rt, "work", O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (up < 0 || work < 0)
                return die("instance '%s': upper or work dir of '%s': %s", name, rel, strerror(-(up < 0 ? up : work)));

        _cleanup_buf_ Buf opts = BUF_INIT(3500);
        r = buf_puts(&opts, "lowerdir=");
        for (size_t i = 0; i < n; i++)
                r |= buf_printf(&opts, "%s/proc/self/fd/%d", i ? ":" : "", lower[i]);
        r |= buf_printf(&opts, ",upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d", up, work);
        if (r < 0)
                return die("instance '%s': overlay options too long", name);
        if (mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV, opts.data) < 0)
                return die("instance '%s': mounting its overlay failed: %s", name, strerror(errno));
        return 0;
}

static int do_umount(int state, const char *name) {
        char rel[128];
        snprintf(rel, sizeof rel, "runtime/%s", name);
        _cleanup_close_ int rt = path_open_beneath(state, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (rt == -ENOENT)
                return 0;
        if (rt < 0)
                return die("instance '%s': runtime dir '%s': %s", name, rel, strerror(-rt));
        _cleanup_close_ int merged = path_open_beneath(rt, "merged", O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (merged == -ENOENT)
                return 0;
        if (merged < 0)
                return die("instance '%s': mount point '%s/merged': %s", name, rel, strerror(-merged));
        bool mounted = fd_is_mount_point(merged);
        close(TAKE_FD(merged)); /* an open fd on the mount would keep it busy */
        if (mounted) {
                /* Unmount relative to the runtime dir we just checked, so no
                 * path is resolved again between the check and the umount. */
                if (fchdir(rt) < 0)
                        return die("instance '%s': cannot enter '%s': %s", name, rel, strerror(errno));
                if (umount2("merged", UMOUNT_NOFOLLOW) < 0)
                        return die("instance '%s': unmounting '%s/merged' failed: %s%s", name, rel,
                                   strerror(errno),
                                   errno == EBUSY ? " (a process still uses it; stop the server first)" : "");
        }
        /* overlayfs leaves work/work (and work/index) owned by root with mode
         * 000: the service user could never delete the instance. */
        _cleanup_close_ int work = path_open_beneath(rt, "work", O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (work >= 0) {
                (void) rm_rf_at(work, "work");
                (void) rm_rf_at(work, "index");
        }
        return 0;
}

/* mount-staging: the layers the entry's chain file lists, below its upper
 * folder when it has one (a fetch: steamcmd writes the merged view), else
 * read-only (a flatten: at least two layers). Whiteouts and opaque folders
 * in the layers are the kernel's to interpret. No redirects or metacopy in
 * the new upper layer: it must read the same when it is stacked over these
 * layers again, and when flattened. */
static int do_mount_staging(int state, const char *entry) {
        char rel[160];
        snprintf(rel, sizeof rel, "install-store/staging/%s", entry);
        _cleanup_close_ int dir = open_dir(state, rel, "staging tree", entry);
        if (dir < 0)
                return 1;
        _cleanup_close_ int merged = path_open_beneath(dir, "merged", O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        _cleanup_close_ int list = path_open_beneath(dir, "chain", O_RDONLY, 0, PATH_NO_SYMLINKS);
        if (merged < 0 || list < 0)
                return die("staging tree '%s': no merged folder or chain file", entry);
        if (fd_is_mount_point(merged))
                return 0;
        int lower[MAX_BUILD_LAYERS];
        size_t n = open_build_layers(state, list, lower, MAX_BUILD_LAYERS, entry);
        if (n == 0)
                return 1;
        bool writable = faccessat(dir, "upper", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        if (!writable && n < 2)
                return die("staging tree '%s': a read-only chain needs two layers or more", entry);
        _cleanup_buf_ Buf opts = BUF_INIT(2048);
        int r = buf_puts(&opts, "lowerdir=");
        for (size_t i = 0; i < n; i++)
                r |= buf_printf(&opts, "%s/proc/self/fd/%d", i ? ":" : "", lower[i]);
        _cleanup_close_ int up = -1, work = -1;
        if (writable) {
                up = path_open_beneath(dir, "upper", O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
                work = path_open_beneath(dir, "work", O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
                if (up < 0 || work < 0)
                        return die("staging tree '%s': no upper or work folder", entry);
                r |= buf_printf(&opts, ",upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d", up, work);
        }
        r |= buf_puts(&opts, ",redirect_dir=off,metacopy=off,index=off");
        if (r < 0)
                return die("staging tree '%s': overlay options too long", entry);
        char target[64];
        snprintf(target, sizeof target, "/proc/self/fd/%d", merged);
        if (mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV | (writable ? 0 : MS_RDONLY), opts.data) < 0)
                return die("staging tree '%s': mounting its overlay failed: %s", entry, strerror(errno));
        return 0;
}

static int do_umount_staging(int state, const char *entry) {
        char rel[160];
        snprintf(rel, sizeof rel, "install-store/staging/%s", entry);
        _cleanup_close_ int dir = path_open_beneath(state, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (dir == -ENOENT)
                return 0;
        if (dir < 0)
                return die("staging tree '%s': %s", entry, strerror(-dir));
        _cleanup_close_ int merged = path_open_beneath(dir, "merged", O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        bool mounted = merged >= 0 && fd_is_mount_point(merged);
        if (merged >= 0)
                close(TAKE_FD(merged));
        if (mounted) {
                if (fchdir(dir) < 0)
                        return die("staging tree '%s': cannot enter it: %s", entry, strerror(errno));
                if (umount2("merged", UMOUNT_NOFOLLOW) < 0)
                        return die("staging tree '%s': unmounting failed: %s", entry, strerror(errno));
        }
        /* overlayfs leaves work/work owned by root, mode 000. */
        _cleanup_close_ int work = path_open_beneath(dir, "work", O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (work >= 0) {
                (void) rm_rf_at(work, "work");
                (void) rm_rf_at(work, "index");
        }
        return 0;
}

int main(int argc, char **argv) {
        /* First of all: nothing this process runs or becomes can gain
         * privileges, and it only works for a caller that is root already.
         * Installed setuid or given file capabilities by mistake, it would
         * otherwise mount for anyone. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return die("cannot set no_new_privs: %s", strerror(errno));
        if (getuid() != 0)
                return die("left4me-overlay must be run by root (real uid %u); it is run by l4d2ctl as root or by the "
                           "server unit's privileged steps", (unsigned) getuid());
        const char *state_dir = "/var/lib/left4me";
        bool host_ns = false;
        MountOptions o = { 0 };
        int i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
                bool has_value = i + 1 < argc;
                if (streq(argv[i], "--state-dir") && has_value)
                        state_dir = argv[++i];
                else if (streq(argv[i], "--host-mountns"))
                        host_ns = true;
                else if (streq(argv[i], "--server-user") && has_value)
                        o.server_user = argv[++i];
                else if (streq(argv[i], "--launch-guard"))
                        o.launch_guard = true;
                else if ((streq(argv[i], "--disk-max") || streq(argv[i], "--project")) && has_value) {
                        /* Empty: the unit's generated drop-in (which sets
                         * them) is missing; never start without it. */
                        const char *opt = argv[i], *v = argv[++i];
                        long project;
                        if (!*v)
                                return die("%s is empty: left4me-generator has not made this instance's drop-in yet; "
                                           "run 'systemctl daemon-reload' ('l4d2ctl start' does)", opt);
                        if (streq(opt, "--disk-max")) {
                                if (parse_size(v, &o.disk_max) < 0)
                                        return die("--disk-max '%s' is not a size", v);
                                o.disk_set = true;
                        } else if (parse_long(v, 0, 0x7fffffffL, &project) < 0)
                                return die("--project '%s' is not a project id", v);
                        else
                                o.project = (uint32_t) project;
                } else if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                        usage();
                        return 0;
                } else
                        return usage();
        }
        if (argc - i != 2)
                return usage();
        const char *verb = argv[i], *name = argv[i + 1];
        bool staging = streq(verb, "mount-staging") || streq(verb, "umount-staging");
        if (!name_is_valid(name))
                return die("'%s' is not a valid %s name", name, staging ? "staging tree" : "instance");
        if (state_dir[0] != '/')
                return die("the state dir must be an absolute path, not '%s'", state_dir);
        if (host_ns) {
                int r = enter_host_mountns();
                if (r < 0)
                        return die("cannot enter PID 1's mount namespace: %s", strerror(-r));
        }
        _cleanup_close_ int state = open(state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (state < 0)
                return die("cannot open state dir '%s': %s", state_dir, strerror(errno));
        if (streq(verb, "mount"))
                return do_mount(state, name, &o);
        if (streq(verb, "check-disk") || streq(verb, "over-disk"))
                return do_disk(state, name, &o, streq(verb, "over-disk"));
        if (streq(verb, "umount") || streq(verb, "unmount"))
                return do_umount(state, name);
        if (staging)
                return streq(verb, "umount-staging") ? do_umount_staging(state, name) : do_mount_staging(state, name);
        return usage();
}
