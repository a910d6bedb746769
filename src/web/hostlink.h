/* The host link: the panel's one way to a host. Everything the panel knows
 * about servers, mounts and the state dir's files it learns from, and does
 * through, that host's `l4d2ctl` (docs/l4d2ctl-contract.md), run with an argv
 * array:
 *   here:      l4d2ctl --state-dir DIR ARGS...
 *   over SSH:  ssh -T -o BatchMode=yes -- HOST 'l4d2ctl' ['--state-dir' 'DIR'] 'ARGS'...
 * The second form is chosen by configuration only (LEFT4ME_HOST_SSH); sshd
 * hands the command to the remote user's shell, so there every argument is
 * single-quoted, and nothing else changes for the callers.
 *
 * Four ways to run it, one per kind of caller:
 *   hostlink_run       lines of output as they come (jobs: the job's log)
 *   hostlink_run_json  one JSON document back, or l4d2ctl's error line
 *   hostlink_spawn     a long-running stream on a pipe (watch, logs --follow)
 *   hostlink_pipe      stdin and stdout to the caller's fds (file bodies:
 *                      `overlay put` / `overlay get`)
 *   hostlink_spawn_out a long-running one whose stdout is a body the caller
 *                      streams on (a download: `overlay get`, `overlay zip`)
 * A HostLink is read-only after hostlink_new(), so threads share it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "process.h"

typedef struct HostLink HostLink;

typedef struct HostLinkConfig {
        const char *l4d2ctl;     /* the program on that host: a path, or a name looked up in PATH */
        const char *state_dir;   /* passed as --state-dir; NULL: the host's own default */
        const char *ssh;         /* NULL: this host; else the SSH destination ([user@]host) */
        const char *ssh_program; /* NULL: "ssh" (looked up in PATH) */
} HostLinkConfig;

/* -EINVAL for a destination that could pass for an ssh option or holds
 * spaces or control characters. */
int hostlink_new(const HostLinkConfig *c, HostLink **ret);
void hostlink_free(HostLink *h);
/* "local", or the SSH destination: for messages. */
const char *hostlink_name(const HostLink *h);

/* The panel's host, from the configuration (set up once by main). */
int host_setup(void);
HostLink *host(void);
void host_done(void);

/* The full argv for l4d2ctl args (NULL-terminated), as it will be run. */
int hostlink_argv(const HostLink *h, const char *const args[], char ***ret);

/* Runs l4d2ctl args with stdin_data (NULL: /dev/null) on its stdin, calling
 * cb for every line of stdout and stderr. The exit code goes to *ret_exit;
 * -errno only if it could not run at all. */
int hostlink_run(const HostLink *h, const char *const args[], const char *stdin_data, spawn_line_cb cb,
                 void *userdata, int *ret_exit);

/* Runs l4d2ctl args (which should include --json) and parses the JSON
 * object it prints (the first line that starts with '{' begins it; at most
 * HOSTLINK_JSON_MAX bytes). On exit 0 with an object: 0 and *ret. On a
 * failure: -EIO with err holding l4d2ctl's "error: ..." line (or what
 * happened), -EBADMSG when it printed no object. */
#define HOSTLINK_JSON_MAX (8 * 1024 * 1024)
int hostlink_run_json(const HostLink *h, const char *const args[], const char *stdin_data, json_t **ret,
                      char *err, size_t errsize);

/* A long-running l4d2ctl, its stdout and stderr on fd, in its own process
 * group. */
typedef struct HostStream {
        pid_t pid;
        int fd;
} HostStream;
#define HOST_STREAM_NULL ((HostStream) { .pid = 0, .fd = -1 })
int hostlink_spawn(const HostLink *h, const char *const args[], HostStream *ret);
/* Ends the stream's process group (SIGTERM) and reaps it; *ret_exit (may be
 * NULL) gets its exit code. Safe on HOST_STREAM_NULL. */
void hostlink_stream_close(HostStream *s, int *ret_exit);

/* As hostlink_spawn, with stdout to out_fd (a body: bytes, not lines) and
 * only stderr on ret->fd. The caller reads out_fd's other end, drains
 * ret->fd (its last line says what failed), and reaps it: spawn_wait() on
 * ret->pid once both ended (then sets pid 0), or hostlink_stream_close() to
 * end it early. */
int hostlink_spawn_out(const HostLink *h, const char *const args[], int out_fd, HostStream *ret);

/* Runs l4d2ctl args with stdin from in_fd (-1: /dev/null) and stdout to
 * out_fd (-1: discarded); stderr's last line goes to err. For bodies that
 * are not lines: a file put into an overlay, a file read from one. */
int hostlink_pipe(const HostLink *h, const char *const args[], int in_fd, int out_fd, char *err, size_t errsize,
                  int *ret_exit);

/* Parses a line as a JSON object; NULL if it is not one. */
json_t *hostlink_parse_object(const char *line);
