/* The one table of every address the panel answers. Every POST is checked
 * for its CSRF token before the handler runs (server.c). */
#include <string.h>

#include "pages.h"
#include "routes.h"

static const Route routes[] = {
        { "GET", "/", page_index, ROUTE_PUBLIC },
        { "GET", "/login", page_login_form, ROUTE_PUBLIC },
        { "POST", "/login", page_login_submit, ROUTE_PUBLIC },
        { "POST", "/logout", page_logout, ROUTE_USER },
        { "GET", "/profile", page_profile, ROUTE_USER },
        { "POST", "/profile/password", page_profile_password, ROUTE_USER },

        { "GET", "/servers", page_servers_list, ROUTE_USER | ROUTE_CACHE },
        { "GET", "/servers/rows", page_servers_rows, ROUTE_USER | ROUTE_CACHE },
        { "GET", "/servers/new", page_server_new, ROUTE_USER },
        { "POST", "/servers", page_server_create, ROUTE_USER },
        { "GET", "/servers/#", page_server_show, ROUTE_USER | ROUTE_CACHE },
        { "GET", "/servers/#/status", page_server_status, ROUTE_USER | ROUTE_CACHE },
        { "GET", "/servers/#/logs", page_server_logs, ROUTE_USER },
        { "POST", "/servers/#/start", page_server_start, ROUTE_USER },
        { "POST", "/servers/#/stop", page_server_stop, ROUTE_USER },
        { "POST", "/servers/#/restart", page_server_restart, ROUTE_USER },
        { "POST", "/servers/#/delete", page_server_delete, ROUTE_USER },
        { "POST", "/servers/#/blueprint", page_server_blueprint, ROUTE_USER },

        { "GET", "/blueprints", page_blueprints_list, ROUTE_USER | ROUTE_CACHE },
        { "GET", "/blueprints/new", page_blueprint_new, ROUTE_USER },
        { "POST", "/blueprints", page_blueprint_create, ROUTE_USER },
        { "GET", "/blueprints/#", page_blueprint_show, ROUTE_USER | ROUTE_CACHE },
        { "POST", "/blueprints/#", page_blueprint_update, ROUTE_USER },
        { "POST", "/blueprints/#/delete", page_blueprint_delete, ROUTE_USER },

        { "GET", "/jobs", page_jobs_list, ROUTE_USER | ROUTE_CACHE },
        { "GET", "/jobs/#", page_job_show, ROUTE_USER | ROUTE_CACHE },
        { "GET", "/jobs/#/events", page_job_events, ROUTE_USER },

        { "GET", "/admin/users", page_admin_users, ROUTE_ADMIN },
        { "POST", "/admin/users", page_admin_user_create, ROUTE_ADMIN },
        { "POST", "/admin/users/#/password", page_admin_user_password, ROUTE_ADMIN },
        { "POST", "/admin/users/#/disable", page_admin_user_disable, ROUTE_ADMIN },
        { "POST", "/admin/users/#/enable", page_admin_user_enable, ROUTE_ADMIN },
        { "GET", "/admin/install", page_admin_install, ROUTE_ADMIN },
        { "POST", "/admin/install", page_admin_install_start, ROUTE_ADMIN },

        { "GET", "/static/*", page_static, ROUTE_NO_SESSION },
};

/* Matches one pattern; ids are 1-18 digits without a leading zero. */
static bool match(const char *pattern, const char *path, int64_t *ret_id, const char **ret_tail) {
        const char *p = pattern, *s = path;
        while (*p) {
                if (*p == '*') {
                        *ret_tail = s;
                        return true;
                }
                if (*p == '#') {
                        if (*s < '1' || *s > '9')
                                return false;
                        int64_t v = 0;
                        int digits = 0;
                        while (*s >= '0' && *s <= '9') {
                                if (++digits > 18)
                                        return false;
                                v = v * 10 + (*s++ - '0');
                        }
                        *ret_id = v;
                        p++;
                        continue;
                }
                if (*p++ != *s++)
                        return false;
        }
        return *s == '\0';
}

const Route *route_find(const char *method, const char *path, int64_t *ret_id, const char **ret_tail,
                        bool *ret_other_method) {
        bool head = streq(method, "HEAD");
        *ret_other_method = false;
        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                int64_t id = 0;
                const char *tail = NULL;
                if (!match(routes[i].pattern, path, &id, &tail))
                        continue;
                if (streq(routes[i].method, method) || (head && streq(routes[i].method, "GET"))) {
                        *ret_id = id;
                        *ret_tail = tail;
                        return &routes[i];
                }
                *ret_other_method = true;
        }
        return NULL;
}
