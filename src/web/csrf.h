/* CSRF protection for every state-changing request. A logged-in session has
 * its own random token (stored with the session); forms carry it in the
 * hidden field "csrf", htmx requests in the X-CSRF-Token header. Before login
 * there is no session, so the login form uses a double-submit token: a random
 * cookie that the form must repeat. */
#pragma once

#include "web.h"

#define CSRF_FIELD "csrf"
#define CSRF_HEADER "X-CSRF-Token"
#define PRELOGIN_COOKIE "l4m_pre"

/* True if the request carries the right token. */
bool csrf_check(Req *r);
/* The token a form on this page must carry (sets the pre-login cookie when
 * there is no session yet). Valid until the request ends. */
const char *csrf_token(Req *r);
