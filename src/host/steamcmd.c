#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "instance.h"
#include "process.h"
#include "steamcmd.h"
#include "strutil.h"

extern char **environ;

bool steamcmd_parse_progress(char *buf, InstallProgress *ret) {
        char *p = strstr(buf, "Update state (");
        if (!p)
                return false;
        p = strchr(p, ')');
        if (!p || p[1] != ' ')
                return false;
        char *state = p + 2;
        char *comma = strstr(state, ", progress: ");
        if (!comma)
                return false;
        *comma = '\0';
        char *num = comma + strlen(", progress: ");
        char *end;
        double pct = strtod(num, &end);
        if (end == num || pct < 0 || pct > 100)
                return false;
        unsigned long long done = 0, total = 0;
        if (sscanf(end, " (%llu / %llu)", &done, &total) != 2)
                done = total = 0;
        *ret = (InstallProgress) { .state = state, .percent = pct, .done = done, .total = total };
        return true;
}

typedef struct Pass {
        const char *phase;
        install_cb cb;
        void *userdata;
        bool success;
        bool invalid_platform;
        char last_error[256];
} Pass;

static int on_line(const char *line, void *userdata) {
        Pass *p = userdata;
        if (p->cb)
                p->cb(line, NULL, p->userdata);
        char copy[4097];
        snprintf(copy, sizeof copy, "%s", line);
        InstallProgress pr;
        if (steamcmd_parse_progress(copy, &pr)) {
                pr.phase = p->phase;
                if (p->cb)
                        p->cb(line, &pr, p->userdata);
        }
        if (strstr(line, "Success! App '" L4D2_APP_ID "'") && (strstr(line, "fully installed") || strstr(line, "already up to date")))
                p->success = true;
        if (strstr(line, "Invalid platform"))
                p->invalid_platform = true;
        if (strncasecmp(line, "ERROR!", 6) == 0 || strncasecmp(line, "Error!", 6) == 0 || strstr(line, "FAILED"))
                snprintf(p->last_error, sizeof p->last_error, "%s", line);
        return 0;
}

/* steamcmd in its own process group, killed with us: PR_SET_PDEATHSIG
 * ends it when l4d2ctl dies (kill -9 of the panel's job included), and
 * every way out of run_pass (a stall, a signal) kills the whole group. The
 * install lock's fd is inherited on purpose: the flock stays held until the
 * last process that could still write the installation is gone, so a
 * re-run waits for an orphan instead of installing beside it. */
static int spawn_steamcmd(char *const argv[], char *const envp[], const char *cwd, int lock_fd, int out_fd,
                          pid_t *ret_pid) {
        _cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0)
                return negative_errno();
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        o.envp = envp;
        o.search_path = true;
        o.cwd = cwd;
        o.stdin_fd = devnull;
        o.stdout_fd = o.stderr_fd = out_fd;
        o.new_pgroup = true;
        o.pdeathsig = SIGKILL;
        o.keep_fd = lock_fd;
        return spawn(argv, &o, ret_pid);
}

static uint64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000ULL + (uint64_t) ts.tv_nsec / 1000000ULL;
}

typedef void (*line_fn)(const char *line, void *userdata);

/* Splits what steamcmd prints into lines (at \n or \r; longer than 4 KiB
 * cut) for on_line. */
typedef struct LineBuf {
        char line[4097];
        size_t len;
} LineBuf;

static void feed(LineBuf *lb, const char *buf, size_t n, line_fn line, void *userdata) {
        for (size_t i = 0; i < n; i++) {
                char ch = buf[i];
                if (ch == '\n' || ch == '\r' || lb->len == sizeof lb->line - 1) {
                        if (lb->len > 0) {
                                lb->line[lb->len] = '\0';
                                line(lb->line, userdata);
                        }
                        lb->len = 0;
                        if (ch == '\n' || ch == '\r')
                                continue;
                }
                lb->line[lb->len++] = ch;
        }
}

