#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "build.h"
#include "canary.h"
#include "fs.h"
#include "instance.h"
#include "overlay-files.h"
#include "overlay.h"
#include "ports.h"
#include "process.h"
#include "random.h"
#include "serveruid.h"
#include "strutil.h"
#include "unit-settings.h"

#define INSTANCE_JSON_MAX (1024 * 1024)

int state_dirs_ensure(const HostConfig *c, Error *err) {
        static const char *const dirs[] = { "instances", "overlays", "runtime", "locks" };
        int r = mkdir_p(c->state_dir, 0755);
        if (r < 0)
                return error_set(err, r, "cannot create state dir '%s': %s", c->state_dir, strerror(-r));
        _cleanup_close_ int fd = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return error_set(err, negative_errno(), "cannot open state dir '%s': %m", c->state_dir);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (mkdirat(fd, dirs[i], 0755) < 0 && errno != EEXIST)
                        return error_set(err, negative_errno(), "cannot create '%s/%s': %m", c->state_dir, dirs[i]);
        return 0;
}

/* Takes <state>/locks/<lockname>.lock (mode LOCK_EX or LOCK_SH), waiting up
 * to wait_ms for whoever holds it; -EBUSY after that. */
static int lock_file_mode(const HostConfig *c, const char *lockname, int mode, int wait_ms, int *ret_fd,
                          Error *err) {
        int r = state_dirs_ensure(c, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/locks/%s.lock", c->state_dir, lockname) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return error_set(err, negative_errno(), "cannot open lock '%s': %m", path);
        /* Wait politely for another l4d2ctl (a stop can take several seconds). */
        for (int i = 0; i <= wait_ms / 50; i++) {
                if (flock(fd, mode | LOCK_NB) == 0) {
                        *ret_fd = TAKE_FD(fd);
                        return 0;
                }
                if (errno != EWOULDBLOCK)
                        return error_set(err, negative_errno(), "cannot lock '%s': %m", path);
                if (i < wait_ms / 50)
                        usleep(50 * 1000);
        }
        return error_set(err, -EBUSY, "'%s' is busy: another l4d2ctl has been working on it for 30 s", lockname);
}

static int lock_file(const HostConfig *c, const char *lockname, int *ret_fd, Error *err) {
        return lock_file_mode(c, lockname, LOCK_EX, 30000, ret_fd, err);
}

int instance_lock(const HostConfig *c, const char *name, int *ret_fd, Error *err) {
        return lock_file(c, name, ret_fd, err);
}

static int check_name(const char *name, Error *err) {
        if (!name_is_valid(name))
                return error_set(err, -EINVAL,
                                 "'%s' is not a valid instance name: use 1-32 of A-Z a-z 0-9 _ -, starting with a "
                                 "letter or digit",
                                 name);
        return 0;
}

/* instance.json as it is stored: {name, spec, updated, uid, port_auto}. */
static int load_doc(const HostConfig *c, const char *name, json_t **ret, Error *err) {
        int r = check_name(name, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = NULL, *text = NULL;
        if (asprintf(&path, "%s/instances/%s/instance.json", c->state_dir, name) < 0)
                return -ENOMEM;
        size_t len;
        r = read_file(path, INSTANCE_JSON_MAX, &text, &len);
        if (r == -ENOENT)
                return error_set(err, -ENOENT, "unknown instance '%s' (see 'l4d2ctl list')", name);
        if (r < 0)
                return error_set(err, r, "instance '%s': cannot read '%s': %s", name, path, strerror(-r));
        json_error_t je;
        json_t *j = json_loadb(text, len, 0, &je);
        if (!json_is_object(j)) {
                json_decref(j);
                return error_set(err, -EBADMSG, "instance '%s': '%s' is damaged: %s", name, path,
                                 j ? "not an object" : je.text);
        }
        *ret = j;
        return 0;
}

/* Writes instance.json; it holds the RCON password: readable by the
 * service user only. */
static int store_doc(const HostConfig *c, const char *name, json_t *j, Error *err) {
        _cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        _cleanup_free_ char *file = NULL;
        if (!text || asprintf(&file, "%s/instances/%s/instance.json", c->state_dir, name) < 0)
                return -ENOMEM;
        int r = write_file_atomic(file, text, strlen(text), 0600);
        if (r < 0)
                return error_set(err, r, "instance '%s': cannot write '%s': %s", name, file, strerror(-r));
        return 0;
}

int instance_load(const HostConfig *c, const char *name, Spec *ret, Error *err) {
        json_t *j;
        int r = load_doc(c, name, &j, err);
        if (r < 0)
                return r;
        r = spec_from_json(json_object_get(j, "spec"), ret, err);
        json_decref(j);
        if (r < 0)
                return error_prefix(err, r, "instance '%s'", name);
        return 0;
}

int instance_list(const HostConfig *c, char ***ret, Error *err) {
        _cleanup_free_ char *path = config_path(c, "instances", NULL);
        if (!path)
                return -ENOMEM;
        _cleanup_strv_ char **v = calloc(1, sizeof(char *));
        size_t n = 0;
        if (!v)
                return -ENOMEM;
        DIR *d = opendir(path);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = TAKE_PTR(v);
                        return 0;
                }
                return error_set(err, negative_errno(), "cannot list '%s': %m", path);
        }
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d))) {
                if (!name_is_valid(de->d_name))
                        continue;
                bool is_dir = de->d_type == DT_DIR;
                if (de->d_type == DT_UNKNOWN) { /* e.g. XFS without ftype */
                        struct stat st;
                        is_dir = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
                }
                if (is_dir && (r = strv_push_dup(&v, &n, de->d_name)) < 0)
                        break;
        }
        closedir(d);
        if (r < 0)
                return r;
        for (size_t i = 1; i < n; i++)
                for (size_t k = i; k > 0 && strcmp(v[k - 1], v[k]) > 0; k--) {
                        char *t = v[k];
                        v[k] = v[k - 1];
                        v[k - 1] = t;
                }
        *ret = TAKE_PTR(v);
        return 0;
}

