/* The systemd backend: one template unit instance per server,
 * left4me-server@<name>.service, driven over the system bus.
 *
 * - start: mark the instance for autostart, then ResetFailedUnit + StartUnit
 *   and wait for the start job to finish. "Enabled" is the autostart marker
 *   <state>/autostart/<name>, which left4me-generator turns into a want of
 *   left4me-servers.target at boot. Not EnableUnitFiles: systemd's polkit
 *   check for unit-file changes carries no unit name, so granting it to the
 *   service user would let the panel link and enable any unit file, i.e.
 *   become root. The marker needs no privilege at all.
 * - stop: remove the marker, StopUnit, wait for the job. The unit's own
 *   ExecStopPost=+ unmounts the overlay.
 * - status: ActiveState, SubState, Result, MainPID, NRestarts and
 *   ExecMainStartTimestamp of the unit.
 * - logs: the unit's entries in the "left4me" journal namespace (MESSAGE
 *   only: raw console lines).
 *
 * As root every call is allowed; as the service user the polkit rule
 * deploy/polkit/50-left4me.rules allows exactly these units and verbs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "backend.h"
#include "config.h"
#include "error.h"
#include "fs.h"
#include "macro.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT "org.freedesktop.systemd1.Unit"
#define SD_SERVICE "org.freedesktop.systemd1.Service"
#define SD_JOB "org.freedesktop.systemd1.Job"

/* How long start/stop wait for systemd's job: above the unit's
 * TimeoutStartSec= (60 s) plus the overlay mount, so a timeout here means
 * systemd itself is stuck. */
#define JOB_WAIT_USEC (120ULL * 1000000ULL)
/* The journal namespace of the server and build units (LogNamespace=). */
#define LOG_NAMESPACE "left4me"
/* A journal line longer than this is cut (console lines are short). */
#define LOG_LINE_MAX 8192

static void bus_unrefp(sd_bus **b) {
        sd_bus_flush_close_unref(*b);
}
static void bus_message_unrefp(sd_bus_message **m) {
        sd_bus_message_unref(*m);
}
static void journal_closep(sd_journal **j) {
        sd_journal_close(*j);
}

bool backend_systemd_available(void) {
        return access("/run/systemd/system", F_OK) == 0;
}

static bool name_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n < 1 || n > 32)
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];
                bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
                if (!alnum && (i == 0 || (ch != '_' && ch != '-')))
                        return false;
        }
        return true;
}

int backend_unit_name(const char *instance, char *buf, size_t size) {
        if (!name_valid(instance))
                return -EINVAL;
        int n = snprintf(buf, size, "left4me-server@%s.service", instance);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return 0;
}

static int unit_for(const char *instance, char *unit, size_t size, Error *err) {
        int r = backend_unit_name(instance, unit, size);
        if (r < 0)
                return error_set(err, r, "instance '%s': not a valid name (1-32 of A-Z a-z 0-9 _ -, first a letter or digit)",
                                 instance ? instance : "");
        return 0;
}

/* One message for every failed bus call: what was refused, and what to do. */
static int bus_fail(Error *err, int r, const sd_bus_error *e, const char *what, const char *unit) {
        if (e && sd_bus_error_is_set(e)) {
                r = sd_bus_error_get_errno(e);
                if (r > 0)
                        r = -r;
                if (sd_bus_error_has_names(e, SD_BUS_ERROR_ACCESS_DENIED, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED) ||
                    r == -EACCES || r == -EPERM)
                        return error_set(err, -EACCES,
                                         "%s '%s': not allowed: run as root, or as the left4me user with the polkit rule "
                                         "50-left4me.rules installed",
                                         what, unit);
                return error_set(err, r < 0 ? r : -EIO, "%s '%s': %s", what, unit, e->message ? e->message : e->name);
        }
        if (r == -ENOENT || r == -ECONNREFUSED)
                return error_set(err, r, "%s '%s': cannot reach systemd on the system bus; is systemd PID 1? "
                                         "(else use LEFT4ME_BACKEND=supervisor)", what, unit);
        return error_set(err, r, "%s '%s': %s", what, unit, strerror(-r));
}

static int bus_open(sd_bus **ret, const char *unit, Error *err) {
        sd_bus *b = NULL;
        int r = sd_bus_open_system(&b);
        if (r < 0)
                return bus_fail(err, r, NULL, "connect for", unit);
        /* Never block on a password prompt: the panel has nobody to ask. */
        (void) sd_bus_set_allow_interactive_authorization(b, false);
        *ret = b;
        return 0;
}