/* Runs steamcmd with argv until it closes its output, feeding every line to
 * line(); stops its whole group after stall_ms without output, total_ms in
 * all (0: no limit) or a signal on sigfd. what names the run in messages. */
static int run_steamcmd(const HostConfig *c, char **argv, char **envp, int lock_fd, int sigfd, uint64_t stall_ms,
                        uint64_t total_ms, const char *what, line_fn line, void *userdata, Error *err) {
        int pp[2];
        if (pipe2(pp, O_CLOEXEC) < 0)
                return error_set(err, negative_errno(), "cannot create a pipe: %m");
        _cleanup_close_ int rd = pp[0];
        pid_t pid;
        int r = spawn_steamcmd(argv, envp, c->state_dir, lock_fd, pp[1], &pid);
        close(pp[1]);
        if (r == -ENOENT)
                return error_set(err, r, "steamcmd '%s' not found: install it (Debian: apt install steamcmd, from "
                                 "non-free) or set LEFT4ME_STEAMCMD", c->steamcmd);
        if (r < 0)
                return error_set(err, r, "cannot run steamcmd '%s': %s", c->steamcmd, strerror(-r));
        /* For a re-run after we are killed: the group to end if steamcmd
         * itself is gone but something of its group still holds the lock. */
        if (lock_fd >= 0) {
                char pg[32];
                snprintf(pg, sizeof pg, "%d\n", (int) pid);
                _cleanup_free_ char *locks = config_path(c, "locks", NULL);
                _cleanup_close_ int ldir = locks ? open(locks, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
                if (ldir >= 0)
                        (void) write_file_atomic_flags(ldir, ".install.pgid", pg, strlen(pg), 0600, WRITE_NO_SYNC);
        }

        /* Read until steamcmd closes its output, a stall, or a signal. */
        LineBuf lb = { .len = 0 };
        uint64_t start = mono_ms(), last = start;
        int stopped_by = 0;
        bool stalled = false, overdue = false;
        for (;;) {
                uint64_t now = mono_ms();
                if (now - last >= stall_ms) {
                        stalled = true;
                        break;
                }
                if (total_ms && now - start >= total_ms) {
                        overdue = true;
                        break;
                }
                uint64_t wait = stall_ms - (now - last);
                if (total_ms && total_ms - (now - start) < wait)
                        wait = total_ms - (now - start);
                struct pollfd pf[2] = { { .fd = rd, .events = POLLIN }, { .fd = sigfd, .events = POLLIN } };
                int n = poll(pf, sigfd >= 0 ? 2 : 1, (int) wait);
                if (n < 0 && errno != EINTR)
                        break;
                if (n > 0 && sigfd >= 0 && (pf[1].revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        if (read(sigfd, &si, sizeof si) == sizeof si) {
                                stopped_by = (int) si.ssi_signo;
                                break;
                        }
                }
                if (n > 0 && pf[0].revents) {
                        char buf[8192];
                        ssize_t k = read(rd, buf, sizeof buf);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0)
                                break;
                        feed(&lb, buf, (size_t) k, line, userdata);
                        last = mono_ms();
                }
        }
        if (lb.len > 0) {
                lb.line[lb.len] = '\0';
                line(lb.line, userdata);
        }
        /* Its whole group goes, whatever made us stop reading: nothing of it
         * may go on writing the installation. */
        if (stalled || overdue || stopped_by) {
                kill(-pid, SIGTERM);
                kill(-pid, SIGCONT);
                for (int i = 0; i < 50 && waitpid(pid, NULL, WNOHANG) == 0; i++)
                        usleep(20 * 1000);
        }
        kill(-pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (stalled)
                return error_set(err, -ETIMEDOUT, "steamcmd made no progress for %llu s (%s; "
                                 "LEFT4ME_INSTALL_STALL_TIMEOUT); stopped it", (unsigned long long) stall_ms / 1000, what);
        if (overdue)
                return error_set(err, -ETIMEDOUT, "steamcmd did not finish within %.1f s (%s); stopped it",
                                 total_ms / 1000.0, what);
        if (stopped_by)
                return error_set(err, -EINTR, "interrupted by SIG%s during the %s; steamcmd was stopped",
                                 sigabbrev_np(stopped_by) ?: "?", what);
        if (WIFSIGNALED(status))
                return error_set(err, -ECHILD, "steamcmd was killed by signal %s during the %s",
                                 sigabbrev_np(WTERMSIG(status)) ?: "?", what);
        return 0;
}

static void pass_line(const char *line, void *userdata) {
        on_line(line, userdata);
}

static int run_pass(const HostConfig *c, char **envp, const char *dir, const char *platform, bool validate, int lock_fd,
                    int sigfd, Pass *p, Error *err) {
        char *argv[] = { c->steamcmd,
                         (char *) "+force_install_dir", (char *) dir,
                         (char *) "+login", (char *) "anonymous",
                         (char *) "+@sSteamCmdForcePlatformType", (char *) platform,
                         (char *) "+app_update", (char *) L4D2_APP_ID,
                         validate ? (char *) "validate" : NULL, (char *) "+quit", NULL };
        if (!validate) {
                argv[9] = (char *) "+quit";
                argv[10] = NULL;
        }
        p->phase = platform;
        char what[32];
        snprintf(what, sizeof what, "%s pass", platform);
        return run_steamcmd(c, argv, envp, lock_fd, sigfd, (uint64_t) c->install_stall_s * 1000ULL, 0, what, pass_line,
                            p, err);
}

static int install_passes(const HostConfig *c, char **envp, const char *dir, const char *srcds, bool validate,
                          int lock, int sigfd, install_cb cb, void *userdata, Error *err);

/* Gone, or a zombie nobody has reaped yet (its parent was killed). */
static bool process_gone(pid_t pid) {
        if (kill(pid, 0) < 0)
                return errno == ESRCH;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (n <= 0)
                return true;
        buf[n] = '\0';
        char *e = strrchr(buf, ')');
        return e && e[1] == ' ' && (e[2] == 'Z' || e[2] == 'X');
}

/* Takes the .install lock, waiting as long as its holder makes progress
 * would be allowed to (LEFT4ME_INSTALL_STALL_TIMEOUT), with a line every
 * 10 s. */
static int lock_install(const HostConfig *c, install_cb cb, void *userdata, int *ret_fd, Error *err) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/locks/.install.lock", c->state_dir) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return error_set(err, negative_errno(), "cannot open lock '%s': %m", path);
        uint64_t start = mono_ms(), said = 0;
        bool adopted = false;
        for (;;) {
                if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                        if (said && cb)
                                cb("left4me: the earlier install has ended; checking the installation", NULL, userdata);
                        *ret_fd = TAKE_FD(fd);
                        return 0;
                }
                if (errno != EWOULDBLOCK)
                        return error_set(err, negative_errno(), "cannot lock '%s': %m", path);
                uint64_t now = mono_ms();
                if (now - start >= (uint64_t) c->install_stall_s * 1000ULL)
                        return error_set(err, -EBUSY, "another install has held '%s' for %ld s "
                                         "(LEFT4ME_INSTALL_STALL_TIMEOUT); is a steamcmd still running?", path,
                                         c->install_stall_s);
                /* Adopt the orphans: steamcmd itself died with the l4d2ctl
                 * that ran it (PR_SET_PDEATHSIG) but children of its process
                 * group live on, holding the lock and maybe still writing.
                 * Without their steamcmd they are of no use: end them. The
                 * group id stays reserved while any member lives, so it
                 * cannot name another program's group. */
                _cleanup_free_ char *pgtext = NULL;
                long pgid = 0;
                _cleanup_free_ char *pgpath = config_path(c, "locks", ".install.pgid");
                if (!adopted && pgpath && read_file(pgpath, 64, &pgtext, NULL) == 0 && (pgtext[strcspn(pgtext, "\n")] = '\0', 1) &&
                    parse_long(pgtext, 2, 1L << 22, &pgid) == 0 && process_gone((pid_t) pgid) &&
                    kill(-(pid_t) pgid, 0) == 0) {
                        if (cb) {
                                char line[200];
                                snprintf(line, sizeof line, "left4me: the earlier install's steamcmd is gone; ending "
                                         "what is left of its process group %ld", pgid);
                                cb(line, NULL, userdata);
                        }
                        kill(-(pid_t) pgid, SIGKILL);
                        adopted = true;
                }
                if (cb && (said == 0 || now - said >= 10000)) {
                        cb("left4me: another install (an earlier l4d2ctl install or its steamcmd) is still running; "
                           "waiting for it", NULL, userdata);
                        said = now;
                }
                usleep(100 * 1000);
        }
}

