/* sqlite.c — the SQLite backend of store.h.
 *
 * One connection in WAL mode, serialized by a mutex: SQLite writes are
 * single-writer anyway, and every call here is short. Generation inserts,
 * the write every request makes, are group-committed: callers that arrive
 * while a commit runs share the next transaction (generation_insert). Migrations are the
 * numbered SQL files embedded at build time; each applies in its own
 * transaction and is recorded in schema_migrations, so a restart applies
 * only what is new. busy_timeout lets a second process (the CLI, another
 * instance on the same data dir) wait instead of failing. */
#include "store/checkpoint.h"
#include "store/ledger.h"
#include "store/sqlite_accounts.h"
#include "store/sqlite_jobs.h"
#include "store/sqlite_webhooks.h"
#include "store/sqlite_history.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/embed.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct sqlite_store {
    struct ig_store base;
    struct ig_store_tx tx; /* the one transaction a connection can have open */
    sqlite3 *db;
    pthread_mutex_t lock;
    /* The statements of the hottest write, prepared once (under lock). */
    sqlite3_stmt *gen_insert, *blob_insert;
    struct ig_buf images_json;               /* a row's images column, rebuilt per row */
    sqlite3_stmt *begin, *commit, *rollback; /* parsed once, not per transaction */
    /* The group commit's queue (generation_insert), under queue_lock. */
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_cond;
    struct gen_pending *queue, **queue_tail;
    int committing;
    struct ig_checkpointer *checkpointer; /* WAL checkpoints off the commit path */
    struct ig_sqlite_cache cache;         /* accounts, ledger, holds (sqlite_accounts.c) */
    /* Read-only connections of their own (struct reader) for reads that
     * may be long or many: in WAL mode they read a snapshot while the
     * writer goes on, so a report over millions of rows holds up no
     * generation's record. READ_REPORT runs the usage reports, which may
     * take seconds; READ_PAGE the rest (pages of history, jobs,
     * deliveries and the audit trail, whose filters may walk far; a job
     * and the four looks a second each of its event streams takes), so
     * a report never holds up a job's look. Not opened for ":memory:" (a
     * second connection would be another database): those reads take
     * the store lock then. */
    struct reader {
        sqlite3 *db; /* NULL: not opened */
        pthread_mutex_t lock;
        struct ig_sqlite_cache cache;
    } readers[2];
};

enum { READ_PAGE, READ_REPORT };

/* A caller's generation writes waiting for the group commit
 * (generation_insert). */
struct gen_pending {
    struct ig_generation_write *w;
    size_t n;
    int done;
    struct gen_pending *next;
};

#define DB(s)    (((struct sqlite_store *)(s))->db)
#define CACHE(s) (&((struct sqlite_store *)(s))->cache)

/* WAL pages that wake the background checkpointer: SQLite's own default
 * threshold (about 4 MB of WAL at 4 KiB pages). */
#define CHECKPOINT_PAGES 1000

static int db_fail(sqlite3 *db, const char *what)
{
    ig_error("sqlite: %s: %s", what, sqlite3_errmsg(db));
    return IG_EDB;
}

/* Steps a prepared statement without results and resets it. */
/* How long a statement waits for a lock another process holds. */
#define BUSY_MS 5000

static int run_once(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc;
}

static void lock(struct ig_store *s)
{
    pthread_mutex_lock(&((struct sqlite_store *)s)->lock);
}

static void unlock(struct ig_store *s)
{
    pthread_mutex_unlock(&((struct sqlite_store *)s)->lock);
}

static void copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    ig_strlcpy(dst, t ? (const char *)t : "", size);
}

static void row_to_key(sqlite3_stmt *st, struct ig_key_record *k)
{
    memset(k, 0, sizeof *k);
    copy_text(k->id, sizeof k->id, st, 0);
    copy_text(k->name, sizeof k->name, st, 1);
    copy_text(k->prefix, sizeof k->prefix, st, 2);
    const void *h = sqlite3_column_blob(st, 3);
    if (h && sqlite3_column_bytes(st, 3) == 32)
        memcpy(k->hash, h, 32);
    unsigned scopes = 0;
    const unsigned char *sc = sqlite3_column_text(st, 4);
    if (sc && ig_scopes_parse((const char *)sc, &scopes) == 0)
        k->scopes = scopes;
    k->created_at = sqlite3_column_int64(st, 5);
    k->revoked_at = sqlite3_column_int64(st, 6);
    copy_text(k->account_id, sizeof k->account_id, st, 7);
    copy_text(k->tier, sizeof k->tier, st, 8);
    k->metered = sqlite3_column_int(st, 9);
    copy_text(k->own_tier, sizeof k->own_tier, st, 10);
    k->limits.requests_per_minute = sqlite3_column_int64(st, 11);
    k->limits.images_per_minute = sqlite3_column_int64(st, 12);
    k->limits.concurrent = sqlite3_column_int64(st, 13);
    k->budgets.day = sqlite3_column_int64(st, 14);
    k->budgets.month = sqlite3_column_int64(st, 15);
    k->account_budgets.day = sqlite3_column_int64(st, 16);
    k->account_budgets.month = sqlite3_column_int64(st, 17);
    k->has_byok = sqlite3_column_int(st, 18);
}

/* A key with its tier (its own, else its account's), whether its account
 * is metered, its limits and both budgets, and whether its account has
 * keys of its own (BYOK), which every request needs and
 * the key cache keeps with it. */
