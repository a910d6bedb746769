/* Admin pages: users (create, reset password, disable/enable) and the game
 * installation job. Routes mark them ROUTE_ADMIN; others get a 404. */
#include <sodium.h>
#include <string.h>

#include "svc-accounts.h"
#include "html.h"
#include "jobs.h"
#include "layout.h"
#include "pages.h"
#include "random.h"
#include "session.h"

static void users_page(Req *r, const FieldErrors *e, const char *shown_user, const char *shown_password) {
        Buf *b = &r->out;
        page_begin(r, "Users");
        if (shown_password) {
                html_raw(b, "<p class=\"notice\" role=\"status\">The password of <strong>");
                html_txt(b, shown_user);
                html_raw(b, "</strong> is now <code id=\"new-password\">");
                html_txt(b, shown_password);
                html_raw(b, "</code>. It is shown only this once; pass it on safely.</p>\n");
        }
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (accounts_list(&it, r->db) < 0) {
                render_error(r, 500, "The database is busy; try again.");
                return;
        }
        html_raw(b, "<table class=\"list\">\n<thead><tr><th>User</th><th>Role</th><th>State</th><th>Sessions</th>"
                    "<th>Actions</th></tr></thead>\n<tbody>\n");
        char action[80];
        AccountRow u;
        while (account_next(&it, &u)) {
                html_raw(b, "<tr><td data-label=\"User\">");
                html_txt(b, u.username);
                html_raw(b, "</td><td data-label=\"Role\">");
                if (u.is_admin)
                        html_raw(b, "admin");
                else
                        html_raw(b, "user");
                html_raw(b, "</td><td data-label=\"State\">");
                if (u.disabled)
                        html_raw(b, "disabled");
                else
                        html_raw(b, "active");
                html_raw(b, "</td><td data-label=\"Sessions\">");
                html_int(b, u.sessions);
                html_raw(b, "</td><td data-label=\"Actions\">\n");
                button_form(r, path_id(action, sizeof action, "/admin/users", u.id, "/password"), "Reset password",
                            NULL);
                if (u.id != r->user.id) {
                        if (u.disabled)
                                button_form(r, path_id(action, sizeof action, "/admin/users", u.id, "/enable"),
                                            "Enable", NULL);
                        else
                                button_form(r, path_id(action, sizeof action, "/admin/users", u.id, "/disable"),
                                            "Disable", "danger");
                }
                html_raw(b, "</td></tr>\n");
        }
        html_raw(b, "</tbody>\n</table>\n<h2>New user</h2>\n");
        bool typed = e && e->n;
        form_open(r, "/admin/users", "card narrow");
        field_input(r, "Username", "username", "text", typed ? form_get(r, "username") : NULL, e, USERNAME_MAX, NULL);
        field_input(r, "Password", "password", "password", NULL, e, PASSWORD_MAX,
                    "Leave empty to generate one; it is shown once.");
        html_raw(b, "<div class=\"field check\"><input id=\"f-admin\" type=\"checkbox\" name=\"admin\" value=\"1\"");
        if (typed && form_get(r, "admin"))
                html_raw(b, " checked");
        html_raw(b, "><label for=\"f-admin\">Administrator</label></div>\n<button type=\"submit\">Create user</button>\n");
        form_close(r);
        page_end(r);
}

void page_admin_users(Req *r) {
        users_page(r, NULL, NULL, NULL);
}

void page_admin_user_create(Req *r) {
        const char *name = form_get(r, "username"), *pw = form_get(r, "password");
        name = name ? name : "";
        pw = pw ? pw : "";
        FieldErrors e = { 0 };
        const char *m = username_problem(name);
        if (m)
                errors_add(&e, "username", "%s", m);
        char generated[21] = "";
        if (!*pw) {
                if (random_alnum(generated, sizeof generated) < 0) {
                        render_error(r, 500, "Could not generate a password.");
                        return;
                }
                pw = generated;
        } else if ((m = password_problem(pw)))
                errors_add(&e, "password", "%s", m);
        if (!e.n) {
                int k = account_create(r->db, name, pw, form_get(r, "admin") != NULL, NULL);
                if (k == 0) {
                        if (generated[0])
                                users_page(r, NULL, name, generated);
                        else
                                req_redirect(r, "/admin/users?notice=created");
                        return;
                }
                if (k == -EEXIST)
                        errors_add(&e, "username", "This username is taken.");
                else {
                        render_error(r, 500, "Could not create the user; try again.");
                        return;
                }
        }
        r->status = 422;
        users_page(r, &e, NULL, NULL);
}

void page_admin_user_password(Req *r) {
        char name[USERNAME_MAX + 1], pw[21];
        if (account_name(r->db, r->id, name) < 0) {
                render_not_found(r);
                return;
        }
        /* Every session of the account ends. An admin resetting their own
         * password stays logged in here, under a new session token, as on
         * the profile page: a stolen copy of the old cookie dies too. */
        if (random_alnum(pw, sizeof pw) < 0 || account_set_password(r->db, r->id, pw, 0) < 0) {
                render_error(r, 500, "Could not reset the password; try again.");
                return;
        }
        if (r->id == r->user.id) {
                User self = r->user;
                if (session_create(r, &self) < 0) {
                        render_error(r, 500, "The password was reset, but a new session could not start; log in "
                                             "again.");
                        return;
                }
        }
        users_page(r, NULL, name, pw);
        sodium_memzero(pw, sizeof pw);
}

static void set_disabled(Req *r, bool disabled) {
        char name[USERNAME_MAX + 1];
        if (account_name(r->db, r->id, name) < 0) {
                render_not_found(r);
                return;
        }
        if (r->id == r->user.id) {
                render_error(r, 409, "You cannot disable your own account.");
                return;
        }
        if (account_set_disabled(r->db, r->id, disabled) < 0) {
                render_error(r, 500, "Could not change the account; try again.");
                return;
        }
        req_redirect(r, "/admin/users?notice=saved");
}

void page_admin_user_disable(Req *r) {
        set_disabled(r, true);
}

void page_admin_user_enable(Req *r) {
        set_disabled(r, false);
}

void page_admin_install(Req *r) {
        Buf *b = &r->out;
        page_begin(r, "Game installation");
        html_raw(b, "<p>Installs or updates Left 4 Dead 2 (app 222860) with steamcmd. All servers share this one "
                    "installation.</p>\n");
        JobRow j;
        if (job_latest(r->db, job_install.name, &j) == 0) {
                char href[64];
                html_raw(b, "<p>Last installation: <a href=\"");
                html_attr(b, path_id(href, sizeof href, "/jobs", j.id, NULL));
                html_raw(b, "\">job #");
                html_int(b, j.id);
                html_raw(b, "</a> <span class=\"badge job-");
                html_attr(b, j.state);
                html_raw(b, "\">");
                html_txt(b, j.state);
                html_raw(b, "</span> ");
                html_txt(b, j.result);
                html_raw(b, "</p>\n");
        }
        form_open(r, "/admin/install", NULL);
        html_raw(b, "<button type=\"submit\">Install or update the game</button>\n");
        form_close(r);
        page_end(r);
}

void page_admin_install_start(Req *r) {
        int64_t id;
        if (jobs_request(r->db, &r->user, job_install.name, NULL, &id) < 0) {
                render_error(r, 500, "Could not queue the installation; try again.");
                return;
        }
        char href[64];
        req_redirect(r, path_id(href, sizeof href, "/jobs", id, NULL));
}
