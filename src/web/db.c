#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "web.h"

/* The database holds password hashes and session data: nobody but the
 * panel's user and group reads it. SQLite gives the -wal and -shm files the
 * mode of the database file, so creating that one right is enough; an
 * older file loses its bits for others. No descriptor of an existing file
 * is opened here: closing it would drop the POSIX locks that this
 * process's SQLite connections hold on the file. */
static int db_file_mode(const char *path) {
        struct stat st;
        if (stat(path, &st) < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
                if (fd < 0)
                        return errno == EEXIST ? 0 : negative_errno();
                close(fd);
                return 0;
        }
        if ((st.st_mode & 0007) && chmod(path, st.st_mode & 0770) < 0)
                return negative_errno();
        return 0;
}

int db_open(const char *path, sqlite3 **ret) {
        if (db_file_mode(path) < 0)
                return -EIO;
        sqlite3 *db = NULL;
        int r = sqlite3_open_v2(path, &db,
                                SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (r != SQLITE_OK) {
                sqlite3_close(db);
                return -EIO;
        }
        sqlite3_busy_timeout(db, 5000);
        static const char *const pragmas[] = {
                "PRAGMA journal_mode=WAL",
                "PRAGMA foreign_keys=ON",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA trusted_schema=OFF",
        };
        for (size_t i = 0; i < ELEMENTSOF(pragmas); i++)
                if (sqlite3_exec(db, pragmas[i], NULL, NULL, NULL) != SQLITE_OK) {
                        sqlite3_close(db);
                        return -EIO;
                }
        *ret = db;
        return 0;
}

static int user_version(sqlite3 *db, int *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "PRAGMA user_version", &s) < 0 || sqlite3_step(s) != SQLITE_ROW)
                return -EIO;
        *ret = sqlite3_column_int(s, 0);
        return 0;
}

/* Any row that breaks a foreign key: 1 yes, 0 none, -EIO. */
static int foreign_key_violations(sqlite3 *db) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL) != SQLITE_OK)
                return -EIO;
        int r = sqlite3_step(s);
        return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : -EIO;
}

static int migrate(sqlite3 *db, int *ret_applied) {
        int applied = 0;
        for (size_t i = 0; i < n_migrations; i++) {
                /* BEGIN IMMEDIATE takes the write lock before reading the
                 * version, so two processes never apply the same step. */
                if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
                        return -EIO;
                int v;
                if (user_version(db, &v) < 0) {
                        db_rollback(db);
                        return -EIO;
                }
                if (v >= migrations[i].version) {
                        db_rollback(db);
                        continue;
                }
                char pragma[64];
                snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", migrations[i].version);
                if (sqlite3_exec(db, migrations[i].sql, NULL, NULL, NULL) != SQLITE_OK ||
                    foreign_key_violations(db) != 0 ||
                    sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
                    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
                        db_rollback(db);
                        return -EIO;
                }
                applied++;
        }
        if (ret_applied)
                *ret_applied = applied;
        return 0;
}

int db_migrate(sqlite3 *db, int *ret_applied) {
        /* Steps run with foreign keys off, as SQLite's procedure for table
         * changes wants (a table built again must be dropped without its
         * references cascading), and each is checked before its commit.
         * The pragma is a no-op inside a transaction: it goes around them. */
        if (sqlite3_exec(db, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL) != SQLITE_OK)
                return -EIO;
        int r = migrate(db, ret_applied);
        if (sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK)
                return -EIO;
        return r;
}

/* The pool: a fixed array, a mutex and a condition variable. Each
 * connection has its statement cache; only the thread holding the
 * connection touches it, so the cache needs no lock. */
