/* /profile: who you are, and changing your password. Changing it ends every
 * other session of the account; this browser stays logged in, under a new
 * session token. */
#include <string.h>

#include "svc-accounts.h"
#include "html.h"
#include "layout.h"
#include "pages.h"
#include "session.h"
#include "db.h"
#include "throttle.h"

static void render(Req *r, const FieldErrors *e) {
        page_begin(r, "Profile");
        html_raw(&r->out, "<p>Logged in as <strong>");
        html_txt(&r->out, r->user.username);
        html_raw(&r->out, "</strong>");
        if (r->user.is_admin)
                html_raw(&r->out, " (administrator)");
        html_raw(&r->out, ".</p>\n<h2>Change password</h2>\n");
        form_open(r, "/profile/password", "card narrow");
        field_password(r, "Current password", "current", e, "current-password", NULL);
        field_password(r, "New password", "new", e, "new-password", "At least 10 characters.");
        field_password(r, "New password again", "confirm", e, "new-password", NULL);
        html_raw(&r->out, "<button type=\"submit\">Change password</button>\n");
        form_close(r);
        page_end(r);
}

void page_profile(Req *r) {
        render(r, NULL);
}

void page_profile_password(Req *r) {
        const char *cur = form_get(r, "current"), *nw = form_get(r, "new"), *conf = form_get(r, "confirm");
        cur = cur ? cur : "";
        nw = nw ? nw : "";
        conf = conf ? conf : "";
        FieldErrors e = { 0 };
        const char *m = password_problem(nw);
        if (m)
                errors_add(&e, "new", "%s", m);
        else if (!streq(nw, conf))
                errors_add(&e, "confirm", "The two new passwords differ.");
        if (strlen(cur) > PASSWORD_MAX) {
                errors_add(&e, "current", "This is not your current password.");
        } else if (!e.n) {
                /* The current password is checked through the throttle like
                 * a login: a stolen session cookie gets no more guesses at
                 * the password than a stranger at the login form. */
                AuthResult ar;
                int k = auth_check(r, AUTH_REAUTH, r->user.username, cur, &ar);
                if (k == -EAGAIN)
                        errors_add(&e, "current", "Too many wrong passwords. Try again in %ld minute%s.",
                                   (ar.wait + 59) / 60, (ar.wait + 59) / 60 == 1 ? "" : "s");
                else if (k == -EBUSY) {
                        render_error(r, 503, "The panel is busy checking other passwords; try again in a moment.");
                        return;
                } else if (k < 0) {
                        render_error(r, 503, "The panel's database is busy; try again in a moment.");
                        return;
                } else if (k == 0)
                        errors_add(&e, "current", "This is not your current password.");
        }
        if (e.n) {
                r->status = errors_get(&e, "current") && strstr(errors_get(&e, "current"), "Too many") ? 429 : 422;
                render(r, &e);
                return;
        }
        /* Every session ends, this one too, and this browser gets a new
         * one: a stolen copy of this session's cookie dies with the old
         * password as well. The hash is made without holding a database
         * connection. */
        char hash[128];
        db_release(r->db);
        r->db = NULL;
        int k = pwhash_make(nw, hash);
        r->db = db_acquire();
        if (k == -EBUSY) {
                render_error(r, 503, "The panel is busy checking other passwords; try again in a moment.");
                return;
        }
        if (k < 0 || account_set_password_hash(r->db, r->user.id, hash, 0) < 0) {
                render_error(r, 500, "Could not save the new password; try again.");
                return;
        }
        User self = r->user;
        if (session_create(r, &self) < 0) {
                render_error(r, 500, "The password was changed, but a new session could not start; log in again.");
                return;
        }
        req_redirect(r, "/profile?notice=password");
}
