#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

static char dir[] = "/tmp/l4m-test-fs-XXXXXX";

static int setup(void **state) {
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        return rm_rf(dir);
}

static void test_beneath_refuses_escapes(void **state) {
        char p[512];
        snprintf(p, sizeof p, "%s/inside", dir);
        assert_int_equal(mkdir_p(p, 0755), 0);
        snprintf(p, sizeof p, "%s/inside/up", dir);
        assert_int_equal(symlink("/etc", p), 0);

        snprintf(p, sizeof p, "%s/inside", dir);
        assert_int_equal(path_open_beneath_dir(p, "../", O_RDONLY, 0, 0), -EXDEV);
        assert_int_equal(path_open_beneath_dir(p, "/etc/passwd", O_RDONLY, 0, 0), -EXDEV);
        assert_int_equal(path_open_beneath_dir(p, "up/passwd", O_RDONLY, 0, 0), -EXDEV);
        assert_int_equal(path_open_beneath_dir(p, "up", O_RDONLY, 0, PATH_NO_SYMLINKS), -ELOOP);
        int fd = path_open_beneath_dir(p, "new.txt", O_WRONLY | O_CREAT, 0644, 0);
        assert_true(fd >= 0);
        close(fd);
}

/* The fallback without openat2 refuses at least what openat2 refuses. */
static void test_walk_fallback_refuses_escapes(void **state) {
        char p[512];
        snprintf(p, sizeof p, "%s/w/a/b", dir);
        assert_int_equal(mkdir_p(p, 0755), 0);
        snprintf(p, sizeof p, "%s/w/a/up", dir);
        assert_int_equal(symlink("/etc", p), 0);
        snprintf(p, sizeof p, "%s/w/a/in", dir);
        assert_int_equal(symlink("b", p), 0);
        snprintf(p, sizeof p, "%s/w", dir);
        int a = open(p, O_PATH | O_DIRECTORY);
        assert_true(a >= 0);
        assert_int_equal(path_open_beneath_walk(a, "a/../..", O_RDONLY, 0, 0), -EXDEV);
        assert_int_equal(path_open_beneath_walk(a, "a/up/passwd", O_RDONLY, 0, 0), -ELOOP);
        assert_int_equal(path_open_beneath_walk(a, "a/up", O_PATH, 0, 0), -ELOOP);
        assert_int_equal(path_open_beneath_walk(a, "a/in", O_RDONLY | O_DIRECTORY, 0, 0), -ELOOP);
        assert_int_equal(path_open_beneath_walk(a, "a/missing", O_RDONLY, 0, 0), -ENOENT);
        int fd = path_open_beneath_walk(a, "./a//b/", O_RDONLY | O_DIRECTORY, 0, 0);
        assert_true(fd >= 0);
        close(fd);
        fd = path_open_beneath_walk(a, "a/b/new", O_WRONLY | O_CREAT, 0644, 0);
        assert_true(fd >= 0);
        close(fd);
        fd = path_open_beneath_walk(a, ".", O_RDONLY | O_DIRECTORY, 0, 0);
        assert_true(fd >= 0);
        close(fd);
        close(a);
}

static void test_atomic_write_replaces(void **state) {
        char p[512];
        snprintf(p, sizeof p, "%s/file", dir);
        assert_int_equal(write_file_atomic(p, "one", 3, 0600), 0);
        assert_int_equal(write_file_atomic(p, "two!", 4, 0640), 0);
        char *s = NULL;
        size_t n;
        assert_int_equal(read_file(p, 100, &s, &n), 0);
        assert_string_equal(s, "two!");
        assert_int_equal(n, 4);
        free(s);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0640);
        assert_int_equal(read_file(p, 2, &s, &n), -EFBIG);
}

