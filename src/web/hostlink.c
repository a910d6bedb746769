#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hostlink.h"
#include "strutil.h"
#include "web.h"

struct HostLink {
        char *name;
        char **prefix; /* argv up to and including l4d2ctl's global options */
        size_t n_prefix;
        bool remote;   /* arguments after the prefix are quoted for the remote shell */
        bool search_path;
};

/* One word for a POSIX shell: '...' with each ' written as '\''. */
static char *shell_quote(const char *s) {
        size_t n = 2;
        for (const char *p = s; *p; p++)
                n += *p == '\'' ? 4 : 1;
        char *q = malloc(n + 1), *o = q;
        if (!q)
                return NULL;
        *o++ = '\'';
        for (const char *p = s; *p; p++) {
                if (*p == '\'') {
                        memcpy(o, "'\\''", 4);
                        o += 4;
                } else
                        *o++ = *p;
        }
        *o++ = '\'';
        *o = '\0';
        return q;
}

static int push_arg(const HostLink *h, char ***v, size_t *n, const char *arg) {
        if (!h->remote)
                return strv_push_dup(v, n, arg);
        char *q = shell_quote(arg);
        if (!q || strv_push(v, n, q) < 0) {
                free(q);
                return -ENOMEM;
        }
        return 0;
}

static bool destination_is_valid(const char *d) {
        if (!d || !*d || d[0] == '-' || strlen(d) > 255)
                return false;
        for (const unsigned char *p = (const unsigned char *) d; *p; p++)
                if (*p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

int hostlink_new(const HostLinkConfig *c, HostLink **ret) {
        if (!c->l4d2ctl || !*c->l4d2ctl || (c->ssh && !destination_is_valid(c->ssh)))
                return -EINVAL;
        HostLink *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        int r = 0;
        h->remote = c->ssh != NULL;
        h->name = strdup(c->ssh ? c->ssh : "local");
        if (!h->name)
                r = -ENOMEM;
        if (r == 0 && h->remote) {
                /* BatchMode: never a password prompt on a thread that cannot
                 * answer it; -T: no terminal, so bytes pass unchanged. */
                const char *ssh[] = { c->ssh_program ? c->ssh_program : "ssh", "-T", "-o", "BatchMode=yes",
                                      "-o", "ServerAliveInterval=15", "--", c->ssh };
                for (size_t i = 0; r == 0 && i < ELEMENTSOF(ssh); i++)
                        r = strv_push_dup(&h->prefix, &h->n_prefix, ssh[i]);
                h->search_path = !strchr(ssh[0], '/');
        } else
                h->search_path = !strchr(c->l4d2ctl, '/');
        if (r == 0)
                r = push_arg(h, &h->prefix, &h->n_prefix, c->l4d2ctl);
        if (r == 0 && c->state_dir) {
                r = push_arg(h, &h->prefix, &h->n_prefix, "--state-dir");
                if (r == 0)
                        r = push_arg(h, &h->prefix, &h->n_prefix, c->state_dir);
        }
        if (r < 0) {
                hostlink_free(h);
                return r;
        }
        *ret = h;
        return 0;
}

void hostlink_free(HostLink *h) {
        if (!h)
                return;
        free(h->name);
        strv_free(h->prefix);
        free(h);
}

const char *hostlink_name(const HostLink *h) {
        return h->name;
}

static HostLink *the_host;

int host_setup(void) {
        /* Here, l4d2ctl shares the panel's state dir; over SSH the host has
         * its own, and its own l4d2ctl. */
        HostLinkConfig c = { .l4d2ctl = config.l4d2ctl, .state_dir = config.state_dir };
        if (config.host_ssh)
                c = (HostLinkConfig) { .l4d2ctl = config.host_l4d2ctl ? config.host_l4d2ctl : "l4d2ctl",
                                       .state_dir = config.host_state_dir,
                                       .ssh = config.host_ssh };
        return hostlink_new(&c, &the_host);
}

HostLink *host(void) {
        return the_host;
}

void host_done(void) {
        hostlink_free(the_host);
        the_host = NULL;
}

int hostlink_argv(const HostLink *h, const char *const args[], char ***ret) {
        _cleanup_strv_ char **v = NULL;
        size_t n = 0;
        for (size_t i = 0; i < h->n_prefix; i++)
                if (strv_push_dup(&v, &n, h->prefix[i]) < 0)
                        return -ENOMEM;
        for (size_t i = 0; args[i]; i++) {
                int r = push_arg(h, &v, &n, args[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

static SpawnOptions options(const HostLink *h) {
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        o.search_path = h->search_path;
        return o;
}

/* stdin_data on a memfd (never a pipe a child could leave half-read while
 * we block writing it), or /dev/null. */
static int stdin_fd(const char *stdin_data) {
        if (!stdin_data) {
                int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                return fd < 0 ? negative_errno() : fd;
        }
        _cleanup_close_ int fd = memfd_create("l4d2ctl-stdin", MFD_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        size_t len = strlen(stdin_data), off = 0;
        while (off < len) {
                ssize_t k = write(fd, stdin_data + off, len - off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                off += (size_t) k;
        }
        if (lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

int hostlink_run(const HostLink *h, const char *const args[], const char *stdin_data, spawn_line_cb cb,
                 void *userdata, int *ret_exit) {
        _cleanup_strv_ char **argv = NULL;
        int r = hostlink_argv(h, args, &argv);
        if (r < 0)
                return r;
        _cleanup_close_ int in = stdin_fd(stdin_data);
        if (in < 0)
                return in;
        SpawnOptions o = options(h);
        o.stdin_fd = in;
        return spawn_lines(argv, &o, cb, userdata, ret_exit);
}

/* Keeps the line that says what went wrong: l4d2ctl's "error: ..." line,
 * else the last line. */
typedef struct LastLine {
        char *text;
        size_t size;
} LastLine;

static int keep_last(const char *line, void *userdata) {
        LastLine *l = userdata;
        if (startswith(line, "error:") || !startswith(l->text, "error:"))
                snprintf(l->text, l->size, "%s", line);
        return 0;
}

/* The document, once its first line came, and what was said before. */
typedef struct JsonCtx {
        char last[256];
        Buf doc;
        bool in_doc;
} JsonCtx;

static int json_line(const char *line, void *userdata) {
        JsonCtx *c = userdata;
        if (!c->in_doc && line[0] == '{')
                c->in_doc = true;
        if (!c->in_doc)
                return keep_last(line, &(LastLine) { c->last, sizeof c->last });
        if (buf_puts(&c->doc, line) < 0 || buf_puts(&c->doc, "\n") < 0)
                return -E2BIG;
        return 0;
}

int hostlink_run_json(const HostLink *h, const char *const args[], const char *stdin_data, json_t **ret,
                      char *err, size_t errsize) {
        JsonCtx c = { .doc = BUF_INIT(HOSTLINK_JSON_MAX) };
        int exit_code = -1;
        int r = hostlink_run(h, args, stdin_data, json_line, &c, &exit_code);
        if (r < 0) {
                snprintf(err, errsize, "could not run l4d2ctl on %s: %s", h->name, strerror(-r));
                buf_free(&c.doc);
                return -EIO;
        }
        if (exit_code != 0) {
                if (c.last[0])
                        snprintf(err, errsize, "%s", c.last);
                else
                        snprintf(err, errsize, "l4d2ctl %s exited with status %d", args[0], exit_code);
                buf_free(&c.doc);
                return -EIO;
        }
        json_t *j = c.doc.data ? json_loads(c.doc.data, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, NULL) : NULL;
        buf_free(&c.doc);
        if (!json_is_object(j)) {
                json_decref(j);
                snprintf(err, errsize, "l4d2ctl %s printed no JSON object", args[0]);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

/* Spawns l4d2ctl args with stdin and stdout as given and stderr on a new
 * pipe (*ret_err); stdout_fd -1 puts stdout on that pipe too. */
static int spawn_piped(const HostLink *h, const char *const args[], int stdin_fd_, int stdout_fd, bool group,
                       pid_t *ret_pid, int *ret_err) {
        _cleanup_strv_ char **argv = NULL;
        int r = hostlink_argv(h, args, &argv);
        if (r < 0)
                return r;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        SpawnOptions o = options(h);
        o.stdin_fd = stdin_fd_;
        o.stdout_fd = stdout_fd >= 0 ? stdout_fd : p[1];
        o.stderr_fd = p[1];
        o.new_session = group;
        r = spawn(argv, &o, ret_pid);
        close(p[1]);
        if (r < 0) {
                close(p[0]);
                return r;
        }
        *ret_err = p[0];
        return 0;
}

int hostlink_spawn(const HostLink *h, const char *const args[], HostStream *ret) {
        _cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        /* Its own group: closing the stream ends l4d2ctl and whatever it
         * started (journalctl, tail), not only the first process. */
        pid_t pid;
        int fd;
        int r = spawn_piped(h, args, devnull, -1, true, &pid, &fd);
        if (r < 0)
                return r;
        *ret = (HostStream) { .pid = pid, .fd = fd };
        return 0;
}

int hostlink_spawn_out(const HostLink *h, const char *const args[], int out_fd, HostStream *ret) {
        _cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        pid_t pid;
        int fd;
        int r = spawn_piped(h, args, devnull, out_fd, true, &pid, &fd);
        if (r < 0)
                return r;
        *ret = (HostStream) { .pid = pid, .fd = fd };
        return 0;
}

void hostlink_stream_close(HostStream *s, int *ret_exit) {
        if (s->fd >= 0)
                close(s->fd);
        if (s->pid > 0) {
                (void) kill(-s->pid, SIGTERM);
                (void) kill(s->pid, SIGTERM);
                (void) spawn_wait(s->pid, ret_exit);
        }
        *s = HOST_STREAM_NULL;
}

int hostlink_pipe(const HostLink *h, const char *const args[], int in_fd, int out_fd, char *err, size_t errsize,
                  int *ret_exit) {
        _cleanup_close_ int devnull_in = in_fd < 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
        _cleanup_close_ int devnull_out = out_fd < 0 ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
        pid_t pid;
        int fd;
        int r = spawn_piped(h, args, in_fd >= 0 ? in_fd : devnull_in, out_fd >= 0 ? out_fd : devnull_out, false,
                            &pid, &fd);
        if (r < 0)
                return r;
        err[0] = '\0';
        read_lines(fd, keep_last, &(LastLine) { err, errsize });
        close(fd);
        return spawn_wait(pid, ret_exit);
}

json_t *hostlink_parse_object(const char *line) {
        if (line[0] != '{')
                return NULL;
        json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
        if (j && !json_is_object(j)) {
                json_decref(j);
                return NULL;
        }
        return j;
}
