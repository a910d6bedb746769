/* The panel's SQLite database: WAL, foreign keys on, versioned migrations,
 * and a small pool of connections so request threads, job workers and the
 * watch never share one. Only db.c and the svc-<table>.c modules (one per
 * table) prepare statements; pages call the modules. Every statement that touches data is prepared with
 * bound parameters; only the constant migration scripts go through
 * sqlite3_exec. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct Migration {
        int version;
        const char *name;
        const char *sql;
} Migration;

extern const Migration migrations[];
extern const size_t n_migrations;

/* Opens path with the pragmas every connection needs. */
int db_open(const char *path, sqlite3 **ret);
/* Brings the schema to the newest version; each step is one transaction.
 * Writes the number of applied steps to *ret_applied. */
int db_migrate(sqlite3 *db, int *ret_applied);

int db_pool_init(const char *path, unsigned size);
void db_pool_done(void);
/* Blocks until a connection is free. Never returns NULL. */
sqlite3 *db_acquire(void);
void db_release(sqlite3 *db);

/* Prepares sql; on failure returns -EIO. Pool connections keep a cache of
 * prepared statements keyed by the SQL text's address (our SQL is string
 * literals), so a page view does not parse its queries again. A statement
 * from db_prepare() must be released with db_stmt_release() (which
 * _cleanup_stmt_ does): cached ones are reset for reuse, others finalized. */
int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret);
void db_stmt_release(sqlite3_stmt *s);
static inline void db_stmt_releasep(sqlite3_stmt **s) {
        if (*s)
                db_stmt_release(*s);
}
#define _cleanup_stmt_ _cleanup_(db_stmt_releasep)

/* Process-wide SQLite settings; call once before opening anything. */
void db_global_init(void);

/* Binds text or NULL. */
int db_bind_text(sqlite3_stmt *s, int i, const char *v);
/* Runs a statement that returns no rows; -EEXIST for a UNIQUE violation,
 * -EBUSY for a FOREIGN KEY violation, -EIO otherwise. */
int db_step_done(sqlite3_stmt *s);
/* Returns a column as text, never NULL. */
const char *db_col_text(sqlite3_stmt *s, int i);

/* Rows handed out one at a time by a svc-*.c module: the page loops
 * `while (xxx_next(&it, &row))` and never sees a statement. The row's
 * strings are copies (they stay valid after the next call). */
typedef struct DbIter {
        sqlite3_stmt *stmt;
} DbIter;
#define DB_ITER_INIT { .stmt = NULL }
void db_iter_end(DbIter *it);
#define _cleanup_iter_ _cleanup_(db_iter_end)
/* Steps it: true while there is a row. */
bool db_iter_step(DbIter *it);

/* The owner check, written once: a user gets their own rows, an admin (or
 * the system: u == NULL) every row. Use DB_OWNED("t.user_id") in the SQL
 * and db_bind_owner() to fill its two named parameters;
 * :everyone is tested first: for an admin, a list then reads no owner
 * column from its rows. */
#define DB_OWNED(column) "(:everyone OR " column " = :owner)"
struct User;
void db_bind_owner(sqlite3_stmt *s, const struct User *u);

/* A svc module's row decoder: the current row of s into *ret. */
typedef void (*db_row_fn)(sqlite3_stmt *s, void *ret);
/* Opens it on sql: with the owner check bound (db_iter_owned), or with ?1
 * bound to an id (db_iter_id). */
int db_iter_owned(DbIter *it, sqlite3 *db, const char *sql, const struct User *u);
int db_iter_id(DbIter *it, sqlite3 *db, const char *sql, int64_t id);
/* The next row through fn: false at the end. */
bool db_iter_row(DbIter *it, db_row_fn fn, void *ret);
/* One row of sql, ?1 bound to id and the owner check (if the SQL has one)
 * to u: 0, -ENOENT (no such row, or not u's), -EIO. */
int db_load_row(sqlite3 *db, const char *sql, int64_t id, const struct User *u, db_row_fn fn, void *ret);

/* Copies a text column into a fixed field, cut at its size. */
void db_col_copy(sqlite3_stmt *s, int i, char *dst, size_t size);
/* An integer column, or dflt when it is NULL. */
int64_t db_col_int_or(sqlite3_stmt *s, int i, int64_t dflt);

/* What changed, per table: migration 0003 keeps a counter per table in
 * `generations` (triggers, so every writer counts: this process, the admin
 * commands, sqlite3 by hand). A page that reads some tables can be kept
 * until one of them changes (cache.c, the route table's `reads`). */
enum {
        DB_USERS = 1u << 0,
        DB_SESSIONS = 1u << 1,
        DB_BLUEPRINTS = 1u << 2,
        DB_SERVERS = 1u << 3,       /* who owns a server, its name, blueprint, what was asked */
        DB_SERVER_STATE = 1u << 4,  /* what the host reports about it (the watch's writes) */
        DB_SERVER_EVENTS = 1u << 5,
        DB_JOBS = 1u << 6,
        DB_JOB_LINES = 1u << 7,
        DB_BUILDS = 1u << 8,        /* the host's game builds and its last update check */
        DB_OVERLAYS = 1u << 9,      /* who owns which overlay (svc-overlays) */
        DB_PLAYERS = 1u << 10,      /* roster snapshots, player sessions, Steam profiles */
        DB_CONSOLE = 1u << 11,      /* the RCON console's history */
};
/* Opens the connection that watches for commits (PRAGMA data_version). */
int db_generations_init(const char *path);
void db_generations_done(void);
/* Reads the counters again if anything was committed since the last look
 * (one PRAGMA on a read-only connection when nothing was). */
void db_generations_refresh(void);
/* The sum of the counters of a set of tables, as of the last refresh: it
 * grows whenever one of them changes. */
uint64_t db_generation(unsigned tables);

int db_begin(sqlite3 *db);
/* A read transaction around a page's queries: one snapshot for the whole
 * page, and SQLite's WAL read lock taken once instead of per statement
 * (a list page runs several). A write inside it could fail (its snapshot
 * may be old), so only for handlers that only read. */
int db_begin_read(sqlite3 *db);
void db_end_read(sqlite3 *db);
int db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);
