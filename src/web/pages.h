/* Every page handler, one file per page (page-*.c). routes.c maps addresses
 * to them. A handler that takes an id gets it in r->id and must answer
 * render_not_found() for an object the user does not own. */
#pragma once

#include "web.h"

void page_index(Req *r);
void page_login_form(Req *r);
void page_login_submit(Req *r);
void page_logout(Req *r);

void page_profile(Req *r);
void page_profile_password(Req *r);

void page_servers_list(Req *r);
void page_servers_rows(Req *r);
void page_server_new(Req *r);
void page_server_create(Req *r);
void page_server_show(Req *r);
void page_server_status(Req *r);
void page_server_start(Req *r);
void page_server_stop(Req *r);
void page_server_restart(Req *r);
void page_server_delete(Req *r);
void page_server_blueprint(Req *r);
void page_server_logs(Req *r);
void page_server_console(Req *r);
void page_server_players(Req *r);
void page_player_avatar(Req *r);

void page_blueprints_list(Req *r);
void page_blueprint_new(Req *r);
void page_blueprint_create(Req *r);
void page_blueprint_show(Req *r);
void page_blueprint_update(Req *r);
void page_blueprint_delete(Req *r);

void page_jobs_list(Req *r);
void page_job_show(Req *r);
void page_job_events(Req *r);
void page_job_reach(Req *r);

void page_admin_users(Req *r);
void page_admin_user_create(Req *r);
void page_admin_user_password(Req *r);
void page_admin_user_password_shown(Req *r);
void page_admin_user_delete(Req *r);
void page_admin_user_disable(Req *r);
void page_admin_user_enable(Req *r);
void page_admin_install(Req *r);
void page_admin_install_start(Req *r);

/* page-builds.c: the game builds (issue 14) */
void page_admin_builds(Req *r);
void page_admin_builds_check(Req *r);
void page_server_pin(Req *r);
struct Server;
void server_build_section(Req *r, const struct Server *v);
void page_overlays_list(Req *r);
void page_overlay_create(Req *r);
void page_overlays_refresh(Req *r);
void page_overlay_show(Req *r);
void page_overlay_build(Req *r);
void page_overlay_delete(Req *r);
void page_overlay_workshop_add(Req *r);
void page_overlay_workshop_remove(Req *r);
void page_server_overlay_news(Req *r);
void page_overlay_files_ls(Req *r);
void page_overlay_files_get(Req *r);
void page_overlay_files_zip(Req *r);
void page_overlay_files_put(Req *r);
void page_overlay_files_mkdir(Req *r);
void page_overlay_files_mv(Req *r);
void page_overlay_files_rm(Req *r);
void page_overlay_script_save(Req *r);

void page_static(Req *r);

/* page-attempts.c: the admin's view of failed password checks, a section
 * of the users page. */
void admin_attempts_section(Req *r);

/* Markup more than one page shows. */
void server_state_badge(Buf *b, const char *state, bool deleting, const char *drift);
const char *server_state_words(const char *state);

/* The JSON API (api-*.c): the same rules, tables and owner checks. */
void api_blueprint_create(Req *r);
