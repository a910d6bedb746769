#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cache.h"
#include "conns.h"
#include "csrf.h"
#include "db.h"
#include "layout.h"
#include "reqpool.h"
#include "routes.h"
#include "server.h"
#include "session.h"
#include "streams.h"
#include "steam-cdn.h"

static struct MHD_Daemon *daemon_;
static int shutdown_efd = -1;

int shutdown_fd(void) {
        return shutdown_efd;
}

void shutdown_signal(void) {
        uint64_t one = 1;
        if (shutdown_efd >= 0)
                (void) !write(shutdown_efd, &one, sizeof one);
}

void http_security_headers(struct MHD_Response *resp) {
        /* Everything the pages load comes from the panel itself. htmx is
         * configured (meta htmx-config) not to inject inline styles. */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:" STEAM_IMAGE_CSP "; object-src 'none'; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
}

static enum MHD_Result send_response(Req *r) {
        struct MHD_Response *resp = r->custom;
        size_t len = r->out.len;
        if (!resp) {
                if (r->status == 0)
                        r->status = MHD_HTTP_OK;
                /* A page that lost an append is not sent cut short. */
                if (r->out.overflowed)
                        render_error(r, 500, "The page grew past its size limit.");
                /* The page's buffer goes to the response as it is: no copy. */
                len = r->out.len;
                resp = r->out.data ? MHD_create_response_from_buffer(len, r->out.data, MHD_RESPMEM_MUST_FREE)
                                   : MHD_create_response_from_buffer(0, (char *) "", MHD_RESPMEM_PERSISTENT);
                if (!resp)
                        return MHD_NO;
                r->out = (Buf) { 0 }; /* the response frees the data */
                MHD_add_response_header(resp, "Content-Type",
                                        r->content_type ? r->content_type : "text/html; charset=utf-8");
                MHD_add_response_header(resp, "Cache-Control", r->cache_control ? r->cache_control : "no-store");
                http_security_headers(resp);
        } else if (!r->custom_shared)
                http_security_headers(resp); /* an event stream, like every page */
        if (r->location && !r->custom_shared)
                MHD_add_response_header(resp, "Location", r->location);
        for (size_t i = 0; i < r->n_cookies && !r->custom_shared; i++)
                MHD_add_response_header(resp, "Set-Cookie", r->cookies[i]);
        enum MHD_Result ret = MHD_queue_response(r->conn, r->status ? r->status : MHD_HTTP_OK, resp);
        /* MHD holds its own reference while sending; a shared static
         * response keeps the one static.c owns, a cached page gives ours to
         * the cache. */
        if (r->cacheable && !r->custom && (r->status == 0 || r->status == MHD_HTTP_OK) && r->n_cookies == 0 &&
            !r->location && r->authed)
                page_cache_put(r->session_id, r->url, r->gen, resp, len);
        else if (!r->custom_shared)
                MHD_destroy_response(resp);
        r->custom = NULL;
        return ret;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

static bool is_form_type(const char *ct) {
        if (!ct)
                return true; /* an empty body (a button form) may come without one */
        static const char want[] = "application/x-www-form-urlencoded";
        return strncasecmp(ct, want, sizeof want - 1) == 0 &&
               (ct[sizeof want - 1] == '\0' || ct[sizeof want - 1] == ';');
}

/* Checks a POST's body: the form parsed, or the streamed body ready; and
 * the CSRF token. False with the answer made. */
static bool check_body(Req *r, const Route *route) {
        if (r->body_failed) {
                render_error(r, 507, "The upload could not be stored on the panel's host; try again later.");
                return false;
        }
        if (r->body_too_big) {
                char msg[160];
                if (route->body_max)
                        snprintf(msg, sizeof msg, "The body is too large: this address takes at most %zu KiB.",
                                 route->body_max / 1024);
                else
                        snprintf(msg, sizeof msg,
                                 "The form is too large (the limit is %d KiB); shorten the text and send it again.",
                                 BODY_MAX / 1024);
                render_error(r, 413, msg);
                return false;
        }
        if (route->body_max) {
                if (r->body_fd >= 0 && lseek(r->body_fd, 0, SEEK_SET) < 0) {
                        render_error(r, 500, "The upload could not be read back.");
                        return false;
                }
        } else {
                if (!is_form_type(header_get(r, "Content-Type"))) {
                        render_error(r, 415, "Send the form as application/x-www-form-urlencoded.");
                        return false;
                }
                if (form_parse(r->body.data ? r->body.data : "", r->body.len, &r->form) < 0) {
                        form_free(&r->form);
                        render_error(r, 400, "The form data is malformed (bad encoding, too many fields or invalid "
                                             "UTF-8); reload the page and try again.");
                        return false;
                }
        }
        if (!csrf_check(r)) {
                render_error(r, 403, "The form expired or came from another site; reload the page and send it again.");
                return false;
        }
        return true;
}

static void dispatch(Req *r) {
        int64_t id = 0;
        const char *tail = NULL;
        bool other_method = false;
        const Route *route = route_find(r->method, r->url, &id, &tail, &other_method);
        r->id = id;
        r->tail = tail;
        r->route = route;
        r->json = route && (route->flags & ROUTE_JSON);

        if (route && (route->flags & ROUTE_NO_SESSION)) {
                route->fn(r);
                return;
        }
        /* The generations of what this page and the session lookup read,
         * as of now: anything committed later makes the entry stale. */
        db_generations_refresh();
        r->session_gen = db_generation(SESSION_READS);
        r->gen = route ? db_generation(route->reads | DB_USERS) : 0;
        /* A page asked for again with nothing changed since: answer from
         * the cache without touching the database. Only plain addresses
         * (no query string: notices are one-off). */
        if (route && (route->flags & ROUTE_CACHE) && !r->is_post && !r->in_pool &&
            MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) == 0) {
                r->cacheable = true;
                enum MHD_Result ret;
                if (session_load_cached(r) && page_cache_send(r->conn, r->session_id, r->url, r->gen, &ret)) {
                        r->queued = true;
                        r->queued_result = ret;
                        return;
                }
        }
        r->db = db_acquire();
        if (!r->authed)
                session_load(r);
        if (!route) {
                if (other_method) {
                        render_error(r, 405, "This address does not take that kind of request.");
                        return;
                }
                render_not_found(r);
                return;
        }
        if ((route->flags & (ROUTE_USER | ROUTE_ADMIN)) && !r->authed) {
                if (r->is_post)
                        render_error(r, 403, "Log in first.");
                else if (r->json || header_get(r, "HX-Request") ||
                         (header_get(r, "Accept") && strstr(header_get(r, "Accept"), "text/event-stream")))
                        render_error(r, 401, "Log in first.");
                else
                        req_redirect(r, "/login");
                return;
        }
        if ((route->flags & ROUTE_ADMIN) && !r->user.is_admin) {
                render_not_found(r);
                return;
        }
        if (r->is_post && !check_body(r, route))
                return;
        /* A cacheable page only reads (its answer may be sent again). */
        bool snapshot = (route->flags & ROUTE_CACHE) && !r->is_post && db_begin_read(r->db) == 0;
        route->fn(r);
        if (snapshot)
                db_end_read(r->db);
}

