/* Running l4d2ctl, the panel's only way to touch the host. Always an argv
 * array, always with --state-dir, output read back line by line; JSON lines
 * are parsed with jansson. The panel never links the host library. */
#pragma once

#include <jansson.h>
#include <sys/types.h>

#include "process.h"

/* Builds argv: l4d2ctl --state-dir DIR args... (args NULL-terminated). The
 * array and its strings point into static config or the caller's args. */
#define CTL_ARGV_MAX 16
int ctl_argv(const char *argv_out[CTL_ARGV_MAX], const char *const args[]);

/* Runs l4d2ctl with args, optionally feeding stdin_data, calling cb for every
 * line of stdout+stderr. */
int ctl_run(const char *const args[], const char *stdin_data, spawn_line_cb cb, void *userdata, int *ret_exit);

/* Parses a line as a JSON object; NULL if it is not one. */
json_t *ctl_parse_object(const char *line);

/* Starts `l4d2ctl logs NAME --lines N --follow` with its output on a pipe.
 * The child gets its own process group so ctl_kill() ends all of it. */
int ctl_spawn_logs(const char *instance, int lines, pid_t *ret_pid, int *ret_fd);
void ctl_kill(pid_t pid);
