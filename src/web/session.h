/* Login sessions. The browser holds a random 256-bit token in an HttpOnly
 * cookie; the database holds only its BLAKE2b hash, the owner, a CSRF token
 * and the expiry. A session ends on logout, on expiry, when its user is
 * disabled, and (except the current one) when the password changes. */
#pragma once

#include "svc-sessions.h"
#include "web.h"

#define SESSION_COOKIE "l4m_session"
/* Creates a session for user and sets the cookie on r. */
int session_create(Req *r, const User *user);
/* Fills r->authed, r->user, r->session_id, r->csrf from the cookie, if it
 * names a live session of an enabled user. */
void session_load(Req *r);
/* The same from the session cache only, without the database: true on a hit. */
bool session_load_cached(Req *r);
/* Ends the current session and clears the cookie. */
void session_end(Req *r);
