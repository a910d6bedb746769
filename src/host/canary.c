/* Running canaries (canary.h): which stacks to try, one forked process per
 * stack (LEFT4ME_CANARY_PARALLEL at a time, canary-stack.c), their events
 * and reports. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "canary-stack.h"
#include "instance.h"
#include "lock.h"

/* ---- the stacks of the fleet ---- */


static void stacks_free(CanaryStack *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                json_decref(v[i].instances);
                json_decref(v[i].overlays);
        }
        free(v);
}

/* The distinct stacks of the `follow` instances (pinned ones run what
 * they are pinned to, whatever passes). */
static int fleet_stacks(const HostConfig *c, CanaryStack **ret, size_t *ret_n) {
        _cleanup_strv_ char **names = NULL;
        int r = instance_list_visible(c, &names, NULL);
        if (r < 0)
                return r;
        size_t cap = 1, n = 0;
        for (char **p = names; *p; p++)
                cap++;
        CanaryStack *v = calloc(cap, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (char **p = names; *p; p++) {
                _cleanup_(spec_free) Spec s = { 0 };
                if (instance_load(c, *p, &s, NULL) < 0 || s.build)
                        continue;
                char hash[STACK_HASH_LEN + 1];
                build_stack_hash(c, s.overlays, s.n_overlays, hash);
                size_t i = 0;
                while (i < n && !streq(v[i].hash, hash))
                        i++;
                if (i == n) {
                        snprintf(v[n].hash, sizeof v[n].hash, "%s", hash);
                        snprintf(v[n].rep, sizeof v[n].rep, "%s", *p);
                        v[n].instances = json_array();
                        v[n].overlays = json_array();
                        for (size_t k = 0; k < s.n_overlays; k++)
                                json_array_append_new(v[n].overlays, json_string(s.overlays[k]));
                        n++;
                }
                json_array_append_new(v[i].instances, json_string(*p));
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* The build a stack runs now: the newest other build that is trusted or
 * passed its canary. "" when there is none. */
static void baseline_of(const HostConfig *c, const BuildInfo *v, size_t n, const char *candidate, const char *stack,
                        char ret[BUILD_ID_MAX_LEN + 1]) {
        ret[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                if (streq(v[i].id, candidate))
                        continue;
                CanaryVerdict cv = { 0 };
                bool pass = canary_verdict_load(c, v[i].id, stack, &cv) == 0 && cv.passed;
                canary_verdict_free(&cv);
                if (v[i].trusted || pass) {
                        snprintf(ret, BUILD_ID_MAX_LEN + 1, "%s", v[i].id);
                        return;
                }
        }
}

typedef struct Child {
        pid_t pid;
        int fd;                 /* its events, one JSON line each */
        Buf in;                 /* a line being read (a report can be long) */
        size_t stack;
} Child;

/* Hands every whole line in k->in to the caller's callback. */
static void child_lines(Child *k, const CanaryRun *run) {
        char *start = k->in.data, *nl;
        while (start && (nl = memchr(start, '\n', k->in.len - (size_t) (start - k->in.data)))) {
                json_t *ev = json_loadb(start, (size_t) (nl - start), 0, NULL);
                if (ev && run->cb)
                        run->cb(ev, run->userdata);
                json_decref(ev);
                start = nl + 1;
        }
        if (start && start != k->in.data) {
                size_t rest = k->in.len - (size_t) (start - k->in.data);
                memmove(k->in.data, start, rest);
                k->in.len = rest;
                k->in.data[rest] = '\0';
        }
}

static bool needs_run(const HostConfig *c, const CanaryRun *run, const UpdateSettings *set, const char *id,
                      const char *stack) {
        CanaryVerdict cv = { 0 };
        if (canary_verdict_load(c, id, stack, &cv) < 0)
                return true;
        bool stale = !cv.passed && run->retry_failed && (int64_t) time(NULL) - cv.finished >= set->canary_retry_ms / 1000;
        canary_verdict_free(&cv);
        return run->force || stale;
}

int canary_run(const HostConfig *c, const CanaryRun *run, json_t **ret, Error *err) {
        UpdateSettings set;
        int r = update_settings_load(c, &set, err);
        if (r < 0)
                return r;
        _cleanup_close_ int lock = -1;
        if ((r = host_lock(c, ".canary", LOCK_EX, 0, "the update canary", &lock, err)) < 0)
                return r;
        _cleanup_free_ BuildInfo *v = NULL;
        size_t n = 0;
        if ((r = build_list(c, &v, &n, err)) < 0)
                return r;
        const BuildInfo *build = NULL;
        for (size_t i = 0; i < n && !build; i++)
                if (!run->build || streq(v[i].id, run->build))
                        build = &v[i];
        if (!build)
                return n == 0 ? error_set(err, -ENOENT, "no game installation: run 'l4d2ctl install' first")
                              : error_set(err, -ENOENT, "build '%s' is not installed (see 'l4d2ctl builds')", run->build);
        json_t *reports = json_array();
        if (!reports)
                return -ENOMEM;
        if (build->trusted) {
                *ret = reports;
                return 0;
        }
        CanaryStack *stacks = NULL;
        size_t ns = 0;
        if ((r = fleet_stacks(c, &stacks, &ns)) < 0) {
                json_decref(reports);
                return error_set(err, r, "cannot read the instances: %s", strerror(-r));
        }
        if (ns == 0) {
                /* Nothing follows builds: nothing to try it on. */
                _cleanup_close_ int mlock = -1;
                BuildInfo b = *build;
                b.trusted = true;
                snprintf(b.trusted_why, sizeof b.trusted_why, "no server followed builds to try it on");
                r = build_lock_meta(c, &mlock, err);
                if (r >= 0)
                        r = build_save(c, &b, err);
                stacks_free(stacks, ns);
                if (r < 0) {
                        json_decref(reports);
                        return r;
                }
                *ret = reports;
                return 0;
        }
        Child *kids = calloc(ns, sizeof *kids);
        if (!kids) {
                stacks_free(stacks, ns);
                json_decref(reports);
                return -ENOMEM;
        }
        size_t next = 0, running = 0;
        fflush(NULL);
        for (;;) {
                while (running < (size_t) set.canary_parallel && next < ns) {
                        size_t i = next++;
                        if (!needs_run(c, run, &set, build->id, stacks[i].hash)) {
                                json_t *all = NULL;
                                json_t *ev = NULL;
                                if (canary_reports(c, build->id, &all) == 0)
                                        ev = json_pack("{s:s, s:s, s:s, s:s, s:O*}", "event", "canary", "state", "kept",
                                                       "build", build->id, "stack", stacks[i].hash, "report",
                                                       json_object_get(all, stacks[i].hash));
                                if (ev && run->cb)
                                        run->cb(ev, run->userdata);
                                json_decref(ev);
                                json_decref(all);
                                continue;
                        }
                        char baseline[BUILD_ID_MAX_LEN + 1];
                        baseline_of(c, v, n, build->id, stacks[i].hash, baseline);
                        int p[2];
                        if (pipe2(p, O_CLOEXEC) < 0)
                                break;
                        pid_t pid = fork();
                        if (pid == 0) {
                                close(p[0]);
                                canary_stack_process(c, &set, run, &stacks[i], build, baseline, p[1]);
                        }
                        close(p[1]);
                        if (pid < 0) {
                                close(p[0]);
                                break;
                        }
                        kids[running++] = (Child) { .pid = pid, .fd = p[0], .stack = i, .in = BUF_INIT(4 << 20) };
                }
                if (running == 0)
                        break;
                struct pollfd pf[32];
                size_t np = running < ELEMENTSOF(pf) ? running : ELEMENTSOF(pf);
                for (size_t i = 0; i < np; i++)
                        pf[i] = (struct pollfd) { .fd = kids[i].fd, .events = POLLIN };
                if (poll(pf, np, -1) < 0 && errno != EINTR)
                        break;
                for (size_t i = 0; i < np; i++) {
                        if (!pf[i].revents)
                                continue;
                        char buf[65536];
                        ssize_t k = read(kids[i].fd, buf, sizeof buf);
                        if (k > 0) {
                                if (buf_append(&kids[i].in, buf, (size_t) k) < 0)
                                        kids[i].in.len = 0; /* past 4 MiB: not a line we want */
                                child_lines(&kids[i], run);
                                continue;
                        }
                        if (k < 0 && errno == EINTR)
                                continue;
                        buf_free(&kids[i].in);
                        close(kids[i].fd);
                        int status;
                        while (waitpid(kids[i].pid, &status, 0) < 0 && errno == EINTR)
                                ;
                        json_t *all = NULL;
                        if (canary_reports(c, build->id, &all) == 0) {
                                json_t *one = json_object_get(all, stacks[kids[i].stack].hash);
                                if (one)
                                        json_array_append(reports, one);
                        }
                        json_decref(all);
                        kids[i] = kids[--running];
                        break; /* the poll set changed */
                }
        }
        free(kids);
        stacks_free(stacks, ns);
        *ret = reports;
        return 0;
}
