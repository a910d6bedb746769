/* install: the game, with steamcmd, for every server of the host. One
 * progress bar for the whole install: a fresh install is two steamcmd
 * passes (the platform-independent files through the windows depot, then
 * the Linux server with validate), each a part of the bar; a failure says
 * what steamcmd's cryptic state means. */
#include <stdio.h>
#include <string.h>

#include "jobs.h"

/* What steamcmd's common failures mean, in words. Valve documents none of
 * it; these follow what LinuxGSM's operators collected
 * (docs.linuxgsm.com/steamcmd/errors) and what the codes' bits say. */
static const struct {
        const char *match, *words;
} failures[] = {
        { "0x202", "There is not enough free disk space for the game, or its folder is not writable" },
        { "0x212", "There is not enough free disk space for the game" },
        { "0x606", "steamcmd cannot write to the game's folder (disk full, or its permissions)" },
        { "Disk write failure", "steamcmd cannot write to the game's folder (disk full, or its permissions)" },
        { "Not enough disk space", "There is not enough free disk space for the game" },
        { "0x402", "steamcmd could not reach Steam: check the host's internet connection, or wait until Steam is "
                   "back" },
        { "0x602", "The download was interrupted (the network, or Steam was busy)" },
        { "0x626", "Files of the update are missing" },
        { "0x6A6", "Files of the update are corrupt" },
        { "0x6a6", "Files of the update are corrupt" },
        { "0x10E", "steamcmd gave up on this update; running it again usually works" },
        { "No subscription", "Steam refused the anonymous download (No subscription)" },
        { "Rate Limit", "Steam refused: too many logins in a short time. Wait half an hour" },
        { "made no progress", "steamcmd stopped making progress (a stalled download) and was stopped" },
        { "not found: install it", "steamcmd is not installed on the host (Debian: apt install steamcmd)" },
        { "instances are running", "Servers are running: stop them first, then install" },
};

static void failure_words(const char *error, char *buf, size_t size) {
        const char *said = error;
        if (startswith(said, "error: "))
                said += strlen("error: ");
        /* "steamcmd failed (windows pass): Error! App '222860' state is
         * 0x202 …": what steamcmd itself said is after the colon. */
        const char *colon = startswith(said, "steamcmd failed (") ? strstr(said, "): ") : NULL;
        if (colon)
                said = colon + 3;
        for (size_t i = 0; i < ELEMENTSOF(failures); i++)
                if (strstr(error, failures[i].match)) {
                        snprintf(buf, size, "%s. Retry when that is fixed. (steamcmd said: %s)", failures[i].words,
                                 said);
                        return;
                }
        snprintf(buf, size, "%s", said[0] ? said : "steamcmd did not finish the installation");
}

static double progress(JobCtx *c, const char *phase, const char *state, double percent, char *label, size_t size) {
        /* A fresh install starts with the windows pass and has two parts;
         * an update is one linux pass, which turns into three when steamcmd
         * says "Invalid platform" and the install starts over. */
        if (!c->phase[0])
                c->parts = streq(phase, "windows") ? 2 : 1;
        else if (!streq(phase, c->phase) && ++c->part >= c->parts)
                c->parts = c->part + 1;
        snprintf(c->phase, sizeof c->phase, "%s", phase);
        if (c->parts > 1)
                snprintf(label, size, "Part %d of %d (%s): %s", c->part + 1, c->parts,
                         streq(phase, "windows") ? "game files" : "Linux server", state);
        else
                snprintf(label, size, "%s", state);
        double whole = (c->part + percent / 100.0) / c->parts * 100.0;
        /* Never backwards: a new part, or steamcmd verifying after it
         * downloaded, starts its own count at 0. */
        return whole > c->last_percent ? whole : c->last_percent;
}

static bool run(JobCtx *c, const char **ret_result) {
        const char *args[] = { "install", "--json", NULL };
        bool ran = job_ctl(c, args, NULL);
        /* steamcmd can exit 0 without having installed anything. */
        if (!ran || !c->done_ok) {
                char words[512];
                failure_words(c->last_error, words, sizeof words);
                return job_fail(c, "%s", words);
        }
        if (c->build[0])
                snprintf(c->result, sizeof c->result, "The game is installed: build %s.", c->build);
        else
                snprintf(c->result, sizeof c->result, "The game is installed.");
        *ret_result = c->result;
        return true;
}

const JobKind job_install = { .name = "install", .shows_progress = true, .run = run, .progress = progress };