/* Behind nginx every peer is 127.0.0.1, which would make the per-address
 * limits useless. With LEFT4ME_TRUST_PROXY=1, the proxy's (loopback) peer
 * hands us the client: the last X-Forwarded-For entry (the one our own
 * proxy appended) is its address, and X-Forwarded-Proto says whether it
 * came over TLS. Anyone else's headers say nothing. */
static void client_behind_proxy(Req *r, const struct sockaddr *peer) {
        if (!conns_peer_is_proxy(peer))
                return;
        const char *proto = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Forwarded-Proto");
        r->tls = proto && strcasecmp(proto, "https") == 0;
        const char *xff = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Forwarded-For");
        if (!xff)
                return;
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        while (*last == ' ')
                last++;
        char buf[64];
        size_t n = strcspn(last, " ");
        if (n == 0 || n >= sizeof buf)
                return;
        memcpy(buf, last, n);
        buf[n] = '\0';
        unsigned char addr[16];
        if (inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1)
                snprintf(r->ip, sizeof r->ip, "%s", buf);
}

/* The handler's part of a request: on the event loop, or on a request
 * thread (then r->in_pool). */
static void handle(Req *r) {
        if (!streq(r->method, "GET") && !streq(r->method, "HEAD") && !streq(r->method, "POST"))
                render_error(r, 405, "This address does not take that kind of request.");
        else
                dispatch(r);
        db_release(r->db);
        r->db = NULL;
}

