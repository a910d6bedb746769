/* Script overlays: the script, the build around the sandbox (a fresh tree,
 * the outcome, checking and publishing the result), and the script's output
 * as build events. The sandboxes are overlay-script-bwrap.c and
 * overlay-script-unit.c; see overlay-script.h. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "overlay-script.h"
#include "strutil.h"

#define OUTPUT_MAX (16ULL * 1024 * 1024)
#define TREE_MAX_DEPTH 64
#define COMPARE_BUF (64 * 1024)

/* ---- settings ---- */

static int script_limits(const HostConfig *c, ScriptLimits *ret, Error *err) {
        ScriptLimits l = { .timeout_s = 1800, .memory_max = 2ULL << 30, .tasks_max = 512, .cpu_percent = 100 };
        int r;
        if ((r = config_setting_long(c, "LEFT4ME_BUILD_TIMEOUT", 1, 7 * 86400, &l.timeout_s, err)) < 0 ||
            (r = config_setting_size(c, "LEFT4ME_BUILD_MEMORY_MAX", &l.memory_max, err)) < 0 ||
            (r = config_setting_long(c, "LEFT4ME_BUILD_TASKS_MAX", 0, 1 << 22, &l.tasks_max, err)) < 0 ||
            (r = config_setting_long(c, "LEFT4ME_BUILD_CPU_QUOTA", 0, 100000, &l.cpu_percent, err)) < 0)
                return r;
        *ret = l;
        return 0;
}

typedef enum Sandbox { SANDBOX_UNIT, SANDBOX_BWRAP } Sandbox;

static int sandbox_kind(const HostConfig *c, Sandbox *ret, Error *err) {
        _cleanup_free_ char *s = NULL;
        int r = config_setting(c, "LEFT4ME_BUILD_SANDBOX", &s);
        if (r < 0)
                return error_set(err, r, "cannot read LEFT4ME_BUILD_SANDBOX: %s", strerror(-r));
        if (r == 0 || streq(s, "auto"))
                *ret = c->backend == BACKEND_SYSTEMD ? SANDBOX_UNIT : SANDBOX_BWRAP;
        else if (streq(s, "unit"))
                *ret = SANDBOX_UNIT;
        else if (streq(s, "bwrap"))
                *ret = SANDBOX_BWRAP;
        else
                return error_set(err, -EINVAL, "LEFT4ME_BUILD_SANDBOX='%s' is not one of auto, unit, bwrap", s);
        return 0;
}

/* ---- the script ---- */

/* A change marker, not a security measure: FNV-1a, 64 bits. */
static void script_hash(const char *data, size_t len, char out[17]) {
        uint64_t h = 14695981039346656037ULL;
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char) data[i]) * 1099511628211ULL;
        snprintf(out, 17, "%016llx", (unsigned long long) h);
}

static int check_script_overlay(const HostConfig *c, const char *name, Error *err) {
        return overlay_require_kind(c, name, OVERLAY_SCRIPT, "have a script", err);
}

