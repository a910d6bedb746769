/* Admin pages: users (create, reset password, disable/enable, delete) and
 * the game installation. Routes mark them ROUTE_ADMIN; others get a 404.
 *
 * Every action redirects (POST, then GET), so a reload never does it
 * again. What it did is said once on the next page: a note kept for the
 * admin's session, in memory. A new password is shown on its own page,
 * /admin/users/N/password, for that session and 10 minutes, then
 * forgotten; the panel never stores it. */
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "html.h"
#include "jobs.h"
#include "layout.h"
#include "pages.h"
#include "random.h"
#include "svc-accounts.h"
#include "svc-blueprints.h"
#include "svc-servers.h"

#define NOTES_MAX 32
#define PASSWORD_SHOWN_SEC 600

typedef struct Note {
        int64_t session_id; /* 0: free */
        int64_t user_id;    /* whom it is about */
        int64_t until;      /* the password is forgotten then */
        char text[256];     /* said once on /admin/users */
        char password[21];  /* a new password, or "" */
} Note;

static pthread_mutex_t notes_lock = PTHREAD_MUTEX_INITIALIZER;
static Note notes[NOTES_MAX];

static void note_clear(Note *n) {
        sodium_memzero(n, sizeof *n);
}

/* Keeps what the admin's next page says (one note a session: the newest). */
static void note_set(const Req *r, int64_t user_id, const char *password, const char *fmt, ...) _printf_(4, 5);
static void note_set(const Req *r, int64_t user_id, const char *password, const char *fmt, ...) {
        int64_t now = now_sec();
        pthread_mutex_lock(&notes_lock);
        Note *slot = NULL, *oldest = &notes[0];
        for (size_t i = 0; i < NOTES_MAX; i++) {
                Note *n = &notes[i];
                if (n->session_id && n->until < now)
                        note_clear(n);
                if (n->session_id == r->session_id || (!slot && !n->session_id))
                        slot = n;
                if (n->until < oldest->until)
                        oldest = n;
        }
        slot = slot ? slot : oldest;
        note_clear(slot);
        *slot = (Note) { .session_id = r->session_id, .user_id = user_id, .until = now + PASSWORD_SHOWN_SEC };
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(slot->text, sizeof slot->text, fmt, ap);
        va_end(ap);
        snprintf(slot->password, sizeof slot->password, "%s", password ? password : "");
        pthread_mutex_unlock(&notes_lock);
}

/* The note's text for /admin/users, once. */
static bool note_take_text(const Req *r, char *buf, size_t size) {
        bool found = false;
        pthread_mutex_lock(&notes_lock);
        for (size_t i = 0; i < NOTES_MAX; i++) {
                Note *n = &notes[i];
                if (n->session_id != r->session_id || !n->text[0] || n->until < now_sec())
                        continue;
                snprintf(buf, size, "%s", n->text);
                n->text[0] = '\0';
                if (!n->password[0])
                        note_clear(n);
                found = true;
        }
        pthread_mutex_unlock(&notes_lock);
        return found;
}

/* The new password of user_id this session was given, while it is kept. */
static bool note_password(const Req *r, int64_t user_id, char password[21]) {
        bool found = false;
        pthread_mutex_lock(&notes_lock);
        for (size_t i = 0; i < NOTES_MAX; i++) {
                Note *n = &notes[i];
                if (n->session_id == r->session_id && n->user_id == user_id && n->password[0] &&
                    n->until >= now_sec()) {
                        memcpy(password, n->password, 21);
                        found = true;
                }
        }
        pthread_mutex_unlock(&notes_lock);
        return found;
}

static void redirect_users(Req *r) {
        req_redirect(r, "/admin/users");
}

static void redirect_password(Req *r, int64_t user_id) {
        char href[64];
        req_redirect(r, path_id(href, sizeof href, "/admin/users", user_id, "/password"));
}

