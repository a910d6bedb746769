/* Login sessions. The browser holds a random 256-bit token in an HttpOnly
 * cookie; the database holds only its BLAKE2b hash, the owner, a CSRF token
 * and the expiry. A session ends on logout, on expiry, when its user is
 * disabled, and (except the current one) when the password changes. */
#pragma once

#include "web.h"

#define SESSION_COOKIE "l4m_session"
#define SESSION_IDLE_SECONDS (12 * 3600)
#define SESSION_MAX_SECONDS (7 * 24 * 3600)

/* Creates a session for user and sets the cookie on r. */
int session_create(Req *r, const User *user);
/* Fills r->authed, r->user, r->session_id, r->csrf from the cookie, if it
 * names a live session of an enabled user. */
void session_load(Req *r);
/* The same from the session cache only, without the database: true on a hit. */
bool session_load_cached(Req *r);
/* Ends the current session and clears the cookie. */
void session_end(Req *r);

/* Login throttling: failures are counted per username and per client
 * address over a window; past the limit, logins are refused (429) until the
 * oldest failure leaves the window. */
#define THROTTLE_WINDOW 900
#define THROTTLE_USER_MAX 5
#define THROTTLE_IP_MAX 20
/* Before checking a password: returns the seconds to wait (> 0: refuse),
 * or 0 after counting this attempt as a failure in advance, in the same
 * transaction as the check (*ret_ip_row names the address's new row), or
 * -EIO if the database could not say. */
long throttle_begin(sqlite3 *db, const char *username, const char *ip, int64_t *ret_ip_row);
/* The password was right: the name's failures go, and this attempt's. */
void throttle_success(sqlite3 *db, const char *username, int64_t ip_row);
