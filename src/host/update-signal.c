/* `MasterRequestRestart` in a server's console: Steam's master server tells
 * an outdated server to restart (ValveSoftware/Source-1-Games#822). `l4d2ctl
 * watch` scans the consoles of running servers for it every round and
 * records the newest sighting; `update check` reads that as a source. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "build.h"
#include "fs.h"
#include "update.h"

#define SCAN_MAX (1024 * 1024)

void console_cursor_free(ConsoleCursor *cur) {
        if (cur->journal)
                sd_journal_close(cur->journal);
        *cur = (ConsoleCursor) { 0 };
}

/* The supervisor backend's console.log, from the last offset. A new file
 * (a rotation, a new run) is read from its start. */
static int scan_file(const HostConfig *c, const char *name, ConsoleCursor *cur, bool *found) {
        char rel[96];
        snprintf(rel, sizeof rel, "runtime/%s/console.log", name);
        _cleanup_close_ int fd = path_open_beneath_dir(c->state_dir, rel, O_RDONLY, 0, PATH_NO_SYMLINKS);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!cur->started || cur->dev != st.st_dev || cur->ino != st.st_ino || st.st_size < cur->off) {
                bool first = !cur->started;
                *cur = (ConsoleCursor) { .started = true, .dev = st.st_dev, .ino = st.st_ino };
                if (first) {
                        /* What was printed before we looked is old news. */
                        cur->off = st.st_size;
                        return 0;
                }
        }
        off_t end = st.st_size;
        if (end - cur->off > SCAN_MAX)
                cur->off = end - SCAN_MAX;
        size_t want = (size_t) (end - cur->off);
        if (want == 0)
                return 0;
        _cleanup_free_ char *buf = malloc(want + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = pread(fd, buf, want, cur->off);
        if (n < 0)
                return negative_errno();
        /* Only whole lines: a line still being written is read next time. */
        char *nl = memrchr(buf, '\n', (size_t) n);
        if (!nl)
                return 0;
        *nl = '\0';
        cur->off += nl - buf + 1;
        if (memmem(buf, (size_t) (nl - buf), UPDATE_SIGNAL_LINE, strlen(UPDATE_SIGNAL_LINE)))
                *found = true;
        return 0;
}

/* The systemd backend's journal namespace left4me-NAME (the unit's
 * LogNamespace=), kept open from one round to the next: the first scan
 * finds its end, later ones read what came since. */
static int scan_journal(const char *name, ConsoleCursor *cur, bool *found) {
        sd_journal *j = cur->journal;
        int r;
        if (!j) {
                char ns[64], match[128];
                snprintf(ns, sizeof ns, "left4me-%s", name);
                snprintf(match, sizeof match, "_SYSTEMD_UNIT=left4me-server@%s.service", name);
                if ((r = sd_journal_open_namespace(&j, ns, SD_JOURNAL_LOCAL_ONLY)) < 0)
                        return r;
                if ((r = sd_journal_add_match(j, match, 0)) < 0 || (r = sd_journal_seek_tail(j)) < 0 ||
                    (r = sd_journal_previous(j)) < 0) {
                        sd_journal_close(j);
                        return r;
                }
                cur->journal = j;
                cur->started = true;
                return 0;
        }
        (void) sd_journal_process(j); /* files journald added or rotated */
        size_t seen = 0;
        while (seen < SCAN_MAX && (r = sd_journal_next(j)) > 0) {
                const void *data;
                size_t len;
                if (sd_journal_get_data(j, "MESSAGE", &data, &len) >= 0) {
                        seen += len;
                        if (memmem(data, len, UPDATE_SIGNAL_LINE, strlen(UPDATE_SIGNAL_LINE)))
                                *found = true;
                }
        }
        return r < 0 ? r : 0;
}

int console_scan(const HostConfig *c, const char *name, ConsoleCursor *cur, bool *ret_found) {
        *ret_found = false;
        return c->backend == BACKEND_SYSTEMD ? scan_journal(name, cur, ret_found) : scan_file(c, name, cur, ret_found);
}

int update_signal_record(const HostConfig *c, const char *instance, int64_t when) {
        _cleanup_close_ int store = build_store_open(c, "state", NULL);
        if (store < 0)
                return store;
        json_t *j = json_pack("{s:I, s:s}", "time", (json_int_t) when, "instance", instance);
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!text)
                return -ENOMEM;
        return write_file_atomic_flags(store, "signals.json", text, strlen(text), 0644, WRITE_NO_SYNC);
}

int update_signal_load(const HostConfig *c, json_t **ret) {
        _cleanup_close_ int fd = path_open_beneath_dir(c->state_dir, "install-store/state/signals.json", O_RDONLY, 0,
                                                       PATH_NO_SYMLINKS);
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (fd < 0)
                return fd;
        int r = read_fd(fd, 4096, &text, &len);
        if (r < 0)
                return r;
        json_t *j = json_loadb(text, len, 0, NULL);
        if (!json_is_integer(json_object_get(j, "time"))) {
                json_decref(j);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}