#define POOL_MAX 32
#define STMT_CACHE_MAX 64
typedef struct CachedStmt {
        const char *sql;
        sqlite3_stmt *stmt;
        bool busy;
} CachedStmt;
static struct {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        sqlite3 *conns[POOL_MAX];
        bool used[POOL_MAX];
        CachedStmt cache[POOL_MAX][STMT_CACHE_MAX];
        unsigned n_cache[POOL_MAX];
        unsigned size;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

void db_global_init(void) {
        /* Memory statistics take a global mutex on every allocation; with
         * many request threads that lock is the hot spot. */
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int slot_of(sqlite3 *db) {
        for (unsigned i = 0; i < pool.size; i++)
                if (pool.conns[i] == db)
                        return (int) i;
        return -1;
}

int db_pool_init(const char *path, unsigned size) {
        if (size == 0 || size > POOL_MAX)
                return -EINVAL;
        for (unsigned i = 0; i < size; i++) {
                int r = db_open(path, &pool.conns[i]);
                if (r < 0) {
                        pool.size = i;
                        db_pool_done();
                        return r;
                }
        }
        pool.size = size;
        return 0;
}

void db_pool_done(void) {
        for (unsigned i = 0; i < pool.size; i++) {
                for (unsigned k = 0; k < pool.n_cache[i]; k++)
                        sqlite3_finalize(pool.cache[i][k].stmt);
                pool.n_cache[i] = 0;
                sqlite3_close(pool.conns[i]);
                pool.conns[i] = NULL;
        }
        pool.size = 0;
}

sqlite3 *db_acquire(void) {
        pthread_mutex_lock(&pool.lock);
        for (;;) {
                for (unsigned i = 0; i < pool.size; i++)
                        if (!pool.used[i]) {
                                pool.used[i] = true;
                                pthread_mutex_unlock(&pool.lock);
                                return pool.conns[i];
                        }
                pthread_cond_wait(&pool.cond, &pool.lock);
        }
}

void db_release(sqlite3 *db) {
        if (!db)
                return;
        pthread_mutex_lock(&pool.lock);
        for (unsigned i = 0; i < pool.size; i++)
                if (pool.conns[i] == db)
                        pool.used[i] = false;
        pthread_cond_signal(&pool.cond);
        pthread_mutex_unlock(&pool.lock);
}

int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret) {
        int slot = slot_of(db);
        if (slot < 0)
                return sqlite3_prepare_v2(db, sql, -1, ret, NULL) == SQLITE_OK ? 0 : -EIO;
        CachedStmt *c = pool.cache[slot];
        unsigned n = pool.n_cache[slot];
        for (unsigned k = 0; k < n; k++)
                if (c[k].sql == sql && !c[k].busy) {
                        c[k].busy = true;
                        *ret = c[k].stmt;
                        return 0;
                }
        sqlite3_stmt *s;
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
                return -EIO;
        if (n < STMT_CACHE_MAX) {
                c[n] = (CachedStmt) { .sql = sql, .stmt = s, .busy = true };
                pool.n_cache[slot]++;
        }
        *ret = s;
        return 0;
}

void db_stmt_release(sqlite3_stmt *s) {
        int slot = slot_of(sqlite3_db_handle(s));
        if (slot >= 0) {
                CachedStmt *c = pool.cache[slot];
                for (unsigned k = 0; k < pool.n_cache[slot]; k++)
                        if (c[k].stmt == s) {
                                sqlite3_reset(s);
                                sqlite3_clear_bindings(s);
                                c[k].busy = false;
                                return;
                        }
        }
        sqlite3_finalize(s);
}

int db_bind_text(sqlite3_stmt *s, int i, const char *v) {
        int r = v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
        return r == SQLITE_OK ? 0 : -EIO;
}

int db_step_done(sqlite3_stmt *s) {
        int r = sqlite3_step(s);
        if (r == SQLITE_DONE || r == SQLITE_ROW)
                return 0;
        int ext = sqlite3_extended_errcode(sqlite3_db_handle(s));
        if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
                return -EEXIST;
        if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
                return -EBUSY;
        return -EIO;
}

const char *db_col_text(sqlite3_stmt *s, int i) {
        const unsigned char *t = sqlite3_column_text(s, i);
        return t ? (const char *) t : "";
}

void db_iter_end(DbIter *it) {
        if (it->stmt)
                db_stmt_release(it->stmt);
        it->stmt = NULL;
}

bool db_iter_step(DbIter *it) {
        return it->stmt && sqlite3_step(it->stmt) == SQLITE_ROW;
}

int db_iter_owned(DbIter *it, sqlite3 *db, const char *sql, const User *u) {
        db_iter_end(it);
        if (db_prepare(db, sql, &it->stmt) < 0)
                return -EIO;
        db_bind_owner(it->stmt, u);
        return 0;
}

int db_iter_id(DbIter *it, sqlite3 *db, const char *sql, int64_t id) {
        db_iter_end(it);
        if (db_prepare(db, sql, &it->stmt) < 0)
                return -EIO;
        sqlite3_bind_int64(it->stmt, 1, id);
        return 0;
}

bool db_iter_row(DbIter *it, db_row_fn fn, void *ret) {
        if (!db_iter_step(it))
                return false;
        fn(it->stmt, ret);
        return true;
}

int db_load_row(sqlite3 *db, const char *sql, int64_t id, const User *u, db_row_fn fn, void *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, sql, &s) < 0)
                return -EIO;
        sqlite3_bind_int64(s, 1, id);
        if (sqlite3_bind_parameter_index(s, ":owner"))
                db_bind_owner(s, u);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        fn(s, ret);
        return 0;
}