/* builds/NAME, made if missing. */
static int open_builds(const HostConfig *c, const char *name, Error *err) {
        _cleanup_close_ int state = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (state < 0)
                return error_set(err, negative_errno(), "cannot open the state dir '%s': %m", c->state_dir);
        char rel[64];
        snprintf(rel, sizeof rel, "builds/%s", name);
        int r = mkdir_p_at(state, rel, 0755);
        int fd = r < 0 ? r : path_open_beneath(state, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (fd < 0)
                return error_set(err, fd, "overlay '%s': cannot open '%s/%s': %s", name, c->state_dir, rel,
                                 strerror(-fd));
        /* The sandbox's user reads the script through it. */
        (void) fchmod(fd, 0755);
        return fd;
}

int overlay_script_set(const HostConfig *c, const char *name, int in_fd, Error *err) {
        int r = check_script_overlay(c, name, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        r = read_fd(in_fd, SCRIPT_MAX, &text, &len);
        if (r == -EFBIG)
                return error_set(err, r, "overlay '%s': the script is larger than %d KiB", name, SCRIPT_MAX / 1024);
        if (r < 0)
                return error_set(err, r, "overlay '%s': cannot read the script: %s", name, strerror(-r));
        if (memchr(text, '\0', len))
                return error_set(err, -EINVAL, "overlay '%s': the script holds a NUL byte (is it a binary file?)",
                                 name);
        _cleanup_close_ int lock = -1, dir = -1;
        if ((r = overlay_lock_meta(c, name, &lock, err)) < 0)
                return r;
        if ((dir = open_builds(c, name, err)) < 0)
                return dir;
        if ((r = write_file_atomic_at(dir, "script.sh", text, len, 0644)) < 0)
                return error_set(err, r, "overlay '%s': cannot save the script: %s", name, strerror(-r));
        json_t *meta = NULL;
        if ((r = overlay_meta_load(c, name, &meta, err)) < 0)
                return r;
        char hash[17];
        script_hash(text, len, hash);
        json_t *s = json_object_get(meta, "script");
        if (!json_is_object(s))
                json_object_set_new(meta, "script", s = json_object());
        json_object_set_new(s, "size", json_integer((json_int_t) len));
        json_object_set_new(s, "hash", json_string(hash));
        json_object_set_new(s, "updated", json_integer((json_int_t) time(NULL)));
        r = overlay_meta_save(c, name, meta, err);
        json_decref(meta);
        return r;
}

int overlay_script_show(const HostConfig *c, const char *name, int out_fd, Error *err) {
        int r = check_script_overlay(c, name, err);
        if (r < 0)
                return r;
        _cleanup_close_ int dir = open_builds(c, name, err);
        if (dir < 0)
                return dir;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        _cleanup_close_ int fd = openat(dir, "script.sh", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return error_set(err, -ENOENT, "overlay '%s' has no script yet: set one with 'l4d2ctl overlay script "
                                 "%s set < script.sh'", name, name);
        if (fd < 0 || (r = read_fd(fd, SCRIPT_MAX, &text, &len)) < 0)
                return error_set(err, fd < 0 ? negative_errno() : r, "overlay '%s': cannot read its script", name);
        for (size_t off = 0; off < len;) {
                ssize_t n = write(out_fd, text + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return error_set(err, negative_errno(), "overlay '%s': cannot write the script out: %m", name);
                off += (size_t) n;
        }
        return 0;
}

/* ---- the script's output ---- */

/* Events are JSON (UTF-8 only) and lines reach terminals: control
 * characters (tab aside) and bytes that are not UTF-8 become '?'. */
static void sanitize(char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                unsigned char ch = (unsigned char) s[i];
                size_t k = ch < 0x80 ? 0 : (ch & 0xe0) == 0xc0 ? 1 : (ch & 0xf0) == 0xe0 ? 2 : (ch & 0xf8) == 0xf0 ? 3 : SIZE_MAX;
                bool ok = k != SIZE_MAX && i + k < n;
                for (size_t j = 1; ok && j <= k; j++)
                        ok = ((unsigned char) s[i + j] & 0xc0) == 0x80;
                if (!ok || (k == 0 && ((ch < 0x20 && ch != '\t') || ch == 0x7f)))
                        s[i++] = '?';
                else
                        i += k + 1;
        }
}

static void emit_line(ScriptRun *run) {
        char *s = run->line;
        size_t n = run->line_len;
        s[n] = '\0';
        sanitize(s, n);
        json_t *ev = json_pack("{s:s, s:s}", "event", "output", "line", s);
        if (!ev) { /* an overlong form or a surrogate: keep the ASCII */
                for (size_t i = 0; i < n; i++)
                        if ((unsigned char) s[i] >= 0x80)
                                s[i] = '?';
                ev = json_pack("{s:s, s:s}", "event", "output", "line", s);
        }
        overlay_build_emit(run->b, ev);
        run->line_len = 0;
}

void script_output(ScriptRun *run, const char *data, size_t len) {
        for (size_t i = 0; i < len; i++) {
                if (run->out_cut)
                        return;
                char ch = data[i];
                if (ch == '\n' && run->after_cr)
                        run->after_cr = false; /* CRLF: one line */
                else if (ch == '\n' || ch == '\r') {
                        emit_line(run);
                        run->after_cr = ch == '\r';
                } else {
                        run->after_cr = false;
                        run->line[run->line_len++] = ch;
                        if (run->line_len == sizeof run->line - 1)
                                emit_line(run);
                }
                if (++run->out_bytes > OUTPUT_MAX) {
                        run->out_cut = true;
                        overlay_build_line(run->b, "(the script's output goes on past 16 MiB: the rest is not kept)");
                }
        }
}

void script_output_flush(ScriptRun *run) {
        if (run->line_len && !run->out_cut)
                emit_line(run);
}

int script_cancel_open(sigset_t *old) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &set, old) < 0)
                return negative_errno();
        int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd < 0) {
                int r = negative_errno();
                sigprocmask(SIG_SETMASK, old, NULL);
                return r;
        }
        return fd;
}