static int unit_path(const char *unit, char **ret) {
        return sd_bus_path_encode(SD_PATH "/unit", unit, ret);
}

static uint64_t now_usec(clockid_t clk) {
        struct timespec ts;
        clock_gettime(clk, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

/* Waits until systemd has finished the job (its object is gone). */
static int job_wait(sd_bus *b, const char *job, const char *what, const char *unit, Error *err) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + JOB_WAIT_USEC;
        useconds_t pause = 5000;
        for (;;) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *state = NULL;
                int r = sd_bus_get_property_string(b, SD_DEST, job, SD_JOB, "State", &e, &state);
                if (r < 0) {
                        bool gone = sd_bus_error_has_names(&e, SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_METHOD,
                                                           SD_BUS_ERROR_UNKNOWN_INTERFACE, SD_BUS_ERROR_UNKNOWN_PROPERTY,
                                                           "org.freedesktop.systemd1.NoSuchJob");
                        if (gone) {
                                sd_bus_error_free(&e);
                                return 0;
                        }
                        r = bus_fail(err, r, &e, what, unit);
                        sd_bus_error_free(&e);
                        return r;
                }
                if (now_usec(CLOCK_MONOTONIC) > deadline)
                        return error_set(err, -ETIMEDOUT, "%s '%s': systemd's job is still '%s' after %llu s; see `systemctl status %s`",
                                         what, unit, state, JOB_WAIT_USEC / 1000000ULL, unit);
                usleep(pause);
                if (pause < 100000)
                        pause *= 2;
        }
}

/* Calls a manager method taking (unit, mode) and returning a job, then waits
 * for that job. */
static int unit_job(sd_bus *b, const char *method, const char *unit, const char *what, Error *err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(b, SD_DEST, SD_PATH, SD_MANAGER, method, &e, &reply, "ss", unit, "replace");
        if (r < 0) {
                r = bus_fail(err, r, &e, what, unit);
                sd_bus_error_free(&e);
                return r;
        }
        const char *job;
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0)
                return bus_fail(err, r, NULL, what, unit);
        return job_wait(b, job, what, unit, err);
}

