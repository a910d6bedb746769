/* The build sandbox without systemd: Debian's bubblewrap, started as an
 * unprivileged user (the build user when l4d2ctl is root; l4d2ctl's own user
 * otherwise), so bwrap itself holds no privilege. What the script sees is
 * what left4me-build@.service gives it:
 *   - /usr read-only, the /bin, /lib... links, a short list of /etc files
 *     (accounts, name resolution, TLS certificates, alternatives), nothing
 *     else of the host: not the state dir (database, instances, other
 *     overlays), not the config dir, not /home, /root, /var, /run;
 *   - /overlay: builds/NAME/overlay, writable, the only place it can write
 *     but its private /tmp; /build/script.sh read-only (both bound by the
 *     fds l4d2ctl opened, not by path);
 *   - its own PID, IPC, UTS, cgroup and user namespaces (no nested ones),
 *     no capabilities, no new privileges, a new session, a clean
 *     environment (PATH, HOME=/tmp); the host's network, to download;
 *   - a seccomp filter: native system calls only, no bind() or listen()
 *     (it may not serve anything, like SocketBindDeny=any), no ptrace,
 *     mount, kexec, bpf, keyctl, perf or user-fault handling;
 *   - limits: a cgroup of its own (v2, else the v1 memory, pids and cpu
 *     hierarchies of hybrid hosts) when l4d2ctl is root and may make one,
 *     with memory (no swap), task and CPU-bandwidth caps; else rlimits
 *     (address space, processes of the build user, CPU seconds), which the
 *     log says. The wall-time limit is l4d2ctl's own: at the deadline it
 *     kills bwrap, whose death ends the whole PID namespace. */
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "overlay-script.h"
#include "sandbox.h"
#include "strutil.h"

/* ---- seccomp ---- */

#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define DENY(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

/* The filter bwrap installs before it runs the script (--seccomp FD reads
 * a struct sock_filter array). x86-64 only: elsewhere, none (said in the log). */
static int seccomp_fd(void) {
#if defined(__x86_64__)
        static const struct sock_filter prog[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS), /* i386 or x32 entry: not native */
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1), /* the x32 ABI */
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
                DENY(__NR_bind), DENY(__NR_listen), DENY(__NR_ptrace), DENY(__NR_process_vm_readv),
                DENY(__NR_process_vm_writev), DENY(__NR_mount), DENY(__NR_umount2), DENY(__NR_pivot_root),
                DENY(__NR_kexec_load), DENY(__NR_kexec_file_load), DENY(__NR_bpf), DENY(__NR_perf_event_open),
                DENY(__NR_keyctl), DENY(__NR_add_key), DENY(__NR_request_key), DENY(__NR_userfaultfd),
                DENY(__NR_unshare), DENY(__NR_setns), DENY(__NR_open_by_handle_at), DENY(__NR_init_module),
                DENY(__NR_finit_module), DENY(__NR_delete_module), DENY(__NR_swapon), DENY(__NR_swapoff),
                /* clone3's flags sit in memory a filter cannot read: ENOSYS
                 * makes glibc fall back to clone, whose flags it can. */
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
                /* clone of a new user namespace (unshare() is refused above). */
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
                BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
                ALLOW,
        };
        int fd = memfd_create("left4me-build-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (write(fd, prog, sizeof prog) != (ssize_t) sizeof prog || lseek(fd, 0, SEEK_SET) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        return fd;
#else
        return -EOPNOTSUPP;
#endif
}

/* ---- bwrap ---- */

/* LEFT4ME_BWRAP (config.c reads it for the servers' box too): a path, or a
 * name looked up in PATH. Unlike the servers' box, a build never runs
 * without one, whatever LEFT4ME_SANDBOX says. */
static int find_bwrap(const HostConfig *c, char *out, size_t size, Error *err) {
        const char *name = c->bwrap && *c->bwrap ? c->bwrap : "bwrap";
        if (strchr(name, '/')) {
                snprintf(out, size, "%s", name);
                if (name[0] != '/' || access(out, X_OK) < 0)
                        return error_set(err, -ENOENT, "LEFT4ME_BWRAP='%s' is not an executable path", name);
                return 0;
        }
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = strdup(path && *path ? path : "/usr/bin:/bin");
        char *save = NULL;
        for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
                snprintf(out, size, "%s/%s", d, name);
                if (d[0] == '/' && access(out, X_OK) == 0)
                        return 0;
        }
        return error_set(err, -ENOENT, "the build sandbox needs bubblewrap: install it (apt install bubblewrap) or "
                         "set LEFT4ME_BWRAP");
}