void db_bind_owner(sqlite3_stmt *s, const User *u) {
        sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":owner"), u ? u->id : 0);
        sqlite3_bind_int(s, sqlite3_bind_parameter_index(s, ":everyone"), u ? u->is_admin : 1);
}

void db_col_copy(sqlite3_stmt *s, int i, char *dst, size_t size) {
        const char *t = db_col_text(s, i);
        size_t n = (size_t) sqlite3_column_bytes(s, i);
        if (n >= size)
                n = size - 1;
        memcpy(dst, t, n);
        dst[n] = '\0';
}

int64_t db_col_int_or(sqlite3_stmt *s, int i, int64_t dflt) {
        return sqlite3_column_type(s, i) == SQLITE_NULL ? dflt : sqlite3_column_int64(s, i);
}

int db_begin(sqlite3 *db) {
        return sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* Both from the statement cache: parsed once per connection. */
static int exec_cached(sqlite3 *db, const char *sql) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        return db_prepare(db, sql, &s) == 0 && sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
}

int db_begin_read(sqlite3 *db) {
        return exec_cached(db, "BEGIN");
}

void db_end_read(sqlite3 *db) {
        if (exec_cached(db, "COMMIT") < 0)
                db_rollback(db);
}

int db_commit(sqlite3 *db) {
        return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* The generations: one connection that never writes, so that its PRAGMA
 * data_version changes with every commit of anyone. Its statements are
 * used under gen_lock only. */
static const char *const gen_names[] = { "users",   "sessions", "blueprints", "servers",  "server_state",
                                         "server_events", "jobs", "job_lines", "builds", "overlays",
                                         "players", "console" };
static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;
static sqlite3 *gen_db;
static sqlite3_stmt *gen_version, *gen_read;
static int64_t gen_seen = -1;
static _Atomic uint64_t gens[ELEMENTSOF(gen_names)];

/* Asking SQLite whether anything was committed is a read transaction on
 * gen_db under gen_lock: on every request, the event loops queued on that
 * lock and on SQLite's own locks (futex waits and their context switches
 * were a tenth of a server list's CPU time). The answer is also in the
 * WAL index's header, which every connection maps: its change counter
 * (iChange) grows with each commit (https://www.sqlite.org/walformat.html,
 * "the wal-index header"; a writer updates the first of its two copies
 * last). So: when the counter and the WAL's last frame are as they were
 * when the generations were last read, nothing was committed since, and
 * the look takes two loads. When they changed, or the index could not be
 * mapped, the look is the full one below. */
static const volatile uint32_t *wal_hdr;
static _Atomic uint64_t wal_mark_seen; /* 0: nothing read yet */

static void wal_index_map(void) {
        sqlite3_file *f = NULL;
        void volatile *region = NULL;
        if (sqlite3_file_control(gen_db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
            !f->pMethods || f->pMethods->iVersion < 2 || !f->pMethods->xShmMap ||
            f->pMethods->xShmMap(f, 0, 32768, 0, &region) != SQLITE_OK || !region)
                return; /* not in WAL mode: every look is the full one */
        wal_hdr = region;
}

/* iChange (offset 8) and mxFrame (offset 16) of the header's first copy;
 * never 0 once the index exists (its version field is then set). */
static uint64_t wal_mark(void) {
        if (!wal_hdr)
                return 0;
        uint32_t change = __atomic_load_n(&wal_hdr[2], __ATOMIC_ACQUIRE);
        uint32_t frame = __atomic_load_n(&wal_hdr[4], __ATOMIC_ACQUIRE);
        return ((uint64_t) change << 32 | frame) + 1;
}

int db_generations_init(const char *path) {
        if (sqlite3_open_v2(path, &gen_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
            sqlite3_prepare_v3(gen_db, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT, &gen_version, NULL) !=
                    SQLITE_OK ||
            sqlite3_prepare_v3(gen_db, "SELECT name, gen FROM generations", -1, SQLITE_PREPARE_PERSISTENT, &gen_read,
                               NULL) != SQLITE_OK) {
                db_generations_done();
                return -EIO;
        }
        sqlite3_busy_timeout(gen_db, 5000);
        db_generations_refresh();
        wal_index_map();
        return 0;
}

void db_generations_done(void) {
        sqlite3_finalize(gen_version);
        sqlite3_finalize(gen_read);
        sqlite3_close(gen_db);
        gen_version = gen_read = NULL;
        gen_db = NULL;
        gen_seen = -1;
        wal_hdr = NULL;
        atomic_store(&wal_mark_seen, 0);
}

void db_generations_refresh(void) {
        uint64_t mark = wal_mark();
        if (mark && mark == atomic_load(&wal_mark_seen))
                return;
        pthread_mutex_lock(&gen_lock);
        if (!gen_db)
                goto out;
        /* Noted before the version is asked: a commit after this is seen
         * by the next look. */
        mark = wal_mark();
        int64_t v = sqlite3_step(gen_version) == SQLITE_ROW ? sqlite3_column_int64(gen_version, 0) : -2;
        sqlite3_reset(gen_version);
        /* The version is noted before the counters are read: a commit in
         * between is seen now or at the next look, never lost. */
        if (v == gen_seen && v != -2) {
                atomic_store(&wal_mark_seen, mark);
                goto out;
        }
        int k;
        while ((k = sqlite3_step(gen_read)) == SQLITE_ROW) {
                const char *name = (const char *) sqlite3_column_text(gen_read, 0);
                for (size_t i = 0; name && i < ELEMENTSOF(gen_names); i++)
                        if (streq(name, gen_names[i]))
                                atomic_store(&gens[i], (uint64_t) sqlite3_column_int64(gen_read, 1));
        }
        sqlite3_reset(gen_read);
        if (v != -2 && k == SQLITE_DONE) {
                gen_seen = v;
                atomic_store(&wal_mark_seen, mark);
        }
out:
        pthread_mutex_unlock(&gen_lock);
}

uint64_t db_generation(unsigned tables) {
        uint64_t sum = 0;
        for (size_t i = 0; i < ELEMENTSOF(gen_names); i++)
                if (tables & (1u << i))
                        sum += atomic_load(&gens[i]);
        return sum;
}

void db_rollback(sqlite3 *db) {
        if (!sqlite3_get_autocommit(db))
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}