static void test_rm_rf_does_not_follow_symlinks(void **state) {
        char victim[512], tree[512], link[512];
        snprintf(victim, sizeof victim, "%s/victim", dir);
        snprintf(tree, sizeof tree, "%s/tree/a/b", dir);
        assert_int_equal(mkdir_p(victim, 0755), 0);
        assert_int_equal(mkdir_p(tree, 0755), 0);
        snprintf(link, sizeof link, "%s/tree/a/b/escape", dir);
        assert_int_equal(symlink(victim, link), 0);
        snprintf(link, sizeof link, "%s/victim/keep", dir);
        assert_int_equal(write_file_atomic(link, "x", 1, 0644), 0);

        snprintf(tree, sizeof tree, "%s/tree", dir);
        assert_int_equal(rm_rf(tree), 0);
        assert_int_equal(access(tree, F_OK), -1);
        assert_int_equal(access(link, F_OK), 0);
        assert_int_equal(rm_rf(tree), 0); /* missing is fine */
}

/* A chain far deeper than rm_rf follows at once still goes entirely, with a
 * bounded number of open directories. */
static void test_rm_rf_very_deep_tree(void **state) {
        char p[512];
        snprintf(p, sizeof p, "%s/deep", dir);
        assert_int_equal(mkdir(p, 0755), 0);
        int fd = open(p, O_PATH | O_DIRECTORY);
        assert_true(fd >= 0);
        for (int i = 0; i < 3000; i++) {
                assert_int_equal(mkdirat(fd, "d", 0755), 0);
                int next = openat(fd, "d", O_PATH | O_DIRECTORY);
                assert_true(next >= 0);
                close(fd);
                fd = next;
        }
        assert_int_equal(mkdirat(fd, "leaf", 0755), 0);
        close(fd);
        /* Far fewer fds than the tree is deep: following it all the way
         * down would run out of them. */
        struct rlimit old, low = { .rlim_cur = 256 };
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
        low.rlim_max = old.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        int r = rm_rf(p);
        setrlimit(RLIMIT_NOFILE, &old);
        assert_int_equal(r, 0);
        assert_int_equal(access(p, F_OK), -1);
}

/* A directory of the same filesystem bind-mounted inside the tree has the
 * same st_dev as the tree: only its mount id shows it is another mount.
 * rm_rf must neither descend into it nor remove what it shows, and must say
 * so (-EBUSY) after removing everything else. */
static void test_rm_rf_does_not_descend_into_bind_mounts(void **state) {
        /* A mount namespace of our own: whatever happens, no mount is left
         * behind on the host. (The tests run as root, like the product's.) */
        assert_int_equal(unshare(CLONE_NEWNS), 0);
        assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);

        char outside[512], keep[512], tree[512], other[512], target[512], file_target[512], keep_file[512];
        snprintf(outside, sizeof outside, "%s/outside", dir);
        snprintf(keep, sizeof keep, "%s/outside/keep", dir);
        snprintf(keep_file, sizeof keep_file, "%s/keep-file", dir);
        snprintf(tree, sizeof tree, "%s/tree", dir);
        snprintf(other, sizeof other, "%s/tree/a/other", dir);
        snprintf(target, sizeof target, "%s/tree/a/bind", dir);
        snprintf(file_target, sizeof file_target, "%s/tree/a/file-bind", dir);
        assert_int_equal(mkdir_p(outside, 0755), 0);
        assert_int_equal(write_file_atomic(keep, "x", 1, 0644), 0);
        assert_int_equal(write_file_atomic(keep_file, "y", 1, 0644), 0);
        assert_int_equal(mkdir_p(target, 0755), 0);
        assert_int_equal(write_file_atomic(other, "z", 1, 0644), 0);
        assert_int_equal(write_file_atomic(file_target, "", 0, 0644), 0);
        assert_int_equal(mount(outside, target, NULL, MS_BIND, NULL), 0);
        assert_int_equal(mount(keep_file, file_target, NULL, MS_BIND, NULL), 0);
        struct stat a, b;
        assert_int_equal(stat(tree, &a), 0);
        assert_int_equal(stat(target, &b), 0);
        assert_true(a.st_dev == b.st_dev); /* st_dev cannot tell */

        assert_int_equal(rm_rf(tree), -EBUSY);
        assert_int_equal(access(keep, F_OK), 0);
        assert_int_equal(access(keep_file, F_OK), 0);
        assert_int_equal(access(other, F_OK), -1); /* the rest went */
        /* Nor is a mount point itself emptied. */
        assert_int_equal(rm_rf(target), -EBUSY);
        assert_int_equal(access(keep, F_OK), 0);

        assert_int_equal(umount(target), 0);
        assert_int_equal(umount(file_target), 0);
        assert_int_equal(rm_rf(tree), 0);
        assert_int_equal(access(tree, F_OK), -1);
        assert_int_equal(access(keep, F_OK), 0);
}

