/* One stack's canary, in a process of its own (canary.c forks it): both
 * hidden clones at once, the checks, the verdict, and the report on disk;
 * its events go to the parent through a pipe. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "canary-stack.h"
#include "fs.h"
#include "instance.h"
#include "overlay.h"
#include "random.h"
#include "supervisor-state.h"

#define ERROR_LOG_MAX (256 * 1024)
#define ERROR_LINES_SHOWN 5
#define RCON_ANSWER_SHOWN 200

/* Set by SIGTERM/SIGINT in a stack's process: stop waiting, remove the
 * clones, go (an interrupted canary leaves no hidden server behind). */
static volatile sig_atomic_t stopping;

static void on_stop(int sig) {
        stopping = sig;
}

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- one clone ---- */

typedef struct Clone {
        const char *role;              /* "new" or "baseline" */
        char name[NAME_MAX_LEN + 1];
        char build[BUILD_ID_MAX_LEN + 1];
        long port;
        char *password;
        bool created, started;
        char start_error[256];
        /* what the checks found */
        int64_t a2s_ms;                /* -1: no answer */
        char version[64];              /* "Exe version" */
        bool meta, sm;
        char meta_text[RCON_ANSWER_SHOWN], sm_text[RCON_ANSWER_SHOWN];
        json_t *failed_exts, *failed_plugins, *errors;
        bool changelevel_ok;
        bool exited;
        char exit_detail[160];
} Clone;

static void clone_free(Clone *k) {
        free(k->password);
        json_decref(k->failed_exts);
        json_decref(k->failed_plugins);
        json_decref(k->errors);
}

/* The clone's spec: the representative's, pinned to the build, with no
 * port (a spare one is allocated), no RCON password (a random one is
 * generated), a random sv_password (nobody joins it) and a name that says
 * what it is. YAML is a superset of JSON: the spec goes as JSON text. */
static int clone_spec(const Spec *rep, const char *build, const char *stack, char **ret) {
        char pw[25];
        int r = random_alnum(pw, sizeof pw);
        if (r < 0)
                return r;
        json_t *cvars = json_object();
        for (size_t i = 0; cvars && i < rep->n_cvars; i++)
                if (strcasecmp(rep->cvar_names[i], "sv_password") != 0)
                        json_object_set_new(cvars, rep->cvar_names[i], json_string(rep->cvar_values[i]));
        json_object_set_new(cvars, "sv_password", json_string(pw));
        json_t *ov = json_array(), *cfg = json_array(), *args = json_array();
        for (size_t i = 0; ov && i < rep->n_overlays; i++)
                json_array_append_new(ov, json_string(rep->overlays[i]));
        for (size_t i = 0; cfg && i < rep->n_server_cfg; i++)
                json_array_append_new(cfg, json_string(rep->server_cfg[i]));
        for (size_t i = 0; args && i < rep->n_args; i++)
                json_array_append_new(args, json_string(rep->args[i]));
        char host[64];
        snprintf(host, sizeof host, "left4me canary %.8s", stack);
        json_t *j = json_pack("{s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:s}", "map", rep->map, "maxplayers",
                              (json_int_t) rep->maxplayers, "hostname", host, "cvars", cvars, "overlays", ov,
                              "server_cfg", cfg, "args", args, "build", build);
        if (j && rep->tickrate > 0)
                json_object_set_new(j, "tickrate", json_integer(rep->tickrate));
        *ret = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        return *ret ? 0 : -ENOMEM;
}

static void clone_remove(const HostConfig *c, Clone *k) {
        if (k->created)
                (void) instance_delete(c, k->name, NULL);
        k->created = false;
}

static int clone_create(const HostConfig *c, const Spec *rep, const char *stack, Clone *k, Error *err) {
        /* What a crashed canary of this stack left behind goes first. */
        (void) instance_delete(c, k->name, NULL);
        _cleanup_free_ char *text = NULL;
        int r = clone_spec(rep, k->build, stack, &text);
        if (r < 0 || (r = instance_initialize_canary(c, k->name, text, strlen(text), err)) < 0)
                return r;
        k->created = true;
        Spec s;
        if ((r = instance_load(c, k->name, &s, err)) < 0)
                return r;
        k->port = s.port;
        k->password = TAKE_PTR(s.rcon_password);
        spec_free(&s);
        return 0;
}

/* ---- the checks ---- */

