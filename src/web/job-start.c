/* start: writes the instance's spec from the blueprint as it is now, then
 * starts it. Its end, shared with restart, says what happened in a server
 * owner's words. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "jobs.h"
#include "svc-servers.h"

/* l4d2ctl's message without "error: " and "instance 'sN': ", first letter
 * up: the server's own page needs no name in front. */
static void plain(const char *msg, char *buf, size_t size) {
        if (startswith(msg, "error: "))
                msg += strlen("error: ");
        if (startswith(msg, "instance '")) {
                const char *end = strstr(msg, "': ");
                if (end)
                        msg = end + 3;
        }
        snprintf(buf, size, "%s", msg);
        buf[0] = (char) toupper((unsigned char) buf[0]);
        size_t n = strlen(buf);
        if (n && n + 1 < size && buf[n - 1] != '.')
                memcpy(buf + n, ".", 2);
}

void job_start_failure_words(const char *error, char *buf, size_t size) {
        if (strstr(error, "no game installation"))
                snprintf(buf, size, JOB_RESULT_NOT_INSTALLED);
        else if (strstr(error, "the game is being installed or updated"))
                snprintf(buf, size, "The game is being installed or updated; start the server when that has "
                                    "finished.");
        else if (strstr(error, "no build has passed the canary"))
                snprintf(buf, size, "No installed version of the game has passed its trial run with this server's "
                                    "overlays yet, so it cannot start. An administrator sees why on the Builds page "
                                    "and can try again there, or pin the server to a build.");
        else if (strstr(error, "no free port pair left") || strstr(error, "no other port pair is free"))
                snprintf(buf, size, "No port is free for this server: other servers and programs on the host hold "
                                    "every port of its range. Stop one, or ask an administrator to widen the range.");
        else
                plain(error[0] ? error : "the host's l4d2ctl failed without a message", buf, size);
}

bool job_start_done(JobCtx *c, bool ok, const char *done, const char **ret_result) {
        const char *verb = streq(c->job->kind, "restart") ? "Restart" : "Start";
        char words[400], event[512];
        if (!ok) {
                job_start_failure_words(c->last_error, words, sizeof words);
                /* The server is stopped because its start failed: nobody
                 * stopped it behind the panel's back. */
                (void) server_set_desired(c->db, c->server->id, "stopped");
                snprintf(event, sizeof event, "%s failed: %s", verb, words);
                (void) server_event(c->db, c->server->id, "failed", event);
                return job_fail(c, "%s", words);
        }
        const char *note = json_string_value(json_object_get(c->status, "note"));
        if (note && *note) {
                plain(note, words, sizeof words);
                (void) server_event(c->db, c->server->id, "moved", words);
                snprintf(c->result, sizeof c->result, "%s %s", done, words);
                *ret_result = c->result;
        } else
                *ret_result = done;
        return true;
}

void job_start_gave_up(sqlite3 *db, int64_t server_id) {
        if (server_id)
                (void) server_set_desired(db, server_id, "stopped");
}

static bool run(JobCtx *c, const char **ret_result) {
        (void) server_set_desired(c->db, c->server->id, "running");
        const char *args[] = { "start", c->server->instance, "--json", NULL };
        return job_start_done(c, job_initialize(c) && job_ctl(c, args, NULL), "Started.", ret_result);
}

const JobKind job_start = { .name = "start", .needs_server = true, .run = run, .failed = job_start_gave_up };