/* What the admin may do with one row. */
static void row_actions(Req *r, const AccountRow *u) {
        Buf *b = &r->out;
        char action[80], q[400];
        if (u->id == r->user.id) {
                html_raw(b, "<span class=\"hint\">This is you: change your password on your "
                            "<a href=\"/profile\">profile</a>.</span>\n");
                return;
        }
        snprintf(q, sizeof q, "Reset the password of %s? The current one stops working at once and %s is logged "
                              "out everywhere; you get a new one to pass on.", u->username, u->username);
        button_form_opts(r, path_id(action, sizeof action, "/admin/users", u->id, "/password"), "Reset password",
                         &(ButtonOpts) { .confirm = q });
        if (u->disabled)
                button_form(r, path_id(action, sizeof action, "/admin/users", u->id, "/enable"), "Enable", NULL);
        else {
                snprintf(q, sizeof q, "Disable %s? They are logged out at once and cannot log in until you enable the "
                                      "account again; their servers keep running. You can undo this.", u->username);
                button_form_opts(r, path_id(action, sizeof action, "/admin/users", u->id, "/disable"), "Disable",
                                 &(ButtonOpts) { .confirm = q });
        }
        int servers = servers_count_of_user(r->db, u->id), blueprints = blueprints_count_of_user(r->db, u->id);
        if (servers == 0 && blueprints == 0) {
                snprintf(q, sizeof q, "Delete the user %s? This cannot be undone.", u->username);
                button_form_opts(r, path_id(action, sizeof action, "/admin/users", u->id, "/delete"), "Delete",
                                 &(ButtonOpts) { .klass = "danger", .confirm = q });
        } else if (servers >= 0 && blueprints >= 0) {
                html_raw(b, "<span class=\"hint\">Owns ");
                if (servers) {
                        html_int(b, servers);
                        if (servers == 1)
                                html_raw(b, " server");
                        else
                                html_raw(b, " servers");
                }
                if (servers && blueprints)
                        html_raw(b, " and ");
                if (blueprints) {
                        html_int(b, blueprints);
                        if (blueprints == 1)
                                html_raw(b, " blueprint");
                        else
                                html_raw(b, " blueprints");
                }
                html_raw(b, ": can be deleted once they are gone.</span>\n");
        }
}

static void users_page(Req *r, const FieldErrors *e) {
        Buf *b = &r->out;
        page_begin(r, "Users");
        char said[256];
        if (!e && note_take_text(r, said, sizeof said)) {
                html_raw(b, "<p class=\"notice\" role=\"status\" id=\"users-notice\">");
                html_txt(b, said);
                html_raw(b, "</p>\n");
        }
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        if (accounts_list(&it, r->db) < 0) {
                render_error(r, 500, "The database is busy; try again.");
                return;
        }
        html_raw(b, "<table class=\"list\">\n<thead><tr><th>User</th><th>Role</th><th>State</th><th>Sessions</th>"
                    "<th>Actions</th></tr></thead>\n<tbody>\n");
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
                html_raw(b, "</td><td data-label=\"Actions\"><div class=\"row-actions\">\n");
                row_actions(r, &u);
                html_raw(b, "</div></td></tr>\n");
        }
        html_raw(b, "</tbody>\n</table>\n");
        admin_attempts_section(r);
        html_raw(b, "<h2>New user</h2>\n");
        bool typed = e && e->n;
        form_open(r, "/admin/users", "card narrow");
        field_text(r, "Username", "username", typed ? form_get(r, "username") : NULL, e, USERNAME_MAX, "off",
                   "Letters, digits, '.', '_' and '-'.");
        field_password(r, "Password", "password", e, "new-password", "Leave it empty to get one made for you.");
        html_raw(b, "<div class=\"field check\"><input id=\"f-admin\" type=\"checkbox\" name=\"admin\" value=\"1\"");
        if (typed && form_get(r, "admin"))
                html_raw(b, " checked");
        html_raw(b, "><label for=\"f-admin\">Administrator</label></div>\n<button type=\"submit\">Create user</button>\n");
        form_close(r);
        page_end(r);
}

