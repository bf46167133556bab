/* sqlite_accounts.c — the SQL of accounts, keys in transactions, the
 * ledger and holds; see sqlite_accounts.h. Each operation is its SQL and
 * its arguments (store/sqlite_stmt.h). */
#include "store/sqlite_accounts.h"
#include "store/sqlite_stmt.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- accounts ---- */

#define ACCOUNT_COLUMNS                                                                            \
    "id, name, tier, balance, metered, created_at, coalesce(budget_day, -1), "                     \
    "coalesce(budget_month, -1)"

static void row_to_account(sqlite3_stmt *st, struct ig_account_record *a)
{
    memset(a, 0, sizeof *a);
    ig_sqlite_text(a->id, sizeof a->id, st, 0);
    ig_sqlite_text(a->name, sizeof a->name, st, 1);
    ig_sqlite_text(a->tier, sizeof a->tier, st, 2);
    a->balance = sqlite3_column_int64(st, 3);
    a->metered = sqlite3_column_int(st, 4);
    a->created_at = sqlite3_column_int64(st, 5);
    a->budgets.day = sqlite3_column_int64(st, 6);
    a->budgets.month = sqlite3_column_int64(st, 7);
    a->held = sqlite3_column_count(st) > 8 ? sqlite3_column_int64(st, 8) : 0;
}

static int account_row(sqlite3_stmt *st, void *out)
{
    row_to_account(st, out);
    return 1;
}

int ig_sqlite_account_insert(struct ig_sqlite_cache *c, const struct ig_account_record *a)
{
    return ig_sqlite_exec(c, NULL,
                          "INSERT INTO accounts (id, name, tier, balance, metered, created_at) "
                          "VALUES (?, ?, ?, 0, ?, ?)",
                          "sssii", a->id, a->name, a->tier, (int64_t)a->metered, a->created_at);
}

int ig_sqlite_account_find(struct ig_sqlite_cache *c, const char *id, struct ig_account_record *out)
{
    return ig_sqlite_query(c, account_row, out,
                           "SELECT " ACCOUNT_COLUMNS ", held FROM accounts WHERE id = ?", "s", id);
}

static int balance_row(sqlite3_stmt *st, void *p)
{
    int64_t *v = p;
    v[0] = sqlite3_column_int64(st, 0);
    v[1] = sqlite3_column_int64(st, 1);
    return 1;
}

