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
 * With --host-mountns it first enters PID 1's mount namespace: a `+` step of
 * a unit with PrivateTmp/ProtectSystem/... runs in the unit's private
 * namespace, where a mount would vanish before ExecStart. setns() is done by
 * this short-lived process itself, so nothing pins the unit's namespace. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "macro.h"
#include "strutil.h"

#define MAX_OVERLAYS 32

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
        fputs("usage: left4me-overlay [--state-dir DIR] [--host-mountns] mount|umount NAME\n"
              "\n"
              "Mounts <state>/runtime/NAME/merged as an overlayfs of the overlays listed in\n"
              "<state>/instances/NAME/overlays (first = highest precedence) over\n"
              "<state>/installation, with upper and work dirs beside it; or unmounts it.\n"
              "Both are idempotent. Default state dir: /var/lib/left4me.\n",
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

static int do_mount(int state, const char *name) {
        char rel[128];
        snprintf(rel, sizeof rel, "runtime/%s/merged", name);
        _cleanup_close_ int merged = open_dir(state, rel, "mount point", name);
        if (merged < 0)
                return 1;
        char target[64];
        snprintf(target, sizeof target, "/proc/self/fd/%d", merged);
        if (fd_is_mount_point(merged))
                return 0; /* already mounted */

        /* The overlay list, written by l4d2ctl start. */
        snprintf(rel, sizeof rel, "instances/%s/overlays", name);
        _cleanup_close_ int lf = path_open_beneath(state, rel, O_RDONLY, 0, PATH_NO_SYMLINKS);
        _cleanup_free_ char *list = NULL;
        if (lf < 0 || read_fd(lf, 8192, &list, NULL) < 0)
                return die("instance '%s': cannot read its overlay list '%s' (start it with l4d2ctl)", name, rel);

        int fds[MAX_OVERLAYS + 1];
        size_t n = 0;
        _cleanup_buf_ Buf opts = BUF_INIT(3500);
        int r = buf_puts(&opts, "lowerdir=");
        char *save = NULL;
        for (char *line = list ? strtok_r(list, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
                if (!name_is_valid(line))
                        return die("instance '%s': invalid overlay name '%s' in its overlay list", name, line);
                if (n == MAX_OVERLAYS)
                        return die("instance '%s': more than %d overlays", name, MAX_OVERLAYS);
                snprintf(rel, sizeof rel, "overlays/%s", line);
                if ((fds[n] = open_dir(state, rel, "overlay", name)) < 0)
                        return 1;
                r |= buf_printf(&opts, "/proc/self/fd/%d:", fds[n]);
                n++;
        }
        int inst = open_dir(state, "installation", "installation", name);
        if (inst < 0)
                return 1;
        snprintf(rel, sizeof rel, "runtime/%s/upper", name);
        int upper = open_dir(state, rel, "upper dir", name);
        snprintf(rel, sizeof rel, "runtime/%s/work", name);
        int work = open_dir(state, rel, "work dir", name);
        if (upper < 0 || work < 0)
                return 1;
        r |= buf_printf(&opts, "/proc/self/fd/%d,upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d", inst, upper, work);
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
        int i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (streq(argv[i], "--state-dir") && i + 1 < argc)
                        state_dir = argv[++i];
                else if (streq(argv[i], "--host-mountns"))
                        host_ns = true;
                else if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                        usage();
                        return 0;
                } else
                        return usage();
        }
        if (argc - i != 2)
                return usage();
        const char *verb = argv[i], *name = argv[i + 1];
        if (!name_is_valid(name))
                return die("'%s' is not a valid instance name", name);
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
                return do_mount(state, name);
        if (streq(verb, "umount") || streq(verb, "unmount"))
                return do_umount(state, name);
        return usage();
}