int steamcmd_lock(const HostConfig *c, install_cb cb, void *userdata, int *ret_fd, Error *err) {
        int r = state_dirs_ensure(c, err);
        return r < 0 ? r : lock_install(c, cb, userdata, ret_fd, err);
}

/* The environment steamcmd runs with: ours, with HOME=<state>/<home>
 * (steamcmd keeps its own files under $HOME/Steam). */
static int steam_env(const HostConfig *c, const char *home_sub, char ***ret, Error *err) {
        _cleanup_free_ char *home = config_path(c, home_sub, NULL);
        if (!home)
                return -ENOMEM;
        int r = mkdir_p(home, 0755);
        if (r < 0)
                return error_set(err, r, "cannot create '%s': %s", home, strerror(-r));
        _cleanup_strv_ char **envp = NULL;
        size_t n = 0;
        for (char **e = environ; *e; e++)
                if (!startswith(*e, "HOME=") && (r = strv_push_dup(&envp, &n, *e)) < 0)
                        return r;
        char *h = NULL;
        if (asprintf(&h, "HOME=%s", home) < 0 || strv_push(&envp, &n, h) < 0) {
                free(h);
                return -ENOMEM;
        }
        *ret = TAKE_PTR(envp);
        return 0;
}

int steamcmd_update(const HostConfig *c, const char *dir, bool validate, int lock, install_cb cb, void *userdata,
                    Error *err) {
        _cleanup_free_ char *srcds = NULL;
        if (asprintf(&srcds, "%s/srcds_run", dir) < 0)
                return -ENOMEM;
        _cleanup_strv_ char **envp = NULL;
        int r = steam_env(c, "steam", &envp, err);
        if (r < 0)
                return r;
        /* SIGTERM/SIGINT/SIGHUP stop steamcmd's whole group before we go. */
        sigset_t mask, old;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, &old);
        _cleanup_close_ int sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
        r = install_passes(c, envp, dir, srcds, validate, lock, sigfd, cb, userdata, err);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return r;
}

