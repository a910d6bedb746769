/* The build sandbox with systemd as PID 1: the shipped template unit
 * left4me-build@NAME.service (deploy/left4me-build@.service.head and
 * build-sandbox.conf), started over sd-bus like the servers' units (the
 * polkit rule lets the service user start it; nothing transient). The unit
 * runs builds/NAME/script.sh with builds/NAME/overlay bound at /overlay;
 * its caps are its unit file's and left4me-builds.slice's. The unit is a
 * oneshot: its start job lasts as long as the script, so the job's end is
 * the build's end; then the service's Result says how it ended (exit-code,
 * signal, timeout, oom-kill). Its output is read from the journal
 * namespace "left4me" as it comes. l4d2ctl stops the unit at
 * LEFT4ME_BUILD_TIMEOUT, or when it is itself asked to stop (a cancel).
 *
 * src/host/unit.c (from the contain-host branch) is the module for template
 * units; it has no call for a start that lasts as long as a build, so the
 * few bus calls here are this file's own. */
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "overlay-script.h"
#include "strutil.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_SERVICE "org.freedesktop.systemd1.Service"
#define SD_JOB "org.freedesktop.systemd1.Job"
#define LOG_NAMESPACE "left4me"
/* After the job: output still on its way through journald. */
#define DRAIN_QUIET_MS 500
#define DRAIN_MAX_MS 3000