/* disk_usage does not count what a bind mount shows twice. */
static void test_disk_usage_stops_at_bind_mounts(void **state) {
        assert_int_equal(unshare(CLONE_NEWNS), 0);
        assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        char big[512], du[512], target[512];
        snprintf(big, sizeof big, "%s/big", dir);
        snprintf(du, sizeof du, "%s/du", dir);
        snprintf(target, sizeof target, "%s/du/bind", dir);
        assert_int_equal(mkdir_p(big, 0755), 0);
        assert_int_equal(mkdir_p(target, 0755), 0);
        char path[600];
        snprintf(path, sizeof path, "%s/blob", big);
        static char blob[1 << 20];
        memset(blob, 'x', sizeof blob);
        assert_int_equal(write_file_atomic(path, blob, sizeof blob, 0644), 0);
        unsigned long long before, after;
        assert_int_equal(disk_usage(du, &before), 0);
        assert_int_equal(mount(big, target, NULL, MS_BIND, NULL), 0);
        assert_int_equal(disk_usage(du, &after), 0);
        assert_int_equal(umount(target), 0);
        assert_true(after < before + 64 * 1024);
        assert_int_equal(rm_rf(du), 0);
        assert_int_equal(rm_rf(big), 0);
}

static void test_mkdir_p_refuses_dotdot(void **state) {
        int fd = open(dir, O_PATH | O_DIRECTORY);
        assert_int_equal(mkdir_p_at(fd, "x/../../y", 0755), -EXDEV);
        close(fd);
}

/* path_resolve_user: what a user may name, beneath a working tree. */
static int resolve_why(int anchor, const char *path, size_t len, unsigned flags, const char **why) {
        UserPath p = USER_PATH_INIT;
        int r = path_resolve_user(anchor, path, len, flags, &p, why);
        if (r >= 0)
                user_path_done(&p);
        return r;
}

static int resolve(int anchor, const char *path, unsigned flags) {
        return resolve_why(anchor, path, strlen(path), flags, NULL);
}

static void test_user_path_refuses_bad_names(void **state) {
        char p[512];
        snprintf(p, sizeof p, "%s/u/cfg", dir);
        assert_int_equal(mkdir_p(p, 0755), 0);
        snprintf(p, sizeof p, "%s/u", dir);
        int a = open(p, O_PATH | O_DIRECTORY);
        assert_true(a >= 0);
        const char *why = NULL;
        static const char *const bad[] = {
                "..", "../x", "cfg/../..", "cfg/..", ".", "./cfg", "cfg/./x", "...", " ", "  . ", "cfg/ ",
                "/etc/passwd", "/", "a//b", "//", "cfg\\..\\..\\x", "%2e%2e/x", "%2E%2e", "cfg/%2fetc", "%252e",
                "%00", "a\nb", "a\tb", "\x7f", "bad\xff", "\xc0\xae\xc0\xae", "\xed\xa0\x80", "a\xe2\x82",
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                why = NULL;
                assert_int_equal(resolve_why(a, bad[i], strlen(bad[i]), USER_PATH_ROOT_OK, &why), -EINVAL);
                assert_non_null(why);
        }
        /* A NUL inside the given length (JSON or a form field can hold one). */
        assert_int_equal(resolve_why(a, "cfg\0/../../x", 12, 0, &why), -EINVAL);
        assert_string_equal(why, "a name holds a NUL byte");
        char longname[300];
        memset(longname, 'a', sizeof longname - 1);
        longname[sizeof longname - 1] = '\0';
        assert_int_equal(resolve(a, longname, 0), -ENAMETOOLONG);
        static char longpath[5000];
        for (size_t i = 0; i + 2 < sizeof longpath; i += 2)
                memcpy(longpath + i, "a/", 2);
        longpath[sizeof longpath - 2] = 'a';
        assert_int_equal(resolve(a, longpath, 0), -ENAMETOOLONG);
        assert_int_equal(resolve(a, "", 0), -EINVAL);
        /* Fine: UTF-8, spaces inside, dots inside, a trailing '/', '%' not
         * followed by two hex digits. */
        assert_int_equal(resolve(a, "", USER_PATH_ROOT_OK), 0);
        assert_int_equal(resolve(a, "cfg/", 0), 0);
        assert_int_equal(resolve(a, "cfg/server .cfg", 0), 0);
        assert_int_equal(resolve(a, "cfg/..x", 0), 0);
        assert_int_equal(resolve(a, "cfg/.hidden", 0), 0);
        assert_int_equal(resolve(a, "cfg/100%_hp.cfg", 0), 0);
        assert_int_equal(resolve(a, "cfg/\xc3\xa9t\xc3\xa9 \xe2\x98\x83.cfg", 0), 0);
        close(a);
}

