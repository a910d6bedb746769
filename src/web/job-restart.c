/* restart: as start, for a server that may be running; the blueprint's
 * changes apply. */
#include "jobs.h"
#include "svc-servers.h"

static bool run(JobCtx *c, const char **ret_result) {
        (void) server_set_desired(c->db, c->server->id, "running");
        const char *args[] = { "restart", c->server->instance, "--json", NULL };
        return job_start_done(c, job_initialize(c) && job_ctl(c, args, NULL), "Restarted.", ret_result);
}

const JobKind job_restart = { .name = "restart", .needs_server = true, .run = run, .failed = job_start_gave_up };
