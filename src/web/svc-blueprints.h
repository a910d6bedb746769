/* The blueprints table: its SQL and its owner check, written once. A
 * blueprint is private to its owner (an admin sees every one); servers link
 * to it live, and the foreign key refuses to delete one they still use. */
#pragma once

#include <sqlite3.h>

#include "db.h"
#include "model.h"

#define BLUEPRINTS_PER_USER_MAX 100

/* -ENOENT for an id that does not exist or is not u's (u NULL: any). */
int blueprint_load(sqlite3 *db, int64_t id, const User *u, Blueprint *ret);
/* Saves a new blueprint of owner_id (bp->id == 0; sets bp->id) or the
 * changes to one. -EEXIST: the owner has one of that name; -EDQUOT: the
 * owner has BLUEPRINTS_PER_USER_MAX already. */
int blueprint_save(sqlite3 *db, Blueprint *bp, int64_t owner_id);
/* As blueprint_save, in one transaction with check(db, userdata) (NULL:
 * none), which may refuse with its own -errno: what the check read cannot
 * change before the blueprint is saved (an overlay it names being deleted). */
typedef int (*blueprint_check_fn)(sqlite3 *db, void *userdata);
int blueprint_save_checked(sqlite3 *db, Blueprint *bp, int64_t owner_id, blueprint_check_fn check, void *userdata);
/* -EBUSY while servers link to it. */
int blueprint_delete(sqlite3 *db, int64_t id);
/* How many blueprints a user owns. */
int blueprints_count_of_user(sqlite3 *db, int64_t user_id);

typedef struct BlueprintRow {
        int64_t id;
        char name[TITLE_MAX * 4 + 1];
        char map[65];
        char owner[USERNAME_MAX + 1];
        int maxplayers, tickrate, servers;
} BlueprintRow;
/* The blueprints u may see, by name. To choose a blueprint for a server,
 * pass its owner as a non-admin User: a server and its blueprint always
 * have the same owner. */
int blueprints_list(DbIter *it, sqlite3 *db, const User *u);
bool blueprint_next(DbIter *it, BlueprintRow *ret);
/* Every blueprint (any owner's) whose overlay list names the overlay. */
int blueprints_using_overlay(DbIter *it, sqlite3 *db, const char *overlay);