/* ---- app_info_print ---- */

typedef struct InfoOut {
        Buf text;
        bool no_info;
} InfoOut;

static void info_line(const char *line, void *userdata) {
        InfoOut *o = userdata;
        if (strstr(line, "No app info for AppID"))
                o->no_info = true;
        (void) buf_printf(&o->text, "%s\n", line);
}

/* The public branch's buildid in app_info_print's KeyValues text:
 * "222860" { ... "depots" { ... "branches" { "public" { "buildid" "N" ... */
bool steamcmd_parse_app_info(const char *text, char ret[BUILD_ID_MAX_LEN + 1]) {
        const char *b = strstr(text, "\"branches\"");
        const char *p = b ? strstr(b, "\"public\"") : NULL;
        const char *k = p ? strstr(p, "\"buildid\"") : NULL;
        if (!k)
                return false;
        /* Only within the public block: no closing brace before the key. */
        for (const char *q = p + 8; q < k; q++)
                if (*q == '}')
                        return false;
        const char *v = strchr(k + 9, '"');
        const char *e = v ? strchr(v + 1, '"') : NULL;
        if (!e || e - v - 1 > BUILD_ID_MAX_LEN)
                return false;
        char id[BUILD_ID_MAX_LEN + 1];
        snprintf(id, sizeof id, "%.*s", (int) (e - v - 1), v + 1);
        if (!build_id_is_valid(id))
                return false;
        memcpy(ret, id, sizeof id);
        return true;
}

