/* Password guessing, contained: the one way every password is checked
 * (login, the profile's current password, any later re-authentication) and
 * every argon2id hash is made.
 *
 * Hashing: argon2id (crypto_pwhash, 64 MiB and ~50-100 ms each) runs in a
 * child process of its own (the hasher, at nice 10 so that pages come
 * first), LEFT4ME_PASSWORD_HASHES at a time (default 2), fed by as many
 * threads of the panel, none of which holds a database connection: memory
 * is bounded by that count whatever the load, and none of argon2's 64 MiB
 * mappings touches the panel's address space. A
 * check waits in a short queue (known browsers ahead of the rest); when
 * the queue is full, or the wait runs past a few seconds, it gets -EBUSY
 * (the page answers 503) and counts as no attempt.
 *
 * Guessing: failures are counted over THROTTLE_WINDOW per address and per
 * account, and a browser that has logged in to the account before (OWASP's
 * device cookie: `l4m_device`, the account's id and a nonce signed with
 * the panel's key, set at every successful login) is counted on its own,
 * per device: an attack from elsewhere locks the account for unknown
 * browsers only, and the owner's browser keeps working. The counts are the
 * rows of login_failures (svc-sessions.c), which the admin's users page
 * lists (page-attempts.c). */
#pragma once

#include "web.h"

#define DEVICE_COOKIE "l4m_device"
#define DEVICE_MAX_AGE (180L * 24 * 3600)

/* The hasher and the threads that feed it; call before any other thread
 * starts (it forks). Without them (the admin commands) hashes are made on
 * the caller's thread. */
int pwhash_start(unsigned threads);
void pwhash_stop(void);

/* A new argon2id hash of password into out (the admin commands, account
 * creation, a password change). -EBUSY: the queue is full; -ENOMEM. */
int pwhash_make(const char *password, char out[128]);
/* Whether password matches hash: 1 yes, 0 no, -EBUSY as above. */
int pwhash_verify(const char *hash, const char *password, bool known_device);

typedef enum AuthWhat {
        AUTH_LOGIN,   /* the login form: username and password */
        AUTH_REAUTH,  /* a logged-in user's own password (profile, re-authentication) */
} AuthWhat;

typedef struct AuthResult {
        User user;            /* on success */
        long wait;            /* on -EAGAIN: seconds until the next try */
        bool known_device;    /* the attempt came from a browser the account knows */
} AuthResult;

/* Checks username's password for r, through the throttle. For AUTH_REAUTH
 * username is r->user's. Uses r->db around the hash, releasing it while
 * the hash runs (r->db is a connection again on return).
 * 1: right (ret->user filled, the account enabled); 0: wrong;
 * -EAGAIN: too many failures (ret->wait); -EBUSY: too many checks at once;
 * -EIO: the database could not say. */
int auth_check(Req *r, AuthWhat what, const char *username, const char *password, AuthResult *ret);

/* Marks this browser as known to user (after a successful login). */
void device_cookie_set(Req *r, const User *user);