void script_cancel_close(int fd, const sigset_t *old) {
        if (fd >= 0)
                close(fd);
        sigprocmask(SIG_SETMASK, old, NULL);
}

/* ---- the result ---- */

/* Checks what the script made and makes it fit for servers: only files and
 * folders, modes 0644/0755 (no setuid, readable by every server's user),
 * at most max_size bytes. path holds the entry being looked at. */
static int check_tree(int dir, unsigned depth, uint64_t *size, uint64_t max_size, char *path, size_t cap, size_t base,
                      const char **why) {
        if (depth > TREE_MAX_DEPTH) {
                *why = "is nested more than 64 folders deep";
                return -ELOOP;
        }
        int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                *why = "cannot be read";
                return negative_errno();
        }
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                size_t len = (size_t) snprintf(path + base, cap - base, "%s%s", base ? "/" : "", de->d_name);
                if (base + len >= cap) {
                        *why = "has a path that is too long";
                        r = -ENAMETOOLONG;
                        break;
                }
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        *why = "cannot be read";
                        r = negative_errno();
                } else if (S_ISREG(st.st_mode)) {
                        *size += (uint64_t) st.st_size;
                        if (max_size && *size > max_size) {
                                *why = "makes the output larger than LEFT4ME_BUILD_MAX_SIZE";
                                r = -EFBIG;
                        } else if (fchmodat(dirfd(d), de->d_name, st.st_mode & 0111 ? 0755 : 0644, 0) < 0) {
                                *why = "cannot be made readable";
                                r = negative_errno();
                        }
                } else if (S_ISDIR(st.st_mode)) {
                        /* The mode first: a folder the script made 0000 opens
                         * only after. */
                        _cleanup_close_ int sub = fchmodat(dirfd(d), de->d_name, 0755, 0) < 0
                                                          ? -1
                                                          : openat(dirfd(d), de->d_name,
                                                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0) {
                                *why = "cannot be opened";
                                r = negative_errno();
                        } else
                                r = check_tree(sub, depth + 1, size, max_size, path, cap, base + len, why);
                } else {
                        *why = S_ISLNK(st.st_mode) ? "is a symlink: overlays hold only files and folders"
                                                   : "is not a file or folder: overlays hold only files and folders";
                        r = -EPERM;
                }
        }
        closedir(d);
        return r;
}

static bool same_file_content(int a, int b) {
        _cleanup_free_ char *ba = malloc(COMPARE_BUF), *bb = malloc(COMPARE_BUF);
        if (!ba || !bb)
                return false;
        for (;;) {
                ssize_t na = read(a, ba, COMPARE_BUF);
                if (na < 0)
                        return false;
                ssize_t got = 0;
                while (got < na) {
                        ssize_t nb = read(b, bb + got, (size_t) (na - got));
                        if (nb <= 0)
                                return false;
                        got += nb;
                }
                if (memcmp(ba, bb, (size_t) na) != 0)
                        return false;
                if (na == 0) {
                        char probe;
                        return read(b, &probe, 1) == 0;
                }
        }
}

static size_t entry_count(int dir) {
        int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return SIZE_MAX;
        }
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                n += !streq(de->d_name, ".") && !streq(de->d_name, "..");
        closedir(d);
        return n;
}

/* Same names, types, modes and bytes: publishing would change nothing a
 * server sees. */
