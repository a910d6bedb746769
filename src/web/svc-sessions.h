/* The sessions and login_failures tables: their SQL, written once. The
 * request side (cookies, the session cache) is session.c. */
#pragma once

#include <sqlite3.h>
#include <stdint.h>

#include "db.h"
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

/* Password throttling (throttle.c decides, this is its storage): every
 * attempt adds a row per counter it goes to, in advance, in the same write
 * transaction as the check of those counters, so guesses sent in parallel
 * cannot all pass the check before the first is counted. Counters (keys):
 *   'u:<name>'          attempts on an account from browsers it does not know
 *   'ip:<address>'      attempts from an address (with the above)
 *   'd:<name>:<nonce>'  attempts from one browser the account knows
 * Past a counter's limit within the window, checks are refused (429) until
 * its oldest row leaves the window. Names and addresses are folded to lower
 * case: "Admin" and "admin" share one counter. */
#define THROTTLE_WINDOW 900
#define THROTTLE_USER_MAX 5
#define THROTTLE_IP_MAX 20
#define THROTTLE_DEVICE_MAX 10

typedef struct ThrottleKeys {
        char account[80], address[80], device[80];
        int64_t rows[2];        /* what this attempt added */
        size_t n_rows;
        bool on_device;         /* counted on device (else account + address) */
} ThrottleKeys;
/* device_nonce NULL: an unknown browser. */
void throttle_keys(ThrottleKeys *k, const char *username, const char *ip, const char *device_nonce);
/* Before checking a password: the seconds to wait (> 0: refuse), or 0
 * after counting this attempt (on the device's counter, or on the
 * account's and the address's), or -EIO if the database could not say. */
long throttle_begin(sqlite3 *db, ThrottleKeys *k, bool on_device);
/* The attempt did not happen (no hash was checked): its rows go. */
void throttle_forget(sqlite3 *db, const ThrottleKeys *k);
/* The password was right: the failures of the counter it was counted on
 * go (the device's, or the account's), and this attempt's rows. The
 * address keeps its earlier failures. */
void throttle_success(sqlite3 *db, const ThrottleKeys *k);

/* Failures within the window per counter, most first (the admin's view). */
typedef struct AttemptRow {
        char key[80];
        int count;
        int64_t last;
} AttemptRow;
int attempts_recent(DbIter *it, sqlite3 *db, int limit);
bool attempt_next(DbIter *it, AttemptRow *ret);
