/* Moving running servers onto their build (issue 14): a `follow` server runs
 * the build it started on until it restarts; once build_choose() would pick
 * another one for it (a build passed its canary, or its pin changed), it is
 * "pending" and moves
 *   - when nobody plays on it: no humans (A2S players - bots) for
 *     LEFT4ME_MIGRATE_EMPTY, as observed by successive passes;
 *   - at its next restart, whoever restarts it (start picks the build);
 *   - when its update_deadline (spec) has passed since the build became its
 *     target, players or not.
 * Never with players on before the deadline: a server that does not answer
 * A2S counts as occupied.
 *
 * The policy runs here, on the host, one pass per call (`l4d2ctl update
 * migrate`, or with --wait a pass every LEFT4ME_MIGRATE_POLL): the panel
 * calls it from its fleet job; what the passes observed in between is kept
 * in install-store/state/migrate.json. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "build.h"
#include "fs.h"
#include "instance.h"
#include "lock.h"
#include "update.h"

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *state_load(int dir) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        json_t *j = NULL;
        if (read_file_at(dir, "migrate.json", 1024 * 1024, &text, &len) == 0)
                j = json_loadb(text, len, 0, NULL);
        if (!json_is_object(j)) {
                json_decref(j);
                j = json_object();
        }
        return j;
}

static void emit(const MigrateRun *run, json_t *ev) {
        if (ev && run->cb)
                run->cb(ev, run->userdata);
        json_decref(ev);
}

static bool same_dropped(json_t *rec, const BuildChoice *b) {
        json_t *d = json_object_get(rec, "dropped");
        if (json_array_size(d) != b->n_dropped)
                return false;
        for (size_t i = 0; i < b->n_dropped; i++)
                if (!streq(json_string_value(json_array_get(d, i)) ?: "", b->dropped[i]))
                        return false;
        return true;
}

/* One instance: its entry in the state (old) is replaced in next if it is
 * still pending. Returns 1 if it is pending after this pass. */
static int consider(const HostConfig *c, const UpdateSettings *set, const MigrateRun *run, const char *name, json_t *old,
                    json_t *next, int64_t now) {
        _cleanup_(spec_free) Spec s = { 0 };
        if (instance_load(c, name, &s, NULL) < 0)
                return 0;
        BackendStatus st;
        if (backend_get(c)->status(c, name, &st, NULL) < 0 || st.state != STATE_RUNNING)
                return 0; /* a stopped server moves at its next start */
        char mounted[BUILD_ID_MAX_LEN + 1];
        build_mounted(c, name, mounted);
        json_t *rec = build_mount_record(c, name);
        _cleanup_(build_choice_free) BuildChoice b = { 0 };
        if (!mounted[0] || build_choose(c, &s, &b, NULL) < 0 ||
            (streq(b.id, mounted) && (!rec || same_dropped(rec, &b)))) {
                json_decref(rec);
                return 0;
        }
        json_decref(rec);

        json_t *prev = json_object_get(old, name);
        int64_t since = now, empty_since = -1;
        if (prev && streq(json_string_value(json_object_get(prev, "target")) ?: "", b.id)) {
                since = json_integer_value(json_object_get(prev, "since"));
                if (json_is_integer(json_object_get(prev, "empty_since")))
                        empty_since = json_integer_value(json_object_get(prev, "empty_since"));
        }
        int humans = run->humans ? run->humans((uint16_t) s.port, run->userdata) : -1;
        if (humans == 0 && empty_since < 0)
                empty_since = now;
        else if (humans != 0)
                empty_since = -1;
        const char *reason = NULL;
        if (humans == 0 && now - empty_since >= set->migrate_empty_ms)
                reason = "empty";
        else if (s.update_deadline > 0 && now - since >= (int64_t) s.update_deadline * 1000)
                reason = "deadline";
        /* Asked again right before: a player may have joined since. */
        if (reason && streq(reason, "empty") && run->humans && run->humans((uint16_t) s.port, run->userdata) != 0) {
                reason = NULL;
                empty_since = -1;
        }
        if (reason) {
                Error e = { 0 };
                int r = instance_restart(c, name, NULL, &e);
                if (r >= 0) {
                        json_t *dropped = json_array();
                        for (size_t i = 0; dropped && i < b.n_dropped; i++)
                                json_array_append_new(dropped, json_string(b.dropped[i]));
                        emit(run, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o*}", "event", "migrated", "name", name,
                                            "from", mounted, "to", b.id, "reason", reason, "dropped", dropped));
                        return 0;
                }
                emit(run, json_pack("{s:s, s:s, s:s, s:s}", "event", "migrate-failed", "name", name, "to", b.id,
                                    "error", e.msg));
        }
        json_t *entry = json_pack("{s:s, s:I}", "target", b.id, "since", (json_int_t) since);
        if (entry && empty_since >= 0)
                json_object_set_new(entry, "empty_since", json_integer(empty_since));
        json_object_set_new(next, name, entry);
        emit(run, json_pack("{s:s, s:s, s:s, s:s, s:i, s:I}", "event", "pending", "name", name, "from", mounted, "to",
                            b.id, "humans", humans, "empty_ms", (json_int_t) (empty_since >= 0 ? now - empty_since : 0)));
        return 1;
}

int update_migrate(const HostConfig *c, const MigrateRun *run, unsigned *ret_pending, Error *err) {
        UpdateSettings set;
        int r = update_settings_load(c, &set, err);
        if (r < 0)
                return r;
        _cleanup_close_ int lock = -1;
        if ((r = host_lock(c, ".update-migrate", LOCK_EX, 30000, "the migration of servers to new builds", &lock, err)) <
            0)
                return r;
        _cleanup_close_ int dir = build_store_open(c, "state", err);
        if (dir < 0)
                return dir;
        _cleanup_strv_ char **names = NULL;
        if ((r = instance_list_visible(c, &names, err)) < 0)
                return r;
        json_auto_t *old = state_load(dir);
        json_auto_t *next = json_object();
        if (!next)
                return -ENOMEM;
        unsigned pending = 0;
        int64_t now = now_ms();
        for (char **n = names; *n; n++)
                pending += consider(c, &set, run, *n, old, next, now) > 0;
        _cleanup_free_ char *text = json_dumps(next, JSON_COMPACT);
        if (!text || (r = write_file_atomic_flags(dir, "migrate.json", text, strlen(text), 0644, WRITE_NO_SYNC)) < 0)
                return error_set(err, text ? r : -ENOMEM, "cannot save the migration state: %s",
                                 strerror(text ? -r : ENOMEM));
        *ret_pending = pending;
        return 0;
}