static bool same_content(int a, int b, unsigned depth) {
        if (depth > TREE_MAX_DEPTH || entry_count(a) != entry_count(b) || entry_count(a) == SIZE_MAX)
                return false;
        int fd = openat(a, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return false;
        }
        bool same = true;
        struct dirent *de;
        while (same && (de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat sa, sb;
                if (fstatat(a, de->d_name, &sa, AT_SYMLINK_NOFOLLOW) < 0 ||
                    fstatat(b, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || sa.st_mode != sb.st_mode ||
                    (S_ISREG(sa.st_mode) && sa.st_size != sb.st_size))
                        same = false;
                else {
                        int flags = (S_ISDIR(sa.st_mode) ? O_DIRECTORY : 0) | O_RDONLY | O_NOFOLLOW | O_CLOEXEC;
                        _cleanup_close_ int ca = openat(a, de->d_name, flags), cb = openat(b, de->d_name, flags);
                        same = ca >= 0 && cb >= 0 &&
                               (S_ISDIR(sa.st_mode) ? same_content(ca, cb, depth + 1) : same_file_content(ca, cb));
                }
        }
        closedir(d);
        return same;
}

static const char *signal_name(int sig) {
        switch (sig) {
        case SIGKILL:
                return "SIGKILL";
        case SIGTERM:
                return "SIGTERM";
        case SIGSEGV:
                return "SIGSEGV";
        case SIGABRT:
                return "SIGABRT";
        case SIGINT:
                return "SIGINT";
        default:
                return "a signal";
        }
}

static void format_mib(char *buf, size_t size, uint64_t bytes) {
        snprintf(buf, size, "%.1f MiB", (double) bytes / 1048576.0);
}

/* The one line that says why a build failed. */
static int outcome_error(const ScriptRun *run, Sandbox kind, Error *err) {
        const char *name = run->name;
        char mem[32];
        format_mib(mem, sizeof mem, run->lim.memory_max);
        bool unit = kind == SANDBOX_UNIT;
        if (run->cancelled)
                return error_set(err, -ECANCELED, "overlay '%s': the build was cancelled; the overlay keeps its "
                                 "content", name);
        if (run->oom)
                return unit ? error_set(err, -ENOMEM, "overlay '%s': the script ran out of memory (MemoryMax= of "
                                        "left4me-build@.service) and was killed; the overlay keeps its content", name)
                            : error_set(err, -ENOMEM, "overlay '%s': the script ran out of memory: it hit the limit "
                                        "of %s (LEFT4ME_BUILD_MEMORY_MAX) and was killed; the overlay keeps its "
                                        "content", name, mem);
        if (run->timed_out)
                return error_set(err, -ETIMEDOUT, "overlay '%s': the script ran past its time limit of %ld s "
                                 "(LEFT4ME_BUILD_TIMEOUT) and was stopped%s; the overlay keeps its content", name,
                                 run->lim.timeout_s, run->tasks_hit ? ", after hitting its task limit" : "");
        if (run->tasks_hit)
                return error_set(err, -EAGAIN, "overlay '%s': the script hit its task limit of %ld processes "
                                 "(LEFT4ME_BUILD_TASKS_MAX); the overlay keeps its content", name,
                                 run->lim.tasks_max);
        if (run->signal)
                return error_set(err, -EIO, "overlay '%s': the script was killed by %s (%d); the overlay keeps its "
                                 "content", name, signal_name(run->signal), run->signal);
        if (run->exit_code < 0 && run->detail[0])
                return error_set(err, -EIO, "overlay '%s': the build failed: %s; the overlay keeps its content", name,
                                 run->detail);
        return error_set(err, -EIO, "overlay '%s': the script failed (exit status %d); the overlay keeps its content",
                         name, run->exit_code);
}

/* ---- the build ---- */

/* A folder the script made 0000 cannot be emptied: open every folder below
 * (name in dir) for its owner first. Best effort. */
static void open_up(int dir, const char *name, unsigned depth) {
        if (depth > TREE_MAX_DEPTH || fchmodat(dir, name, 0700, 0) < 0)
                return;
        int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        open_up(dirfd(d), de->d_name, depth + 1);
        closedir(d);
}

static int publish_result(OverlayBuild *b, int builds_fd, Error *err) {
        uint64_t max_size = 20ULL << 30, size = 0;
        int r = config_setting_size(b->c, "LEFT4ME_BUILD_MAX_SIZE", &max_size, err);
        if (r < 0)
                return r;
        _cleanup_close_ int tree = openat(builds_fd, "overlay", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (tree < 0)
                return error_set(err, negative_errno(), "overlay '%s': the build's folder is gone: %m", b->name);
        char path[4096] = "";
        const char *why = "cannot be read";
        (void) fchmod(tree, 0755);
        if ((r = check_tree(tree, 0, &size, max_size, path, sizeof path, 0, &why)) < 0)
                return error_set(err, r, "overlay '%s': the script's output '%s' %s; nothing was published", b->name,
                                 path, why);
        _cleanup_close_ int pub = overlay_open_published(b->c, b->name);
        if (pub >= 0 && same_content(tree, pub, 0)) {
                overlay_build_line(b, "the script made the same content as before: nothing to publish");
                return 0;
        }
        _cleanup_(overlay_staging_discard) OverlayStaging st = OVERLAY_STAGING_INIT;
        if ((r = overlay_staging_new(b->c, b->name, &st, err)) < 0)
                return r;
        /* The build's folder replaces the empty staging tree. */
        if (renameat(builds_fd, "overlay", st.parent_fd, st.entry) < 0)
                return error_set(err, negative_errno(), "overlay '%s': cannot stage the build's folder: %m", b->name);
        close(st.dirfd);
        st.dirfd = openat(st.parent_fd, st.entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (st.dirfd < 0)
                return error_set(err, negative_errno(), "overlay '%s': cannot open the staged tree: %m", b->name);
        if ((r = overlay_publish(b->c, &st, err)) < 0)
                return r;
        b->changed = true;
        char mib[32];
        format_mib(mib, sizeof mib, size);
        overlay_build_line(b, "published the script's output (%s)", mib);
        return 0;
}

static void record_built(const HostConfig *c, const char *name, const char *hash) {
        _cleanup_close_ int lock = -1;
        if (overlay_lock_meta(c, name, &lock, NULL) < 0)
                return;
        json_t *meta = NULL;
        if (overlay_meta_load(c, name, &meta, NULL) < 0)
                return;
        json_t *s = json_object_get(meta, "script");
        if (json_is_object(s)) {
                json_object_set_new(s, "built_hash", json_string(hash));
                (void) overlay_meta_save(c, name, meta, NULL);
        }
        json_decref(meta);
}

int overlay_script_build(OverlayBuild *b, Error *err) {
        ScriptRun run = { .c = b->c, .name = b->name, .b = b, .builds_fd = -1, .exit_code = -1 };
        Sandbox kind;
        int r = script_limits(b->c, &run.lim, err);
        if (r < 0 || (r = sandbox_kind(b->c, &kind, err)) < 0)
                return r;
        _cleanup_close_ int dir = open_builds(b->c, b->name, err);
        if (dir < 0)
                return dir;
        /* The hash of the script this build runs: a set while it runs
         * makes the overlay need a build again. */
        char hash[17];
        {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                _cleanup_close_ int fd = openat(dir, "script.sh", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 || read_fd(fd, SCRIPT_MAX, &text, &len) < 0)
                        return error_set(err, -ENOENT, "overlay '%s' has no script yet: set one with 'l4d2ctl "
                                         "overlay script %s set < script.sh'", b->name, b->name);
                script_hash(text, len, hash);
        }
        /* A fresh folder for the script's output. One left by a build that
         * died was never published (a good build moves it to staging/
         * before publishing): it can simply go. */
        open_up(dir, "overlay", 0);
        if ((r = rm_rf_at(dir, "overlay")) < 0 || mkdirat(dir, "overlay", 0755) < 0)
                return error_set(err, r < 0 ? r : negative_errno(), "overlay '%s': cannot make a fresh build folder "
                                 "in '%s/builds/%s'", b->name, b->c->state_dir, b->name);
        run.builds_fd = dir;

        r = kind == SANDBOX_UNIT ? script_run_unit(&run, err) : script_run_bwrap(&run, err);
        if (r >= 0)
                script_output_flush(&run);
        if (r >= 0 && (run.exit_code != 0 || run.signal || run.timed_out || run.oom || run.tasks_hit ||
                       run.cancelled))
                r = outcome_error(&run, kind, err);
        if (r >= 0) {
                overlay_build_line(b, "the script finished (exit status 0)");
                r = publish_result(b, dir, err);
        }
        open_up(dir, "overlay", 0);
        (void) rm_rf_at(dir, "overlay");
        if (r >= 0)
                record_built(b->c, b->name, hash);
        return r;
}

void overlay_script_summary(const HostConfig *c, const char *name, const json_t *meta, json_t *show) {
        const json_t *s = json_object_get(meta, "script");
        Sandbox kind = SANDBOX_BWRAP;
        (void) sandbox_kind(c, &kind, NULL);
        const char *hash = json_string_value(json_object_get(s, "hash"));
        const char *built = json_string_value(json_object_get(s, "built_hash"));
        json_object_set_new(show, "script",
                            json_pack("{s:b, s:I, s:O, s:b, s:s}", "set", hash != NULL, "size",
                                      json_integer_value(json_object_get(s, "size")), "updated",
                                      json_object_get(s, "updated") ?: json_null(), "needs_build",
                                      hash && (!built || !streq(hash, built)), "sandbox",
                                      kind == SANDBOX_UNIT ? "unit" : "bwrap"));
}

void overlay_script_forget(const HostConfig *c, const char *name) {
        _cleanup_close_ int builds = path_open_beneath_dir(c->state_dir, "builds", O_RDONLY | O_DIRECTORY, 0,
                                                           PATH_NO_SYMLINKS);
        if (builds >= 0)
                (void) rm_rf_at(builds, name);
}