/* "<FAILED>"/"<Failed>"/"<Error>" lines of `sm exts list` / `sm plugins
 * list`: the quoted file name. */
static json_t *failed_items(const char *text) {
        json_t *a = json_array();
        _cleanup_free_ char *copy = strdup(text ? text : "");
        if (!a || !copy)
                return a;
        char *save = NULL;
        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (!strcasestr(l, "<failed>") && !strcasestr(l, "<error>"))
                        continue;
                char *q = strchr(l, '"'), *e = q ? strchr(q + 1, '"') : NULL;
                char item[128];
                if (e && e - q - 1 > 0 && (size_t) (e - q - 1) < sizeof item)
                        snprintf(item, sizeof item, "%.*s", (int) (e - q - 1), q + 1);
                else
                        snprintf(item, sizeof item, "%.120s", l);
                json_array_append_new(a, json_string(item));
        }
        return a;
}

static void first_line(const char *text, char *buf, size_t size) {
        snprintf(buf, size, "%.*s", (int) strcspn(text ? text : "", "\r\n"), text ? text : "");
}

static bool answered(const char *text) {
        return text && *text && !strcasestr(text, "Unknown command");
}

static void rcon_checks(const CanaryProbes *p, Clone *k) {
        char *out = NULL;
        Error e = { 0 };
        uint16_t port = (uint16_t) k->port;
        if (p->rcon(port, k->password, "version", &out, &e) == 0) {
                const char *v = strstr(out, "Exe version ");
                if (v)
                        snprintf(k->version, sizeof k->version, "%.*s", (int) strcspn(v + 12, " \r\n"), v + 12);
        }
        free(out);
        out = NULL;
        if (p->rcon(port, k->password, "meta version", &out, &e) == 0 && answered(out)) {
                k->meta = true;
                first_line(out, k->meta_text, sizeof k->meta_text);
        }
        free(out);
        out = NULL;
        if (p->rcon(port, k->password, "sm version", &out, &e) == 0 && answered(out)) {
                k->sm = true;
                first_line(out, k->sm_text, sizeof k->sm_text);
        }
        free(out);
        out = NULL;
        if (p->rcon(port, k->password, "sm exts list", &out, &e) == 0)
                k->failed_exts = failed_items(out);
        free(out);
        out = NULL;
        if (p->rcon(port, k->password, "sm plugins list", &out, &e) == 0)
                k->failed_plugins = failed_items(out);
        free(out);
}

/* SourceMod's error logs in the clone's upper layer (the server writes
 * them; read without following its symlinks, capped), without their
 * "L 05/14/2024 - 12:00:00: " prefix so two servers' lines compare. */
static json_t *error_lines(const HostConfig *c, const char *name) {
        json_t *a = json_array();
        char rel[160];
        snprintf(rel, sizeof rel, "runtime/%s/upper/left4dead2/addons/sourcemod/logs", name);
        _cleanup_close_ int dir = path_open_beneath_dir(c->state_dir, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        DIR *d = dir >= 0 ? fdopendir(fcntl(dir, F_DUPFD_CLOEXEC, 3)) : NULL;
        if (!d || !a)
                return a;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!startswith(de->d_name, "errors_"))
                        continue;
                _cleanup_close_ int fd = path_open_beneath(dir, de->d_name, O_RDONLY | O_NONBLOCK, 0, PATH_NO_SYMLINKS);
                _cleanup_free_ char *text = NULL;
                if (fd < 0 || read_fd(fd, ERROR_LOG_MAX, &text, NULL) < 0)
                        continue;
                char *save = NULL;
                for (char *l = strtok_r(text, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save)) {
                        const char *m = l;
                        /* "L 05/14/2024 - 12:00:00: " */
                        if (l[0] == 'L' && l[1] == ' ' && strlen(l) > 25 && l[23] == ':' && l[24] == ' ')
                                m = l + 25;
                        if (*m && json_array_size(a) < 256)
                                json_array_append_new(a, json_string(m));
                }
        }
        closedir(d);
        return a;
}

/* Every clone that is up answers A2S within the window (or its start
 * failed). */
