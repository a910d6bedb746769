/* The start page, logging in and out. */
#include <string.h>

#include "svc-accounts.h"
#include "html.h"
#include "layout.h"
#include "pages.h"
#include "session.h"
#include "throttle.h"

void page_index(Req *r) {
        req_redirect(r, r->authed ? "/servers" : "/login");
}

static void login_form(Req *r, const char *username, const char *error) {
        page_begin(r, "Log in");
        if (error) {
                html_raw(&r->out, "<p class=\"error\" role=\"alert\">");
                html_txt(&r->out, error);
                html_raw(&r->out, "</p>\n");
        }
        form_open(r, "/login", "card narrow");
        field_text(r, "Username", "username", username, NULL, USERNAME_MAX, "username", NULL);
        field_password(r, "Password", "password", NULL, "current-password", NULL);
        html_raw(&r->out, "<button type=\"submit\">Log in</button>\n");
        form_close(r);
        page_end(r);
}

void page_login_form(Req *r) {
        if (r->authed) {
                req_redirect(r, "/servers");
                return;
        }
        login_form(r, NULL, NULL);
}

void page_login_submit(Req *r) {
        const char *username = form_get(r, "username"), *password = form_get(r, "password");
        username = username ? username : "";
        password = password ? password : "";
        /* Over-long input is refused before it reaches the hash function. */
        if (strlen(username) > USERNAME_MAX || strlen(password) > PASSWORD_MAX || !*username || !*password) {
                r->status = 400;
                login_form(r, strlen(username) <= USERNAME_MAX ? username : "",
                           "Enter your username (at most 32 characters) and password.");
                return;
        }
        AuthResult ar;
        int k = auth_check(r, AUTH_LOGIN, username, password, &ar);
        if (k == -EAGAIN) {
                char msg[160];
                snprintf(msg, sizeof msg, "Too many failed logins. Try again in %ld minute%s.", (ar.wait + 59) / 60,
                         (ar.wait + 59) / 60 == 1 ? "" : "s");
                r->status = 429;
                login_form(r, username, msg);
                return;
        }
        if (k == -EBUSY) {
                r->status = 503;
                login_form(r, username, "The panel is busy checking other passwords; try again in a moment.");
                return;
        }
        if (k < 0) {
                render_error(r, 503, "The panel's database is busy; try again in a moment.");
                return;
        }
        if (k == 0) {
                r->status = 401;
                login_form(r, username, "Wrong username or password, or the account is disabled.");
                return;
        }
        User u = ar.user;
        if (r->authed)
                session_end(r);
        if (session_create(r, &u) < 0) {
                render_error(r, 500, "Could not create a session; try again.");
                return;
        }
        /* This browser now knows the account: during an attack on it from
         * elsewhere, its logins are counted on their own. */
        device_cookie_set(r, &u);
        req_redirect(r, "/servers");
}

void page_logout(Req *r) {
        session_end(r);
        req_redirect(r, "/login?notice=loggedout");
}
