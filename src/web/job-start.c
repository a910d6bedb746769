/* start: writes the instance's spec from the blueprint as it is now, then
 * starts it. */
#include "jobs.h"
#include "svc-servers.h"

static bool run(JobCtx *c, const char **ret_result) {
        (void) server_set_desired(c->db, c->server->id, "running");
        const char *args[] = { "start", c->server->instance, "--json", NULL };
        *ret_result = "Started.";
        return job_initialize(c) && job_ctl(c, args, NULL);
}

const JobKind job_start = { .name = "start", .needs_server = true, .run = run };
