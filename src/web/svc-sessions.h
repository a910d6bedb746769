/* The sessions and login_failures tables: their SQL, written once. The
 * request side (cookies, the session cache) is session.c. */
#pragma once

#include <sqlite3.h>
#include <stdint.h>

#include "web.h"

#define SESSION_IDLE_SECONDS (12 * 3600)
#define SESSION_MAX_SECONDS (7 * 24 * 3600)

typedef struct SessionRow {
        int64_t id, last_seen, expires_at;
        User user;
        char csrf[65];
} SessionRow;

int session_insert(sqlite3 *db, int64_t user_id, const uint8_t token_hash[32], const char *csrf, int64_t now,
                   int64_t *ret_id);
/* A live session of an enabled user: not expired, not idle too long. The
 * join re-checks the user every time: a disabled user is not logged in even
 * if a row was left behind. -ENOENT otherwise. */
int session_find(sqlite3 *db, const uint8_t token_hash[32], int64_t now, SessionRow *ret);
/* Refreshes the idle timer. */
int session_touch(sqlite3 *db, int64_t id, int64_t now);
int session_delete(sqlite3 *db, int64_t id);
/* Ends every session of the user but keep (0: all). */
int sessions_end_user(sqlite3 *db, int64_t user_id, int64_t keep);

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
