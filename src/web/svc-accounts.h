/* The users table: accounts with argon2id password hashes (libsodium
 * crypto_pwhash_str, made by throttle.c's hashing threads), the admin flag,
 * disabling. A hash made here (account_create, account_set_password) waits
 * for its turn there too: -EBUSY when too many run. Its SQL, written once;
 * shared by the admin commands and the pages. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "web.h"

/* Checks a username: 1-32 of [A-Za-z0-9_.-], starting with a letter or digit.
 * Returns NULL or a message for the user. */
const char *username_problem(const char *name);
/* Returns NULL or a message for the user. */
const char *password_problem(const char *pw);

/* -EEXIST for a taken name. */
int account_create(sqlite3 *db, const char *username, const char *password, bool admin, int64_t *ret_id);
/* Sets a new password, marks password_changed_at and ends every session of
 * the user except keep_session (0: end all). */
int account_set_password(sqlite3 *db, int64_t user_id, const char *password, int64_t keep_session);
/* The same with a hash made beforehand (pwhash_make), so that no database
 * connection is held while it is made. */
int account_set_password_hash(sqlite3 *db, int64_t user_id, const char *hash, int64_t keep_session);
/* Disabling ends every session of the user at once. */
int account_set_disabled(sqlite3 *db, int64_t user_id, bool disabled);
/* Finds a user by name: 1 found, 0 not. */
int account_find(sqlite3 *db, const char *username, int64_t *ret_id);
/* What a password check needs of an account (throttle.c runs the check;
 * the hash is compared there, without a database connection). */
typedef struct AccountAuth {
        User user;
        bool disabled;
        char hash[128];
} AccountAuth;
/* 0, -ENOENT (no such account), -EIO. */
int account_auth_by_name(sqlite3 *db, const char *username, AccountAuth *ret);
int account_auth_by_id(sqlite3 *db, int64_t id, AccountAuth *ret);
int account_count(sqlite3 *db, int64_t *ret);

typedef struct AccountRow {
        int64_t id;
        char username[USERNAME_MAX + 1];
        bool is_admin, disabled;
        int sessions; /* live ones */
} AccountRow;
/* Every account, by name. */
int accounts_list(DbIter *it, sqlite3 *db);
bool account_next(DbIter *it, AccountRow *ret);
/* -ENOENT for an unknown id. */
int account_name(sqlite3 *db, int64_t id, char name[USERNAME_MAX + 1]);
/* Deletes an account that owns nothing; -EBUSY while anything still names
 * it (blueprints, servers, jobs: jobs_forget_user() first). */
int account_delete(sqlite3 *db, int64_t id);