#define KEY_COLUMNS                                                                                \
    "k.id, k.name, k.prefix, k.hash, k.scopes, k.created_at, k.revoked_at, k.account_id, "         \
    "coalesce(k.tier, a.tier, ''), coalesce(a.metered, 1), coalesce(k.tier, ''), "                 \
    "coalesce(k.requests_per_minute, -1), coalesce(k.images_per_minute, -1), "                     \
    "coalesce(k.concurrent, -1), coalesce(k.budget_day, -1), coalesce(k.budget_month, -1), "       \
    "coalesce(a.budget_day, -1), coalesce(a.budget_month, -1), "                                   \
    "EXISTS (SELECT 1 FROM byok_keys b WHERE b.account_id = k.account_id)"
#define KEY_FROM " FROM api_keys k LEFT JOIN accounts a ON a.id = k.account_id "

static int key_insert(struct ig_store *s, const struct ig_key_record *k)
{
    lock(s);
    int rc = ig_sqlite_key_insert(CACHE(s), k);
    unlock(s);
    return rc;
}

/* Runs a query expected to give at most one row, with one bound argument
 * (a 32-byte blob, text, or none) and hands the row to row(). 0, or
 * IG_ENOTFOUND when there is no row, or IG_EDB. The caller holds the lock. */
static int query_one_db(sqlite3 *db, const char *sql, const void *arg, int arg_is_blob,
                        void (*row)(sqlite3_stmt *, void *), void *out)
{
    sqlite3_stmt *st = NULL;
    int rc = IG_EDB;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, "prepare");
        goto out;
    }
    if (arg && arg_is_blob)
        sqlite3_bind_blob(st, 1, arg, 32, SQLITE_STATIC);
    else if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        row(st, out);
        rc = 0;
    } else if (step == SQLITE_DONE) {
        rc = IG_ENOTFOUND;
    } else {
        db_fail(db, "query");
    }
out:
    sqlite3_finalize(st);
    return rc;
}

static int query_one(struct ig_store *s, const char *sql, const void *arg, int arg_is_blob,
                     void (*row)(sqlite3_stmt *, void *), void *out)
{
    lock(s);
    int rc = query_one_db(DB(s), sql, arg, arg_is_blob, row, out);
    unlock(s);
    return rc;
}

static void int64_row(sqlite3_stmt *st, void *out)
{
    *(int64_t *)out = sqlite3_column_int64(st, 0);
}

static int key_row_cached(sqlite3_stmt *st, void *out)
{
    row_to_key(st, out);
    return 1;
}

/* A key by its hash or id, with the statements prepared once per
 * connection (sqlite_stmt.h): every key-cache miss comes here, a flood of
 * random keys included, so nothing is prepared per lookup. The caller
 * holds the lock. */
static int key_by_hash_db(struct ig_store *s, const uint8_t hash[32], struct ig_key_record *out)
{
    return ig_sqlite_query(CACHE(s), key_row_cached, out,
                           "SELECT " KEY_COLUMNS KEY_FROM "WHERE k.hash = ?", "b", hash);
}

static int key_by_id_db(struct ig_store *s, const char *id, struct ig_key_record *out)
{
    return ig_sqlite_query(CACHE(s), key_row_cached, out,
                           "SELECT " KEY_COLUMNS KEY_FROM "WHERE k.id = ?", "s", id);
}

static int key_find_by_hash(struct ig_store *s, const uint8_t hash[32], struct ig_key_record *out)
{
    lock(s);
    int rc = key_by_hash_db(s, hash, out);
    unlock(s);
    return rc;
}

static int key_find_by_id(struct ig_store *s, const char *id, struct ig_key_record *out)
{
    lock(s);
    int rc = key_by_id_db(s, id, out);
    unlock(s);
    return rc;
}

/* Runs one bound statement without results; 0 (with *changes, when
 * asked, the rows it changed), IG_EEXISTS on a constraint, or IG_EDB. The
 * caller holds the lock. */
static int exec_bound_db(sqlite3 *db, const char *sql, int (*bind)(sqlite3_stmt *, void *),
                         void *ud, int *changes)
{
    sqlite3_stmt *st = NULL;
    int rc = IG_EDB;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, "prepare");
        goto out;
    }
    bind(st, ud);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        rc = 0;
        if (changes)
            *changes = sqlite3_changes(db);
    } else if (step == SQLITE_CONSTRAINT) {
        rc = IG_EEXISTS;
    } else {
        db_fail(db, "statement");
    }
out:
    sqlite3_finalize(st);
    return rc;
}

static int exec_bound(struct ig_store *s, const char *sql, int (*bind)(sqlite3_stmt *, void *),
                      void *ud, int *changes)
{
    lock(s);
    int rc = exec_bound_db(DB(s), sql, bind, ud, changes);
    unlock(s);
    return rc;
}

struct update_args {
    const char *id;
    const uint8_t *hash;
    const char *prefix;
    const char *scopes;
    int64_t now;
};

static int bind_update(sqlite3_stmt *st, void *ud)
{
    struct update_args *a = ud;
    sqlite3_bind_blob(st, 1, a->hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->scopes, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->id, -1, SQLITE_STATIC);
    return 0;
}

static int key_update_hash(struct ig_store *s, const char *id, const uint8_t hash[32],
                           const char *prefix, unsigned scopes)
{
    char sc[64];
    ig_scopes_format(scopes, sc, sizeof sc);
    struct update_args a = {.id = id, .hash = hash, .prefix = prefix, .scopes = sc};
    int changes = 0;
    int rc = exec_bound(s,
                        "UPDATE api_keys SET hash = ?, prefix = ?, scopes = ?, revoked_at = NULL "
                        "WHERE id = ?",
                        bind_update, &a, &changes);
    if (rc == 0 && changes == 0)
        rc = IG_ENOTFOUND;
    return rc;
}

static int bind_revoke(sqlite3_stmt *st, void *ud)
{
    struct update_args *a = ud;
    sqlite3_bind_int64(st, 1, a->now);
    sqlite3_bind_text(st, 2, a->id, -1, SQLITE_STATIC);
    return 0;
}