static int autostart_set(const HostConfig *c, const char *instance, bool on, Error *err) {
        _cleanup_free_ char *dir = config_path(c, "autostart", NULL);
        if (!dir)
                return -ENOMEM;
        int r = mkdir_p(dir, 0750);
        if (r < 0)
                return error_set(err, r, "instance '%s': cannot create %s: %s", instance, dir, strerror(-r));
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return error_set(err, negative_errno(), "instance '%s': cannot open %s: %s", instance, dir, strerror(errno));
        if (on) {
                _cleanup_close_ int fd = openat(dfd, instance, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
                if (fd < 0)
                        return error_set(err, negative_errno(), "instance '%s': cannot write %s/%s: %s", instance, dir,
                                         instance, strerror(errno));
        } else if (unlinkat(dfd, instance, 0) < 0 && errno != ENOENT)
                return error_set(err, negative_errno(), "instance '%s': cannot remove %s/%s: %s", instance, dir, instance,
                                 strerror(errno));
        return 0;
}

static int sd_start(const HostConfig *c, const char *instance, Error *err) {
        char unit[128];
        int r = unit_for(instance, unit, sizeof unit, err);
        if (r < 0)
                return r;
        _cleanup_(bus_unrefp) sd_bus *b = NULL;
        r = bus_open(&b, unit, err);
        if (r < 0)
                return r;
        r = autostart_set(c, instance, true, err);
        if (r < 0)
                return r;

        /* A unit that gave up (start-limit-hit after a crash loop) refuses
         * StartUnit until its failed state is reset: an explicit start by the
         * user means "try again". Not loaded yet is fine too. */
        sd_bus_error e = SD_BUS_ERROR_NULL;
        (void) sd_bus_call_method(b, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit", &e, NULL, "s", unit);
        sd_bus_error_free(&e);

        r = unit_job(b, "StartUnit", unit, "start", err);
        if (r < 0)
                return r;

        /* Type=simple: the job is done once the server process is forked. A
         * failure before that (overlay mount, missing installation) leaves
         * the unit failed or inactive. */
        _cleanup_free_ char *path = NULL, *active = NULL, *result = NULL;
        if (unit_path(unit, &path) < 0)
                return -ENOMEM;
        r = sd_bus_get_property_string(b, SD_DEST, path, SD_UNIT, "ActiveState", &e, &active);
        if (r < 0) {
                r = bus_fail(err, r, &e, "start", unit);
                sd_bus_error_free(&e);
                return r;
        }
        if (streq(active, "failed") || streq(active, "inactive")) {
                (void) sd_bus_get_property_string(b, SD_DEST, path, SD_SERVICE, "Result", NULL, &result);
                if (result && !streq(result, "success"))
                        return error_set(err, -EIO, "the server failed to start (%s); see `l4d2ctl logs %s`",
                                         result, instance);
                /* The service itself did not fail: its start job did, e.g.
                 * a dependency. systemd's journal says which. */
                return error_set(err, -EIO, "the server did not start (%s is %s); see `systemctl status %s`", unit,
                                 active, unit);
        }
        return 0;
}

static int sd_stop(const HostConfig *c, const char *instance, Error *err) {
        char unit[128];
        int r = unit_for(instance, unit, sizeof unit, err);
        if (r < 0)
                return r;
        r = autostart_set(c, instance, false, err);
        if (r < 0)
                return r;
        _cleanup_(bus_unrefp) sd_bus *b = NULL;
        r = bus_open(&b, unit, err);
        if (r < 0)
                return r;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_call_method(b, SD_DEST, SD_PATH, SD_MANAGER, "StopUnit", &e, &reply, "ss", unit, "replace");
        if (r < 0) {
                /* Stopping what is not there is success. */
                if (sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit")) {
                        sd_bus_error_free(&e);
                        return 0;
                }
                r = bus_fail(err, r, &e, "stop", unit);
                sd_bus_error_free(&e);
                return r;
        }
        const char *job;
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0)
                return bus_fail(err, r, NULL, "stop", unit);
        r = job_wait(b, job, "stop", unit, err);
        if (r < 0)
                return r;
        /* A server killed at stop leaves the unit "failed"; the user asked
         * for it to stop, so report it as stopped, not crashed. */
        (void) sd_bus_call_method(b, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit", &e, NULL, "s", unit);
        sd_bus_error_free(&e);
        return 0;
}

static int sd_status(const HostConfig *c, const char *instance, BackendStatus *ret, Error *err) {
        char unit[128];
        int r = unit_for(instance, unit, sizeof unit, err);
        if (r < 0)
                return r;
        _cleanup_(bus_unrefp) sd_bus *b = NULL;
        r = bus_open(&b, unit, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = NULL, *active = NULL, *sub = NULL, *result = NULL;
        if (unit_path(unit, &path) < 0)
                return -ENOMEM;

        sd_bus_error e = SD_BUS_ERROR_NULL;
        r = sd_bus_get_property_string(b, SD_DEST, path, SD_UNIT, "ActiveState", &e, &active);
        if (r >= 0)
                r = sd_bus_get_property_string(b, SD_DEST, path, SD_UNIT, "SubState", &e, &sub);
        if (r >= 0)
                r = sd_bus_get_property_string(b, SD_DEST, path, SD_SERVICE, "Result", &e, &result);
        uint32_t main_pid = 0, restarts = 0;
        uint64_t started = 0;
        if (r >= 0)
                r = sd_bus_get_property_trivial(b, SD_DEST, path, SD_SERVICE, "MainPID", &e, 'u', &main_pid);
        if (r >= 0)
                r = sd_bus_get_property_trivial(b, SD_DEST, path, SD_SERVICE, "NRestarts", &e, 'u', &restarts);
        if (r >= 0)
                r = sd_bus_get_property_trivial(b, SD_DEST, path, SD_SERVICE, "ExecMainStartTimestamp", &e, 't', &started);
        if (r < 0) {
                r = bus_fail(err, r, &e, "status of", unit);
                sd_bus_error_free(&e);
                return r;
        }

        BackendStatus s = { .state = STATE_STOPPED, .restarts = restarts };
        if (streq(active, "active") || streq(active, "reloading")) {
                s.state = STATE_RUNNING;
                s.pid = (pid_t) main_pid;
                s.started_usec = started;
        } else if (streq(active, "activating")) {
                s.state = STATE_STARTING;
                if (streq(sub, "auto-restart"))
                        snprintf(s.detail, sizeof s.detail, "restarting after a crash (%s)", result);
        } else if (streq(active, "deactivating")) {
                s.state = STATE_RUNNING;
                s.pid = (pid_t) main_pid;
                s.started_usec = started;
                snprintf(s.detail, sizeof s.detail, "stopping");
        } else if (streq(active, "failed")) {
                s.state = STATE_CRASHED;
                if (streq(result, "start-limit-hit"))
                        snprintf(s.detail, sizeof s.detail, "crash loop: gave up after repeated failures; start it again");
                else
                        snprintf(s.detail, sizeof s.detail, "unit failed: %s", result);
        }
        *ret = s;
        return 0;
}

static int write_all(int fd, const void *data, size_t len) {
        const char *p = data;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Writes the current entry's MESSAGE as one line. */
static int print_entry(sd_journal *j, int out_fd) {
        const void *data;
        size_t len;
        int r = sd_journal_get_data(j, "MESSAGE", &data, &len);
        if (r == -ENOENT || r == -EBADMSG)
                return 0;
        if (r < 0)
                return r;
        const char *msg = (const char *) data + strlen("MESSAGE=");
        len -= strlen("MESSAGE=");
        if (len > LOG_LINE_MAX)
                len = LOG_LINE_MAX;
        r = write_all(out_fd, msg, len);
        return r < 0 ? r : write_all(out_fd, "\n", 1);
}

static int sd_logs(const HostConfig *c, const char *instance, unsigned lines, bool follow, int out_fd, Error *err) {
        char unit[128];
        int r = unit_for(instance, unit, sizeof unit, err);
        if (r < 0)
                return r;
        /* The server units log into the journal namespace "left4me"
         * (LogNamespace=), whose files the service user may read (an ACL from
         * tmpfiles.d/left4me.conf) without reading the rest of the system's
         * journal. The default namespace is included for units configured
         * without it; files there that we cannot read are skipped. */
        _cleanup_(journal_closep) sd_journal *j = NULL;
        r = sd_journal_open_namespace(&j, LOG_NAMESPACE, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_INCLUDE_DEFAULT_NAMESPACE);
        if (r < 0)
                return error_set(err, r, "logs of '%s': cannot open the journal: %s", unit, strerror(-r));
        if (sd_journal_has_runtime_files(j) <= 0 && sd_journal_has_persistent_files(j) <= 0)
                return error_set(err, -EACCES, "logs of '%s': cannot read the journal namespace '%s'; run as root, or "
                                               "as left4me with tmpfiles.d/left4me.conf applied", unit, LOG_NAMESPACE);
        char match[160];
        snprintf(match, sizeof match, "_SYSTEMD_UNIT=%s", unit);
        r = sd_journal_add_match(j, match, 0);
        if (r < 0)
                return error_set(err, r, "logs of '%s': %s", unit, strerror(-r));

        r = sd_journal_seek_tail(j);
        if (r >= 0 && lines > 0) {
                r = sd_journal_previous_skip(j, lines);
                if (r > 0) {
                        r = print_entry(j, out_fd);
                        while (r >= 0 && (r = sd_journal_next(j)) > 0)
                                r = print_entry(j, out_fd);
                }
        } else if (r >= 0) {
                /* No history: position after the last entry for follow. */
                r = sd_journal_previous(j);
        }
        if (r == -EPIPE)
                return 0;
        if (r < 0)
                return error_set(err, r, "logs of '%s': %s", unit, strerror(-r));
        if (!follow)
                return 0;

        int jfd = sd_journal_get_fd(j);
        if (jfd < 0)
                return error_set(err, jfd, "logs of '%s': cannot watch the journal: %s", unit, strerror(-jfd));
        for (;;) {
                while ((r = sd_journal_next(j)) > 0) {
                        r = print_entry(j, out_fd);
                        if (r < 0)
                                return r == -EPIPE ? 0 : error_set(err, r, "logs of '%s': %s", unit, strerror(-r));
                }
                if (r < 0)
                        return error_set(err, r, "logs of '%s': %s", unit, strerror(-r));
                uint64_t t;
                int timeout = -1;
                if (sd_journal_get_timeout(j, &t) >= 0 && t != UINT64_MAX) {
                        uint64_t now = now_usec(CLOCK_MONOTONIC);
                        timeout = t > now ? (int) ((t - now + 999) / 1000) : 0;
                }
                /* Also watch the output: a reader that went away (POLLERR on
                 * a pipe, POLLHUP on a socket) ends the follow at once, not
                 * at the next log line. */
                struct pollfd p[2] = { { .fd = jfd, .events = sd_journal_get_events(j) }, { .fd = out_fd, .events = 0 } };
                r = poll(p, 2, timeout);
                if (r < 0)
                        return errno == EINTR ? 0 : error_set(err, negative_errno(), "logs of '%s': %s", unit, strerror(errno));
                if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL))
                        return 0;
                r = sd_journal_process(j);
                if (r < 0)
                        return error_set(err, r, "logs of '%s': %s", unit, strerror(-r));
        }
}

const Backend backend_systemd = {
        .name = "systemd",
        .start = sd_start,
        .stop = sd_stop,
        .status = sd_status,
        .logs = sd_logs,
};
