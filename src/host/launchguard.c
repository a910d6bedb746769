/* See launchguard.h. Depends on basic/ only: left4me-overlay runs it too. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "launchguard.h"
#include "macro.h"
#include "strutil.h"

/* What srcds_run executes, directly or through the dynamic loader. */
static const char *const launch_paths[] = {
        "srcds_run", "srcds_linux", "bin", "left4dead2/bin", "steam.sh", "steamclient.so", "linux32", "linux64",
};

/* Gives the owner rwx on every directory below dirfd/name (a server may
 * leave mode 000 directories that even it could not delete), never
 * following a symlink. Bounded depth: rm_rf_at copes with deeper trees. */
static void make_removable(int dir_fd, const char *name, unsigned depth) {
        struct stat st;
        if (depth > 64 || fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                return;
        if ((st.st_mode & 0700) != 0700)
                (void) fchmodat(dir_fd, name, (st.st_mode & 07777) | 0700, 0);
        int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        make_removable(dirfd(d), de->d_name, depth + 1);
        closedir(d);
}

static int guard_remove(int dirfd, const char *name, const char *shown, const char *what, launch_note_fn note,
                        void *userdata) {
        make_removable(dirfd, name, 0);
        int r = rm_rf_at(dirfd, name);
        char line[512];
        if (r < 0)
                snprintf(line, sizeof line, "left4me: cannot remove %s '%s' from the upper layer: %s", what, shown,
                         strerror(-r));
        else
                snprintf(line, sizeof line, "left4me: removed %s '%s' from the upper layer: it would shadow the "
                         "installation's (a server cannot change what runs at its next start)", what, shown);
        if (note)
                note(line, userdata);
        return r < 0 ? r : 1;
}

int launch_guard(int upper_fd, launch_note_fn note, void *userdata) {
        int removed = 0;
        for (size_t i = 0; i < ELEMENTSOF(launch_paths); i++) {
                const char *path = launch_paths[i];
                const char *slash = strrchr(path, '/');
                _cleanup_close_ int parent = -1;
                const char *leaf = path;
                if (slash) {
                        /* The parent must be a plain directory: a symlink or
                         * a whiteout there would redirect or hide it all. */
                        char dir[64];
                        snprintf(dir, sizeof dir, "%.*s", (int) (slash - path), path);
                        struct stat st;
                        if (fstatat(upper_fd, dir, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno == ENOENT)
                                        continue;
                                return negative_errno();
                        }
                        if (!S_ISDIR(st.st_mode)) {
                                int r = guard_remove(upper_fd, dir, dir, "a non-directory", note, userdata);
                                if (r < 0)
                                        return r;
                                removed++;
                                continue;
                        }
                        parent = path_open_beneath(upper_fd, dir, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
                        if (parent < 0)
                                return parent;
                        leaf = slash + 1;
                }
                int dfd = parent >= 0 ? parent : upper_fd;
                struct stat st;
                if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return negative_errno();
                }
                const char *what = S_ISLNK(st.st_mode)  ? "a symlink"
                                   : S_ISCHR(st.st_mode) ? "a whiteout"
                                   : S_ISDIR(st.st_mode) ? "a folder"
                                                         : "a copy of";
                int r = guard_remove(dfd, leaf, path, what, note, userdata);
                if (r < 0)
                        return r;
                removed++;
        }
        return removed;
}
