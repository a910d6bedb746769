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
#include <limits.h>
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
#include "strutil.h"
#include "unit.h"

#define SERVER_TEMPLATE "left4me-server"
/* The journal namespaces of the server units are LOG_NAMESPACE-<name>
 * (LogNamespace=left4me-%i); the builds log to LOG_NAMESPACE itself. */
#define LOG_NAMESPACE "left4me"

/* A journal line longer than this is cut (console lines are short). */
#define LOG_LINE_MAX 8192

static uint64_t now_usec(clockid_t clk) {
        struct timespec ts;
        clock_gettime(clk, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static int unit_for(const char *instance, char *unit, size_t size, Error *err) {
        int r = backend_unit_name(instance, unit, size);
        if (r < 0)
                return error_set(err, r, "instance '%s': not a valid name (1-32 of A-Z a-z 0-9 _ -, first a letter or digit)",
                                 instance ? instance : "");
        return 0;
}

static void journal_closep(sd_journal **j) {
        sd_journal_close(*j);
}

bool backend_systemd_available(void) {
        return access("/run/systemd/system", F_OK) == 0;
}

int backend_unit_name(const char *instance, char *buf, size_t size) {
        return unit_name(SERVER_TEMPLATE, instance, buf, size);
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
        r = autostart_set(c, instance, true, err);
        if (r < 0)
                return r;
        r = unit_start(SERVER_TEMPLATE, instance, err);
        if (r == -EIO) {
                /* The unit's own log says why: point there. */
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", error_msg(err));
                return error_set(err, r, "%s (`l4d2ctl logs %s`)", msg, instance);
        }
        return r;
}

static int sd_stop(const HostConfig *c, const char *instance, Error *err) {
        char unit[128];
        int r = unit_for(instance, unit, sizeof unit, err);
        if (r < 0)
                return r;
        r = autostart_set(c, instance, false, err);
        if (r < 0)
                return r;
        return unit_stop(SERVER_TEMPLATE, instance, err);
}

static int sd_status(const HostConfig *c, const char *instance, BackendStatus *ret, Error *err) {
        UnitState u;
        int r = unit_state(SERVER_TEMPLATE, instance, &u, err);
        if (r < 0)
                return r;
        BackendStatus s = { .state = STATE_STOPPED, .restarts = u.n_restarts };
        if (streq(u.active, "active") || streq(u.active, "reloading")) {
                s.state = STATE_RUNNING;
                s.pid = (pid_t) u.main_pid;
                s.started_usec = u.started_usec;
        } else if (streq(u.active, "activating")) {
                s.state = STATE_STARTING;
                if (streq(u.sub, "auto-restart"))
                        snprintf(s.detail, sizeof s.detail, "restarting after a crash (%s)", u.result);
        } else if (streq(u.active, "deactivating")) {
                s.state = STATE_RUNNING;
                s.pid = (pid_t) u.main_pid;
                s.started_usec = u.started_usec;
                snprintf(s.detail, sizeof s.detail, "stopping");
        } else if (streq(u.active, "failed")) {
                s.state = STATE_CRASHED;
                if (streq(u.result, "start-limit-hit"))
                        snprintf(s.detail, sizeof s.detail, "crash loop: gave up after repeated failures; start it again");
                else
                        snprintf(s.detail, sizeof s.detail, "unit failed: %s", u.result);
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

/* Whether journald ever made the namespace's directory. */
static bool journal_namespace_exists(const char *ns) {
        sd_id128_t id;
        if (sd_id128_get_machine(&id) < 0)
                return true;
        char path[PATH_MAX];
        for (size_t i = 0; i < 2; i++) {
                snprintf(path, sizeof path, "%s/" SD_ID128_FORMAT_STR ".%s", i ? "/run/log/journal" : "/var/log/journal",
                         SD_ID128_FORMAT_VAL(id), ns);
                if (access(path, F_OK) == 0)
                        return true;
        }
        return false;
}

static int sd_logs(const HostConfig *c, const char *instance, unsigned lines, bool follow, int out_fd, Error *err) {
        char unit[128];
        int r = unit_for(instance, unit, sizeof unit, err);
        if (r < 0)
                return r;
        /* Every server unit logs into a journal namespace of its own,
         * left4me-NAME (LogNamespace=left4me-%i): one server can neither read
         * nor push out another's console. The service user may read those
         * files (ACLs from tmpfiles.d/left4me-journal.conf) and nothing else
         * of the system's journal. The default namespace is included for
         * units configured without it; files there that we cannot read are
         * skipped. */
        char ns[sizeof LOG_NAMESPACE + NAME_MAX_LEN + 1];
        snprintf(ns, sizeof ns, LOG_NAMESPACE "-%s", instance);
        _cleanup_(journal_closep) sd_journal *j = NULL;
        r = sd_journal_open_namespace(&j, ns, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_INCLUDE_DEFAULT_NAMESPACE);
        if (r < 0)
                return error_set(err, r, "logs of '%s': cannot open the journal: %s", unit, strerror(-r));
        if (sd_journal_has_runtime_files(j) <= 0 && sd_journal_has_persistent_files(j) <= 0) {
                /* A server that never ran has no journal yet: no lines. */
                if (!journal_namespace_exists(ns))
                        return 0;
                return error_set(err, -EACCES, "logs of '%s': cannot read the journal namespace '%s'; run as root, or "
                                               "as left4me with tmpfiles.d/left4me-journal.conf applied", unit, ns);
        }
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