static void wait_a2s(const CanaryProbes *p, Clone *k, size_t n, long timeout_ms, bool after_changelevel) {
        int64_t t0 = mono_ms();
        bool pending = true;
        while (pending) {
                pending = false;
                for (size_t i = 0; i < n; i++) {
                        bool done = after_changelevel ? k[i].changelevel_ok : k[i].a2s_ms >= 0;
                        if (!k[i].started || done)
                                continue;
                        char map[64];
                        if (p->a2s((uint16_t) k[i].port, 500, map, sizeof map) > 0) {
                                if (after_changelevel)
                                        k[i].changelevel_ok = true;
                                else
                                        k[i].a2s_ms = mono_ms() - t0;
                        } else
                                pending = true;
                }
                if (pending && (mono_ms() - t0 >= timeout_ms || stopping))
                        break;
                if (pending)
                        usleep(200 * 1000);
        }
}

/* Until alive_ms after start: every clone keeps running, no restart. */
static void watch_alive(const HostConfig *c, Clone *k, size_t n, int64_t started, long alive_ms) {
        for (;;) {
                for (size_t i = 0; i < n; i++) {
                        if (!k[i].started || k[i].exited)
                                continue;
                        BackendStatus st;
                        if (backend_get(c)->status(c, k[i].name, &st, NULL) < 0)
                                continue;
                        if (st.state != STATE_RUNNING || st.restarts > 0) {
                                k[i].exited = true;
                                snprintf(k[i].exit_detail, sizeof k[i].exit_detail, "%s%s%s",
                                         instance_state_to_string(st.state), st.detail[0] ? ": " : "", st.detail);
                        }
                }
                if (mono_ms() - started >= alive_ms || stopping)
                        return;
                usleep(250 * 1000);
        }
}

/* ---- the verdict ---- */

static bool in_array(json_t *a, const char *s) {
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v)
                if (streq(json_string_value(v) ?: "", s))
                        return true;
        return false;
}

static void fail(json_t *failures, const char *check, const char *name, const char *detail) {
        json_t *f = json_pack("{s:s, s:s}", "check", check, "detail", detail);
        if (f && name)
                json_object_set_new(f, "name", json_string(name));
        json_array_append_new(failures, f);
}

/* The overlay of the stack (highest precedence first) whose tree has
 * left4dead2/addons/sourcemod/<sub>/<file>, searched one folder deep too. */