/* A streamed body may be large (a file upload: gigabytes), so a route
 * that needs a login takes one only from a live session with its CSRF
 * token, checked from the headers before a byte of it is stored: nobody
 * fills the disk without logging in. (dispatch() then answers the refusal
 * as it would anyway: "Log in first", or the token's 403.) */
static bool may_stream_body(Req *r) {
        db_generations_refresh();
        r->session_gen = db_generation(SESSION_READS);
        if (!session_load_cached(r)) {
                r->db = db_acquire();
                session_load(r);
                db_release(r->db);
                r->db = NULL;
        }
        return r->authed && csrf_check(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        Req *r = *con_cls;
        if (!r) {
                r = calloc(1, sizeof *r);
                if (!r)
                        return MHD_NO;
                r->conn = conn;
                r->url = url;
                r->method = method;
                r->is_post = streq(method, "POST");
                r->body.max = BODY_MAX;
                r->body_fd = -1;
                r->out.max = PAGE_MAX;
                /* Where the body goes depends on the route: a form into
                 * memory, anything else into a temp file, each capped. */
                int64_t id;
                const char *tail;
                bool other;
                const Route *route = route_find(method, url, &id, &tail, &other);
                r->body_max = route && route->body_max ? route->body_max : BODY_MAX;
                r->route = route;
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
                if (ci && ci->client_addr) {
                        const struct sockaddr *sa = ci->client_addr;
                        if (sa->sa_family == AF_INET)
                                inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, r->ip, sizeof r->ip);
                        else if (sa->sa_family == AF_INET6)
                                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, r->ip, sizeof r->ip);
                }
                if (!r->ip[0])
                        snprintf(r->ip, sizeof r->ip, "unknown");
                client_behind_proxy(r, ci ? ci->client_addr : NULL);
                const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
                conns_head_done(conn, (cl && !streq(cl, "0")) ||
                                              MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding"));
                long n;
                if (cl && (parse_long(cl, 0, (long) r->body_max, &n) < 0))
                        r->body_too_big = true;
                if (route && route->body_max && r->is_post && !r->body_too_big) {
                        if ((route->flags & (ROUTE_USER | ROUTE_ADMIN)) && !may_stream_body(r))
                                r->body_refused = true;
                        else if ((r->body_fd = req_body_tmpfile()) < 0)
                                r->body_failed = true;
                }
                *con_cls = r;
                return MHD_YES;
        }
        if (*upload_data_size) {
                size_t n = *upload_data_size;
                if (r->body_too_big || r->body_failed || r->body_refused)
                        ; /* read and dropped */
                else if (r->body_fd < 0) {
                        if (buf_append(&r->body, upload_data, n) < 0)
                                r->body_too_big = true;
                } else if (r->body_len + n > r->body_max)
                        r->body_too_big = true;
                else if (write_all(r->body_fd, upload_data, n) < 0)
                        r->body_failed = true;
                else
                        r->body_len += n;
                /* A body a little too long still gets its 413 page; one
                 * that goes on and on only holds a thread: hang up. */
                r->body_seen += n;
                conns_body_progress(conn, r->body_seen);
                if ((r->body_too_big || r->body_failed) && r->body_seen > r->body_max + BODY_DRAIN_MAX)
                        return MHD_NO;
                if (r->body_refused && r->body_seen > BODY_DRAIN_MAX)
                        return MHD_NO;
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (r->pooled_done)
                return send_response(r); /* back from a request thread */
        conns_body_done(conn);
        /* What may block goes to the request threads; pages render here. */
        const Route *route = r->route;
        if (r->is_post || (route && (route->flags & ROUTE_SLOW))) {
                r->in_pool = true;
                int k = reqpool_run(r, handle);
                if (k == 0)
                        return MHD_YES; /* suspended; answered when resumed */
                r->in_pool = false;
                render_error(r, 503, k == -ESHUTDOWN ? "The panel is shutting down; try again in a moment."
                                                     : "The panel is busy; try again in a moment.");
                return send_response(r);
        }
        handle(r);
        if (r->queued)
                return r->queued_result;
        return send_response(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
        Req *r = *con_cls;
        conns_response_done(conn); /* the next request's head has its deadline */
        if (!r)
                return;
        buf_free(&r->body);
        if (r->body_fd >= 0)
                close(r->body_fd);
        buf_free(&r->out);
        form_free(&r->form);
        free(r->location);
        for (size_t i = 0; i < r->n_cookies; i++)
                free(r->cookies[i]);
        if (r->custom && !r->custom_shared)
                MHD_destroy_response(r->custom);
        free(r);
        *con_cls = NULL;
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap) {
        fputs("left4me: http: ", stderr);
        vfprintf(stderr, fmt, ap);
}

/* Many idle connections are many descriptors: take what the system allows
 * (systemd's default soft limit is 1024, its hard limit far higher). */
static void raise_fd_limit(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max > 1048576 ? 1048576 : rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
}

int http_start(void) {
        shutdown_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (shutdown_efd < 0)
                return negative_errno();
        raise_fd_limit();

        struct sockaddr_storage ss = { 0 };
        struct sockaddr_in *in4 = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
        /* Event loops (epoll), not a thread per connection: an idle or
         * slow connection costs a descriptor and a little memory, never a
         * thread. Streams and requests on the request threads are
         * suspended connections, which no loop polls. */
        /* TURBO: optimistic reads and writes without waiting for epoll to
         * say the socket is ready, and no shutdown() before close (the
         * server list uncached: 5-10 % more requests a second in an A/B of
         * the same build, bench/panel's setup). */
        unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                         MHD_USE_TURBO;
        if (inet_pton(AF_INET, config.listen_host, &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons(config.port);
        } else if (inet_pton(AF_INET6, config.listen_host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(config.port);
                flags |= MHD_USE_IPv6;
        } else
                return -EINVAL; /* a numeric address only: no DNS at start */

        int r = conns_start();
        if (r < 0)
                return r;
        r = streams_start();
        if (r < 0)
                return r;
        r = reqpool_start(config.request_threads);
        if (r < 0)
                return r;
        /* Per-address limits are ours (conns.c), so that the trusted
         * proxy, and only it, can be exempt. */
        daemon_ = MHD_start_daemon(flags, config.port, conns_accept, NULL, on_request, NULL,
                                   MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
                                   MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                   MHD_OPTION_NOTIFY_CONNECTION, conns_notify, NULL,
                                   MHD_OPTION_THREAD_POOL_SIZE, config.http_threads > 1 ? config.http_threads : 0,
                                   MHD_OPTION_CONNECTION_LIMIT, config.max_connections,
                                   MHD_OPTION_CONNECTION_TIMEOUT, config.idle_timeout,
                                   /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: it sets
                                    * SO_REUSEPORT, and a second panel on the same port
                                    * then shares it (logins fail at random). MHD's
                                    * default, SO_REUSEADDR, only survives TIME_WAIT. */
                                   MHD_OPTION_END);
        return daemon_ ? 0 : -EADDRINUSE;
}

void http_stop(void) {
        shutdown_signal();
        /* No new connections; then nothing may stay suspended when the
         * daemon stops: streams end (and are resumed), queued handlers
         * run and resume theirs. */
        MHD_socket listen_fd = daemon_ ? MHD_quiesce_daemon(daemon_) : MHD_INVALID_SOCKET;
        streams_shutdown();
        reqpool_stop();
        if (daemon_)
                MHD_stop_daemon(daemon_);
        daemon_ = NULL;
        if (listen_fd != MHD_INVALID_SOCKET)
                close(listen_fd);
        streams_done();
        conns_stop();
}
