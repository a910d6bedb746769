/* stop: the server stops and stays stopped (also across a host reboot). */
#include "jobs.h"
#include "svc-servers.h"

static bool run(JobCtx *c, const char **ret_result) {
        (void) server_set_desired(c->db, c->server->id, "stopped");
        const char *args[] = { "stop", c->server->instance, "--json", NULL };
        *ret_result = "Stopped.";
        return job_ctl(c, args, NULL);
}

const JobKind job_stop = { .name = "stop", .needs_server = true, .run = run };