void page_admin_users(Req *r) {
        users_page(r, NULL);
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
                int64_t id;
                int k = account_create(r->db, name, pw, form_get(r, "admin") != NULL, &id);
                if (k == 0) {
                        if (generated[0]) {
                                note_set(r, id, generated, "Created the user %s.", name);
                                redirect_password(r, id);
                        } else {
                                note_set(r, id, NULL, "Created the user %s with the password you typed.", name);
                                redirect_users(r);
                        }
                        sodium_memzero(generated, sizeof generated);
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
        users_page(r, &e);
}

void page_admin_user_password(Req *r) {
        char name[USERNAME_MAX + 1], pw[21];
        if (account_name(r->db, r->id, name) < 0) {
                render_not_found(r);
                return;
        }
        /* One's own password is changed on the profile page, which asks
         * for the current one and keeps this session. */
        if (r->id == r->user.id) {
                render_error(r, 409, "Change your own password on your profile page.");
                return;
        }
        /* Every session of the account ends. */
        if (random_alnum(pw, sizeof pw) < 0 || account_set_password(r->db, r->id, pw, 0) < 0) {
                render_error(r, 500, "Could not reset the password; try again.");
                return;
        }
        note_set(r, r->id, pw, "Reset the password of %s: they were logged out everywhere.", name);
        sodium_memzero(pw, sizeof pw);
        redirect_password(r, r->id);
}

/* GET /admin/users/N/password: the new password, for the session that
 * made it, while it is kept. A reload shows it again; it resets nothing. */
void page_admin_user_password_shown(Req *r) {
        char name[USERNAME_MAX + 1], pw[21];
        if (account_name(r->db, r->id, name) < 0) {
                render_not_found(r);
                return;
        }
        Buf *b = &r->out;
        char title[USERNAME_MAX + 32];
        snprintf(title, sizeof title, "New password for %s", name);
        page_begin(r, title);
        if (note_password(r, r->id, pw)) {
                char said[256];
                if (note_take_text(r, said, sizeof said)) {
                        html_raw(b, "<p class=\"notice\" role=\"status\">");
                        html_txt(b, said);
                        html_raw(b, "</p>\n");
                }
                html_raw(b, "<section class=\"card narrow\">\n<p>The password of <strong>");
                html_txt(b, name);
                html_raw(b, "</strong> is now</p>\n<p><code id=\"new-password\">");
                html_txt(b, pw);
                html_raw(b, "</code> <button type=\"button\" class=\"copy small\" data-copy=\"");
                html_attr(b, pw);
                html_raw(b, "\">Copy</button></p>\n<p class=\"hint\">Pass it on safely: the panel does not keep it. "
                            "This page shows it to you for 10 minutes; they can change it on their profile "
                            "page.</p>\n</section>\n");
                sodium_memzero(pw, sizeof pw);
        } else
                html_raw(b, "<p>This password is no longer shown: the panel forgets it 10 minutes after it was made, "
                            "or it was made in another session. If it was lost, reset it again.</p>\n");
        /* Not a cached route, and answered with Cache-Control: no-store
         * (server.c's default): the browser does not keep it either. */
        html_raw(b, "<p><a href=\"/admin/users\">Back to the users</a></p>\n");
        page_end(r);
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
        if (disabled)
                note_set(r, r->id, NULL, "Disabled %s: they were logged out and cannot log in until you enable the "
                                         "account again.", name);
        else
                note_set(r, r->id, NULL, "Enabled %s: they can log in again.", name);
        redirect_users(r);
}

void page_admin_user_disable(Req *r) {
        set_disabled(r, true);
}

void page_admin_user_enable(Req *r) {
        set_disabled(r, false);
}

void page_admin_user_delete(Req *r) {
        char name[USERNAME_MAX + 1];
        if (account_name(r->db, r->id, name) < 0) {
                render_not_found(r);
                return;
        }
        if (r->id == r->user.id) {
                render_error(r, 409, "You cannot delete your own account.");
                return;
        }
        /* Their finished jobs go with them; anything else they own (a
         * blueprint, a server, a job still to run) keeps the account. */
        int k = db_begin(r->db) < 0 ? -EIO : 0;
        if (k == 0)
                k = jobs_forget_user(r->db, r->id);
        if (k == 0)
                k = account_delete(r->db, r->id);
        if (k == 0)
                k = db_commit(r->db);
        if (k < 0) {
                db_rollback(r->db);
                if (k == -EBUSY)
                        render_error(r, 409, "This user still owns servers, blueprints or waiting jobs: they can be "
                                             "deleted once those are gone.");
                else
                        render_error(r, 500, "Could not delete the user; try again.");
                return;
        }
        note_set(r, 0, NULL, "Deleted the user %s.", name);
        redirect_users(r);
}

void page_admin_install(Req *r) {
        Buf *b = &r->out;
        page_begin(r, "Game installation");
        html_raw(b, "<p>Left 4 Dead 2's dedicated server (Steam app 222860), installed with steamcmd. Every server "
                    "runs this one installation.</p>\n<section class=\"card\" id=\"install-state\">\n");
        JobRow last, ok;
        bool any = job_latest(r->db, job_install.name, &last) == 0;
        bool installed = job_latest_succeeded(r->db, job_install.name, &ok) == 0;
        char href[64];
        const char *button = installed ? "Update the game" : "Install the game";
        if (installed) {
                html_raw(b, "<p><span class=\"badge job-succeeded\">installed</span> ");
                html_txt(b, ok.result);
                html_raw(b, " Installed ");
                html_time(b, ok.finished_at);
                html_raw(b, " (<a href=\"");
                html_attr(b, path_id(href, sizeof href, "/jobs", ok.id, NULL));
                html_raw(b, "\">job #");
                html_int(b, ok.id);
                html_raw(b, "</a>).</p>\n");
        } else
                html_raw(b, "<p><span class=\"badge state-new\">not installed</span> The game has not been installed "
                            "from this panel yet: servers cannot start until it is. It downloads several GB and "
                            "takes a while.</p>\n");
        if (any && (streq(last.state, "queued") || streq(last.state, "running"))) {
                html_raw(b, "<p class=\"notice\">An installation is running: <a href=\"");
                html_attr(b, path_id(href, sizeof href, "/jobs", last.id, NULL));
                html_raw(b, "\">follow job #");
                html_int(b, last.id);
                html_raw(b, "</a>.</p>\n");
                button = NULL;
        } else if (any && streq(last.state, "failed")) {
                html_raw(b, "<p class=\"error\" role=\"alert\">The last installation failed: ");
                html_txt(b, last.result);
                html_raw(b, " (<a href=\"");
                html_attr(b, path_id(href, sizeof href, "/jobs", last.id, NULL));
                html_raw(b, "\">job #");
                html_int(b, last.id);
                html_raw(b, "</a>)</p>\n");
                button = "Retry the installation";
        }
        html_raw(b, "</section>\n");
        if (button) {
                form_open(r, "/admin/install", NULL);
                html_raw(b, "<button type=\"submit\">");
                html_txt(b, button);
                html_raw(b, "</button>\n");
                form_close(r);
                if (installed)
                        /* Builds (issue 14): a fetch never touches what servers run. */
                        html_raw(b, "<p class=\"hint\" id=\"install-hint\">An update downloads the new build "
                                    "beside the one your servers run: they keep running, and move to it once it "
                                    "passed a trial run and nobody plays on them (or their update deadline is "
                                    "up). See <a href=\"/admin/builds\">Game builds</a>.</p>\n");
        }
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