int ig_sqlite_account_balance(struct ig_sqlite_cache *c, const char *id, int64_t *balance,
                              int *metered)
{
    int64_t v[2] = {0, 0};
    int rc = ig_sqlite_query(c, balance_row, v,
                             "SELECT balance, metered FROM accounts WHERE id = ?", "s", id);
    *balance = v[0];
    *metered = (int)v[1];
    return rc;
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

/* A patch's number as bound: whether it changes, and to what (IG_UNSET
 * binds as -1, which the SQL turns into NULL). */
#define CHANGES(v) (int64_t)((v) != IG_UNCHANGED), (int64_t)((v) == IG_UNCHANGED ? 0 : (v))

int ig_sqlite_account_update(struct ig_sqlite_cache *c, const char *id,
                             const struct ig_account_patch *p, struct ig_account_record *out)
{
    return ig_sqlite_query(
        c, account_row, out,
        "UPDATE accounts SET name = coalesce(?2, name), tier = coalesce(?3, tier), "
        "budget_day = iif(?4, nullif(?5, -1), budget_day), "
        "budget_month = iif(?6, nullif(?7, -1), budget_month) "
        "WHERE id = ?1 RETURNING " ACCOUNT_COLUMNS,
        "sssiiii", id, p->name, p->tier, CHANGES(p->budgets.day), CHANGES(p->budgets.month));
}

int ig_sqlite_key_update(struct ig_sqlite_cache *c, const char *id, const struct ig_key_patch *p)
{
    int changes = 0;
    int rc = ig_sqlite_exec(c, &changes,
                            "UPDATE api_keys SET tier = iif(?2, nullif(?3, ''), tier), "
                            "requests_per_minute = iif(?4, nullif(?5, -1), requests_per_minute), "
                            "images_per_minute = iif(?6, nullif(?7, -1), images_per_minute), "
                            "concurrent = iif(?8, nullif(?9, -1), concurrent), "
                            "budget_day = iif(?10, nullif(?11, -1), budget_day), "
                            "budget_month = iif(?12, nullif(?13, -1), budget_month) WHERE id = ?1",
                            "sisiiiiiiiiii", id, (int64_t)(p->tier != NULL), p->tier ? p->tier : "",
                            CHANGES(p->limits.requests_per_minute),
                            CHANGES(p->limits.images_per_minute), CHANGES(p->limits.concurrent),
                            CHANGES(p->budgets.day), CHANGES(p->budgets.month));
    return rc ? rc : changes ? 0 : IG_ENOTFOUND;
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

#define HOLD_COLUMNS                                                                               \
    "id, account_id, coalesce(generation_id, ''), amount, created_at, coalesce(budgets, '')"

/* A hold's budgets as its row keeps them: "subject|period|limit;…". */
static void budgets_format(const struct ig_hold_record *h, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < h->nbudgets && used < size; i++) {
        const struct ig_budget_use *b = &h->budgets[i];
        used += (size_t)snprintf(out + used, size - used, "%s%s|%s|%lld", i ? ";" : "", b->subject,
                                 b->period, (long long)b->limit);
    }
}

static void budgets_parse(const char *text, struct ig_hold_record *h)
{
    h->nbudgets = 0;
    while (*text && h->nbudgets < IG_HOLD_BUDGETS) {
        struct ig_budget_use *b = &h->budgets[h->nbudgets];
        size_t n = strcspn(text, "|");
        if (n >= sizeof b->subject || text[n] != '|')
            return;
        memcpy(b->subject, text, n);
        b->subject[n] = '\0';
        text += n + 1;
        n = strcspn(text, "|");
        if (n >= sizeof b->period || text[n] != '|')
            return;
        memcpy(b->period, text, n);
        b->period[n] = '\0';
        char *end;
        b->limit = strtoll(text + n + 1, &end, 10);
        h->nbudgets++;
        text = *end == ';' ? end + 1 : end;
    }
}

static int hold_row(sqlite3_stmt *st, void *out)
{
    struct ig_hold_record *h = out;
    memset(h, 0, sizeof *h);
    ig_sqlite_text(h->id, sizeof h->id, st, 0);
    ig_sqlite_text(h->account_id, sizeof h->account_id, st, 1);
    ig_sqlite_text(h->generation_id, sizeof h->generation_id, st, 2);
    h->amount = sqlite3_column_int64(st, 3);
    h->created_ms = sqlite3_column_int64(st, 4);
    const unsigned char *b = sqlite3_column_text(st, 5);
    budgets_parse(b ? (const char *)b : "", h);
    return 1;
}

int ig_sqlite_hold_insert(struct ig_sqlite_cache *c, const struct ig_hold_record *h)
{
    char budgets[IG_HOLD_BUDGETS * (sizeof h->budgets[0].subject + 40)];
    budgets_format(h, budgets, sizeof budgets);
    return ig_sqlite_exec(c, NULL,
                          "INSERT INTO holds (id, account_id, generation_id, amount, created_at, "
                          "budgets) VALUES (?, ?, ?, ?, ?, ?)",
                          "sssiis", h->id, h->account_id,
                          h->generation_id[0] ? h->generation_id : NULL, h->amount, h->created_ms,
                          h->nbudgets ? budgets : NULL);
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
                           " FROM holds WHERE settled_at IS NULL AND created_at < ? AND "
                           "NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.hold_id = holds.id) "
                           "ORDER BY created_at LIMIT 1",
                           "i", before_ms);
}

/* ---- budgets ---- */

int ig_sqlite_budget_add(struct ig_sqlite_cache *c, const char *subject, const char *period,
                         int64_t delta, int64_t limit, int64_t *spent)
{
    /* The check and the add are one statement; a period's first spend
     * makes its row. */
    int rc = ig_sqlite_query(c, int64_row, spent,
                             "UPDATE budget_spend SET spent = spent + ?3 WHERE subject = ?1 AND "
                             "period = ?2 AND (?4 < 0 OR spent + ?3 <= ?4) RETURNING spent",
                             "ssii", subject, period, delta, limit);
    if (rc != IG_ENOTFOUND)
        return rc;
    rc = ig_sqlite_budget_spent(c, subject, period, spent);
    if (rc == 0 && *spent == 0 && (limit < 0 || delta <= limit)) {
        *spent = delta;
        return ig_sqlite_exec(c, NULL,
                              "INSERT INTO budget_spend (subject, period, spent) VALUES (?, ?, ?)",
                              "ssi", subject, period, delta);
    }
    return rc ? rc : IG_EBUDGET;
}

int ig_sqlite_budget_spent(struct ig_sqlite_cache *c, const char *subject, const char *period,
                           int64_t *out)
{
    *out = 0;
    int rc = ig_sqlite_query(c, int64_row, out,
                             "SELECT spent FROM budget_spend WHERE subject = ? AND period = ?",
                             "ss", subject, period);
    return rc == IG_ENOTFOUND ? 0 : rc;
}

