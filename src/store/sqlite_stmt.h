/* sqlite_stmt.h — private to store/: SQLite statements prepared once per
 * connection (they run on hot paths: every metered generation, every
 * history page) and run from a format string, so each operation is its
 * SQL and its arguments. The caller holds the connection's store lock.
 *
 * Arguments are bound as types says: 's' text (NULL binds NULL), 'i'
 * int64, 'b' a 32-byte blob, 'B' a blob as two arguments (pointer,
 * size_t length). A statement is found by the address of its
 * SQL, which must be a literal. */
#ifndef IG_STORE_SQLITE_STMT_H
#define IG_STORE_SQLITE_STMT_H

#include <sqlite3.h>
#include <stddef.h>

#define IG_SQLITE_CACHED 64

struct ig_sqlite_cache {
    sqlite3 *db;
    struct {
        const char *sql; /* the literal it was prepared from */
        sqlite3_stmt *st;
    } slot[IG_SQLITE_CACHED];
};

/* Finalizes the cached statements (before the connection closes). */
void ig_sqlite_cache_release(struct ig_sqlite_cache *c);
/* Runs a statement without rows: 0 (with *changes, when asked, the rows
 * it changed), IG_EEXISTS on a unique or primary key constraint, IG_EDB. */
int ig_sqlite_exec(struct ig_sqlite_cache *c, int *changes, const char *sql, const char *types,
                   ...);
/* Runs a query; row() is called for each row until it returns nonzero.
 * 0 when at least one row came, IG_ENOTFOUND when none did, IG_EDB. */
int ig_sqlite_query(struct ig_sqlite_cache *c, int (*row)(sqlite3_stmt *, void *), void *out,
                    const char *sql, const char *types, ...);
/* Column col as text into dst ("" for NULL). */
void ig_sqlite_text(char *dst, size_t size, sqlite3_stmt *st, int col);

#endif