int steamcmd_app_info(const HostConfig *c, long timeout_ms, char ret[BUILD_ID_MAX_LEN + 1], Error *err) {
        /* Its own HOME: a fetch may be running with the other one. The
         * cached appinfo.vdf hid updates for days (LinuxGSM#301): it goes
         * before every check, so steamcmd has to ask Steam. */
        _cleanup_strv_ char **envp = NULL;
        int r = steam_env(c, "steam-check", &envp, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *cache = config_path(c, "steam-check", "Steam/appcache/appinfo.vdf");
        if (!cache)
                return -ENOMEM;
        if (unlink(cache) < 0 && errno != ENOENT)
                return error_set(err, negative_errno(), "cannot remove the cached '%s': %m", cache);
        char *argv[] = { c->steamcmd, (char *) "+login", (char *) "anonymous", (char *) "+app_info_update",
                         (char *) "1", (char *) "+app_info_print", (char *) L4D2_APP_ID, (char *) "+quit", NULL };
        InfoOut o = { .text = BUF_INIT(4 << 20) };
        r = run_steamcmd(c, argv, envp, -1, -1, UINT64_MAX / 2, (uint64_t) timeout_ms, "app info check", info_line, &o,
                         err);
        if (r >= 0 && o.no_info)
                r = error_set(err, -ENODATA, "steamcmd has no app info for %s (\"No app info for AppID\")", L4D2_APP_ID);
        else if (r >= 0 && !steamcmd_parse_app_info(o.text.data ? o.text.data : "", ret))
                r = error_set(err, -EBADMSG, "steamcmd's app_info_print %s",
                              o.text.data && strstr(o.text.data, "\"" L4D2_APP_ID "\"")
                                      ? "named no buildid of the public branch"
                                      : "printed no app info for " L4D2_APP_ID);
        buf_free(&o.text);
        return r;
}

static int install_passes(const HostConfig *c, char **envp, const char *dir, const char *srcds, bool validate,
                          int lock, int sigfd, install_cb cb, void *userdata, Error *err) {
        int r;
        bool fresh = access(srcds, X_OK) < 0;
        Pass p = { .cb = cb, .userdata = userdata };
        if (!fresh) {
                if ((r = run_pass(c, envp, dir, "linux", validate, lock, sigfd, &p, err)) < 0)
                        return r;
                if (p.success && access(srcds, X_OK) == 0)
                        return 0;
                if (!p.invalid_platform)
                        goto failed;
        }
        /* Fresh install (or the update hit "Invalid platform"). */
        p = (Pass) { .cb = cb, .userdata = userdata };
        if ((r = run_pass(c, envp, dir, "windows", false, lock, sigfd, &p, err)) < 0)
                return r;
        if (!p.success)
                goto failed;
        p = (Pass) { .cb = cb, .userdata = userdata };
        if ((r = run_pass(c, envp, dir, "linux", true, lock, sigfd, &p, err)) < 0)
                return r;
        if (p.success && access(srcds, X_OK) == 0)
                return 0;
failed:
        if (p.success)
                return error_set(err, -EIO, "steamcmd reported success but '%s' has no srcds_run", dir);
        return error_set(err, -EIO, "steamcmd failed (%s pass): %s", p.phase,
                         p.last_error[0] ? p.last_error : "it never reported \"Success! App '222860' fully installed\"");
}
