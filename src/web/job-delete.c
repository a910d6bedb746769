/* delete: the instance goes from the host, then the server's row. From the
 * request on the server shows as being deleted; a delete that fails (or
 * that recovery gives up on) shows it again, with its buttons. */
#include "jobs.h"
#include "svc-servers.h"

static int queued(sqlite3 *db, const Server *srv) {
        return server_set_deleting(db, srv->id, true);
}

static bool run(JobCtx *c, const char **ret_result) {
        (void) server_set_desired(c->db, c->server->id, "stopped");
        const char *args[] = { "delete", c->server->instance, NULL };
        if (!job_ctl(c, args, NULL))
                return false;
        if (server_remove(c->db, c->server->id) < 0)
                return job_fail(c, "the instance is gone, but the server could not be removed from the database");
        *ret_result = "Deleted.";
        return true;
}

static void failed(sqlite3 *db, int64_t server_id) {
        if (server_id)
                (void) server_set_deleting(db, server_id, false);
}

const JobKind job_delete = { .name = "delete", .needs_server = true, .queued = queued, .run = run,
                             .failed = failed };
