/* Types shared by every part of the panel: the configuration, the request a
 * handler works on, and the logged-in user. A request is handled by one
 * thread at a time (its event loop, or a request thread while its
 * connection is suspended: server.c, reqpool.h), so a Req is never shared. */
#pragma once

#include <jansson.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "strutil.h"

/* Caps on what a client can send or make us hold. */
#define BODY_MAX (64 * 1024)    /* a form body; past it: 413 */
#define BODY_DRAIN_MAX (1024 * 1024) /* this far past a body's cap the connection is closed */
#define PAGE_MAX (4 * 1024 * 1024)
#define FORM_FIELDS_MAX 64
#define USERNAME_MAX 32
#define PASSWORD_MIN 10
#define PASSWORD_MAX 256
#define TITLE_MAX 64          /* display names of servers and blueprints */
#define TEXTAREA_MAX 16384

typedef struct Config {
        char *state_dir;
        char *listen_host;
        uint16_t port;
        char *l4d2ctl;          /* path of the l4d2ctl binary (this host) */
        char *host_ssh;         /* NULL: l4d2ctl runs here; else its SSH destination */
        char *host_l4d2ctl;     /* l4d2ctl on the SSH host (default: found in PATH there) */
        char *host_state_dir;   /* --state-dir on the SSH host (default: its own) */
        char *static_dir;       /* style.css, app.js */
        char *htmx_path;        /* htmx.min.js */
        int cookie_secure;      /* COOKIE_SECURE_*: when cookies get Secure */
        bool trust_proxy;       /* a loopback peer (127.0.0.1, ::1) is our reverse
                                 * proxy: the client is the last X-Forwarded-For
                                 * entry, TLS is X-Forwarded-Proto: https */
        unsigned workers;       /* job worker threads */
        unsigned poll_ms;       /* the watch's interval (l4d2ctl watch --interval) */
        unsigned update_ms;     /* the fleet's update run (issue 14), 0 = never */
        unsigned update_migrate_ms; /* migration passes while servers wait to move */
        unsigned max_connections;     /* open at once, panel-wide */
        unsigned max_per_address;     /* open at once from one address (the proxy: no limit) */
        unsigned http_threads;        /* event loops (libmicrohttpd's epoll thread pool) */
        unsigned request_threads;     /* threads for handlers that may block (POSTs) */
        unsigned header_timeout;      /* s: a request's head must have arrived by then */
        unsigned body_timeout;        /* s: a body's deadline (+1 s per BODY_MIN_RATE bytes) */
        unsigned idle_timeout;        /* s: a connection with nothing to do */
        unsigned password_hashes;     /* argon2id hashes at once (throttle.c) */
} Config;

enum { COOKIE_SECURE_AUTO, COOKIE_SECURE_ALWAYS, COOKIE_SECURE_NEVER };
#define BODY_MIN_RATE (64 * 1024) /* bytes a second a slow upload must keep up, past body_timeout */

/* Set once by main before any thread starts; read-only afterwards. */
extern Config config;

typedef struct User {
        int64_t id;
        char username[USERNAME_MAX + 1];
        bool is_admin;
} User;

typedef struct FormField {
        char *key, *value;
} FormField;

typedef struct Form {
        FormField f[FORM_FIELDS_MAX];
        size_t n;
} Form;

/* Field errors of a submitted form, shown next to their fields. */
typedef struct FieldErrors {
        const char *field[16];
        char msg[16][400];
        size_t n;
} FieldErrors;

struct Route;

typedef struct Req {
        struct MHD_Connection *conn;
        const char *method, *url;
        const struct Route *route; /* NULL: no such address */
        char ip[64];
        bool tls;               /* came over TLS (through the trusted proxy) */
        bool is_post;
        bool json;              /* the route answers JSON (errors too) */
        Buf body;               /* a form body, in memory */
        int body_fd;            /* a streamed body (route->body_max): an unnamed temp file, at offset 0 */
        size_t body_len;        /* its length */
        size_t body_max;        /* the route's cap */
        size_t body_seen;       /* bytes of body received, kept or not */
        bool body_too_big;
        bool body_failed;       /* the temp file could not be written */
        bool body_refused;      /* a streamed body without a session and its token: not stored */
        Form form;
        bool form_bad;

        sqlite3 *db;            /* borrowed from the pool for this request */
        bool authed;
        User user;
        int64_t session_id;
        char csrf[65];

        uint64_t gen;           /* the generation of the tables the page reads, at its start */
        uint64_t session_gen;   /* the same for the session lookup */
        bool cacheable;         /* the answer may go to the page cache */
        bool queued;            /* a response was queued already (cache hit) */
        bool in_pool;           /* the handler runs on a request thread (reqpool.h) */
        bool pooled_done;       /* ... and has finished: send the answer */
        enum MHD_Result queued_result;

        int64_t id;             /* the numeric path parameter, if any */
        const char *tail;       /* the rest of a /static/ path */

        /* The response a handler builds. */
        unsigned status;
        Buf out;
        const char *content_type;
        char *location;
        char *cookies[3];
        size_t n_cookies;
        const char *cache_control;
        struct MHD_Response *custom; /* a handler-made response (SSE, static) */
        bool custom_shared;          /* custom belongs to someone else (static.c) */
} Req;

typedef void (*handler_fn)(Req *r);

/* req.c: reading the request and shaping the response. */
const char *form_get(const Req *r, const char *key);
const char *query_get(const Req *r, const char *key);
const char *header_get(const Req *r, const char *key);
const char *cookie_get(const Req *r, const char *key);
int form_parse(const char *body, size_t len, Form *ret);
void form_free(Form *f);
bool utf8_is_valid(const char *s);
void req_redirect(Req *r, const char *location);
/* Answers a JSON value (takes j) with the status. */
void req_json(Req *r, unsigned status, json_t *j);
/* An unnamed temporary file for a streamed body (O_TMPFILE in the state
 * dir: on disk, gone when closed). */
int req_body_tmpfile(void);
void req_set_cookie(Req *r, const char *name, const char *value, long max_age);
void errors_add(FieldErrors *e, const char *field, const char *fmt, ...) _printf_(3, 4);
const char *errors_get(const FieldErrors *e, const char *field);
int64_t now_sec(void);
