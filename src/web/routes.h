#pragma once

#include "db.h"
#include "web.h"

enum {
        ROUTE_PUBLIC = 0,
        ROUTE_USER = 1 << 0,       /* needs a login */
        ROUTE_ADMIN = 1 << 1,      /* needs an admin (others get 404) */
        ROUTE_NO_SESSION = 1 << 2, /* static files: no database at all */
        ROUTE_CACHE = 1 << 3,      /* a GET whose page may be cached (cache.h) */
        ROUTE_JSON = 1 << 4,       /* answers JSON, errors included */
        ROUTE_SLOW = 1 << 5,       /* a GET whose handler may block (a host call, a large file):
                                    * it runs on the request threads like every POST, never on
                                    * an event loop (server.c) */
};

typedef struct Route {
        const char *method;
        const char *pattern; /* '#' matches a positive id, a final '*' the rest */
        handler_fn fn;
        unsigned flags;
        unsigned reads;      /* ROUTE_CACHE: the tables the page reads (DB_*, db.h) */
        size_t body_max;     /* 0: a POST body is a form, at most BODY_MAX, in memory. Else the
                              * body is any bytes, streamed to a temp file as it arrives
                              * (r->body_fd), at most body_max: past it 413, and far past it
                              * (BODY_DRAIN_MAX more) the connection is closed. The CSRF
                              * token then comes in the X-CSRF-Token header. */
} Route;

/* Finds the route for method and path. Fills *ret_id and *ret_tail. Sets
 * *ret_other_method when the path exists for another method. */
const Route *route_find(const char *method, const char *path, int64_t *ret_id, const char **ret_tail,
                        bool *ret_other_method);