static int build_user(const HostConfig *c, bool *drop, uid_t *uid, gid_t *gid, Error *err) {
        *drop = false;
        if (geteuid() != 0)
                return 0;
        _cleanup_free_ char *user = NULL;
        int r = config_setting(c, "LEFT4ME_BUILD_USER", &user);
        if (r < 0)
                return error_set(err, r, "cannot read LEFT4ME_BUILD_USER: %s", strerror(-r));
        if (r == 0 && !(user = strdup(getpwnam("left4me") ? "left4me" : "nobody")))
                return -ENOMEM;
        struct passwd *pw = getpwnam(user);
        if (!pw)
                return error_set(err, -ENOENT, "LEFT4ME_BUILD_USER='%s': no such user", user);
        if (pw->pw_uid == 0)
                return error_set(err, -EPERM, "LEFT4ME_BUILD_USER='%s': a build script never runs as root", user);
        *drop = true;
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
        return 0;
}

typedef struct Argv {
        char *v[160];
        int n;
        char *owned[64]; /* the strings made here */
        int no;
} Argv;

static void arg(Argv *a, const char *s) {
        if (a->n < (int) ELEMENTSOF(a->v) - 1)
                a->v[a->n++] = (char *) s;
        a->v[a->n] = NULL;
}

_printf_(2, 3) static const char *argf(Argv *a, const char *fmt, ...) {
        char *p = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = a->no < (int) ELEMENTSOF(a->owned) ? vasprintf(&p, fmt, ap) : -1;
        va_end(ap);
        return r < 0 ? "/nonexistent" : (a->owned[a->no++] = p);
}

static void argv_free(Argv *a) {
        for (int i = 0; i < a->no; i++)
                free(a->owned[i]);
        a->no = 0;
}

/* The files of /etc a script may need: accounts, names, TLS, alternatives. */
static const char *const etc_files[] = {
        "passwd", "group", "nsswitch.conf", "hosts", "host.conf", "resolv.conf", "gai.conf", "services",
        "protocols", "ssl", "ca-certificates", "ca-certificates.conf", "alternatives", "ld.so.cache",
        "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "mime.types",
};

