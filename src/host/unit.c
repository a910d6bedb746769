/* See unit.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "macro.h"
#include "strutil.h"
#include "unit.h"

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
static void bus_unrefp(sd_bus **b) {
        sd_bus_flush_close_unref(*b);
}
static void bus_message_unrefp(sd_bus_message **m) {
        sd_bus_message_unref(*m);
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

int unit_name(const char *template_name, const char *instance, char *buf, size_t size) {
        if (!template_name || !*template_name || !name_valid(instance))
                return -EINVAL;
        int n = snprintf(buf, size, "%s@%s.service", template_name, instance);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return 0;
}

static int unit_for(const char *template_name, const char *instance, char *unit, size_t size, Error *err) {
        int r = unit_name(template_name, instance, unit, size);
        if (r < 0)
                return error_set(err, r, "'%s': not a valid name (1-32 of A-Z a-z 0-9 _ -, first a letter or digit)",
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

static void reset_failed(sd_bus *b, const char *unit) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        (void) sd_bus_call_method(b, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit", &e, NULL, "s", unit);
        sd_bus_error_free(&e);
}

static int get_string(sd_bus *b, const char *path, const char *iface, const char *prop, char *buf, size_t size,
                      sd_bus_error *e) {
        _cleanup_free_ char *s = NULL;
        int r = sd_bus_get_property_string(b, SD_DEST, path, iface, prop, e, &s);
        if (r >= 0)
                snprintf(buf, size, "%s", s);
        return r;
}

static int state_of(sd_bus *b, const char *unit, UnitState *ret, Error *err) {
        _cleanup_free_ char *path = NULL;
        if (unit_path(unit, &path) < 0)
                return -ENOMEM;
        UnitState s = { 0 };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = get_string(b, path, SD_UNIT, "ActiveState", s.active, sizeof s.active, &e);
        if (r >= 0)
                r = get_string(b, path, SD_UNIT, "SubState", s.sub, sizeof s.sub, &e);
        if (r >= 0)
                r = get_string(b, path, SD_SERVICE, "Result", s.result, sizeof s.result, &e);
        if (r >= 0)
                r = sd_bus_get_property_trivial(b, SD_DEST, path, SD_SERVICE, "MainPID", &e, 'u', &s.main_pid);
        if (r >= 0)
                r = sd_bus_get_property_trivial(b, SD_DEST, path, SD_SERVICE, "NRestarts", &e, 'u', &s.n_restarts);
        if (r >= 0)
                r = sd_bus_get_property_trivial(b, SD_DEST, path, SD_SERVICE, "ExecMainStartTimestamp", &e, 't',
                                                &s.started_usec);
        if (r < 0) {
                r = bus_fail(err, r, &e, "state of", unit);
                sd_bus_error_free(&e);
                return r;
        }
        *ret = s;
        return 0;
}

int unit_start(const char *template_name, const char *instance, Error *err) {
        char unit[128];
        int r = unit_for(template_name, instance, unit, sizeof unit, err);
        if (r < 0)
                return r;
        _cleanup_(bus_unrefp) sd_bus *b = NULL;
        if ((r = bus_open(&b, unit, err)) < 0)
                return r;
        /* A unit that gave up (start-limit-hit after a crash loop) refuses
         * StartUnit until its failed state is reset: an explicit start means
         * "try again". Not loaded yet is fine too. */
        reset_failed(b, unit);
        if ((r = unit_job(b, "StartUnit", unit, "start", err)) < 0)
                return r;
        /* Type=simple: the job is done once the main process is forked. A
         * failure before that (ExecStartPre=, a missing file) leaves the
         * unit failed or inactive. */
        UnitState s;
        if ((r = state_of(b, unit, &s, err)) < 0)
                return r;
        if (streq(s.active, "failed") || streq(s.active, "inactive")) {
                if (s.result[0] && !streq(s.result, "success"))
                        return error_set(err, -EIO, "%s failed to start (%s); see its log", unit, s.result);
                /* The service itself did not fail: its start job did, e.g.
                 * a dependency. systemd's journal says which. */
                return error_set(err, -EIO, "%s did not start (it is %s); see `systemctl status %s`", unit, s.active,
                                 unit);
        }
        return 0;
}

int unit_stop(const char *template_name, const char *instance, Error *err) {
        char unit[128];
        int r = unit_for(template_name, instance, unit, sizeof unit, err);
        if (r < 0)
                return r;
        _cleanup_(bus_unrefp) sd_bus *b = NULL;
        if ((r = bus_open(&b, unit, err)) < 0)
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
        if ((r = sd_bus_message_read(reply, "o", &job)) < 0)
                return bus_fail(err, r, NULL, "stop", unit);
        if ((r = job_wait(b, job, "stop", unit, err)) < 0)
                return r;
        reset_failed(b, unit);
        return 0;
}

int unit_restart(const char *template_name, const char *instance, Error *err) {
        char unit[128];
        int r = unit_for(template_name, instance, unit, sizeof unit, err);
        if (r < 0)
                return r;
        _cleanup_(bus_unrefp) sd_bus *b = NULL;
        if ((r = bus_open(&b, unit, err)) < 0)
                return r;
        reset_failed(b, unit);
        return unit_job(b, "RestartUnit", unit, "restart", err);
}

int unit_state(const char *template_name, const char *instance, UnitState *ret, Error *err) {
        char unit[128];
        int r = unit_for(template_name, instance, unit, sizeof unit, err);
        if (r < 0)
                return r;
        _cleanup_(bus_unrefp) sd_bus *b = NULL;
        if ((r = bus_open(&b, unit, err)) < 0)
                return r;
        return state_of(b, unit, ret, err);
}

int unit_start_named(const char *unit, Error *err) {
        _cleanup_(bus_unrefp) sd_bus *b = NULL;
        int r = bus_open(&b, unit, err);
        if (r < 0 || (r = unit_job(b, "StartUnit", unit, "start", err)) < 0)
                return r;
        UnitState s;
        if ((r = state_of(b, unit, &s, err)) < 0)
                return r;
        if (streq(s.active, "failed"))
                return error_set(err, -EIO, "%s failed (%s); see `systemctl status %s`", unit, s.result, unit);
        return 0;
}
