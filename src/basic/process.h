/* Running other programs: always an argv array through posix_spawn, never a
 * shell string. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct SpawnOptions {
        const char *cwd;      /* NULL: inherit */
        char *const *envp;    /* NULL: the caller's environment */
        int stdin_fd;         /* -1: inherit; otherwise dup'ed to 0 */
        int stdout_fd;        /* -1: inherit */
        int stderr_fd;        /* -1: inherit */
        int extra_fd;         /* -1: none; otherwise dup'ed to 3 (CLOEXEC cleared) */
        bool new_session;     /* setsid(): own session and process group */
        bool set_user;        /* run as uid/gid (no supplementary groups, no new
                               * privileges); cwd is entered before the switch */
        uid_t uid;
        gid_t gid;
        bool search_path;     /* look argv[0] up in PATH */
        /* The options below (and set_user) fork instead of posix_spawn. */
        bool new_pgroup;      /* a process group of its own (not a session) */
        int pdeathsig;        /* 0, or the signal it gets when its parent dies
                               * (PR_SET_PDEATHSIG; set before exec, so it also
                               * holds if the parent died in between) */
        int keep_fd;          /* -1, or an fd it keeps at the same number across
                               * exec (CLOEXEC cleared in the child only) */
        bool reset_oom_score; /* oom_score_adj 0: a parent that protects itself
                               * from the OOM killer must not pass that on */
} SpawnOptions;

#define SPAWN_OPTIONS_INIT { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .extra_fd = -1, .keep_fd = -1 }

int spawn(char *const argv[], const SpawnOptions *o, pid_t *ret_pid);

/* Waits for pid. *ret_exit is the exit code, or 128 + signal number if it
 * was killed. */
int spawn_wait(pid_t pid, int *ret_exit);

/* Runs argv with stdout and stderr joined on a pipe and calls cb for every
 * line (split at '\n' or '\r', without them; lines longer than 4 KiB are cut
 * into pieces). cb returning < 0 stops reading (the child is still waited for).
 * Returns 0 and the exit code in *ret_exit, or -errno if it could not run. */
typedef int (*spawn_line_cb)(const char *line, void *userdata);
int spawn_lines(char *const argv[], const SpawnOptions *o, spawn_line_cb cb, void *userdata, int *ret_exit);

/* Splits a byte stream into lines as spawn_lines does, for callers that
 * read a pipe themselves (a stream they poll with other fds): '\n' or '\r'
 * ends a line, empty lines are skipped, a line past 4 KiB is cut, a NUL
 * byte becomes a space. feed() returns what a cb < 0 returned (the rest of
 * buf is dropped), else 0; end() hands over a last unterminated line. */
typedef struct LineSplitter {
        size_t len;
        char line[4097];
} LineSplitter;
int line_splitter_feed(LineSplitter *l, const char *buf, size_t n, spawn_line_cb cb, void *userdata);
int line_splitter_end(LineSplitter *l, spawn_line_cb cb, void *userdata);
/* Reads fd to its end, calling cb for every line; after a cb < 0 the rest
 * is read and dropped (a child writing it never blocks). */
void read_lines(int fd, spawn_line_cb cb, void *userdata);
