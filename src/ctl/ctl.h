/* l4d2ctl: one file per command group; main.c holds the command table. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "config.h"
#include "error.h"

typedef struct Command {
        const char *name;
        int (*run)(const HostConfig *c, int argc, char **argv);
        const char *summary;  /* one line for `l4d2ctl --help` */
        const char *help;     /* the man-page-like text for `l4d2ctl NAME --help` */
        bool hidden;          /* internal commands: not listed */
} Command;

/* Prints "error: <msg>" once, on stderr; returns the exit status 1. */
int ctl_fail(const Error *err, int r);
/* A usage error: prints it and a hint; returns 2. */
int ctl_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints j as one line of JSON on stdout and drops the reference. */
void ctl_print_json(json_t *j);

/* Parses the options every command shares: --json and --help. Removes them
 * from argv; returns the remaining count, or -1 if --help was printed. */
int ctl_common_options(const char *cmd, int argc, char **argv, bool *json);

/* Text from a game server or a backend for a human line: control characters
 * escaped (\xNN), always, so it cannot drive a terminal or break the line.
 * Returns s itself when it is clean, "-" for NULL, else one of a few
 * rotating static buffers (cut at about 1 KiB). */
const char *ctl_shown(const char *s);
/* A JSON string of text that need not be valid UTF-8: invalid bytes become
 * U+FFFD instead of losing the whole field. NULL gives JSON null. */
json_t *ctl_json_text_n(const char *s, size_t len);
json_t *ctl_json_text(const char *s);

extern const Command cmd_install, cmd_initialize, cmd_start, cmd_stop, cmd_restart, cmd_delete, cmd_status,
        cmd_list, cmd_logs, cmd_run, cmd_supervise;
extern const Command cmd_rcon, cmd_query, cmd_players; /* cmd-proto.c */
extern const Command cmd_watch;                       /* cmd-watch.c */
extern const Command cmd_builds, cmd_build, cmd_pin;  /* cmd-build.c */
extern const Command cmd_update;                      /* cmd-update.c */

/* install and update fetch (cmd-install.c): fetch the newest build. */
int ctl_fetch(const HostConfig *c, const char *cmd, int argc, char **argv);
/* The fetch itself: its events or lines, without the closing done event. */
int ctl_fetch_events(const HostConfig *c, bool validate, bool json, Error *err);

/* cmd-overlay.c, cmd-workshop.c */
extern const Command cmd_overlay, cmd_workshop;

/* Build output: every event as a JSON line, or its "line" for people and a
 * progress line every 5 %. userdata is a BuildOut. */
typedef struct BuildOut {
        bool json;
        double last_percent;
} BuildOut;
#define BUILD_OUT_INIT(j) { .json = (j), .last_percent = -5.0 }
void ctl_build_event(json_t *ev, void *userdata);
/* The closing {"event":"done",...} with --json; the exit status. */
int ctl_build_done(bool json, int r, bool changed, const Error *err);
/* `workshop NAME add|remove|items`, argv[0] being "workshop". */
int ctl_workshop_verbs(const HostConfig *c, int argc, char **argv, bool json);

/* cmd-overlay-files.c: `overlay ls|get|put|mkdir|mv|rm|zip`, argv[0] being
 * "overlay". */
bool ctl_is_files_verb(const char *verb);
int ctl_overlay_files(const HostConfig *c, int argc, char **argv);