static void bus_unrefp(sd_bus **b) {
        sd_bus_flush_close_unref(*b);
}
static void message_unrefp(sd_bus_message **m) {
        sd_bus_message_unref(*m);
}
static void journal_closep(sd_journal **j) {
        sd_journal_close(*j);
}

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int bus_error(ScriptRun *run, const char *unit, const char *what, int r, sd_bus_error *e, Error *err) {
        if (sd_bus_error_has_names(e, SD_BUS_ERROR_ACCESS_DENIED, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
                r = error_set(err, -EACCES, "overlay '%s': not allowed to %s %s: run as root, or as the left4me user "
                              "with the polkit rule 50-left4me.rules installed", run->name, what, unit);
        else if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit"))
                r = error_set(err, -ENOENT, "overlay '%s': there is no %s: install left4me's units, or build with "
                              "LEFT4ME_BUILD_SANDBOX=bwrap", run->name, unit);
        else
                r = error_set(err, r < 0 ? r : -EIO, "overlay '%s': cannot %s %s: %s", run->name, what, unit,
                              e && e->message ? e->message : strerror(r < 0 ? -r : EIO));
        sd_bus_error_free(e);
        return r;
}

static int manager_call(sd_bus *b, const char *method, const char *unit, char **ret_job, sd_bus_error *e) {
        _cleanup_(message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(b, SD_DEST, SD_PATH, SD_MANAGER, method, e, &reply, "ss", unit, "replace");
        const char *job = NULL;
        if (r >= 0 && (r = sd_bus_message_read(reply, "o", &job)) >= 0 && ret_job)
                r = (*ret_job = strdup(job)) ? 0 : -ENOMEM;
        return r;
}

/* True while systemd still has the job. */
static bool job_exists(sd_bus *b, const char *job) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *state = NULL;
        int r = sd_bus_get_property_string(b, SD_DEST, job, SD_JOB, "State", &e, &state);
        sd_bus_error_free(&e);
        return r >= 0;
}

static void read_journal(sd_journal *j, ScriptRun *run, bool *got) {
        while (sd_journal_next(j) > 0) {
                const void *data;
                size_t len;
                if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0 || len < 8)
                        continue;
                script_output(run, (const char *) data + 8, len - 8);
                script_output(run, "\n", 1);
                *got = true;
        }
}

static bool journal_ready(sd_journal *j) {
        return sd_journal_has_runtime_files(j) > 0 || sd_journal_has_persistent_files(j) > 0;
}

/* (Re)opens the namespace's journal at the unit's entries since `since`. */
static int journal_open(sd_journal **j, const char *unit, uint64_t since) {
        char match[160];
        snprintf(match, sizeof match, "_SYSTEMD_UNIT=%s", unit);
        sd_journal *nj = NULL;
        int r = sd_journal_open_namespace(&nj, LOG_NAMESPACE, SD_JOURNAL_LOCAL_ONLY);
        if (r >= 0 && (r = sd_journal_add_match(nj, match, 0)) >= 0 && (r = sd_journal_seek_realtime_usec(nj, since)) >= 0)
                r = sd_journal_get_fd(nj); /* sets up its inotify watch */
        if (r < 0) {
                sd_journal_close(nj);
                return r;
        }
        sd_journal_close(*j);
        *j = nj;
        return 0;
}

/* How the service ended: Result, and the main process's exit. */
static void service_result(sd_bus *b, const char *unit, ScriptRun *run) {
        _cleanup_free_ char *path = NULL, *result = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int32_t code = 0, status = 0;
        if (sd_bus_path_encode(SD_PATH "/unit", unit, &path) < 0)
                return;
        (void) sd_bus_get_property_string(b, SD_DEST, path, SD_SERVICE, "Result", &e, &result);
        sd_bus_error_free(&e);
        (void) sd_bus_get_property_trivial(b, SD_DEST, path, SD_SERVICE, "ExecMainCode", &e, 'i', &code);
        sd_bus_error_free(&e);
        (void) sd_bus_get_property_trivial(b, SD_DEST, path, SD_SERVICE, "ExecMainStatus", &e, 'i', &status);
        sd_bus_error_free(&e);
        if (code == CLD_EXITED)
                run->exit_code = status;
        else if (code == CLD_KILLED || code == CLD_DUMPED)
                run->signal = status;
        if (result && streq(result, "oom-kill"))
                run->oom = true;
        else if (result && streq(result, "timeout"))
                run->timed_out = true;
        else if (result && !streq(result, "success") && run->exit_code == 0 && !run->signal) {
                /* Failed some other way (resources: a bind source missing, ...). */
                run->exit_code = -1;
                snprintf(run->detail, sizeof run->detail, "%s ended with result '%s' (see journalctl -u %s)", unit,
                         result, unit);
        }
}

int script_run_unit(ScriptRun *run, Error *err) {
        char unit[128];
        snprintf(unit, sizeof unit, "left4me-build@%s.service", run->name);
        /* The unit runs as left4me: as root, hand it the fresh folder. */
        struct passwd *pw = geteuid() == 0 ? getpwnam("left4me") : NULL;
        if (pw) {
                _cleanup_close_ int tree = openat(run->builds_fd, "overlay", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                                                                     O_CLOEXEC);
                if (tree < 0 || fchown(tree, pw->pw_uid, pw->pw_gid) < 0)
                        return error_set(err, negative_errno(), "overlay '%s': cannot hand the build folder to "
                                         "left4me: %m", run->name);
        }
        _cleanup_(bus_unrefp) sd_bus *b = NULL;
        int r = sd_bus_open_system(&b);
        if (r < 0)
                return error_set(err, r, "overlay '%s': cannot reach systemd on the system bus (%s); without systemd "
                                 "build with LEFT4ME_BUILD_SANDBOX=bwrap", run->name, strerror(-r));
        (void) sd_bus_set_allow_interactive_authorization(b, false);

        /* The script's lines are those of the unit from now on. The
         * namespace's journald may start with the unit (socket activation):
         * until its files exist, the journal is opened again. */
        _cleanup_(journal_closep) sd_journal *j = NULL;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        uint64_t since = (uint64_t) now.tv_sec * 1000000ULL + (uint64_t) now.tv_nsec / 1000ULL;
        if ((r = journal_open(&j, unit, since)) < 0)
                return error_set(err, r, "overlay '%s': cannot read the journal of %s: %s", run->name, unit,
                                 strerror(-r));
        overlay_build_line(run->b, "sandbox: %s (its unit file and left4me-builds.slice set memory, tasks and cpu), "
                           "time %ld s", unit, run->lim.timeout_s);

        sd_bus_error e = SD_BUS_ERROR_NULL;
        (void) sd_bus_call_method(b, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit", &e, NULL, "s", unit);
        sd_bus_error_free(&e);
        _cleanup_free_ char *job = NULL;
        if ((r = manager_call(b, "StartUnit", unit, &job, &e)) < 0)
                return bus_error(run, unit, "start", r, &e, err);

        sigset_t old;
        int cancel = script_cancel_open(&old);
        int64_t deadline = mono_ms() + run->lim.timeout_s * 1000;
        bool stopping = false, got = false;
        while (job_exists(b, job)) {
                if (!journal_ready(j))
                        (void) journal_open(&j, unit, since);
                int64_t left = deadline - mono_ms();
                if (left <= 0 && !stopping) {
                        run->timed_out = stopping = true;
                        (void) manager_call(b, "StopUnit", unit, NULL, &e);
                        sd_bus_error_free(&e);
                }
                struct pollfd p[2] = { { .fd = sd_journal_get_fd(j), .events = (short) sd_journal_get_events(j) },
                                       { .fd = cancel, .events = POLLIN } };
                (void) poll(p, cancel >= 0 ? 2 : 1, 200);
                if (cancel >= 0 && (p[1].revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        (void) !read(cancel, &si, sizeof si);
                        if (!stopping) {
                                run->cancelled = stopping = true;
                                (void) manager_call(b, "StopUnit", unit, NULL, &e);
                                sd_bus_error_free(&e);
                        }
                }
                (void) sd_journal_process(j);
                read_journal(j, run, &got);
        }
        /* Lines still on their way through journald. */
        int64_t end = mono_ms() + DRAIN_MAX_MS, quiet = mono_ms() + DRAIN_QUIET_MS;
        while (mono_ms() < end && mono_ms() < quiet) {
                if (!journal_ready(j))
                        (void) journal_open(&j, unit, since);
                struct pollfd p = { .fd = sd_journal_get_fd(j), .events = (short) sd_journal_get_events(j) };
                (void) poll(&p, 1, 100);
                (void) sd_journal_process(j);
                got = false;
                read_journal(j, run, &got);
                if (got)
                        quiet = mono_ms() + DRAIN_QUIET_MS;
        }
        if (cancel >= 0)
                script_cancel_close(cancel, &old);
        run->exit_code = 0;
        service_result(b, unit, run);
        /* A stop we asked for ends the script with SIGTERM: that is the
         * timeout or the cancel, not the script's own failure. */
        if (stopping && run->signal == SIGTERM)
                run->signal = 0;
        return 0;
}