int ig_sqlite_budget_alert(struct ig_sqlite_cache *c, const struct ig_budget_alert *a, int *added)
{
    int changes = 0;
    int rc = ig_sqlite_exec(c, &changes,
                            "INSERT INTO budget_alerts (account_id, subject, period, threshold, "
                            "spent, budget, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                            "ON CONFLICT DO NOTHING",
                            "sssiiii", a->account_id, a->subject, a->period, (int64_t)a->threshold,
                            a->spent, a->budget, a->created_ms);
    if (added)
        *added = rc == 0 && changes > 0;
    return rc;
}

struct alert_each {
    int (*cb)(const struct ig_budget_alert *, void *);
    void *ud;
};

static int alert_row(sqlite3_stmt *st, void *p)
{
    struct alert_each *e = p;
    struct ig_budget_alert a;
    memset(&a, 0, sizeof a);
    ig_sqlite_text(a.account_id, sizeof a.account_id, st, 0);
    ig_sqlite_text(a.subject, sizeof a.subject, st, 1);
    ig_sqlite_text(a.period, sizeof a.period, st, 2);
    a.threshold = sqlite3_column_int(st, 3);
    a.spent = sqlite3_column_int64(st, 4);
    a.budget = sqlite3_column_int64(st, 5);
    a.created_ms = sqlite3_column_int64(st, 6);
    return e->cb(&a, e->ud);
}

int ig_sqlite_budget_alerts(struct ig_sqlite_cache *c, const char *account_id, int64_t since_ms,
                            int (*cb)(const struct ig_budget_alert *, void *), void *ud)
{
    struct alert_each e = {cb, ud};
    int rc = ig_sqlite_query(c, alert_row, &e,
                             "SELECT account_id, subject, period, threshold, spent, budget, "
                             "created_at FROM budget_alerts WHERE account_id = ? AND "
                             "created_at >= ? ORDER BY created_at, rowid",
                             "si", account_id, since_ms);
    return rc == IG_ENOTFOUND ? 0 : rc;
}

/* ---- BYOK keys ---- */

int ig_sqlite_byok_put(struct ig_sqlite_cache *c, const struct ig_byok_record *r)
{
    return ig_sqlite_exec(c, NULL,
                          "INSERT INTO byok_keys (account_id, provider, sealed, last4, created_at) "
                          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, provider) DO UPDATE "
                          "SET sealed = excluded.sealed, last4 = excluded.last4, "
                          "created_at = excluded.created_at",
                          "ssBsi", r->account_id, r->provider, r->sealed, r->sealed_len, r->last4,
                          r->created_at);
}

int ig_sqlite_byok_delete(struct ig_sqlite_cache *c, const char *account_id, const char *provider)
{
    int changes = 0;
    int rc =
        ig_sqlite_exec(c, &changes, "DELETE FROM byok_keys WHERE account_id = ? AND provider = ?",
                       "ss", account_id, provider);
    return rc ? rc : changes ? 0 : IG_ENOTFOUND;
}

struct byok_each {
    int (*cb)(const struct ig_byok_record *, void *);
    void *ud;
};

static int byok_row(sqlite3_stmt *st, void *p)
{
    struct byok_each *e = p;
    struct ig_byok_record r;
    memset(&r, 0, sizeof r);
    ig_sqlite_text(r.account_id, sizeof r.account_id, st, 0);
    ig_sqlite_text(r.provider, sizeof r.provider, st, 1);
    r.sealed = sqlite3_column_blob(st, 2);
    r.sealed_len = (size_t)sqlite3_column_bytes(st, 2);
    ig_sqlite_text(r.last4, sizeof r.last4, st, 3);
    r.created_at = sqlite3_column_int64(st, 4);
    return e->cb(&r, e->ud);
}

int ig_sqlite_byok_list(struct ig_sqlite_cache *c, const char *account_id,
                        int (*cb)(const struct ig_byok_record *, void *), void *ud)
{
    struct byok_each e = {cb, ud};
    int rc = ig_sqlite_query(c, byok_row, &e,
                             "SELECT account_id, provider, sealed, last4, created_at FROM "
                             "byok_keys WHERE account_id = ? ORDER BY provider",
                             "s", account_id);
    return rc == IG_ENOTFOUND ? 0 : rc;
}

/* ---- the audit trail ---- */

int ig_sqlite_audit_append(struct ig_sqlite_cache *c, const struct ig_audit_record *r)
{
    return ig_sqlite_exec(c, NULL,
                          "INSERT INTO audit (created_at, actor, account_id, action, target, "
                          "detail) VALUES (?, ?, ?, ?, ?, ?)",
                          "isssss", r->created_ms, r->actor, r->account_id, r->action, r->target,
                          r->detail);
}

struct audit_each {
    int (*cb)(const struct ig_audit_record *, void *);
    void *ud;
};

