/* CSRF protection for every state-changing request. A logged-in session has
 * its own random token (stored with the session); forms carry it in the
 * hidden field "csrf", htmx requests in the X-CSRF-Token header. Before login
 * there is no session, so the login form uses a double-submit token: a
 * cookie that the form must repeat. That token is the panel's own: 4 bytes
 * of issue time, 12 random bytes and 16 bytes of a MAC of the panel's
 * secret over both (keys.h), in hex (64 digits). A cookie planted by
 * someone else (a sibling domain, a script on another port) fails the MAC
 * and is replaced, never adopted; a token older than an hour is refused. */
#pragma once

#include "web.h"

#define CSRF_FIELD "csrf"
#define CSRF_HEADER "X-CSRF-Token"
#define PRELOGIN_COOKIE "l4m_pre"
#define PRELOGIN_MAX_AGE 3600

/* True if the request carries the right token. */
bool csrf_check(Req *r);
/* The token a form on this page must carry (sets the pre-login cookie when
 * there is no session yet, or when the browser's is not one of ours).
 * Valid until the request ends. */
const char *csrf_token(Req *r);
/* Whether a pre-login token is one the panel made, less than an hour ago. */
bool prelogin_token_valid(const char *token);
