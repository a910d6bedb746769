/* install: the game, with steamcmd, for every server of the host. */
#include "jobs.h"

static bool run(JobCtx *c, const char **ret_result) {
        const char *args[] = { "install", "--json", NULL };
        if (!job_ctl(c, args, NULL))
                return false;
        /* steamcmd can exit 0 without having installed anything. */
        if (!c->done_ok)
                return job_fail(c, "%s", c->last_error[0] ? c->last_error : "steamcmd did not finish the installation");
        *ret_result = "The game is installed.";
        return true;
}

const JobKind job_install = { .name = "install", .shows_progress = true, .run = run };