static const char *providing_overlay(const HostConfig *c, json_t *overlays, const char *sub, const char *file) {
        size_t i;
        json_t *o;
        json_array_foreach(overlays, i, o) {
                const char *name = json_string_value(o);
                char rel[256];
                snprintf(rel, sizeof rel, "left4dead2/addons/sourcemod/%s", sub);
                _cleanup_close_ int tree = overlay_open_published(c, name);
                _cleanup_close_ int dir = tree >= 0 ? path_open_beneath(tree, rel, O_RDONLY | O_DIRECTORY, 0,
                                                                        PATH_NO_SYMLINKS) : -1;
                if (dir < 0)
                        continue;
                if (faccessat(dir, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                        return name;
                DIR *d = fdopendir(fcntl(dir, F_DUPFD_CLOEXEC, 3));
                struct dirent *de;
                bool hit = false;
                while (d && !hit && (de = readdir(d))) {
                        char sub2[300];
                        snprintf(sub2, sizeof sub2, "%s/%s", de->d_name, file);
                        hit = de->d_name[0] != '.' && faccessat(dir, sub2, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
                }
                if (d)
                        closedir(d);
                if (hit)
                        return name;
        }
        return NULL;
}

static json_t *clone_json(const Clone *k) {
        return json_pack("{s:s, s:s, s:s, s:I, s:s, s:b, s:s, s:b, s:s, s:O, s:O, s:O, s:b, s:b, s:s, s:s}", "build",
                         k->build, "instance", k->name, "start_error", k->start_error, "a2s_ms", (json_int_t) k->a2s_ms,
                         "version", k->version, "meta", k->meta, "meta_version", k->meta_text, "sm", k->sm,
                         "sm_version", k->sm_text, "failed_extensions", k->failed_exts ?: json_array(),
                         "failed_plugins", k->failed_plugins ?: json_array(), "error_log", k->errors ?: json_array(),
                         "changelevel", k->changelevel_ok, "exited", k->exited, "exit_detail", k->exit_detail, "role",
                         k->role);
}

static json_t *verdict(const HostConfig *c, const CanaryStack *st, const BuildInfo *build, Clone *nw, Clone *base,
                       const UpdateSettings *set) {
        json_t *failures = json_array(), *failing_overlays = json_array();
        bool have_base = base && base->build[0];
        char d[512];
        bool degradable = true;
        if (!nw->started) {
                fail(failures, "start", NULL, nw->start_error);
                degradable = false;
        } else if (nw->a2s_ms < 0 && !(have_base && base->a2s_ms < 0)) {
                snprintf(d, sizeof d, "no A2S_INFO answer within %.0f s", set->canary_a2s_ms / 1000.0);
                fail(failures, "a2s", NULL, d);
                degradable = false;
        }
        if (nw->a2s_ms >= 0) {
                if (build->patch_version[0] && !streq(nw->version, build->patch_version)) {
                        snprintf(d, sizeof d, "RCON 'version' shows '%s', not the build's PatchVersion %s", nw->version,
                                 build->patch_version);
                        fail(failures, "version", NULL, d);
                        degradable = false;
                }
                if (have_base && base->meta && !nw->meta) {
                        fail(failures, "meta", NULL, "'meta version' answers on the baseline, not on the new build");
                        degradable = false;
                }
                if (have_base && base->sm && !nw->sm) {
                        fail(failures, "sm", NULL, "'sm version' answers on the baseline, not on the new build");
                        degradable = false;
                }
                struct {
                        const char *check, *sub;
                        json_t *mine, *theirs;
                } lists[] = { { "extension", "extensions", nw->failed_exts, have_base ? base->failed_exts : NULL },
                              { "plugin", "plugins", nw->failed_plugins, have_base ? base->failed_plugins : NULL } };
                for (size_t l = 0; l < ELEMENTSOF(lists); l++) {
                        size_t i;
                        json_t *item;
                        json_array_foreach(lists[l].mine, i, item) {
                                const char *name = json_string_value(item);
                                if (in_array(lists[l].theirs, name))
                                        continue;
                                const char *ov = providing_overlay(c, st->overlays, lists[l].sub, name);
                                snprintf(d, sizeof d, "%s '%s' fails on build %s only%s%s", lists[l].check, name,
                                         build->id, ov ? "; it comes from overlay " : "", ov ? ov : "");
                                fail(failures, lists[l].check, name, d);
                                if (ov && !in_array(failing_overlays, ov))
                                        json_array_append_new(failing_overlays, json_string(ov));
                                degradable &= ov != NULL;
                        }
                }
                /* New error lines; one that names a failed plugin or
                 * extension is part of that failure (degrade can leave it
                 * out with its overlay), any other one is not. */
                size_t i, shown = 0;
                json_t *line;
                json_array_foreach(nw->errors, i, line) {
                        const char *text = json_string_value(line);
                        if (have_base && in_array(base->errors, text))
                                continue;
                        const char *about = NULL;
                        size_t k;
                        json_t *f;
                        json_array_foreach(failures, k, f) {
                                const char *nm = json_string_value(json_object_get(f, "name"));
                                if (nm && strstr(text, nm))
                                        about = nm;
                        }
                        if (shown++ < ERROR_LINES_SHOWN)
                                fail(failures, "error-log", about, text);
                        degradable &= about != NULL;
                }
                if (!nw->changelevel_ok && !(have_base && !base->changelevel_ok)) {
                        fail(failures, "changelevel", NULL, "no A2S_INFO answer after a changelevel");
                        degradable = false;
                }
        }
        if (nw->exited && !(have_base && base->exited)) {
                snprintf(d, sizeof d, "it did not run %.0f s: %s", set->canary_alive_ms / 1000.0, nw->exit_detail);
                fail(failures, "exit", NULL, d);
                degradable = false;
        }
        bool pass = json_array_size(failures) == 0;
        return json_pack("{s:s, s:s, s:s, s:O, s:O, s:s, s:o, s:o, s:b, s:o, s:o*}", "build", build->id, "baseline",
                         have_base ? base->build : "", "stack", st->hash, "overlays", st->overlays, "instances",
                         st->instances, "verdict", pass ? "pass" : "fail", "failures", failures, "failing_overlays",
                         failing_overlays, "degradable", !pass && degradable, "new", clone_json(nw), "baseline_checks",
                         have_base ? clone_json(base) : NULL);
}

/* One stack, in its own process: both clones at once, then the verdict. */
static int run_stack(const HostConfig *c, const UpdateSettings *set, const CanaryProbes *p, const CanaryStack *st,
                     const BuildInfo *build, const char *baseline, json_t **ret, Error *err) {
        _cleanup_(spec_free) Spec rep = { 0 };
        int r = instance_load(c, st->rep, &rep, err);
        if (r < 0)
                return r;
        Clone k[2] = { { .role = "new", .a2s_ms = -1 }, { .role = "baseline", .a2s_ms = -1 } };
        size_t n = baseline[0] ? 2 : 1;
        snprintf(k[0].build, sizeof k[0].build, "%s", build->id);
        snprintf(k[1].build, sizeof k[1].build, "%s", baseline);
        snprintf(k[0].name, sizeof k[0].name, "l4m-canary-%.8s-n", st->hash);
        snprintf(k[1].name, sizeof k[1].name, "l4m-canary-%.8s-b", st->hash);
        int64_t started = mono_ms(), t_wall = time(NULL);
        for (size_t i = 0; i < n; i++) {
                Error e = { 0 };
                if ((r = clone_create(c, &rep, st->hash, &k[i], &e)) < 0 || (r = instance_start(c, k[i].name, NULL, &e)) < 0) {
                        snprintf(k[i].start_error, sizeof k[i].start_error, "%s", e.msg);
                        continue;
                }
                k[i].started = true;
        }
        wait_a2s(p, k, n, set->canary_a2s_ms, false);
        for (size_t i = 0; i < n; i++)
                if (k[i].a2s_ms >= 0)
                        rcon_checks(p, &k[i]);
        for (size_t i = 0; i < n; i++) {
                char cmd[96], *out = NULL;
                Error e = { 0 };
                snprintf(cmd, sizeof cmd, "changelevel %s", rep.map);
                if (k[i].a2s_ms >= 0 && p->rcon((uint16_t) k[i].port, k[i].password, cmd, &out, &e) == 0)
                        usleep(200 * 1000);
                free(out);
        }
        wait_a2s(p, k, n, set->canary_a2s_ms, true);
        watch_alive(c, k, n, started, set->canary_alive_ms);
        for (size_t i = 0; i < n; i++)
                if (k[i].started)
                        k[i].errors = error_lines(c, k[i].name);
        for (size_t i = 0; i < n; i++)
                clone_remove(c, &k[i]);
        if (stopping) {
                for (size_t i = 0; i < 2; i++)
                        clone_free(&k[i]);
                return error_set(err, -EINTR, "stopped by SIG%s before its verdict", sigabbrev_np(stopping) ?: "?");
        }
        json_t *rep_json = verdict(c, st, build, &k[0], n > 1 ? &k[1] : NULL, set);
        for (size_t i = 0; i < 2; i++)
                clone_free(&k[i]);
        if (!rep_json)
                return -ENOMEM;
        json_object_set_new(rep_json, "started", json_integer(t_wall));
        json_object_set_new(rep_json, "finished", json_integer(time(NULL)));
        json_object_set_new(rep_json, "duration_ms", json_integer(mono_ms() - started));
        if ((r = canary_report_save(c, build->id, st->hash, rep_json, err)) < 0) {
                json_decref(rep_json);
                return r;
        }
        *ret = rep_json;
        return 0;
}

static void send_event(int fd, json_t *ev) {
        _cleanup_free_ char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
        json_decref(ev);
        if (text) {
                (void) write_all(fd, text, strlen(text));
                (void) write_all(fd, "\n", 1);
        }
}

_noreturn_ void canary_stack_process(const HostConfig *c, const UpdateSettings *set, const CanaryRun *run, const CanaryStack *st,
                                  const BuildInfo *build, const char *baseline, int fd) {
        struct sigaction sa = { .sa_handler = on_stop };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        send_event(fd, json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:s}", "event", "canary", "state", "started", "build",
                                 build->id, "stack", st->hash, "overlays", st->overlays, "instances", st->instances,
                                 "baseline", baseline));
        json_t *report = NULL;
        Error e = { 0 };
        int r = run_stack(c, set, run->probes, st, build, baseline, &report, &e);
        if (r < 0)
                send_event(fd, json_pack("{s:s, s:s, s:s, s:s, s:s}", "event", "canary", "state", "error", "build",
                                         build->id, "stack", st->hash, "error", e.msg));
        else
                send_event(fd, json_pack("{s:s, s:s, s:s, s:s, s:o}", "event", "canary", "state", "done", "build",
                                         build->id, "stack", st->hash, "report", report));
        _exit(r < 0 ? 1 : 0);
}