static void test_user_path_never_follows(void **state) {
        char p[512];
        snprintf(p, sizeof p, "%s/v/real", dir);
        assert_int_equal(mkdir_p(p, 0755), 0);
        snprintf(p, sizeof p, "%s/v/etc", dir);
        assert_int_equal(symlink("/etc", p), 0);
        snprintf(p, sizeof p, "%s/v/in", dir);
        assert_int_equal(symlink("real", p), 0);
        snprintf(p, sizeof p, "%s/v/loop", dir);
        assert_int_equal(symlink("loop", p), 0);
        snprintf(p, sizeof p, "%s/v/fifo", dir);
        assert_int_equal(mkfifo(p, 0644), 0);
        snprintf(p, sizeof p, "%s/v", dir);
        int a = open(p, O_PATH | O_DIRECTORY);
        assert_true(a >= 0);
        assert_int_equal(resolve(a, "etc/passwd", 0), -ELOOP);
        assert_int_equal(resolve(a, "etc", 0), -EPERM);
        assert_int_equal(resolve(a, "in/x", USER_PATH_MAKE_PARENTS), -ELOOP);
        assert_int_equal(resolve(a, "loop", 0), -EPERM);
        assert_int_equal(resolve(a, "loop/x", 0), -ELOOP);
        assert_int_equal(resolve(a, "fifo", 0), -EPERM);
        assert_int_equal(resolve(a, "missing/x", 0), -ENOENT);
        /* Missing folders are made only when asked, and only beneath. */
        UserPath u = USER_PATH_INIT;
        assert_int_equal(path_resolve_user(a, "new/deeper/file", 15, USER_PATH_MAKE_PARENTS, &u, NULL), 0);
        assert_false(u.exists);
        assert_string_equal(u.name, "file");
        assert_string_equal(u.path, "new/deeper/file");
        user_path_done(&u);
        snprintf(p, sizeof p, "%s/v/new/deeper", dir);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0755);
        snprintf(p, sizeof p, "%s/v/new/deeper/file", dir);
        assert_int_equal(write_file_atomic(p, "x", 1, 0644), 0);
        assert_int_equal(resolve(a, "new/deeper/file/x", USER_PATH_MAKE_PARENTS), -ENOTDIR);
        assert_int_equal(resolve(a, "new/deeper/file/x", 0), -ENOTDIR);
        close(a);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_beneath_refuses_escapes),
                cmocka_unit_test(test_walk_fallback_refuses_escapes),
                cmocka_unit_test(test_atomic_write_replaces),
                cmocka_unit_test(test_rm_rf_does_not_follow_symlinks),
                cmocka_unit_test(test_rm_rf_very_deep_tree),
                cmocka_unit_test(test_rm_rf_does_not_descend_into_bind_mounts),
                cmocka_unit_test(test_disk_usage_stops_at_bind_mounts),
                cmocka_unit_test(test_mkdir_p_refuses_dotdot),
                cmocka_unit_test(test_user_path_refuses_bad_names),
                cmocka_unit_test(test_user_path_never_follows),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
