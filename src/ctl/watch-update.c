/* watch's part in game updates (issue 14): every round it reads what each
 * running server printed since the last round and reports a
 * `MasterRequestRestart` (Steam's master server asking an outdated server to
 * restart) as an update signal: one event, and a record that `update check`
 * reads. Kept apart from cmd-watch.c, which calls watch_update_scan once per
 * running instance and round. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "strutil.h"
#include "update.h"
#include "watch-update.h"

typedef struct Cursor {
        char name[NAME_MAX_LEN + 1];
        ConsoleCursor cur;
        bool seen;        /* reported since it last started; a server repeats the line */
        long long pid;
        long long last;   /* the last round that scanned it */
} Cursor;

#define FORGET_AFTER_S 600 /* a server not scanned for this long (stopped, deleted) */

static Cursor *cursors;
static size_t n_cursors;

static Cursor *cursor_of(const char *name) {
        for (size_t i = 0; i < n_cursors; i++)
                if (streq(cursors[i].name, name))
                        return &cursors[i];
        Cursor *v = realloc(cursors, (n_cursors + 1) * sizeof *v);
        if (!v)
                return NULL;
        cursors = v;
        Cursor *c = &cursors[n_cursors++];
        *c = (Cursor) { 0 };
        snprintf(c->name, sizeof c->name, "%s", name);
        return c;
}

/* Drops the cursors of servers not scanned for a while: a stopped server
 * starts from its console's end again, which is what a new run wants. */
static void forget_old(long long now) {
        size_t k = 0;
        for (size_t i = 0; i < n_cursors; i++) {
                if (now - cursors[i].last > FORGET_AFTER_S && cursors[i].last) {
                        console_cursor_free(&cursors[i].cur);
                        continue;
                }
                cursors[k++] = cursors[i];
        }
        n_cursors = k;
}

json_t *watch_update_scan(const HostConfig *c, const char *name, long long pid, long long now) {
        forget_old(now);
        Cursor *k = cursor_of(name);
        if (!k)
                return NULL;
        k->last = now;
        if (k->pid != pid) {
                k->pid = pid; /* a new run: a new request would be news again */
                k->seen = false;
        }
        bool found = false;
        if (console_scan(c, name, &k->cur, &found) < 0 || !found || k->seen)
                return NULL;
        k->seen = true;
        (void) update_signal_record(c, name, now);
        return json_pack("{s:s, s:I, s:s, s:s}", "event", "update", "time", (json_int_t) now, "name", name, "signal",
                         UPDATE_SIGNAL_LINE);
}

void watch_update_done(void) {
        for (size_t i = 0; i < n_cursors; i++)
                console_cursor_free(&cursors[i].cur);
        free(cursors);
        cursors = NULL;
        n_cursors = 0;
}
