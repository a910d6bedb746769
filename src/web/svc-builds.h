/* The builds and update_checks tables (migration 0005): the host's game
 * builds and its last update check, as the fleet job (updater.c) last read
 * them. The builds page renders from here; nothing asks the host per view. */
#pragma once

#include <jansson.h>
#include <sqlite3.h>

#include "db.h"

/* Replaces every row with the builds of `l4d2ctl builds --json` (an
 * array, newest first), in one transaction; writes nothing when they are
 * what is stored. */
int builds_store(sqlite3 *db, json_t *builds);

/* The builds, newest first: each row's object (the caller decrefs). */
int builds_list(DbIter *it, sqlite3 *db);
bool build_row_next(DbIter *it, json_t **ret);

/* The last update check (the object of `update check --json`). */
int update_check_store(sqlite3 *db, json_t *check);
/* -ENOENT before the first one. */
int update_check_load(sqlite3 *db, json_t **ret);