static void build_argv(Argv *a, const char *bwrap, const ScriptRun *run, int tree_fd, int script_fd, int seccomp) {
        arg(a, bwrap);
        static const char *const fixed[] = {
                "--unshare-all", "--share-net", "--unshare-user", "--die-with-parent",
                "--new-session", "--cap-drop", "ALL", "--hostname", "left4me-build", "--ro-bind", "/usr", "/usr",
                "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--clearenv", "--setenv", "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "--setenv", "HOME", "/tmp",
        };
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                arg(a, fixed[i]);
        /* No nested user namespaces: bwrap's own switch where /proc/sys
         * can be written; the seccomp filter refuses them anyway. */
        if (sandbox_userns_can_be_disabled())
                arg(a, "--disable-userns");
        /* /bin, /lib... as the host has them: links into /usr, or folders. */
        static const char *const tops[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };
        for (size_t i = 0; i < ELEMENTSOF(tops); i++) {
                const char *path = argf(a, "/%s", tops[i]);
                char target[256];
                struct stat st;
                if (lstat(path, &st) < 0)
                        continue;
                ssize_t n = S_ISLNK(st.st_mode) ? readlink(path, target, sizeof target - 1) : -1;
                if (n > 0) {
                        target[n] = '\0';
                        arg(a, "--symlink");
                        arg(a, argf(a, "%s", target));
                        arg(a, path);
                } else if (S_ISDIR(st.st_mode)) {
                        arg(a, "--ro-bind");
                        arg(a, path);
                        arg(a, path);
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(etc_files); i++) {
                arg(a, "--ro-bind-try");
                arg(a, argf(a, "/etc/%s", etc_files[i]));
                arg(a, a->v[a->n - 1]);
        }
        /* A state or config dir below /usr would be visible: hide it. */
        const char *hide[] = { run->c->state_dir, run->c->config_dir };
        for (size_t i = 0; i < ELEMENTSOF(hide); i++)
                if (hide[i] && startswith(hide[i], "/usr/")) {
                        arg(a, "--tmpfs");
                        arg(a, hide[i]);
                }
        /* By fd, not by path: what l4d2ctl checked is what gets bound. */
        arg(a, "--bind-fd");
        arg(a, argf(a, "%d", tree_fd));
        arg(a, "/overlay");
        arg(a, "--ro-bind-fd");
        arg(a, argf(a, "%d", script_fd));
        arg(a, "/build/script.sh");
        /* Last: the root bwrap made (where /etc's few files hang) becomes
         * read-only too; /tmp, /dev and /overlay are mounts of their own. */
        arg(a, "--remount-ro");
        arg(a, "/");
        arg(a, "--chdir");
        arg(a, "/overlay");
        if (seccomp >= 0) {
                arg(a, "--seccomp");
                arg(a, argf(a, "%d", seccomp));
        }
        arg(a, "--");
        arg(a, "/bin/bash");
        arg(a, "/build/script.sh");
}

typedef struct Child {
        bool drop, rlimits;
        uid_t uid;
        gid_t gid;
        int out_fd, null_fd, seccomp, tree_fd, script_fd;
        const BuildGroup *group;
        const ScriptLimits *lim;
        const sigset_t *mask;
} Child;

/* After fork: only async-signal-safe calls. Reports errno on err_fd. */
_noreturn_ static void child_exec(const Child *ch, char **argv, int err_fd, pid_t parent) {
        int e = 0;
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        for (int sig = 1; sig < _NSIG; sig++)
                (void) sigaction(sig, &dfl, NULL); /* SIGPIPE is ignored by l4d2ctl: not by the script */
        sigprocmask(SIG_SETMASK, ch->mask, NULL);
        for (int i = 0; i < ch->group->n; i++)
                if (write(ch->group->procs[i], "0", 1) < 0)
                        goto fail;
        if (ch->rlimits) {
                struct rlimit as = { ch->lim->memory_max, ch->lim->memory_max };
                struct rlimit np = { (rlim_t) ch->lim->tasks_max, (rlim_t) ch->lim->tasks_max };
                struct rlimit cpu = { (rlim_t) ch->lim->timeout_s, (rlim_t) ch->lim->timeout_s };
                if ((ch->lim->memory_max && setrlimit(RLIMIT_AS, &as) < 0) ||
                    (ch->lim->tasks_max && setrlimit(RLIMIT_NPROC, &np) < 0) || setrlimit(RLIMIT_CPU, &cpu) < 0)
                        goto fail;
        }
        if (dup2(ch->null_fd, 0) < 0 || dup2(ch->out_fd, 1) < 0 || dup2(ch->out_fd, 2) < 0)
                goto fail;
        /* The fds bwrap is given by number live on across exec. */
        if ((ch->seccomp >= 0 && fcntl(ch->seccomp, F_SETFD, 0) < 0) || fcntl(ch->tree_fd, F_SETFD, 0) < 0 ||
            fcntl(ch->script_fd, F_SETFD, 0) < 0)
                goto fail;
        if (setsid() < 0)
                goto fail;
        if (ch->drop && (setgroups(0, NULL) < 0 || setresgid(ch->gid, ch->gid, ch->gid) < 0 ||
                         setresuid(ch->uid, ch->uid, ch->uid) < 0))
                goto fail;
        /* After the uid change (which clears it): bwrap dies with us. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                goto fail;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                goto fail;
        execv(argv[0], argv);
fail:
        e = errno;
        (void) !write(err_fd, &e, sizeof e);
        _exit(127);
}

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void format_limits(const ScriptRun *run, const char *how, bool group, char *out, size_t size) {
        char mem[32] = "none", tasks[32] = "none", cpu[32] = "none";
        if (run->lim.memory_max)
                snprintf(mem, sizeof mem, "%.1f MiB%s", (double) run->lim.memory_max / 1048576.0,
                         group ? "" : " of address space");
        if (run->lim.tasks_max)
                snprintf(tasks, sizeof tasks, "%ld%s", run->lim.tasks_max, group ? "" : " (all of the user's)");
        if (group && run->lim.cpu_percent)
                snprintf(cpu, sizeof cpu, "%ld%% of a core", run->lim.cpu_percent);
        else if (!group)
                snprintf(cpu, sizeof cpu, "%ld s of CPU time", run->lim.timeout_s);
        snprintf(out, size, "limits by %s: memory %s, tasks %s, cpu %s, time %ld s", how, mem, tasks, cpu,
                 run->lim.timeout_s);
}

int script_run_bwrap(ScriptRun *run, Error *err) {
        char bwrap[4096];
        bool drop;
        uid_t uid = 0;
        gid_t gid = 0;
        int r = find_bwrap(run->c, bwrap, sizeof bwrap, err);
        if (r < 0 || (r = build_user(run->c, &drop, &uid, &gid, err)) < 0)
                return r;
        /* The build user writes the fresh folder. */
        _cleanup_close_ int tree = openat(run->builds_fd, "overlay", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int script = openat(run->builds_fd, "script.sh", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (tree < 0 || script < 0 || fstat(script, &st) < 0 || !S_ISREG(st.st_mode))
                return error_set(err, tree < 0 || script < 0 ? negative_errno() : -EPERM, "overlay '%s': cannot "
                                 "open the build folder and the script in '%s/builds/%s'", run->name,
                                 run->c->state_dir, run->name);
        if (drop && fchown(tree, uid, gid) < 0)
                return error_set(err, negative_errno(), "overlay '%s': cannot hand the build folder to its user: %m",
                                 run->name);
        BuildGroup group;
        char how[160], limits[256];
        int version = group_make(run, &group, how, sizeof how);
        format_limits(run, how, version > 0, limits, sizeof limits);
        _cleanup_close_ int seccomp = seccomp_fd();
        overlay_build_line(run->b, "sandbox: bwrap as uid %d, %s%s", (int) (drop ? uid : geteuid()), limits,
                           seccomp < 0 ? "; no seccomp filter on this architecture" : "");

        _cleanup_(argv_free) Argv a = { 0 };
        build_argv(&a, bwrap, run, tree, script, seccomp);
        int out[2] = { -1, -1 }, errp[2] = { -1, -1 };
        _cleanup_close_ int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        sigset_t old;
        int cancel = script_cancel_open(&old);
        if (null_fd < 0 || cancel < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
                r = error_set(err, negative_errno(), "overlay '%s': cannot set up the sandbox: %m", run->name);
                goto out;
        }
        Child ch = { .drop = drop, .rlimits = version == 0, .uid = uid, .gid = gid, .out_fd = out[1],
                     .null_fd = null_fd, .seccomp = seccomp, .tree_fd = tree, .script_fd = script, .group = &group,
                     .lim = &run->lim, .mask = &old };
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                r = error_set(err, negative_errno(), "overlay '%s': cannot start the sandbox: %m", run->name);
                goto out;
        }
        if (pid == 0)
                child_exec(&ch, a.v, errp[1], parent);
        close(out[1]);
        close(errp[1]);
        out[1] = errp[1] = -1;
        int child_errno = 0;
        if (read(errp[0], &child_errno, sizeof child_errno) == (ssize_t) sizeof child_errno) {
                waitpid(pid, NULL, 0);
                r = error_set(err, -child_errno, "overlay '%s': cannot start the sandbox '%s': %s", run->name, bwrap,
                              strerror(child_errno));
                goto out;
        }

        int64_t deadline = mono_ms() + run->lim.timeout_s * 1000;
        bool killed = false;
        char buf[8192];
        for (;;) {
                int64_t left = deadline - mono_ms();
                if (left <= 0 && !killed) {
                        run->timed_out = killed = true;
                        kill(-pid, SIGKILL);
                        kill(pid, SIGKILL);
                }
                struct pollfd p[2] = { { .fd = out[0], .events = POLLIN }, { .fd = cancel, .events = POLLIN } };
                int n = poll(p, 2, killed ? 1000 : (int) (left > 60000 ? 60000 : left));
                if (n < 0 && errno == EINTR)
                        continue;
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        (void) !read(cancel, &si, sizeof si);
                        if (!killed) {
                                run->cancelled = killed = true;
                                kill(-pid, SIGKILL);
                                kill(pid, SIGKILL);
                        }
                }
                if (p[0].revents & (POLLIN | POLLHUP)) {
                        ssize_t k = read(out[0], buf, sizeof buf);
                        if (k > 0) {
                                script_output(run, buf, (size_t) k);
                                continue;
                        }
                        if (k == 0 || errno != EINTR)
                                break;
                }
                if (n == 0 && killed)
                        break; /* killed, and still no end of output after a second */
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        group_result(&group, run);
        if (WIFEXITED(status))
                run->exit_code = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
                run->signal = WTERMSIG(status);
        /* bwrap passes on the script's status; a script killed by a signal
         * comes back as 128 + the signal. */
        if (run->exit_code > 128 && run->exit_code < 128 + 65) {
                run->signal = run->exit_code - 128;
                run->exit_code = -1;
        }
        r = 0;
out:
        group_remove(&group);
        for (int i = 0; i < 2; i++) {
                if (out[i] >= 0)
                        close(out[i]);
                if (errp[i] >= 0)
                        close(errp[i]);
        }
        if (cancel >= 0)
                script_cancel_close(cancel, &old);
        return r;
}