/* The operations of a transaction (store.h: transact): the store's lock
 * is held and a transaction is open on its connection for their whole
 * run, so they neither lock nor begin. */

static int tx_key_find_by_id(struct ig_store_tx *tx, const char *id, struct ig_key_record *out)
{
    return key_by_id_db(tx->store, id, out);
}

static int tx_key_revoke(struct ig_store_tx *tx, const char *id, int64_t now)
{
    struct update_args a = {.id = id, .now = now};
    int changes = 0;
    int rc = exec_bound_db(DB(tx->store),
                           "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                           bind_revoke, &a, &changes);
    if (rc == 0 && changes == 0)
        rc = IG_ENOTFOUND;
    return rc;
}

static int tx_key_count_live(struct ig_store_tx *tx, unsigned scope, int64_t *out)
{
    char name[64];
    ig_scopes_format(scope, name, sizeof name);
    if (strchr(name, ',') || !name[0])
        return IG_EINVAL; /* one scope at a time */
    return query_one_db(DB(tx->store),
                        "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL "
                        "AND (',' || scopes || ',') LIKE ('%,' || ? || ',%')",
                        name, 0, int64_row, out);
}

static int tx_key_insert(struct ig_store_tx *tx, const struct ig_key_record *k)
{
    return ig_sqlite_key_insert(CACHE(tx->store), k);
}

static int tx_account_insert(struct ig_store_tx *tx, const struct ig_account_record *a)
{
    return ig_sqlite_account_insert(CACHE(tx->store), a);
}

static int tx_account_find(struct ig_store_tx *tx, const char *id, struct ig_account_record *out)
{
    return ig_sqlite_account_find(CACHE(tx->store), id, out);
}

static int tx_account_balance(struct ig_store_tx *tx, const char *id, int64_t *balance,
                              int *metered)
{
    return ig_sqlite_account_balance(CACHE(tx->store), id, balance, metered);
}

static int tx_ledger_append(struct ig_store_tx *tx, const struct ig_ledger_entry *e, int covered,
                            int64_t *balance)
{
    return ig_sqlite_ledger_append(CACHE(tx->store), e, covered, balance);
}

static int tx_ledger_sum(struct ig_store_tx *tx, const char *account_id, int64_t *out)
{
    return ig_sqlite_ledger_sum(CACHE(tx->store), account_id, out);
}

static int tx_hold_insert(struct ig_store_tx *tx, const struct ig_hold_record *h)
{
    return ig_sqlite_hold_insert(CACHE(tx->store), h);
}

static int tx_hold_close(struct ig_store_tx *tx, const char *id, int64_t now_ms,
                         struct ig_hold_record *out)
{
    return ig_sqlite_hold_close(CACHE(tx->store), id, now_ms, out);
}

static int tx_hold_oldest_open(struct ig_store_tx *tx, int64_t before_ms,
                               struct ig_hold_record *out)
{
    return ig_sqlite_hold_oldest_open(CACHE(tx->store), before_ms, out);
}

/* The statements of reader `which` (READ_PAGE, READ_REPORT), under
 * its own lock; else the store's own under the store lock. End with
 * reader_end. */
static struct ig_sqlite_cache *reader_begin(struct ig_store *s, int which)
{
    struct reader *r = &((struct sqlite_store *)s)->readers[which];
    if (!r->db) {
        lock(s);
        return CACHE(s);
    }
    pthread_mutex_lock(&r->lock);
    return &r->cache;
}

static void reader_end(struct ig_store *s, int which)
{
    struct reader *r = &((struct sqlite_store *)s)->readers[which];
    if (r->db)
        pthread_mutex_unlock(&r->lock);
    else
        unlock(s);
}

/* Returns fn(reader which's statements, ...). */
#define READING(s, which, fn, ...)                                                                 \
    do {                                                                                           \
        int rc_ = fn(reader_begin(s, which), __VA_ARGS__);                                         \
        reader_end(s, which);                                                                      \
        return rc_;                                                                                \
    } while (0)

static int generation_history(struct ig_store *s, const struct ig_history_query *q,
                              int (*cb)(const struct ig_history_row *, void *), void *ud)
{
    READING(s, READ_PAGE, ig_sqlite_generation_history, q, cb, ud);
}

static int usage(struct ig_store *s, const char *account_id, int64_t from_ms, int64_t to_ms,
                 enum ig_usage_group by, int (*cb)(const struct ig_usage_row *, void *), void *ud)
{
    READING(s, READ_REPORT, ig_sqlite_usage, account_id, from_ms, to_ms, by, cb, ud);
}

static int account_find(struct ig_store *s, const char *id, struct ig_account_record *out)
{
    lock(s);
    int rc = ig_sqlite_account_find(CACHE(s), id, out);
    unlock(s);
    return rc;
}

static int account_update(struct ig_store *s, const char *id, const struct ig_account_patch *p,
                          struct ig_account_record *out)
{
    lock(s);
    int rc = ig_sqlite_account_update(CACHE(s), id, p, out);
    unlock(s);
    return rc;
}

static int key_update(struct ig_store *s, const char *id, const struct ig_key_patch *p,
                      struct ig_key_record *out)
{
    lock(s);
    int rc = ig_sqlite_key_update(CACHE(s), id, p);
    rc = rc ? rc : key_by_id_db(s, id, out);
    unlock(s);
    return rc;
}

static int tx_budget_add(struct ig_store_tx *tx, const char *subject, const char *period,
                         int64_t delta, int64_t limit, int64_t *spent)
{
    return ig_sqlite_budget_add(CACHE(tx->store), subject, period, delta, limit, spent);
}

static int tx_budget_spent(struct ig_store_tx *tx, const char *subject, const char *period,
                           int64_t *out)
{
    return ig_sqlite_budget_spent(CACHE(tx->store), subject, period, out);
}

static int tx_budget_alert(struct ig_store_tx *tx, const struct ig_budget_alert *a, int *added)
{
    return ig_sqlite_budget_alert(CACHE(tx->store), a, added);
}

/* The operations outside transactions that are one call of
 * sqlite_accounts.c under the store's lock. */
#define LOCKED(s, call)                                                                            \
    do {                                                                                           \
        lock(s);                                                                                   \
        int rc_ = (call);                                                                          \
        unlock(s);                                                                                 \
        return rc_;                                                                                \
    } while (0)

static int budget_spent(struct ig_store *s, const char *subject, const char *period, int64_t *out)
{
    LOCKED(s, ig_sqlite_budget_spent(CACHE(s), subject, period, out));
}

static int budget_alerts(struct ig_store *s, const char *account_id, int64_t since_ms,
                         int (*cb)(const struct ig_budget_alert *, void *), void *ud)
{
    LOCKED(s, ig_sqlite_budget_alerts(CACHE(s), account_id, since_ms, cb, ud));
}

static int audit_append(struct ig_store *s, const struct ig_audit_record *r)
{
    LOCKED(s, ig_sqlite_audit_append(CACHE(s), r));
}

static int audit_list(struct ig_store *s, const struct ig_audit_query *q,
                      int (*cb)(const struct ig_audit_record *, void *), void *ud)
{
    READING(s, READ_PAGE, ig_sqlite_audit_list, q, cb, ud);
}

static int idem_claim(struct ig_store *s, const struct ig_idem_claim *c, struct ig_idem_found *out)
{
    LOCKED(s, ig_sqlite_idem_claim(CACHE(s), c, out));
}

static int idem_finish(struct ig_store *s, const char *account_id, const char *key, int status,
                       const char *content_type, const char *headers, const char *body,
                       size_t body_len)
{
    LOCKED(s, ig_sqlite_idem_finish(CACHE(s), account_id, key, status, content_type, headers, body,
                                    body_len));
}

static int byok_put(struct ig_store *s, const struct ig_byok_record *r)
{
    LOCKED(s, ig_sqlite_byok_put(CACHE(s), r));
}

static int byok_delete(struct ig_store *s, const char *account_id, const char *provider)
{
    LOCKED(s, ig_sqlite_byok_delete(CACHE(s), account_id, provider));
}

static int byok_list(struct ig_store *s, const char *account_id,
                     int (*cb)(const struct ig_byok_record *, void *), void *ud)
{
    LOCKED(s, ig_sqlite_byok_list(CACHE(s), account_id, cb, ud));
}

static int tx_job_insert(struct ig_store_tx *tx, const struct ig_job_record *j)
{
    return ig_sqlite_job_insert(CACHE(tx->store), j);
}

static int tx_job_find(struct ig_store_tx *tx, const char *id, struct ig_job_record *out)
{
    return ig_sqlite_job_find(CACHE(tx->store), NULL, id, out);
}

static int tx_job_end(struct ig_store_tx *tx, const char *id, const char *owner, const char *status,
                      const char *generation_id, const char *error, int64_t now_ms)
{
    return ig_sqlite_job_end(CACHE(tx->store), id, owner, status, generation_id, error, now_ms);
}

static int tx_job_request_cancel(struct ig_store_tx *tx, const char *id)
{
    return ig_sqlite_job_request_cancel(CACHE(tx->store), id);
}

static int job_find(struct ig_store *s, const char *account_id, const char *id,
                    struct ig_job_record *out)
{
    READING(s, READ_PAGE, ig_sqlite_job_find, account_id, id, out);
}

static int job_list(struct ig_store *s, const struct ig_job_query *q,
                    int (*cb)(const struct ig_job_record *, void *), void *ud)
{
    READING(s, READ_PAGE, ig_sqlite_job_list, q, cb, ud);
}

static int job_claim(struct ig_store *s, const char *owner, int64_t now_ms, int64_t lease_ms,
                     int max, int (*cb)(const struct ig_job_record *, void *), void *ud)
{
    LOCKED(s, ig_sqlite_job_claim(CACHE(s), owner, now_ms, lease_ms, max, cb, ud));
}

static int job_renew(struct ig_store *s, const char *owner, int64_t until_ms,
                     int (*cb)(const char *id, void *), void *ud)
{
    LOCKED(s, ig_sqlite_job_renew(CACHE(s), owner, until_ms, cb, ud));
}

static int job_set_upstream(struct ig_store *s, const char *id, const char *owner,
                            const char *upstream)
{
    LOCKED(s, ig_sqlite_job_set_upstream(CACHE(s), id, owner, upstream));
}

static int tx_webhook_enqueue(struct ig_store_tx *tx, const struct ig_webhook_record *w,
                              const char *url, const char *payload)
{
    return ig_sqlite_webhook_enqueue(CACHE(tx->store), w, url, payload);
}

static int webhook_claim(struct ig_store *s, const char *owner, int64_t now_ms, int64_t lease_ms,
                         int max, int (*cb)(const struct ig_webhook_record *, void *), void *ud)
{
    LOCKED(s, ig_sqlite_webhook_claim(CACHE(s), owner, now_ms, lease_ms, max, cb, ud));
}

static int webhook_attempted(struct ig_store *s, const char *id, const char *owner,
                             const struct ig_webhook_attempt *a)
{
    LOCKED(s, ig_sqlite_webhook_attempted(CACHE(s), id, owner, a));
}

static int webhook_disable_endpoint(struct ig_store *s, const char *account_id, const char *url,
                                    int64_t now_ms)
{
    LOCKED(s, ig_sqlite_webhook_disable_endpoint(CACHE(s), account_id, url, now_ms));
}

static int webhook_list(struct ig_store *s, const char *account_id, const char *before_id,
                        int limit, int (*cb)(const struct ig_webhook_record *, void *), void *ud)
{
    READING(s, READ_PAGE, ig_sqlite_webhook_list, account_id, before_id, limit, cb, ud);
}

static int webhook_redeliver(struct ig_store *s, const char *account_id, const char *id,
                             int64_t now_ms, struct ig_webhook_record *out)
{
    LOCKED(s, ig_sqlite_webhook_redeliver(CACHE(s), account_id, id, now_ms, out));
}

static int webhook_secret_version(struct ig_store *s, const char *account_id, int64_t *version,
                                  int64_t *previous_until_ms)
{
    LOCKED(s, ig_sqlite_webhook_secret_version(CACHE(s), account_id, version, previous_until_ms));
}

static int webhook_secret_rotate(struct ig_store *s, const char *account_id,
                                 int64_t previous_until_ms, int64_t *version)
{
    LOCKED(s, ig_sqlite_webhook_secret_rotate(CACHE(s), account_id, previous_until_ms, version));
}

static int webhook_next_due(struct ig_store *s, int64_t *ms)
{
    LOCKED(s, ig_sqlite_webhook_next_due(CACHE(s), ms));
}

static int webhook_endpoint_set(struct ig_store *s, const char *account_id, const char *url,
                                int64_t now_ms)
{
    LOCKED(s, ig_sqlite_webhook_endpoint_set(CACHE(s), account_id, url, now_ms));
}

static int webhook_endpoint_get(struct ig_store *s, const char *account_id, char **url)
{
    LOCKED(s, ig_sqlite_webhook_endpoint_get(CACHE(s), account_id, url));
}

static int tx_webhook_account_event(struct ig_store_tx *tx, const struct ig_webhook_record *w,
                                    const char *payload)
{
    return ig_sqlite_webhook_account_event(CACHE(tx->store), w, payload);
}

static int job_set_progress(struct ig_store *s, const char *id, const char *owner,
                            const char *progress)
{
    LOCKED(s, ig_sqlite_job_set_progress(CACHE(s), id, owner, progress));
}

static int batch_insert(struct ig_store *s, const struct ig_batch_record *b)
{
    LOCKED(s, ig_sqlite_batch_insert(CACHE(s), b));
}

static int batch_find(struct ig_store *s, const char *account_id, const char *id,
                      struct ig_batch_record *out)
{
    READING(s, READ_PAGE, ig_sqlite_batch_find, account_id, id, out);
}

static int batch_set_rejected(struct ig_store *s, const char *id, const char *rejected)
{
    LOCKED(s, ig_sqlite_batch_set_rejected(CACHE(s), id, rejected));
}

static int account_list(struct ig_store *s, int (*cb)(const struct ig_account_record *, void *),
                        void *ud)
{
    lock(s);
    int rc = ig_sqlite_account_list(CACHE(s), cb, ud);
    unlock(s);
    return rc;
}

/* BEGIN IMMEDIATE takes the write lock at once, so what body reads stays
 * true until it commits (no other writer, in this process or another, can
 * come between its reads and its writes). */
static int transact(struct ig_store *s, int (*body)(struct ig_store_tx *tx, void *ud), void *ud)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    lock(s);
    int rc = run_once(ss->begin) == SQLITE_DONE ? 0 : db_fail(ss->db, "begin");
    if (rc == 0) {
        rc = body(&ss->tx, ud);
        if (rc == 0 && run_once(ss->commit) != SQLITE_DONE)
            rc = db_fail(ss->db, "commit");
        if (rc)
            run_once(ss->rollback);
    }
    unlock(s);
    return rc;
}

