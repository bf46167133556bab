/* sqlite_stmt.c — statements prepared once per connection and run from a
 * format string; see sqlite_stmt.h. */
#include "store/sqlite_stmt.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#include <stdarg.h>
#include <string.h>

void ig_sqlite_cache_release(struct ig_sqlite_cache *c)
{
    for (int i = 0; i < IG_SQLITE_CACHED; i++) {
        sqlite3_finalize(c->slot[i].st);
        c->slot[i].st = NULL;
        c->slot[i].sql = NULL;
    }
}

/* The statement of sql (a literal: found by its address), prepared the
 * first time, and its arguments bound as types describes. */
static int prepare(struct ig_sqlite_cache *c, const char *sql, sqlite3_stmt **st, const char *types,
                   va_list ap)
{
    int i;
    for (i = 0; i < IG_SQLITE_CACHED && c->slot[i].sql && c->slot[i].sql != sql; i++)
        ;
    if (i == IG_SQLITE_CACHED) {
        ig_error("sqlite: more than %d cached statements", IG_SQLITE_CACHED);
        return IG_EDB;
    }
    if (!c->slot[i].sql) {
        if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->slot[i].st, NULL) !=
            SQLITE_OK) {
            ig_error("sqlite: prepare: %s", sqlite3_errmsg(c->db));
            sqlite3_finalize(c->slot[i].st);
            c->slot[i].st = NULL;
            return IG_EDB;
        }
        c->slot[i].sql = sql;
    }
    *st = c->slot[i].st;
    for (int a = 0; types[a]; a++) {
        if (types[a] == 's') {
            const char *v = va_arg(ap, const char *);
            if (v)
                sqlite3_bind_text(*st, a + 1, v, -1, SQLITE_TRANSIENT);
        } else if (types[a] == 'i') {
            sqlite3_bind_int64(*st, a + 1, va_arg(ap, int64_t));
        } else if (types[a] == 'B') {
            const uint8_t *v = va_arg(ap, const uint8_t *);
            size_t n = va_arg(ap, size_t);
            sqlite3_bind_blob(*st, a + 1, v, (int)n, SQLITE_TRANSIENT);
        } else {
            sqlite3_bind_blob(*st, a + 1, va_arg(ap, const uint8_t *), 32, SQLITE_TRANSIENT);
        }
    }
    return 0;
}

/* Runs sql with its arguments: row() (when given) is called for each row
 * until it returns nonzero, and a query that gives no row answers
 * IG_ENOTFOUND; *changes (when asked) gets the rows a write changed. A
 * unique or primary key constraint is IG_EEXISTS. */
static int run(struct ig_sqlite_cache *c, int (*row)(sqlite3_stmt *, void *), void *out,
               int *changes, const char *sql, const char *types, va_list ap)
{
    sqlite3 *db = c->db;
    sqlite3_stmt *st = NULL;
    int rc = prepare(c, sql, &st, types, ap);
    if (rc == 0) {
        int step, rows = 0;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            rows++;
            if (!row || row(st, out))
                break;
        }
        int ext = sqlite3_extended_errcode(db);
        if (step != SQLITE_ROW && step != SQLITE_DONE) {
            rc = ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE ? IG_EEXISTS
                                                                                        : IG_EDB;
            if (rc == IG_EDB)
                ig_error("sqlite: %s", sqlite3_errmsg(db));
        } else if (row && rows == 0) {
            rc = IG_ENOTFOUND;
        } else if (changes) {
            *changes = sqlite3_changes(db);
        }
    }
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    return rc;
}

int ig_sqlite_exec(struct ig_sqlite_cache *c, int *changes, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = run(c, NULL, NULL, changes, sql, types, ap);
    va_end(ap);
    return rc;
}

int ig_sqlite_query(struct ig_sqlite_cache *c, int (*row)(sqlite3_stmt *, void *), void *out,
                    const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = run(c, row, out, NULL, sql, types, ap);
    va_end(ap);
    return rc;
}

void ig_sqlite_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    ig_strlcpy(dst, t ? (const char *)t : "", size);
}