int instance_list_visible(const HostConfig *c, char ***ret, Error *err) {
        _cleanup_strv_ char **all = NULL;
        int r = instance_list(c, &all, err);
        if (r < 0)
                return r;
        size_t k = 0;
        for (size_t i = 0; all[i]; i++) {
                if (canary_instance_name(all[i]))
                        free(all[i]);
                else
                        all[k++] = all[i];
        }
        all[k] = NULL;
        *ret = TAKE_PTR(all);
        return 0;
}

/* ---- initialize ---- */

static int overlay_check(const HostConfig *c, const char *overlay, Error *err) {
        _cleanup_close_ int fd = path_open_beneath_dir(c->state_dir, "overlays", O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (fd >= 0) {
                _cleanup_close_ int ofd = path_open_beneath(fd, overlay, O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
                if (ofd >= 0)
                        return 0;
        }
        return error_set(err, -ENOENT, "overlay '%s' does not exist (expected a directory %s/overlays/%s)", overlay,
                         c->state_dir, overlay);
}

static int initialize(const HostConfig *c, const char *name, const char *yaml, size_t len, const char *source,
                      bool canary, Error *err) {
        int r = check_name(name, err);
        if (r < 0)
                return r;
        if (canary_instance_name(name) != canary)
                return error_set(err, -EINVAL, canary ? "'%s' is not a canary's name"
                                                      : "'%s' is a name reserved for update canaries (l4m-canary-...)",
                                 name);
        _cleanup_(spec_free) Spec s = { 0 };
        r = spec_parse_yaml(yaml, len, source, c->port_min, c->port_max, &s, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < s.n_overlays; i++)
                if ((r = overlay_check(c, s.overlays[i], err)) < 0)
                        return error_prefix(err, r, "instance '%s'", name);

        _cleanup_close_ int lock = -1, plock = -1;
        if ((r = instance_lock(c, name, &lock, err)) < 0 || (r = lock_file(c, ".ports", &plock, err)) < 0)
                return r;

        /* Keep what a re-initialize must not change: the generated password
         * and, when the new spec does not name one, the allocated port. */
        Spec old;
        bool had_old = instance_load(c, name, &old, NULL) == 0;
        if (!s.rcon_password) {
                if (had_old && old.rcon_password)
                        s.rcon_password = strdup(old.rcon_password);
                else if ((s.rcon_password = malloc(25)))
                        r = random_alnum(s.rcon_password, 25);
                if (!s.rcon_password || r < 0) {
                        if (had_old)
                                spec_free(&old);
                        return r < 0 ? r : -ENOMEM;
                }
        }
        long old_port = had_old && old.port >= c->port_min && old.port + 1 <= c->port_max ? old.port : 0;
        if (had_old)
                spec_free(&old);
        /* The server's own uid: kept for good once allocated (its upper
         * layer belongs to it). */
        uid_t uid;
        if (server_uid_stored(c, name, &uid) <= 0 && (r = server_uid_allocate(c, name, &uid, err)) < 0)
                return error_prefix(err, r, "instance '%s'", name);

        _cleanup_free_ PortUse *used = NULL;
        size_t n_used = 0;
        if ((r = ports_of_instances(c, name, &used, &n_used)) < 0)
                return error_set(err, r, "instance '%s': cannot read the other instances' ports: %s", name,
                                 strerror(-r));
        /* A port the spec names is the user's choice, checked against the
         * other instances here and against the host's programs at start. A
         * port left to us is "auto": it stays what it was (a program may
         * hold it while the server itself runs), a new one skips ports any
         * program on the host holds, and start moves it when it finds it
         * taken. */
        bool port_auto = !s.port;
        if (s.port) {
                const char *owner = ports_owner(used, n_used, s.port);
                if (owner)
                        return error_set(err, -EADDRINUSE, "instance '%s': port %ld is already used by '%s'", name,
                                         s.port, owner);
        } else if (old_port && !ports_owner(used, n_used, old_port))
                s.port = old_port;
        else if (!(s.port = ports_find_free(c, used, n_used)))
                return error_set(err, -EADDRINUSE, "instance '%s': no free port pair left in %ld-%ld (the "
                                 "other instances and programs on this host hold them all)", name, c->port_min,
                                 c->port_max);

        json_t *j = json_pack("{s:s, s:o, s:I, s:I, s:b}", "name", name, "spec", spec_to_json(&s), "updated",
                              (json_int_t) time(NULL), "uid", (json_int_t) uid, "port_auto", port_auto);
        if (!j)
                return -ENOMEM;
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/instances/%s", c->state_dir, name) < 0) {
                json_decref(j);
                return -ENOMEM;
        }
        bool created = mkdir(dir, 0750) == 0;
        if (!created && errno != EEXIST) {
                json_decref(j);
                return error_set(err, negative_errno(), "instance '%s': cannot create '%s': %m", name, dir);
        }
        r = store_doc(c, name, j, err);
        json_decref(j);
        if (r < 0) {
                if (created)
                        rmdir(dir);
                return r;
        }
        /* Its unit's settings (systemd backend); best effort: start retries. */
        (void) unit_settings_sync(c, name, s.port, NULL);
        return 0;
}

int instance_initialize(const HostConfig *c, const char *name, const char *yaml, size_t len, const char *source,
                        Error *err) {
        return initialize(c, name, yaml, len, source, false, err);
}

int instance_initialize_canary(const HostConfig *c, const char *name, const char *yaml, size_t len, Error *err) {
        return initialize(c, name, yaml, len, "canary", true, err);
}

/* ---- start / stop ---- */

/* Keeps the helper's last line: its one-line error message. */
static int keep_last_line(const char *line, void *userdata) {
        snprintf(userdata, 512, "%s", line);
        return 0;
}

int overlay_helper_run(const HostConfig *c, const char *verb, const char *name, Error *err) {
        char *argv[] = { c->overlay_helper, (char *) "--state-dir", c->state_dir, (char *) verb, (char *) name, NULL };
        char last[512] = "";
        int exit_code;
        int r = spawn_lines(argv, NULL, keep_last_line, last, &exit_code);
        if (r < 0)
                return error_set(err, r, "cannot run the overlay helper '%s': %s", c->overlay_helper, strerror(-r));
        if (exit_code != 0) {
                const char *m = last;
                if (startswith(m, "error: "))
                        m += 7;
                return error_set(err, -EIO, "%s", m[0] ? m : "the overlay helper failed");
        }
        return 0;
}

static int write_runtime_files(const HostConfig *c, const char *name, const Spec *s, const BuildChoice *b,
                               Error *err) {
        _cleanup_free_ char *rt = NULL;
        if (asprintf(&rt, "%s/runtime/%s", c->state_dir, name) < 0)
                return -ENOMEM;
        _cleanup_close_ int state = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (state < 0)
                return error_set(err, negative_errno(), "cannot open state dir '%s': %m", c->state_dir);
        char rel[128];
        snprintf(rel, sizeof rel, "runtime/%s", name);
        int r = mkdir_p_at(state, rel, 0755);
        static const char *const sub[] = { "upper", "work", "merged" };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(sub); i++) {
                snprintf(rel, sizeof rel, "runtime/%s/%s", name, sub[i]);
                r = mkdir_p_at(state, rel, 0755);
        }
        if (r < 0)
                return error_set(err, r, "instance '%s': cannot create '%s': %s", name, rt, strerror(-r));

        /* server.cfg goes into the upper layer, which the game server can
         * write: resolve beneath it without following any symlink it made. */
        snprintf(rel, sizeof rel, "runtime/%s/upper", name);
        _cleanup_close_ int upper = path_open_beneath(state, rel, O_PATH | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (upper < 0 || (r = mkdir_p_at(upper, "left4dead2/cfg", 0755)) < 0)
                return error_set(err, upper < 0 ? upper : r, "instance '%s': cannot prepare the upper layer: %s", name,
                                 strerror(-(upper < 0 ? upper : r)));
        _cleanup_close_ int cfg =
                path_open_beneath(upper, "left4dead2/cfg", O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (cfg < 0)
                return error_set(err, cfg, "instance '%s': cannot open the upper layer's cfg folder: %s", name,
                                 strerror(-cfg));
        _cleanup_free_ char *server_cfg = spec_server_cfg(s, name);
        if (!server_cfg)
                return -ENOMEM;
        r = write_file_atomic_flags(cfg, "server.cfg", server_cfg, strlen(server_cfg), 0640, WRITE_NO_SYNC);
        if (r < 0)
                return error_set(err, r, "instance '%s': cannot stage server.cfg: %s", name, strerror(-r));

        /* The server's files become its own (serveruid.c). */
        snprintf(rel, sizeof rel, "runtime/%s", name);
        _cleanup_close_ int rtdir = path_open_beneath(state, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (rtdir < 0)
                return error_set(err, rtdir, "instance '%s': cannot open '%s': %s", name, rt, strerror(-rtdir));
        if ((r = server_hand_over(c, name, rtdir, upper, cfg, err)) < 0)
                return r;

        /* The server's command line, shared by both backends (l4d2ctl run). */
        /* Relative to cwd (the merged tree), which the server enters while
         * still privileged: it needs no access to the path leading there. */
        _cleanup_free_ char *merged = NULL;
        if (asprintf(&merged, "%s/merged", rt) < 0)
                return -ENOMEM;
        _cleanup_strv_ char **argv = NULL;
        if ((r = spec_launch_argv(s, "./srcds_run", &argv)) < 0)
                return r;
        json_t *a = json_array();
        for (char **p = argv; a && *p; p++)
                json_array_append_new(a, json_string(*p));
        json_t *launch = json_pack("{s:o, s:s}", "argv", a, "cwd", merged);
        _cleanup_free_ char *text = launch ? json_dumps(launch, JSON_INDENT(2)) : NULL;
        json_decref(launch);
        if (!text)
                return -ENOMEM;
        /* Both go beside the spec, not into runtime/NAME: the server unit can
         * write its runtime dir, and what the privileged helper mounts and the
         * unit executes must not be the server's to change. */
        snprintf(rel, sizeof rel, "instances/%s", name);
        _cleanup_close_ int rtfd = path_open_beneath(state, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (rtfd < 0)
                return error_set(err, rtfd, "instance '%s': cannot open '%s/%s': %s", name, c->state_dir, rel,
                                 strerror(-rtfd));
        r = write_file_atomic_flags(rtfd, "launch.json", text, strlen(text), 0644, WRITE_NO_SYNC);

        /* The overlay list for the privileged helper: one name a line, plain
         * text so the helper needs no JSON parser. */
        Buf list = BUF_INIT(0);
        for (size_t i = 0; r >= 0 && i < s->n_overlays; i++)
                r = buf_printf(&list, "%s\n", s->overlays[i]);
        if (r >= 0)
                r = write_file_atomic_flags(rtfd, "overlays", list.data ? list.data : "", list.len, 0644, WRITE_NO_SYNC);
        buf_free(&list);
        if (r < 0)
                return error_set(err, r, "instance '%s': cannot write its runtime files: %s", name, strerror(-r));
        /* The build's layers, for the helper too. */
        if ((r = build_write_instance_file(c, rtfd, b, err)) < 0)
                return error_prefix(err, r, "instance '%s'", name);
        return 0;
}

static int is_running(const HostConfig *c, const char *name, BackendStatus *st) {
        const Backend *b = backend_get(c);
        int r = b->status(c, name, st, NULL);
        if (r < 0)
                return r;
        return st->state == STATE_RUNNING || st->state == STATE_STARTING || st->state == STATE_UNRESPONSIVE;
}

/* The pair must be free on the host when the server starts. A port that
 * was allocated (port_auto) moves to a free pair, under the .ports lock as
 * initialize allocates, and *note says so; a port the spec named stays an
 * error that says who holds it. */
static int ports_for_start(const HostConfig *c, const char *name, Spec *s, StartNote *note, Error *err) {
        const char *what;
        long taken = ports_held_on_host(s->port, &what);
        if (!taken)
                return 0;
        char holder[128];
        ports_holder(taken, holder, sizeof holder);
        json_auto_t *j = NULL;
        int r = load_doc(c, name, &j, err);
        if (r < 0)
                return r;
        if (!json_is_true(json_object_get(j, "port_auto")))
                return error_set(err, -EADDRINUSE, "instance '%s': %s %ld is in use by another program%s%s%s; stop "
                                 "that program, or name another port in the spec", name, what, taken,
                                 holder[0] ? " (" : "", holder, holder[0] ? ")" : "");
        _cleanup_close_ int plock = -1;
        if ((r = lock_file(c, ".ports", &plock, err)) < 0)
                return r;
        _cleanup_free_ PortUse *used = NULL;
        size_t n_used = 0;
        if ((r = ports_of_instances(c, name, &used, &n_used)) < 0)
                return error_set(err, r, "instance '%s': cannot read the other instances' ports: %s", name,
                                 strerror(-r));
        long port = ports_find_free(c, used, n_used);
        if (!port)
                return error_set(err, -EADDRINUSE, "instance '%s': %s %ld is in use by another program%s%s%s, and no "
                                 "other port pair is free in %ld-%ld", name, what, taken, holder[0] ? " (" : "",
                                 holder, holder[0] ? ")" : "", c->port_min, c->port_max);
        json_t *spec = json_object_get(j, "spec");
        if (!json_is_object(spec) || json_object_set_new(spec, "port", json_integer(port)) < 0 ||
            json_object_set_new(j, "updated", json_integer((json_int_t) time(NULL))) < 0)
                return -ENOMEM;
        if ((r = store_doc(c, name, j, err)) < 0)
                return r;
        if (note) {
                *note = (StartNote) { .moved_from = s->port, .moved_to = port, .taken = taken };
                snprintf(note->what, sizeof note->what, "%s", what);
                snprintf(note->holder, sizeof note->holder, "%s", holder);
        }
        s->port = port;
        return 0;
}

/* Leaves out of s's overlays those the build choice drops (degrade). */
static void drop_overlays(Spec *s, const BuildChoice *b) {
        size_t k = 0;
        for (size_t i = 0; i < s->n_overlays; i++) {
                bool drop = false;
                for (size_t j = 0; j < b->n_dropped && !drop; j++)
                        drop = streq(s->overlays[i], b->dropped[j]);
                if (drop)
                        free(s->overlays[i]);
                else
                        s->overlays[k++] = s->overlays[i];
        }
        s->overlays[k] = NULL;
        s->n_overlays = k;
}

static int start_locked(const HostConfig *c, const char *name, StartNote *note, Error *err) {
        _cleanup_(spec_free) Spec s = { 0 };
        int r = instance_load(c, name, &s, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < s.n_overlays; i++)
                if ((r = overlay_check(c, s.overlays[i], err)) < 0)
                        return error_prefix(err, r, "instance '%s'", name);

        BackendStatus st;
        r = is_running(c, name, &st);
        if (r < 0)
                return error_set(err, r, "instance '%s': cannot read its state: %s", name, strerror(-r));
        if (r > 0)
                return 0;

        /* Which build: no flatten swap or gc until the mount is recorded.
         * A fetch never touches a published build, so an update running
         * now is no reason to wait. */
        _cleanup_close_ int build_pin = -1;
        _cleanup_(build_choice_free) BuildChoice b = { 0 };
        if ((r = build_pin_take(c, &build_pin, err)) < 0 || (r = build_choose(c, &s, &b, err)) < 0)
                return error_prefix(err, r, "instance '%s'", name);
        drop_overlays(&s, &b);

        if ((r = ports_for_start(c, name, &s, note, err)) < 0)
                return r;

        /* A crashed run may have left the overlay mounted: the upper layer
         * is only written while it is not. */
        _cleanup_free_ char *merged = NULL;
        if (asprintf(&merged, "%s/runtime/%s/merged", c->state_dir, name) < 0)
                return -ENOMEM;
        if (path_is_mount_point(merged) && (r = overlay_helper_run(c, "umount", name, err)) < 0)
                return error_prefix(err, r, "instance '%s'", name);

        if ((r = write_runtime_files(c, name, &s, &b, err)) < 0 || (r = unit_settings_sync(c, name, s.port, err)) < 0)
                return r;
        /* Edits to files overlays reach a server when it starts. */
        if ((r = overlay_files_publish_pending(c, s.overlays, s.n_overlays, err)) < 0)
                return error_prefix(err, r, "instance '%s'", name);
        /* No overlay build may swap a tree between our mount and the record
         * of what we mounted (overlay-gc.c). */
        _cleanup_(overlay_pins_release) OverlayPins pins = { 0 };
        if ((r = overlay_pins_take(c, s.overlays, s.n_overlays, &pins, err)) < 0)
                return error_prefix(err, r, "instance '%s'", name);
        r = backend_get(c)->start(c, name, err);
        if (r < 0)
                return error_prefix(err, r, "instance '%s'", name);
        overlay_pins_record(c, name, &pins);
        build_record_mount(c, name, &b);
        return 0;
}

int instance_start(const HostConfig *c, const char *name, StartNote *note, Error *err) {
        int r = check_name(name, err);
        if (r < 0)
                return r;
        _cleanup_close_ int lock = -1;
        if ((r = instance_lock(c, name, &lock, err)) < 0)
                return r;
        return start_locked(c, name, note, err);
}

static int stop_locked(const HostConfig *c, const char *name, Error *err) {
        int r = backend_get(c)->stop(c, name, err);
        if (r < 0)
                return error_prefix(err, r, "instance '%s'", name);
        return 0;
}

/* Locks an instance that must exist (its spec loads). */
static int lock_existing(const HostConfig *c, const char *name, int *ret_lock, Error *err) {
        Spec s;
        int r = instance_load(c, name, &s, err);
        if (r < 0)
                return r;
        spec_free(&s);
        return instance_lock(c, name, ret_lock, err);
}

int instance_stop(const HostConfig *c, const char *name, Error *err) {
        _cleanup_close_ int lock = -1;
        int r = lock_existing(c, name, &lock, err);
        return r < 0 ? r : stop_locked(c, name, err);
}

int instance_restart(const HostConfig *c, const char *name, StartNote *note, Error *err) {
        _cleanup_close_ int lock = -1;
        int r = lock_existing(c, name, &lock, err);
        if (r < 0 || (r = stop_locked(c, name, err)) < 0)
                return r;
        return start_locked(c, name, note, err);
}

int instance_pin(const HostConfig *c, const char *name, const char *build, bool restart, Error *err) {
        const char *problem = spec_check_build(build);
        if (problem)
                return error_set(err, -EINVAL, "'%s' %s", build, problem);
        bool follow = streq(build, SPEC_BUILD_FOLLOW);
        _cleanup_close_ int lock = -1;
        int r = lock_existing(c, name, &lock, err);
        if (r < 0)
                return r;
        if (!follow) {
                _cleanup_strv_ char **chain = NULL;
                if ((r = build_chain(c, build, &chain, NULL, err)) < 0)
                        return error_prefix(err, r, "instance '%s'", name);
        }
        _cleanup_free_ char *path = NULL, *text = NULL;
        if (asprintf(&path, "%s/instances/%s/instance.json", c->state_dir, name) < 0)
                return -ENOMEM;
        size_t len;
        if ((r = read_file(path, INSTANCE_JSON_MAX, &text, &len)) < 0)
                return error_set(err, r, "instance '%s': cannot read '%s': %s", name, path, strerror(-r));
        json_t *j = json_loadb(text, len, 0, NULL);
        json_t *spec = json_object_get(j, "spec");
        if (!json_is_object(spec)) {
                json_decref(j);
                return error_set(err, -EBADMSG, "instance '%s': '%s' is damaged", name, path);
        }
        json_object_set_new(spec, "build", json_string(build));
        json_object_set_new(j, "updated", json_integer((json_int_t) time(NULL)));
        _cleanup_free_ char *out = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        json_decref(j);
        if (!out)
                return -ENOMEM;
        if ((r = write_file_atomic(path, out, strlen(out), 0600)) < 0)
                return error_set(err, r, "instance '%s': cannot write '%s': %s", name, path, strerror(-r));
        if (!restart)
                return 0;
        BackendStatus st;
        if ((r = is_running(c, name, &st)) <= 0)
                return r < 0 ? error_set(err, r, "instance '%s': cannot read its state: %s", name, strerror(-r)) : 0;
        if ((r = stop_locked(c, name, err)) < 0)
                return r;
        return start_locked(c, name, NULL, err);
}

int instance_delete(const HostConfig *c, const char *name, Error *err) {
        int r = check_name(name, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = NULL, *rt = NULL;
        if (asprintf(&dir, "%s/instances/%s", c->state_dir, name) < 0 ||
            asprintf(&rt, "%s/runtime/%s", c->state_dir, name) < 0)
                return -ENOMEM;
        if (access(dir, F_OK) < 0 && access(rt, F_OK) < 0)
                return 0; /* nothing to delete */
        _cleanup_close_ int lock = -1;
        if ((r = instance_lock(c, name, &lock, err)) < 0 || (r = stop_locked(c, name, err)) < 0)
                return r;
        _cleanup_free_ char *merged = NULL;
        if (asprintf(&merged, "%s/merged", rt) < 0)
                return -ENOMEM;
        if (path_is_mount_point(merged) && (r = overlay_helper_run(c, "umount", name, err)) < 0)
                return error_prefix(err, r, "instance '%s'", name);
        /* The spec goes last: if removing the runtime fails, the instance
         * still exists and delete can be run again. */
        if ((r = rm_rf(rt)) < 0)
                return error_set(err, r, "instance '%s': cannot remove '%s': %s", name, rt, strerror(-r));
        if ((r = rm_rf(dir)) < 0)
                return error_set(err, r, "instance '%s': cannot remove '%s': %s", name, dir, strerror(-r));
        unit_settings_forget(c, name);
        return 0;
}

/* ---- status ---- */

int instance_status(const HostConfig *c, const char *name, json_t **ret, Error *err) {
        _cleanup_(spec_free) Spec s = { 0 };
        int r = instance_load(c, name, &s, err);
        if (r < 0)
                return r;
        const Backend *b = backend_get(c);
        BackendStatus st = { 0 };
        r = b->status(c, name, &st, err);
        if (r < 0)
                return error_prefix(err, r, "instance '%s'", name);

        _cleanup_free_ char *merged = NULL;
        if (asprintf(&merged, "%s/runtime/%s/merged", c->state_dir, name) < 0)
                return -ENOMEM;
        json_t *overlays = json_array();
        for (size_t i = 0; overlays && i < s.n_overlays; i++)
                json_array_append_new(overlays, json_string(s.overlays[i]));
        bool up = st.state == STATE_RUNNING || st.state == STATE_STARTING || st.state == STATE_UNRESPONSIVE;
        json_t *pid = up && st.pid > 0 ? json_integer(st.pid) : json_null();
        json_t *uptime = json_null();
        if (up && st.started_usec) {
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                uint64_t n = (uint64_t) now.tv_sec * 1000000ULL + (uint64_t) now.tv_nsec / 1000ULL;
                uptime = json_integer(n > st.started_usec ? (json_int_t) ((n - st.started_usec) / 1000000ULL) : 0);
        }
        *ret = json_pack("{s:s, s:s, s:o, s:{s:I, s:I}, s:o, s:b, s:o, s:I, s:s, s:s, s:I, s:s}", "name", name,
                         "state", instance_state_to_string(st.state), "pid", pid, "ports", "game",
                         (json_int_t) s.port, "sourcetv", (json_int_t) s.port + 1, "uptime", uptime, "mounted",
                         path_is_mount_point(merged), "overlays", overlays, "restarts", (json_int_t) st.restarts,
                         "backend", b->name, "map", s.map, "maxplayers", (json_int_t) s.maxplayers, "detail",
                         st.detail);
        if (*ret && st.containment[0])
                json_object_set_new(*ret, "containment", json_string(st.containment));
        /* The build its mount stacks (null when not mounted), and what it
         * follows: "follow" or the pinned build. */
        char build[BUILD_ID_MAX_LEN + 1];
        build_mounted(c, name, build);
        if (*ret) {
                json_object_set_new(*ret, "build", build[0] ? json_string(build) : json_null());
                json_object_set_new(*ret, "build_pin", json_string(s.build ? s.build : SPEC_BUILD_FOLLOW));
        }
        return *ret ? 0 : -ENOMEM;
}

int instance_logs(const HostConfig *c, const char *name, unsigned lines, bool follow, int out_fd, Error *err) {
        Spec s;
        int r = instance_load(c, name, &s, err);
        if (r < 0)
                return r;
        spec_free(&s);
        r = backend_get(c)->logs(c, name, lines, follow, out_fd, err);
        return r < 0 ? error_prefix(err, r, "instance '%s'", name) : 0;
}

int instance_mount_dir(const HostConfig *c, const char *name, uint64_t *ret_mnt_id) {
        _cleanup_close_ int state = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (state < 0)
                return -errno;
        char rel[96];
        snprintf(rel, sizeof rel, "instances/%s", name);
        _cleanup_close_ int dir = path_open_beneath(state, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (dir < 0)
                return dir;
        _cleanup_free_ char *merged = NULL;
        if (asprintf(&merged, "%s/runtime/%s/merged", c->state_dir, name) < 0)
                return -ENOMEM;
        *ret_mnt_id = mount_unique_id(merged);
        return TAKE_FD(dir);
}

void instance_record_write(int dir, const char *file, json_t *j) {
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (text)
                (void) write_file_atomic_flags(dir, file, text, strlen(text), 0644, WRITE_NO_SYNC);
        else
                (void) unlinkat(dir, file, 0);
}
