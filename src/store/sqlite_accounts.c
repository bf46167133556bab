/* sqlite_accounts.c — the SQL of accounts, keys in transactions, the
 * ledger and holds; see sqlite_accounts.h. Statements are bound from a
 * format string ('s' text or NULL, 'i' int64, 'b' a 32-byte blob), so each
 * operation is its SQL and its arguments. */
#include "store/sqlite_accounts.h"
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

static int exec(struct ig_sqlite_cache *c, int *changes, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = run(c, NULL, NULL, changes, sql, types, ap);
    va_end(ap);
    return rc;
}

static int query(struct ig_sqlite_cache *c, int (*row)(sqlite3_stmt *, void *), void *out,
                 const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = run(c, row, out, NULL, sql, types, ap);
    va_end(ap);
    return rc;
}

static void text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    ig_strlcpy(dst, t ? (const char *)t : "", size);
}

/* ---- accounts ---- */

#define ACCOUNT_COLUMNS "id, name, tier, balance, metered, created_at"

static void row_to_account(sqlite3_stmt *st, struct ig_account_record *a)
{
    memset(a, 0, sizeof *a);
    text(a->id, sizeof a->id, st, 0);
    text(a->name, sizeof a->name, st, 1);
    text(a->tier, sizeof a->tier, st, 2);
    a->balance = sqlite3_column_int64(st, 3);
    a->metered = sqlite3_column_int(st, 4);
    a->created_at = sqlite3_column_int64(st, 5);
}

static int account_row(sqlite3_stmt *st, void *out)
{
    row_to_account(st, out);
    return 1;
}

int ig_sqlite_account_insert(struct ig_sqlite_cache *c, const struct ig_account_record *a)
{
    return exec(c, NULL, "INSERT INTO accounts (" ACCOUNT_COLUMNS ") VALUES (?, ?, ?, 0, ?, ?)",
                "sssii", a->id, a->name, a->tier, (int64_t)a->metered, a->created_at);
}

int ig_sqlite_account_find(struct ig_sqlite_cache *c, const char *id, struct ig_account_record *out)
{
    return query(c, account_row, out, "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE id = ?", "s",
                 id);
}

struct account_each {
    int (*cb)(const struct ig_account_record *, void *);
    void *ud;
};

static int account_each_row(sqlite3_stmt *st, void *p)
{
    struct account_each *e = p;
    struct ig_account_record a;
    row_to_account(st, &a);
    return e->cb(&a, e->ud);
}

int ig_sqlite_account_list(struct ig_sqlite_cache *c,
                           int (*cb)(const struct ig_account_record *, void *), void *ud)
{
    struct account_each e = {cb, ud};
    int rc = query(c, account_each_row, &e,
                   "SELECT " ACCOUNT_COLUMNS " FROM accounts ORDER BY created_at, rowid", "");
    return rc == IG_ENOTFOUND ? 0 : rc;
}

int ig_sqlite_key_insert(struct ig_sqlite_cache *c, const struct ig_key_record *k)
{
    char scopes[64];
    ig_scopes_format(k->scopes, scopes, sizeof scopes);
    return exec(c, NULL,
                "INSERT INTO api_keys (id, name, prefix, hash, scopes, created_at, revoked_at, "
                "account_id) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                "sssbsis", k->id, k->name, k->prefix, k->hash, scopes, k->created_at,
                k->account_id[0] ? k->account_id : IG_OPERATOR_ACCOUNT);
}

/* ---- the ledger ---- */

static int int64_row(sqlite3_stmt *st, void *out)
{
    *(int64_t *)out = sqlite3_column_int64(st, 0);
    return 1;
}

int ig_sqlite_ledger_append(struct ig_sqlite_cache *c, const struct ig_ledger_entry *e, int covered,
                            int64_t *balance)
{
    int64_t after = 0;
    /* The balance moves, and says where it ended, in one statement; when
     * covered, only if a metered account stays at or above zero. */
    int rc = covered ? query(c, int64_row, &after,
                             "UPDATE accounts SET balance = balance + ?1 WHERE id = ?2 AND "
                             "(metered = 0 OR balance + ?1 >= 0) RETURNING balance",
                             "is", e->amount, e->account_id)
                     : query(c, int64_row, &after,
                             "UPDATE accounts SET balance = balance + ? WHERE id = ? "
                             "RETURNING balance",
                             "is", e->amount, e->account_id);
    if (rc == IG_ENOTFOUND && covered) {
        struct ig_account_record a;
        rc = ig_sqlite_account_find(c, e->account_id, &a);
        after = a.balance;
        rc = rc ? rc : IG_EFUNDS;
    }
    if (balance)
        *balance = after;
    return rc ? rc
              : exec(c, NULL,
                     "INSERT INTO ledger (account_id, kind, amount, hold_id, generation_id, "
                     "reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     "ssisssi", e->account_id, ig_ledger_kind_name(e->kind), e->amount, e->hold_id,
                     e->generation_id, e->reason, e->created_ms);
}

int ig_sqlite_ledger_sum(struct ig_sqlite_cache *c, const char *account_id, int64_t *out)
{
    return query(c, int64_row, out,
                 "SELECT coalesce(sum(amount), 0) FROM ledger WHERE account_id = ?", "s",
                 account_id);
}

/* ---- holds ---- */

#define HOLD_COLUMNS "id, account_id, coalesce(generation_id, ''), amount, created_at"

static int hold_row(sqlite3_stmt *st, void *out)
{
    struct ig_hold_record *h = out;
    memset(h, 0, sizeof *h);
    text(h->id, sizeof h->id, st, 0);
    text(h->account_id, sizeof h->account_id, st, 1);
    text(h->generation_id, sizeof h->generation_id, st, 2);
    h->amount = sqlite3_column_int64(st, 3);
    h->created_ms = sqlite3_column_int64(st, 4);
    return 1;
}

int ig_sqlite_hold_insert(struct ig_sqlite_cache *c, const struct ig_hold_record *h)
{
    return exec(c, NULL,
                "INSERT INTO holds (id, account_id, generation_id, amount, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                "sssii", h->id, h->account_id, h->generation_id[0] ? h->generation_id : NULL,
                h->amount, h->created_ms);
}

int ig_sqlite_hold_close(struct ig_sqlite_cache *c, const char *id, int64_t now_ms,
                         struct ig_hold_record *out)
{
    return query(c, hold_row, out,
                 "UPDATE holds SET settled_at = ? WHERE id = ? AND settled_at IS NULL "
                 "RETURNING " HOLD_COLUMNS,
                 "is", now_ms, id);
}

int ig_sqlite_hold_oldest_open(struct ig_sqlite_cache *c, int64_t before_ms,
                               struct ig_hold_record *out)
{
    return query(c, hold_row, out,
                 "SELECT " HOLD_COLUMNS " FROM holds WHERE settled_at IS NULL AND created_at < ? "
                 "ORDER BY created_at LIMIT 1",
                 "i", before_ms);
}
