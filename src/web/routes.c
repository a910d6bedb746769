/* The one table of every address the panel answers. Every POST is checked
 * for its CSRF token before the handler runs (server.c). */
#include <string.h>

#include "pages.h"
#include "routes.h"

/* What the cached pages read (their svc-*.c calls), so that a write to
 * another table keeps them: the watch's server state never touches the
 * blueprint and job pages. The user (DB_USERS) is added for every page. */
#define SERVER_LIST (DB_SERVERS | DB_SERVER_STATE | DB_BLUEPRINTS)
#define SERVER_PAGE (SERVER_LIST | DB_JOBS | DB_SERVER_EVENTS | DB_BUILDS | DB_PLAYERS | DB_CONSOLE)
#define BLUEPRINT_PAGE (DB_BLUEPRINTS | DB_SERVERS | DB_OVERLAYS)
#define JOB_PAGE (DB_JOBS | DB_JOB_LINES)
/* One file uploaded into a files overlay: the host's own limit
 * (LEFT4ME_FILES_MAX_FILE_SIZE, 4 GiB by default) is what users meet; this
 * is the panel's bound on a temp file, above any sane host limit. */
#define FILES_UPLOAD_MAX ((size_t) 16 << 30)

static const Route routes[] = {
        { "GET", "/", page_index, ROUTE_PUBLIC, 0, 0 },
        { "GET", "/login", page_login_form, ROUTE_PUBLIC, 0, 0 },
        { "POST", "/login", page_login_submit, ROUTE_PUBLIC, 0, 0 },
        { "POST", "/logout", page_logout, ROUTE_USER, 0, 0 },
        { "GET", "/profile", page_profile, ROUTE_USER, 0, 0 },
        { "POST", "/profile/password", page_profile_password, ROUTE_USER, 0, 0 },

        { "GET", "/servers", page_servers_list, ROUTE_USER | ROUTE_CACHE, SERVER_LIST | DB_JOBS, 0 },
        { "GET", "/servers/rows", page_servers_rows, ROUTE_USER | ROUTE_CACHE, SERVER_LIST, 0 },
        { "GET", "/servers/new", page_server_new, ROUTE_USER, 0, 0 },
        { "POST", "/servers", page_server_create, ROUTE_USER, 0, 0 },
        { "GET", "/servers/#", page_server_show, ROUTE_USER | ROUTE_CACHE, SERVER_PAGE, 0 },
        { "GET", "/servers/#/status", page_server_status, ROUTE_USER | ROUTE_CACHE, SERVER_LIST | DB_JOBS, 0 },
        { "GET", "/servers/#/logs", page_server_logs, ROUTE_USER, 0, 0 },
        { "POST", "/servers/#/start", page_server_start, ROUTE_USER, 0, 0 },
        { "POST", "/servers/#/stop", page_server_stop, ROUTE_USER, 0, 0 },
        { "POST", "/servers/#/restart", page_server_restart, ROUTE_USER, 0, 0 },
        { "POST", "/servers/#/delete", page_server_delete, ROUTE_USER, 0, 0 },
        { "POST", "/servers/#/blueprint", page_server_blueprint, ROUTE_USER, 0, 0 },
        { "POST", "/servers/#/pin", page_server_pin, ROUTE_USER, 0, 0 },
        { "POST", "/servers/#/console", page_server_console, ROUTE_USER, 0, 0 },
        { "GET", "/servers/#/players", page_server_players, ROUTE_USER, 0, 0 },
        { "GET", "/players/avatar/#", page_player_avatar, ROUTE_USER, 0, 0 },

        { "GET", "/blueprints", page_blueprints_list, ROUTE_USER | ROUTE_CACHE, BLUEPRINT_PAGE, 0 },
        { "GET", "/blueprints/new", page_blueprint_new, ROUTE_USER, 0, 0 },
        { "POST", "/blueprints", page_blueprint_create, ROUTE_USER, 0, 0 },
        { "GET", "/blueprints/#", page_blueprint_show, ROUTE_USER | ROUTE_CACHE, BLUEPRINT_PAGE, 0 },
        { "POST", "/blueprints/#", page_blueprint_update, ROUTE_USER, 0, 0 },
        { "POST", "/blueprints/#/delete", page_blueprint_delete, ROUTE_USER, 0, 0 },

        /* Overlays: what the host says is part of every page, so none is
         * cached, and the GETs wait for l4d2ctl (ROUTE_SLOW: on a request
         * thread, not an event loop); each handler does the owner check
         * (page-overlays.h). */
        { "GET", "/overlays", page_overlays_list, ROUTE_USER | ROUTE_SLOW, 0, 0 },
        { "POST", "/overlays", page_overlay_create, ROUTE_USER, 0, 0 },
        { "POST", "/overlays/refresh", page_overlays_refresh, ROUTE_ADMIN, 0, 0 },
        { "GET", "/overlays/#", page_overlay_show, ROUTE_USER | ROUTE_SLOW, 0, 0 },
        { "POST", "/overlays/#/build", page_overlay_build, ROUTE_USER, 0, 0 },
        { "POST", "/overlays/#/delete", page_overlay_delete, ROUTE_USER, 0, 0 },
        { "POST", "/overlays/#/workshop/add", page_overlay_workshop_add, ROUTE_USER, 0, 0 },
        { "POST", "/overlays/#/workshop/remove", page_overlay_workshop_remove, ROUTE_USER, 0, 0 },
        { "GET", "/servers/#/overlay-news", page_server_overlay_news, ROUTE_USER | ROUTE_SLOW, 0, 0 },
        /* The files view (page-overlay-files*.c): JSON for static/files.js;
         * an upload is the body itself, streamed to disk. */
        { "GET", "/overlays/#/files/ls", page_overlay_files_ls, ROUTE_USER | ROUTE_JSON | ROUTE_SLOW, 0, 0 },
        { "GET", "/overlays/#/files/get", page_overlay_files_get, ROUTE_USER | ROUTE_SLOW, 0, 0 },
        { "GET", "/overlays/#/files/zip", page_overlay_files_zip, ROUTE_USER | ROUTE_SLOW, 0, 0 },
        { "POST", "/overlays/#/files/put", page_overlay_files_put, ROUTE_USER | ROUTE_JSON, 0, FILES_UPLOAD_MAX },
        { "POST", "/overlays/#/files/mkdir", page_overlay_files_mkdir, ROUTE_USER | ROUTE_JSON, 0, 0 },
        { "POST", "/overlays/#/files/mv", page_overlay_files_mv, ROUTE_USER | ROUTE_JSON, 0, 0 },
        { "POST", "/overlays/#/files/rm", page_overlay_files_rm, ROUTE_USER | ROUTE_JSON, 0, 0 },
        /* The script view (page-overlay-script.c): a script of up to 1 MiB,
         * form-encoded (up to three bytes each). */
        { "POST", "/overlays/#/script", page_overlay_script_save, ROUTE_USER | ROUTE_JSON, 0, 4 * 1024 * 1024 },

        { "GET", "/jobs", page_jobs_list, ROUTE_USER | ROUTE_CACHE, DB_JOBS, 0 },
        { "GET", "/jobs/#", page_job_show, ROUTE_USER | ROUTE_CACHE, JOB_PAGE, 0 },
        { "GET", "/jobs/#/events", page_job_events, ROUTE_USER, 0, 0 },
        { "GET", "/jobs/#/reach", page_job_reach, ROUTE_USER, 0, 0 },

        { "GET", "/admin/users", page_admin_users, ROUTE_ADMIN, 0, 0 },
        { "POST", "/admin/users", page_admin_user_create, ROUTE_ADMIN, 0, 0 },
        { "POST", "/admin/users/#/password", page_admin_user_password, ROUTE_ADMIN, 0, 0 },
        { "GET", "/admin/users/#/password", page_admin_user_password_shown, ROUTE_ADMIN, 0, 0 },
        { "POST", "/admin/users/#/delete", page_admin_user_delete, ROUTE_ADMIN, 0, 0 },
        { "POST", "/admin/users/#/disable", page_admin_user_disable, ROUTE_ADMIN, 0, 0 },
        { "POST", "/admin/users/#/enable", page_admin_user_enable, ROUTE_ADMIN, 0, 0 },
        { "GET", "/admin/install", page_admin_install, ROUTE_ADMIN, 0, 0 },
        { "POST", "/admin/install", page_admin_install_start, ROUTE_ADMIN, 0, 0 },
        { "GET", "/admin/builds", page_admin_builds, ROUTE_ADMIN | ROUTE_CACHE, DB_BUILDS | DB_SERVERS, 0 },
        { "POST", "/admin/builds/check", page_admin_builds_check, ROUTE_ADMIN, 0, 0 },

        { "POST", "/api/blueprints", api_blueprint_create, ROUTE_USER | ROUTE_JSON, 0, 64 * 1024 },

        { "GET", "/static/*", page_static, ROUTE_NO_SESSION, 0, 0 },
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
