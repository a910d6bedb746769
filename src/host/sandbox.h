/* One box per server under the supervisor backend: Debian's bubblewrap
 * (bwrap) runs the server in new PID, mount, IPC, UTS (and, unless l4d2ctl
 * is root and keeps the server as root, user) namespaces, with
 * --die-with-parent, in a fresh root that holds only:
 *   - its own merged tree, read-write, at the same path (the cwd);
 *   - /usr (and the /bin, /lib... links or folders) read-only, a short list
 *     of /etc files a program needs (passwd, group, hosts, resolv.conf,
 *     nsswitch.conf, ld.so.cache, localtime, ssl certificates, ...);
 *   - its own /proc, a minimal /dev (null, zero, full, random, urandom, tty,
 *     a private /dev/shm), a private /tmp;
 *   - the host network (it must bind its ports).
 * No capabilities, no new privileges, no nested user namespaces, and a
 * clean environment (PATH, HOME = its tree, LANG): nothing inherited from
 * whoever ran `l4d2ctl start`. When the server (srcds_run) exits, bwrap's
 * init exits and the kernel kills everything left in the PID namespace, so
 * nothing it started (a `setsid` child included) outlives it; when the
 * supervisor dies, --die-with-parent takes the box with it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

typedef struct SandboxRun {
        pid_t pid;      /* our child: bwrap, or the server itself when not sandboxed */
        pid_t init_pid; /* bwrap's init (PID 1 of the box) in our PID namespace; 0 until known */
        pid_t server;   /* the server's process (srcds_run), 0 until known */
        bool sandboxed;
        int info_fd;    /* bwrap's --info-fd, until it has said the init's pid; else -1 */
        char info[512];
        size_t info_len;
} SandboxRun;

/* The bwrap to use: 1 and its path if there is one, 0 if not. */
int sandbox_find(const HostConfig *c, char *path, size_t size);

/* Whether bwrap's --disable-userns can work here: it writes
 * /proc/sys/user/max_user_namespaces inside the box's user namespace, which
 * a container that mounts /proc/sys read-only (Docker, systemd-nspawn)
 * refuses, and bwrap then fails to start anything. There the boxes go
 * without it: the build box's seccomp filter still refuses unshare() and
 * clone() of a user namespace; a server's box relies on the container's. */
bool sandbox_userns_can_be_disabled(void);

/* Starts argv (argv[0] relative to cwd) with stdin from /dev/null and
 * stdout/stderr on out_fd: in a box when bwrap is given, else directly (in
 * a session of its own, killed when its parent dies). The child is in its
 * own process group, with oom_score_adj 0. Returns once the program is
 * executing; bwrap then builds the box while the caller goes on (see
 * sandbox_read_info). */
int sandbox_spawn(const char *bwrap, char *const *argv, const char *cwd, const char *hostname, int out_fd,
                  SandboxRun *ret);

/* Reads what bwrap has said on its info fd so far (poll run->info_fd for
 * POLLIN): once it names the box's init, run->init_pid is set and the fd
 * closed. Returns without blocking. */
void sandbox_read_info(SandboxRun *run);

/* Fills in run->server once the box's init has started it; returns it (0
 * if not yet). */
pid_t sandbox_server_pid(SandboxRun *run);

/* Closes the info fd if still open. */
void sandbox_run_done(SandboxRun *run);

/* Sends sig to the server's whole process group, with SIGCONT so that a
 * stopped server gets it at once. With no server known yet, or for
 * SIGKILL, the box's init is killed, which ends every process in it. */
void sandbox_signal(SandboxRun *run, int sig);
