/* left4me workshop refresh: queues the panel's Workshop refresh job, for the
 * daily left4me-workshop-refresh.timer. It does not refresh anything itself:
 * it inserts the job's row into the state dir's database, one transaction
 * with the check that no refresh is waiting already, and the workers of the
 * `left4me serve` of that state dir claim it (they look at the queue every
 * second, jobs.c). So the refresh runs where every other job runs, with its
 * log and result on the Jobs page, whether the panel is busy or not; when
 * the panel is down, the job waits for its next start. */
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "jobs.h"
#include "svc-accounts.h"

const char cmd_workshop_help[] =
        "Usage: left4me [--state-dir DIR] workshop refresh\n"
        "\n"
        "Queues the panel's Workshop refresh: a job that brings every workshop overlay\n"
        "up to date (l4d2ctl workshop refresh), downloading only items that changed\n"
        "on the Workshop. The job goes into the state dir's database; the job workers\n"
        "of the 'left4me serve' of that state dir run it (within a second when it is\n"
        "running, else at its next start), as if an administrator had pressed\n"
        "'Refresh Workshop overlays now'. It is the oldest enabled administrator's job\n"
        "and shows on the Jobs page. A refresh that is waiting already is not queued\n"
        "twice. left4me-workshop-refresh.timer runs this once a day.\n"
        "\n"
        "Exit status: 0 queued (or one was waiting), 1 failed (one line 'error: ...'),\n"
        "2 usage.\n";

/* The account the job runs for: the oldest enabled administrator. */
static int job_owner(sqlite3 *db, User *ret) {
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (accounts_list(&it, db) < 0)
                return -EIO;
        AccountRow a;
        bool found = false;
        while (account_next(&it, &a))
                if (a.is_admin && !a.disabled && (!found || a.id < ret->id)) {
                        *ret = (User) { .id = a.id, .is_admin = true };
                        snprintf(ret->username, sizeof ret->username, "%s", a.username);
                        found = true;
                }
        return found ? 0 : -ENOENT;
}

int cmd_workshop(int argc, char **argv) {
        if (argc != 1 || !streq(argv[0], "refresh")) {
                if (argc >= 1 && !streq(argv[0], "refresh"))
                        fprintf(stderr, "error: unknown workshop command '%s'; see left4me workshop --help\n", argv[0]);
                else
                        fputs(cmd_workshop_help, stderr);
                return 2;
        }
        sqlite3 *db;
        if (open_db(&db) < 0)
                return 1;
        int ret = 0;
        User admin;
        int64_t id;
        int r = job_owner(db, &admin);
        if (r == -ENOENT) {
                fputs("error: there is no enabled administrator to run the refresh for; create one with 'left4me "
                      "admin create NAME --admin'\n", stderr);
                ret = 1;
        } else if (r < 0 || (r = workshop_refresh_request(db, &admin, "every Workshop overlay (left4me workshop "
                                                                     "refresh)", &id)) < 0) {
                fprintf(stderr, "error: could not queue the Workshop refresh: %s\n",
                        r == -EAGAIN ? "its administrator has 20 jobs waiting already" : "the database is busy");
                ret = 1;
        } else if (r == 1)
                printf("a Workshop refresh is waiting already: job %lld\n", (long long) id);
        else
                printf("queued the Workshop refresh as job %lld for '%s'; the panel's workers run it\n", (long long) id,
                       admin.username);
        sqlite3_close(db);
        return ret;
}