static int key_list(struct ig_store *s, int (*cb)(const struct ig_key_record *, void *), void *ud)
{
    lock(s);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(DB(s), "SELECT " KEY_COLUMNS KEY_FROM "ORDER BY k.created_at, k.rowid",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(DB(s), "prepare key list");
        goto out;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct ig_key_record k;
        row_to_key(st, &k);
        if (cb(&k, ud))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = db_fail(DB(s), "key list");
out:
    sqlite3_finalize(st);
    unlock(s);
    return rc;
}

/* The images column of a generation (migration 0002): its images in
 * order, [{"sha256":"...","seed":42},...], seed null when unknown. */
static int images_json(struct ig_buf *b, const struct ig_image_record *images, size_t nimages)
{
    ig_buf_reset(b);
    struct ig_jw w = {.b = b}; /* a bare array: see ig_jw in util/json.h */
    ig_jw_open(&w, NULL, '[');
    for (size_t i = 0; i < nimages; i++) {
        ig_jw_open(&w, NULL, '{');
        ig_jw_str(&w, "sha256", images[i].sha256);
        if (images[i].seed >= 0)
            ig_jw_int(&w, "seed", images[i].seed);
        else
            ig_jw_value(&w, "seed", NULL);
        ig_jw_close(&w, '}');
    }
    ig_jw_close(&w, ']');
    return w.rc;
}

/* Inserts one generation and its images (their blobs, and the list in
 * the generation's row) inside the open transaction. */
static int insert_one(struct sqlite_store *ss, const struct ig_generation_record *g,
                      const struct ig_image_record *images, size_t nimages)
{
    sqlite3_stmt *gen = ss->gen_insert, *blob = ss->blob_insert;
    if (images_json(&ss->images_json, images, nimages))
        return IG_ENOMEM;
    int rc = 0;
    sqlite3_bind_text(gen, 1, g->id, -1, SQLITE_STATIC);
    if (g->key_id[0])
        sqlite3_bind_text(gen, 2, g->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(gen, 3, g->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(gen, 4, g->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(gen, 5, g->provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(gen, 6, g->prompt ? g->prompt : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(gen, 7, g->params_json ? g->params_json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int(gen, 8, g->n);
    sqlite3_bind_int(gen, 9, g->width);
    sqlite3_bind_int(gen, 10, g->height);
    sqlite3_bind_text(gen, 11, g->status, -1, SQLITE_STATIC);
    if (g->error)
        sqlite3_bind_text(gen, 12, g->error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(gen, 13, g->created_ms);
    sqlite3_bind_int64(gen, 14, g->completed_ms);
    sqlite3_bind_int64(gen, 15, g->latency_us);
    sqlite3_bind_text(gen, 16, ss->images_json.data, (int)ss->images_json.len, SQLITE_STATIC);
    if (g->account_id[0])
        sqlite3_bind_text(gen, 17, g->account_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(gen, 18, g->cost);
    if (sqlite3_step(gen) != SQLITE_DONE)
        rc = db_fail(ss->db, "generation insert");
    for (size_t i = 0; rc == 0 && i < nimages; i++) {
        const struct ig_image_record *im = &images[i];
        sqlite3_reset(blob);
        sqlite3_bind_text(blob, 1, im->sha256, -1, SQLITE_STATIC);
        sqlite3_bind_text(blob, 2, im->format, -1, SQLITE_STATIC);
        sqlite3_bind_int64(blob, 3, im->bytes);
        sqlite3_bind_int(blob, 4, im->width);
        sqlite3_bind_int(blob, 5, im->height);
        sqlite3_bind_int64(blob, 6, g->completed_ms / 1000);
        if (sqlite3_step(blob) != SQLITE_DONE)
            rc = db_fail(ss->db, "blob insert");
    }
    /* Ready for the next row: no result pending, no values kept. */
    sqlite3_stmt *const all[] = {gen, blob};
    for (size_t i = 0; i < 2; i++) {
        sqlite3_reset(all[i]);
        sqlite3_clear_bindings(all[i]);
    }
    return rc;
}

/* Records the writes in one transaction; 0 or IG_EDB (then rolled back),
 * with *row_failed set when a row was refused (rather than the transaction
 * itself: a busy or full database). Under the store lock. */
static int commit_writes(struct sqlite_store *ss, struct ig_generation_write *const *w, size_t n,
                         int *row_failed)
{
    *row_failed = 0;
    if (run_once(ss->begin) != SQLITE_DONE)
        return db_fail(ss->db, "begin");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = insert_one(ss, w[i]->g, w[i]->images, w[i]->nimages);
        if (rc == 0 && w[i]->also)
            rc = w[i]->also(&ss->tx, w[i]->also_ud) ? IG_EDB : 0;
        *row_failed = rc != 0;
    }
    /* The transaction's charges, together: one entry per account. */
    if (rc == 0 && (rc = ig_ledger_charge_writes(&ss->tx, w, n, ig_unix_ms())))
        *row_failed = 1;
    if (rc == 0 && run_once(ss->commit) != SQLITE_DONE)
        rc = db_fail(ss->db, "commit");
    if (rc)
        run_once(ss->rollback);
    return rc;
}

/* Commits every write of a batch of callers in one transaction, setting
 * each write's rc. When a row is refused (one bad row rolls back the rest),
 * each write is tried again on its own, so a bad one fails alone; when the
 * transaction itself fails (busy past busy_timeout, disk full), all fail
 * at once rather than each waiting in turn. */
static void commit_batch(struct sqlite_store *ss, struct gen_pending *batch)
{
    size_t n = 0, k = 0;
    for (struct gen_pending *p = batch; p; p = p->next)
        n += p->n;
    struct ig_generation_write *one[1], **all = n > 1 ? malloc(n * sizeof *all) : one;
    if (!all) {
        for (struct gen_pending *p = batch; p; p = p->next)
            for (size_t i = 0; i < p->n; i++)
                p->w[i].rc = IG_ENOMEM;
        return;
    }
    for (struct gen_pending *p = batch; p; p = p->next)
        for (size_t i = 0; i < p->n; i++)
            all[k++] = &p->w[i];
    lock(&ss->base);
    int row_failed = 0, alone;
    int rc = n ? commit_writes(ss, all, n, &row_failed) : 0;
    for (size_t i = 0; i < n; i++)
        all[i]->rc = row_failed && n > 1 ? commit_writes(ss, &all[i], 1, &alone) : rc;
    unlock(&ss->base);
    if (all != one)
        free(all);
}

/* Group commit: a caller queues its insert; if no commit is running it
 * commits everything queued so far (its own and others') in one
 * transaction, else it waits for the running one to finish and looks
 * again. Concurrent callers share a transaction, so under load the cost of
 * a commit (the WAL pages, the locks) is shared between requests, while an
 * idle store commits at once. Returns when this caller's writes are
 * committed (or have failed). */
static int generation_insert(struct ig_store *s, struct ig_generation_write *w, size_t n)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    struct gen_pending me = {.w = w, .n = n};
    pthread_mutex_lock(&ss->queue_lock);
    *ss->queue_tail = &me;
    ss->queue_tail = &me.next;
    while (!me.done) {
        if (ss->committing) {
            pthread_cond_wait(&ss->queue_cond, &ss->queue_lock);
            continue;
        }
        struct gen_pending *batch = ss->queue;
        ss->queue = NULL;
        ss->queue_tail = &ss->queue;
        ss->committing = 1;
        pthread_mutex_unlock(&ss->queue_lock);
        commit_batch(ss, batch);
        pthread_mutex_lock(&ss->queue_lock);
        /* Waiters read done under queue_lock, so none returns (and takes
         * its entry off the stack) before the lock is released. */
        for (struct gen_pending *p = batch; p; p = p->next)
            p->done = 1;
        ss->committing = 0;
        pthread_cond_broadcast(&ss->queue_cond);
    }
    pthread_mutex_unlock(&ss->queue_lock);
    for (size_t i = 0; i < n; i++)
        if (w[i].rc)
            return w[i].rc;
    return 0;
}

static int scalar_int64(struct ig_store *s, const char *sql, const char *arg, int64_t *out)
{
    return query_one(s, sql, arg, 0, int64_row, out);
}

static int generation_count(struct ig_store *s, int64_t *out)
{
    return scalar_int64(s, "SELECT count(*) FROM generations", NULL, out);
}

static int blob_known(struct ig_store *s, const char *sha256)
{
    int64_t one;
    int rc = scalar_int64(s, "SELECT 1 FROM blobs WHERE sha256 = ?", sha256, &one);
    if (rc == IG_ENOTFOUND)
        return 0;
    return rc ? rc : 1;
}

/* The store answers when it can take the write lock within
 * PING_BUSY_MS: a database another process holds locked, or one that
 * cannot be read or written, is not ready ("SELECT 1" touched neither the
 * file nor the lock). */
#define PING_BUSY_MS 500

static int ping(struct ig_store *s)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    /* The connection too is waited for PING_BUSY_MS at most: another of
     * its users (a job claim, a record) may be the one waiting out the
     * other process's lock, BUSY_MS long. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)PING_BUSY_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    if (pthread_mutex_timedlock(&ss->lock, &until) != 0) {
        ig_error("sqlite: ping: the connection stayed busy for %d ms", PING_BUSY_MS);
        return IG_EDB;
    }
    sqlite3_busy_timeout(ss->db, PING_BUSY_MS);
    int rc = run_once(ss->begin) == SQLITE_DONE ? 0 : db_fail(ss->db, "ping");
    if (rc == 0)
        run_once(ss->rollback);
    sqlite3_busy_timeout(ss->db, BUSY_MS);
    unlock(s);
    return rc;
}

static void sqlite_close(struct ig_store *s)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    ig_checkpointer_stop(ss->checkpointer);
    ig_sqlite_cache_release(&ss->cache);
    for (size_t i = 0; i < sizeof ss->readers / sizeof ss->readers[0]; i++) {
        ig_sqlite_cache_release(&ss->readers[i].cache);
        sqlite3_close(ss->readers[i].db);
        pthread_mutex_destroy(&ss->readers[i].lock);
    }
    sqlite3_finalize(ss->gen_insert);
    sqlite3_finalize(ss->blob_insert);
    ig_buf_release(&ss->images_json);
    sqlite3_finalize(ss->begin);
    sqlite3_finalize(ss->commit);
    sqlite3_finalize(ss->rollback);
    sqlite3_close(ss->db);
    pthread_mutex_destroy(&ss->lock);
    pthread_mutex_destroy(&ss->queue_lock);
    pthread_cond_destroy(&ss->queue_cond);
    free(ss);
}

static const struct ig_store_ops sqlite_ops = {
    .key_insert = key_insert,
    .key_find_by_hash = key_find_by_hash,
    .key_find_by_id = key_find_by_id,
    .key_update_hash = key_update_hash,
    .key_list = key_list,
    .transact = transact,
    .tx_key_find_by_id = tx_key_find_by_id,
    .tx_key_revoke = tx_key_revoke,
    .tx_key_count_live = tx_key_count_live,
    .tx_key_insert = tx_key_insert,
    .tx_account_insert = tx_account_insert,
    .tx_account_find = tx_account_find,
    .tx_account_balance = tx_account_balance,
    .tx_ledger_append = tx_ledger_append,
    .tx_ledger_sum = tx_ledger_sum,
    .tx_hold_insert = tx_hold_insert,
    .tx_hold_close = tx_hold_close,
    .tx_hold_oldest_open = tx_hold_oldest_open,
    .account_find = account_find,
    .account_update = account_update,
    .key_update = key_update,
    .tx_budget_add = tx_budget_add,
    .tx_budget_spent = tx_budget_spent,
    .tx_budget_alert = tx_budget_alert,
    .budget_spent = budget_spent,
    .budget_alerts = budget_alerts,
    .audit_append = audit_append,
    .audit_list = audit_list,
    .idem_claim = idem_claim,
    .idem_finish = idem_finish,
    .tx_job_insert = tx_job_insert,
    .tx_job_find = tx_job_find,
    .tx_job_end = tx_job_end,
    .tx_job_request_cancel = tx_job_request_cancel,
    .job_find = job_find,
    .job_list = job_list,
    .job_claim = job_claim,
    .job_renew = job_renew,
    .job_set_upstream = job_set_upstream,
    .job_set_progress = job_set_progress,
    .tx_webhook_enqueue = tx_webhook_enqueue,
    .webhook_claim = webhook_claim,
    .webhook_attempted = webhook_attempted,
    .webhook_disable_endpoint = webhook_disable_endpoint,
    .webhook_list = webhook_list,
    .webhook_redeliver = webhook_redeliver,
    .webhook_secret_version = webhook_secret_version,
    .webhook_secret_rotate = webhook_secret_rotate,
    .webhook_next_due = webhook_next_due,
    .webhook_endpoint_set = webhook_endpoint_set,
    .webhook_endpoint_get = webhook_endpoint_get,
    .tx_webhook_account_event = tx_webhook_account_event,
    .batch_insert = batch_insert,
    .batch_find = batch_find,
    .batch_set_rejected = batch_set_rejected,
    .byok_put = byok_put,
    .byok_delete = byok_delete,
    .byok_list = byok_list,
    .generation_history = generation_history,
    .usage = usage,
    .account_list = account_list,
    .generation_insert = generation_insert,
    .generation_count = generation_count,
    .blob_known = blob_known,
    .ping = ping,
    .close = sqlite_close,
};

static int migrate(sqlite3 *db)
{
    if (sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                     "name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, "create schema_migrations");
    for (const struct ig_embedded_file *m = ig_migrations; m->name; m++) {
        int64_t version = 0;
        for (const char *p = m->name; *p >= '0' && *p <= '9'; p++)
            version = version * 10 + (*p - '0');
        sqlite3_stmt *st = NULL;
        sqlite3_prepare_v2(db, "SELECT 1 FROM schema_migrations WHERE version = ?", -1, &st, NULL);
        sqlite3_bind_int64(st, 1, version);
        int applied = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (applied)
            continue;
        char *err = NULL;
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return db_fail(db, "begin migration");
        if (sqlite3_exec(db, m->data, NULL, NULL, &err) != SQLITE_OK) {
            ig_error("migration '%s' failed: %s", m->name, err ? err : "?");
            sqlite3_free(err);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return IG_EDB;
        }
        sqlite3_prepare_v2(db, "INSERT INTO schema_migrations VALUES (?, ?, ?)", -1, &st, NULL);
        sqlite3_bind_int64(st, 1, version);
        sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, ig_unix_time());
        int ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
        if (!ok || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return db_fail(db, "record migration");
        }
        ig_info("applied migration %s", m->name);
    }
    return 0;
}

/* SQLite's allocation statistics take a global mutex on every allocation
 * it makes; nothing here reads them. Only possible before SQLite starts
 * (ignored afterwards). */
static pthread_once_t sqlite_config_once = PTHREAD_ONCE_INIT;
static void sqlite_config(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Opens the read-only connections (ss->readers), once the schema is
 * migrated. */
static int open_readers(struct sqlite_store *ss, const char *path)
{
    for (size_t i = 0; i < sizeof ss->readers / sizeof ss->readers[0]; i++) {
        struct reader *r = &ss->readers[i];
        if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK) {
            int rc = db_fail(r->db, "open a reader");
            sqlite3_close(r->db);
            r->db = NULL;
            return rc;
        }
        sqlite3_busy_timeout(r->db, BUSY_MS);
        r->cache.db = r->db;
    }
    return 0;
}

int ig_store_open_sqlite(struct ig_store **out, const char *path)
{
    pthread_once(&sqlite_config_once, sqlite_config);
    struct sqlite_store *ss = calloc(1, sizeof *ss);
    if (!ss)
        return IG_ENOMEM;
    ss->base.ops = &sqlite_ops;
    ss->tx.store = &ss->base;
    ig_buf_init(&ss->images_json, 1 << 20);
    pthread_mutex_init(&ss->lock, NULL);
    pthread_mutex_init(&ss->queue_lock, NULL);
    pthread_cond_init(&ss->queue_cond, NULL);
    for (size_t i = 0; i < sizeof ss->readers / sizeof ss->readers[0]; i++)
        pthread_mutex_init(&ss->readers[i].lock, NULL);
    ss->queue_tail = &ss->queue;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    /* SQLite would create the file 0644 less the umask; made here 0600,
     * whatever the umask, and SQLite gives its -wal and -shm files the
     * database file's mode. */
    if (strcmp(path, ":memory:") != 0) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    if (sqlite3_open_v2(path, &ss->db, flags, NULL) != SQLITE_OK) {
        ig_error("cannot open database '%s': %s", path, sqlite3_errmsg(ss->db));
        sqlite3_close(ss->db);
        pthread_mutex_destroy(&ss->lock);
        pthread_mutex_destroy(&ss->queue_lock);
        pthread_cond_destroy(&ss->queue_cond);
        for (size_t i = 0; i < sizeof ss->readers / sizeof ss->readers[0]; i++)
            pthread_mutex_destroy(&ss->readers[i].lock);
        free(ss);
        return IG_EDB;
    }
    sqlite3_busy_timeout(ss->db, BUSY_MS);
    ss->cache.db = ss->db;
    int rc = 0;
    if (sqlite3_exec(ss->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                     "PRAGMA foreign_keys=ON;",
                     NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(ss->db, "pragmas");
    if (rc == 0)
        rc = migrate(ss->db);
    if (rc == 0 &&
        (sqlite3_prepare_v3(ss->db,
                            "INSERT INTO generations (id, key_id, request_id, model, provider, "
                            "prompt, params, n, width, height, status, error, created_at, "
                            "completed_at, latency_us, images, account_id, cost) "
                            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            -1, SQLITE_PREPARE_PERSISTENT, &ss->gen_insert, NULL) != SQLITE_OK ||
         sqlite3_prepare_v3(ss->db,
                            "INSERT OR IGNORE INTO blobs (sha256, format, bytes, width, height, "
                            "created_at) VALUES (?,?,?,?,?,?)",
                            -1, SQLITE_PREPARE_PERSISTENT, &ss->blob_insert, NULL) != SQLITE_OK ||
         sqlite3_prepare_v3(ss->db, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT, &ss->begin,
                            NULL) != SQLITE_OK ||
         sqlite3_prepare_v3(ss->db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &ss->commit, NULL) !=
             SQLITE_OK ||
         sqlite3_prepare_v3(ss->db, "ROLLBACK", -1, SQLITE_PREPARE_PERSISTENT, &ss->rollback,
                            NULL) != SQLITE_OK))
        rc = db_fail(ss->db, "prepare generation insert");
    if (rc == 0 && strcmp(path, ":memory:") != 0)
        rc = open_readers(ss, path);
    if (rc == 0)
        rc = ig_checkpointer_start(&ss->checkpointer, ss->db, &ss->lock, path, CHECKPOINT_PAGES);
    if (rc) {
        sqlite_close(&ss->base);
        return rc;
    }
    *out = &ss->base;
    return 0;
}
