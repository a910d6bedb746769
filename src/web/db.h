/* The panel's SQLite database: WAL, foreign keys on, versioned migrations,
 * and a small pool of connections so request threads, job workers and the
 * poller never share one. Every statement that touches data is prepared with
 * bound parameters; only the constant migration scripts go through
 * sqlite3_exec. */
#pragma once

#include <sqlite3.h>
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

int db_begin(sqlite3 *db);
int db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);
