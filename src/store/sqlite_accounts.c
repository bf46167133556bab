/* sqlite_accounts.c — the SQL of accounts, keys in transactions, the
 * ledger and holds; see sqlite_accounts.h. Each operation is its SQL and
 * its arguments (store/sqlite_stmt.h). */
#include "store/sqlite_accounts.h"
#include "store/sqlite_stmt.h"
#include "util/buf.h"
#include "util/err.h"

#include <string.h>

/* ---- accounts ---- */

#define ACCOUNT_COLUMNS "id, name, tier, balance, metered, created_at"

static void row_to_account(sqlite3_stmt *st, struct ig_account_record *a)
{
    memset(a, 0, sizeof *a);
    ig_sqlite_text(a->id, sizeof a->id, st, 0);
    ig_sqlite_text(a->name, sizeof a->name, st, 1);
    ig_sqlite_text(a->tier, sizeof a->tier, st, 2);
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
    return ig_sqlite_exec(c, NULL,
                          "INSERT INTO accounts (" ACCOUNT_COLUMNS ") VALUES (?, ?, ?, 0, ?, ?)",
                          "sssii", a->id, a->name, a->tier, (int64_t)a->metered, a->created_at);
}

int ig_sqlite_account_find(struct ig_sqlite_cache *c, const char *id, struct ig_account_record *out)
{
    return ig_sqlite_query(c, account_row, out,
                           "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE id = ?", "s", id);
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
    int rc =
        ig_sqlite_query(c, account_each_row, &e,
                        "SELECT " ACCOUNT_COLUMNS " FROM accounts ORDER BY created_at, rowid", "");
    return rc == IG_ENOTFOUND ? 0 : rc;
}

int ig_sqlite_account_update(struct ig_sqlite_cache *c, const char *id, const char *name,
                             const char *tier, struct ig_account_record *out)
{
    return ig_sqlite_query(c, account_row, out,
                           "UPDATE accounts SET name = coalesce(?2, name), tier = coalesce(?3, "
                           "tier) WHERE id = ?1 RETURNING " ACCOUNT_COLUMNS,
                           "sss", id, name, tier);
}

int ig_sqlite_key_insert(struct ig_sqlite_cache *c, const struct ig_key_record *k)
{
    char scopes[64];
    ig_scopes_format(k->scopes, scopes, sizeof scopes);
    return ig_sqlite_exec(
        c, NULL,
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
    int rc = covered
                 ? ig_sqlite_query(c, int64_row, &after,
                                   "UPDATE accounts SET balance = balance + ?1 WHERE id = ?2 AND "
                                   "(metered = 0 OR balance + ?1 >= 0) RETURNING balance",
                                   "is", e->amount, e->account_id)
                 : ig_sqlite_query(c, int64_row, &after,
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
              : ig_sqlite_exec(
                    c, NULL,
                    "INSERT INTO ledger (account_id, kind, amount, hold_id, generation_id, "
                    "reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    "ssisssi", e->account_id, ig_ledger_kind_name(e->kind), e->amount, e->hold_id,
                    e->generation_id, e->reason, e->created_ms);
}

int ig_sqlite_ledger_sum(struct ig_sqlite_cache *c, const char *account_id, int64_t *out)
{
    return ig_sqlite_query(c, int64_row, out,
                           "SELECT coalesce(sum(amount), 0) FROM ledger WHERE account_id = ?", "s",
                           account_id);
}

/* ---- holds ---- */

#define HOLD_COLUMNS "id, account_id, coalesce(generation_id, ''), amount, created_at"

static int hold_row(sqlite3_stmt *st, void *out)
{
    struct ig_hold_record *h = out;
    memset(h, 0, sizeof *h);
    ig_sqlite_text(h->id, sizeof h->id, st, 0);
    ig_sqlite_text(h->account_id, sizeof h->account_id, st, 1);
    ig_sqlite_text(h->generation_id, sizeof h->generation_id, st, 2);
    h->amount = sqlite3_column_int64(st, 3);
    h->created_ms = sqlite3_column_int64(st, 4);
    return 1;
}

int ig_sqlite_hold_insert(struct ig_sqlite_cache *c, const struct ig_hold_record *h)
{
    return ig_sqlite_exec(c, NULL,
                          "INSERT INTO holds (id, account_id, generation_id, amount, created_at) "
                          "VALUES (?, ?, ?, ?, ?)",
                          "sssii", h->id, h->account_id,
                          h->generation_id[0] ? h->generation_id : NULL, h->amount, h->created_ms);
}

int ig_sqlite_hold_close(struct ig_sqlite_cache *c, const char *id, int64_t now_ms,
                         struct ig_hold_record *out)
{
    return ig_sqlite_query(c, hold_row, out,
                           "UPDATE holds SET settled_at = ? WHERE id = ? AND settled_at IS NULL "
                           "RETURNING " HOLD_COLUMNS,
                           "is", now_ms, id);
}

int ig_sqlite_hold_oldest_open(struct ig_sqlite_cache *c, int64_t before_ms,
                               struct ig_hold_record *out)
{
    return ig_sqlite_query(c, hold_row, out,
                           "SELECT " HOLD_COLUMNS
                           " FROM holds WHERE settled_at IS NULL AND created_at < ? "
                           "ORDER BY created_at LIMIT 1",
                           "i", before_ms);
}