static const char *column_or_null(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

static int audit_row(sqlite3_stmt *st, void *p)
{
    struct audit_each *e = p;
    struct ig_audit_record r = {
        .seq = sqlite3_column_int64(st, 0),
        .created_ms = sqlite3_column_int64(st, 1),
        .actor = column_or_null(st, 2),
        .account_id = column_or_null(st, 3),
        .action = column_or_null(st, 4),
        .target = column_or_null(st, 5),
        .detail = column_or_null(st, 6),
    };
    return e->cb(&r, e->ud);
}

int ig_sqlite_audit_list(struct ig_sqlite_cache *c, const struct ig_audit_query *q,
                         int (*cb)(const struct ig_audit_record *, void *), void *ud)
{
    struct audit_each e = {cb, ud};
    int rc = ig_sqlite_query(
        c, audit_row, &e,
        "SELECT seq, created_at, actor, account_id, action, target, detail FROM audit "
        "WHERE (?1 IS NULL OR account_id = ?1) AND (?2 IS NULL OR action = ?2) AND "
        "(?3 = 0 OR seq < ?3) ORDER BY seq DESC LIMIT ?4",
        "ssii", q->account_id, q->action, q->before_seq, (int64_t)q->limit);
    return rc == IG_ENOTFOUND ? 0 : rc;
}

/* ---- Idempotency-Key ---- */

static int idem_row(sqlite3_stmt *st, void *p)
{
    struct ig_idem_found *f = p;
    memset(f, 0, sizeof *f);
    const void *h = sqlite3_column_blob(st, 0);
    if (h && sqlite3_column_bytes(st, 0) == 32)
        memcpy(f->request_hash, h, 32);
    const unsigned char *state = sqlite3_column_text(st, 1);
    f->done = state && strcmp((const char *)state, "done") == 0;
    f->status = sqlite3_column_int(st, 2);
    const unsigned char *ct = sqlite3_column_text(st, 3), *hd = sqlite3_column_text(st, 4);
    f->content_type = strdup(ct ? (const char *)ct : "application/json");
    f->headers = strdup(hd ? (const char *)hd : "");
    int n = sqlite3_column_bytes(st, 5);
    f->body = malloc((size_t)n + 1);
    if (f->body) {
        if (n)
            memcpy(f->body, sqlite3_column_blob(st, 5), (size_t)n);
        f->body[n] = '\0';
        f->body_len = (size_t)n;
    }
    if (!f->content_type || !f->headers || !f->body) {
        ig_idem_found_release(f);
        return -1;
    }
    return 1;
}

void ig_idem_found_release(struct ig_idem_found *f)
{
    free(f->content_type);
    free(f->headers);
    free(f->body);
    memset(f, 0, sizeof *f);
}

int ig_sqlite_idem_claim(struct ig_sqlite_cache *c, const struct ig_idem_claim *k,
                         struct ig_idem_found *out)
{
    /* A new claim, or the take-over of one expired or abandoned: one
     * statement, so two racing requests cannot both win. */
    int changes = 0;
    int rc = ig_sqlite_exec(
        c, &changes,
        "INSERT INTO idempotency (account_id, key, request_hash, state, created_at, expires_at, "
        "locked_until) VALUES (?1, ?2, ?3, 'running', ?4, ?4 + ?6, ?4 + ?5) "
        "ON CONFLICT (account_id, key) DO UPDATE SET request_hash = excluded.request_hash, "
        "state = 'running', status = NULL, content_type = NULL, headers = NULL, body = NULL, "
        "created_at = excluded.created_at, expires_at = excluded.expires_at, "
        "locked_until = excluded.locked_until WHERE expires_at <= ?4 OR "
        "(state = 'running' AND locked_until <= ?4)",
        "ssbiii", k->account_id, k->key, k->request_hash, k->now_ms, k->lock_ms, k->ttl_ms);
    if (rc || changes)
        return rc;
    rc = ig_sqlite_query(c, idem_row, out,
                         "SELECT request_hash, state, status, content_type, headers, body FROM "
                         "idempotency WHERE account_id = ? AND key = ?",
                         "ss", k->account_id, k->key);
    if (rc == 0 && !out->body)
        return IG_ENOMEM;
    return rc ? rc : IG_EEXISTS;
}

int ig_sqlite_idem_finish(struct ig_sqlite_cache *c, const char *account_id, const char *key,
                          int status, const char *content_type, const char *headers,
                          const char *body, size_t body_len)
{
    if (!status)
        return ig_sqlite_exec(c, NULL, "DELETE FROM idempotency WHERE account_id = ? AND key = ?",
                              "ss", account_id, key);
    return ig_sqlite_exec(c, NULL,
                          "UPDATE idempotency SET state = 'done', status = ?3, content_type = ?4, "
                          "headers = ?5, body = ?6 WHERE account_id = ?1 AND key = ?2",
                          "ssissB", account_id, key, (int64_t)status, content_type, headers,
                          (const uint8_t *)body, body_len);
}
