/* ledger.c — the rules of accounts and credits; see ledger.h. Each rule
 * is one transaction (BEGIN IMMEDIATE on SQLite): what it reads of a
 * balance stays true until it writes. */
#include "store/ledger.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/json.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *ig_ledger_kind_name(enum ig_ledger_kind k)
{
    static const char *const names[] = {"grant", "hold", "charge", "release", "refund", "adjust"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "adjust";
}

static void budget_use(struct ig_budget_use *out, int *n, const char *kind, const char *id,
                       const char *period, int64_t limit)
{
    if (limit < 0 || *n == IG_HOLD_BUDGETS)
        return;
    struct ig_budget_use *b = &out[(*n)++];
    ig_join3(b->subject, sizeof b->subject, kind, ":", id);
    ig_strlcpy(b->period, period, sizeof b->period);
    b->limit = limit;
}

void ig_budget_periods(int64_t ms, char day[12], char month[12])
{
    /* The civil date of a day count (Howard Hinnant's days_from_civil,
     * inverted): no gmtime and strftime on every generation. */
    int64_t z = (ms >= 0 ? ms : ms - 86399999) / 86400000 + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int y = (int)(yoe + era * 400 + (m <= 2));
    if (y < 0 || y > 9999)
        y = 0;
    char *p = day;
    *p++ = (char)('0' + y / 1000);
    *p++ = (char)('0' + y / 100 % 10);
    *p++ = (char)('0' + y / 10 % 10);
    *p++ = (char)('0' + y % 10);
    *p++ = '-';
    *p++ = (char)('0' + m / 10);
    *p++ = (char)('0' + m % 10);
    memcpy(month, day, 7);
    month[7] = '\0';
    *p++ = '-';
    *p++ = (char)('0' + d / 10);
    *p++ = (char)('0' + d % 10);
    *p = '\0';
}

int ig_budget_uses(const char *key_id, const struct ig_budgets *key, const char *account_id,
                   const struct ig_budgets *account, int64_t now_ms,
                   struct ig_budget_use out[IG_HOLD_BUDGETS])
{
    char day[12], month[12];
    int n = 0;
    ig_budget_periods(now_ms, day, month);
    budget_use(out, &n, "key", key_id, day, key->day);
    budget_use(out, &n, "key", key_id, month, key->month);
    budget_use(out, &n, "account", account_id, day, account->day);
    budget_use(out, &n, "account", account_id, month, account->month);
    return n;
}

/* Moves what each of h's budgets has spent by delta (the hold's amount,
 * or at its settlement what was charged minus what was held). With check,
 * a budget that would pass its limit refuses: the ones before it are put
 * back and *refused says which. */
static int budgets_move(struct ig_store_tx *tx, const struct ig_hold_record *h, int64_t delta,
                        int check, int *refused, int64_t *spent)
{
    for (int i = 0; i < h->nbudgets; i++) {
        const struct ig_budget_use *b = &h->budgets[i];
        int rc = ig_store_tx_budget_add(tx, b->subject, b->period, delta, check ? b->limit : -1,
                                        &spent[i]);
        if (rc == IG_EBUDGET && refused) {
            *refused = i;
            for (int j = 0; j < i; j++) {
                int undo = ig_store_tx_budget_add(tx, h->budgets[j].subject, h->budgets[j].period,
                                                  -delta, -1, &spent[j]);
                if (undo)
                    return undo;
            }
            return IG_EBUDGET;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Millicredits as a JSON number of credits ("1.5"). */
static void credits_text(int64_t m, char out[32])
{
    int n = snprintf(out, 32, "%s%lld.%03lld", m < 0 ? "-" : "", (long long)(llabs(m) / 1000),
                     (long long)(llabs(m) % 1000));
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[--n] = '\0';
}

/* A budget.threshold event for a's account's endpoint (when it has one),
 * in the transaction that records the alert. */
static int threshold_event(struct ig_store_tx *tx, const struct ig_budget_alert *a)
{
    struct ig_webhook_record w = {.created_ms = a->created_ms};
    if (ig_time_ordered_id("msg_", (uint64_t)a->created_ms, w.id, sizeof w.id))
        return IG_ENOMEM;
    ig_strlcpy(w.account_id, a->account_id, sizeof w.account_id);
    ig_strlcpy(w.event_type, "budget.threshold", sizeof w.event_type);
    char when[32], spent[32], budget[32];
    ig_format_time_ms(a->created_ms, when);
    credits_text(a->spent, spent);
    credits_text(a->budget, budget);
    struct ig_buf b;
    ig_buf_init(&b, 4096);
    struct ig_jw j;
    ig_jw_begin(&j, &b);
    ig_jw_str(&j, "type", "budget.threshold");
    ig_jw_str(&j, "timestamp", when);
    ig_jw_open(&j, "data", '{');
    ig_jw_str(&j, "account_id", a->account_id);
    ig_jw_str(&j, "subject", a->subject);
    ig_jw_str(&j, "period", a->period);
    ig_jw_int(&j, "threshold", a->threshold);
    ig_jw_raw(&j, "spent", spent);
    ig_jw_raw(&j, "budget", budget);
    ig_jw_close(&j, '}');
    int rc = ig_jw_end(&j);
    rc = rc ? rc : ig_store_tx_webhook_account_event(tx, &w, b.data);
    ig_buf_release(&b);
    return rc;
}

/* After a settlement: an alert for each threshold a budget's spend now
 * reaches, once per threshold and period. */
static int budgets_alert(struct ig_store_tx *tx, const struct ig_hold_record *h,
                         const int64_t *spent, int64_t now_ms)
{
    static const int thresholds[] = {50, 80, 100};
    for (int i = 0; i < h->nbudgets; i++) {
        const struct ig_budget_use *b = &h->budgets[i];
        for (size_t t = 0; t < sizeof thresholds / sizeof thresholds[0]; t++) {
            if (spent[i] * 100 < b->limit * thresholds[t])
                break;
            struct ig_budget_alert a = {.threshold = thresholds[t],
                                        .spent = spent[i],
                                        .budget = b->limit,
                                        .created_ms = now_ms};
            ig_strlcpy(a.account_id, h->account_id, sizeof a.account_id);
            ig_strlcpy(a.subject, b->subject, sizeof a.subject);
            ig_strlcpy(a.period, b->period, sizeof a.period);
            int added = 0;
            int rc = ig_store_tx_budget_alert(tx, &a, &added);
            if (rc == 0 && added)
                rc = threshold_event(tx, &a);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int ig_ledger_tx_hold(struct ig_store_tx *tx, struct ig_hold_request *r)
{
    int64_t spent[IG_HOLD_BUDGETS];
    r->budget_refused = -1;
    r->rc = budgets_move(tx, &r->hold, r->hold.amount, 1, &r->budget_refused, spent);
    if (r->rc == IG_EBUDGET) {
        r->budget_spent = spent[r->budget_refused];
        return 0; /* refused: nothing was written */
    }
    if (r->rc)
        return r->rc;
    struct ig_ledger_entry e = {.account_id = r->hold.account_id,
                                .kind = IG_LEDGER_HOLD,
                                .amount = -r->hold.amount,
                                .hold_id = r->hold.id,
                                .generation_id =
                                    r->hold.generation_id[0] ? r->hold.generation_id : NULL,
                                .created_ms = r->hold.created_ms};
    /* The check and the debit are one statement (covered). */
    r->rc = ig_store_tx_ledger_append(tx, &e, 1, &r->balance);
    if (r->rc == IG_EFUNDS || r->rc == IG_ENOTFOUND) {
        int rc = budgets_move(tx, &r->hold, -r->hold.amount, 0, NULL, spent);
        return rc; /* refused: nothing stays written */
    }
    r->rc = r->rc ? r->rc : ig_store_tx_hold_insert(tx, &r->hold);
    return r->rc;
}

int ig_ledger_tx_hold_many(struct ig_store_tx *tx, struct ig_hold_request **r, size_t n,
                           int64_t now_ms)
{
    unsigned char stack[128], *done = n <= sizeof stack ? stack : calloc(n, 1);
    if (!done)
        return IG_ENOMEM;
    memset(done, 0, n <= sizeof stack ? sizeof stack : 0);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (done[i])
            continue;
        const char *acct = r[i]->hold.account_id;
        struct {
            int64_t balance;
            int metered;
        } a = {0, 0};
        int found = ig_store_tx_account_balance(tx, acct, &a.balance, &a.metered);
        if (found && found != IG_ENOTFOUND) {
            rc = found;
            break;
        }
        int64_t sum = 0;
        size_t count = 0;
        const char *only = NULL;
        for (size_t j = i; rc == 0 && j < n; j++) {
            struct ig_hold_request *q = r[j];
            if (done[j] || strcmp(q->hold.account_id, acct) != 0)
                continue;
            done[j] = 1;
            q->budget_refused = -1;
            if (found == IG_ENOTFOUND) {
                q->rc = IG_ENOTFOUND;
                continue;
            }
            if (a.metered && a.balance - sum < q->hold.amount) {
                q->rc = IG_EFUNDS; /* refused alone, in order */
                q->balance = a.balance - sum;
                continue;
            }
            int64_t spent[IG_HOLD_BUDGETS];
            q->rc = budgets_move(tx, &q->hold, q->hold.amount, 1, &q->budget_refused, spent);
            if (q->rc == IG_EBUDGET) {
                q->budget_spent = spent[q->budget_refused];
                continue;
            }
            if (q->rc || (q->rc = ig_store_tx_hold_insert(tx, &q->hold))) {
                rc = q->rc;
                break;
            }
            sum += q->hold.amount;
            q->balance = a.balance - sum;
            count++;
            only = q->hold.id;
        }
        if (rc == 0 && sum > 0) {
            /* One entry and one balance move for the account's holds. */
            char reason[48];
            snprintf(reason, sizeof reason, "%zu hold%s", count, count == 1 ? "" : "s");
            struct ig_ledger_entry e = {.account_id = acct,
                                        .kind = IG_LEDGER_HOLD,
                                        .amount = -sum,
                                        .hold_id = count == 1 ? only : NULL,
                                        .reason = count == 1 ? NULL : reason,
                                        .created_ms = now_ms};
            rc = ig_store_tx_ledger_append(tx, &e, 0, NULL);
        }
    }
    if (done != stack)
        free(done);
    return rc;
}

struct hold_batch {
    struct ig_hold_request *r;
    size_t n;
};

static int hold_body(struct ig_store_tx *tx, void *ud)
{
    struct hold_batch *b = ud;
    for (size_t i = 0; i < b->n; i++) {
        int rc = ig_ledger_tx_hold(tx, &b->r[i]);
        if (rc)
            return rc;
    }
    return 0;
}

int ig_ledger_hold_many(struct ig_store *s, struct ig_hold_request *r, size_t n)
{
    struct hold_batch b = {r, n};
    int rc = ig_store_transact(s, hold_body, &b);
    for (size_t i = 0; rc && i < n; i++)
        r[i].rc = rc;
    return rc;
}

int ig_ledger_hold(struct ig_store *s, const struct ig_hold_record *h, int64_t *balance)
{
    struct ig_hold_request r = {.hold = *h};
    ig_ledger_hold_many(s, &r, 1);
    if (balance)
        *balance = r.balance;
    return r.rc;
}

int ig_ledger_settle(struct ig_store_tx *tx, const char *account_id, const char *hold_id,
                     const char *generation_id, int64_t charge, int64_t now_ms, int64_t *balance)
{
    int rc = 0, wrote = 0;
    if (hold_id && hold_id[0]) {
        struct ig_hold_record h;
        rc = ig_store_tx_hold_close(tx, hold_id, now_ms, &h);
        if (rc == 0 && h.nbudgets) {
            int64_t spent[IG_HOLD_BUDGETS];
            rc = budgets_move(tx, &h, charge - h.amount, 0, NULL, spent);
            rc = rc ? rc : budgets_alert(tx, &h, spent, now_ms);
        }
        if (rc == 0) {
            struct ig_ledger_entry e = {.account_id = h.account_id,
                                        .kind = IG_LEDGER_RELEASE,
                                        .amount = h.amount,
                                        .hold_id = hold_id,
                                        .generation_id = generation_id,
                                        .created_ms = now_ms};
            rc = ig_store_tx_ledger_append(tx, &e, 0, balance);
            wrote = 1;
        } else if (rc == IG_ENOTFOUND) {
            rc = 0; /* settled already: this write runs again after a refused batch */
        }
    }
    if (rc == 0 && charge > 0) {
        struct ig_ledger_entry e = {.account_id = account_id,
                                    .kind = IG_LEDGER_CHARGE,
                                    .amount = -charge,
                                    .hold_id = hold_id && hold_id[0] ? hold_id : NULL,
                                    .generation_id = generation_id,
                                    .created_ms = now_ms};
        rc = ig_store_tx_ledger_append(tx, &e, 0, balance);
        wrote = 1;
    }
    if (rc == 0 && !wrote && balance) {
        struct ig_account_record acct;
        rc = ig_store_tx_account_find(tx, account_id, &acct);
        *balance = acct.balance;
    }
    return rc;
}

static int same_budget(const struct ig_budget_use *a, const struct ig_budget_use *b)
{
    return strcmp(a->subject, b->subject) == 0 && strcmp(a->period, b->period) == 0;
}

/* One account's charges of the transaction: one entry for their sum. */
static int charge_account(struct ig_store_tx *tx, struct ig_generation_write *const *w, size_t n,
                          size_t first, unsigned char *done, int64_t now_ms)
{
    const char *acct = w[first]->charge->account_id;
    int64_t sum = 0;
    size_t count = 0, last = first;
    for (size_t i = first; i < n; i++) {
        struct ig_charge *c = w[i]->charge;
        if (c && !done[i] && strcmp(c->account_id, acct) == 0) {
            sum += c->amount;
            count++;
            last = i;
        }
    }
    int64_t balance = 0;
    int rc;
    if (sum > 0) {
        char reason[48];
        snprintf(reason, sizeof reason, "%zu generation%s", count, count == 1 ? "" : "s");
        struct ig_ledger_entry e = {.account_id = acct,
                                    .kind = IG_LEDGER_CHARGE,
                                    .amount = -sum,
                                    .generation_id = count == 1 ? w[last]->g->id : NULL,
                                    .reason = reason,
                                    .created_ms = now_ms};
        rc = ig_store_tx_ledger_append(tx, &e, 0, &balance);
    } else {
        int metered;
        rc = ig_store_tx_account_balance(tx, acct, &balance, &metered);
    }
    for (size_t i = first; rc == 0 && i < n; i++) {
        struct ig_charge *c = w[i]->charge;
        if (c && !done[i] && strcmp(c->account_id, acct) == 0) {
            c->balance = balance;
            done[i] = 1;
        }
    }
    return rc;
}

/* One budget's charges of the transaction: one move by their sum, then
 * its alerts; every charge that counts against it learns the spend. */
static int charge_budget(struct ig_store_tx *tx, struct ig_generation_write *const *w, size_t n,
                         const struct ig_budget_use *b, const char *account_id, int64_t now_ms)
{
    int64_t sum = 0, spent = 0;
    for (size_t i = 0; i < n; i++) {
        struct ig_charge *c = w[i]->charge;
        for (int k = 0; c && k < c->nbudgets; k++)
            if (same_budget(&c->budgets[k], b))
                sum += c->amount;
    }
    int rc = sum > 0 ? ig_store_tx_budget_add(tx, b->subject, b->period, sum, -1, &spent)
                     : ig_store_tx_budget_spent(tx, b->subject, b->period, &spent);
    if (rc == 0 && sum > 0) {
        struct ig_hold_record h = {.nbudgets = 1};
        ig_strlcpy(h.account_id, account_id, sizeof h.account_id);
        h.budgets[0] = *b;
        rc = budgets_alert(tx, &h, &spent, now_ms);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct ig_charge *c = w[i]->charge;
        for (int k = 0; c && k < c->nbudgets; k++)
            if (same_budget(&c->budgets[k], b))
                c->spent[k] = spent;
    }
    return rc;
}

int ig_ledger_charge_writes(struct ig_store_tx *tx, struct ig_generation_write *const *w, size_t n,
                            int64_t now_ms)
{
    unsigned char stack[64], *done = n <= sizeof stack ? stack : calloc(n, 1);
    if (!done)
        return IG_ENOMEM;
    memset(done, 0, n <= sizeof stack ? sizeof stack : 0);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (w[i]->charge && !done[i])
            rc = charge_account(tx, w, n, i, done, now_ms);
    /* Each budget once: at the first charge that names it. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct ig_charge *c = w[i]->charge;
        for (int k = 0; c && rc == 0 && k < c->nbudgets; k++) {
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++)
                for (int m = 0; w[j]->charge && m < w[j]->charge->nbudgets; m++)
                    seen |= same_budget(&w[j]->charge->budgets[m], &c->budgets[k]);
            for (int m = 0; m < k; m++)
                seen |= same_budget(&c->budgets[m], &c->budgets[k]);
            if (!seen)
                rc = charge_budget(tx, w, n, &c->budgets[k], c->account_id, now_ms);
        }
    }
    if (done != stack)
        free(done);
    return rc;
}

struct credit_args {
    const struct ig_ledger_entry *e;
    int64_t balance;
};

static int credit_body(struct ig_store_tx *tx, void *ud)
{
    struct credit_args *a = ud;
    /* Taking away never goes below zero (covered); adding always may. */
    return ig_store_tx_ledger_append(tx, a->e, a->e->amount < 0, &a->balance);
}

int ig_ledger_credit(struct ig_store *s, const char *account_id, enum ig_ledger_kind kind,
                     int64_t amount, const char *reason, int64_t now_ms, int64_t *balance)
{
    struct ig_ledger_entry e = {.account_id = account_id,
                                .kind = kind,
                                .amount = amount,
                                .reason = reason,
                                .created_ms = now_ms};
    struct credit_args a = {&e, 0};
    int rc = ig_store_transact(s, credit_body, &a);
    if (balance)
        *balance = a.balance;
    return rc;
}

struct stale_args {
    int64_t before_ms;
    int released;
};

static int stale_body(struct ig_store_tx *tx, void *ud)
{
    struct stale_args *a = ud;
    struct ig_hold_record h;
    int rc;
    while ((rc = ig_store_tx_hold_oldest_open(tx, a->before_ms, &h)) == 0) {
        rc = ig_ledger_settle(tx, h.account_id, h.id, h.generation_id[0] ? h.generation_id : NULL,
                              0, a->before_ms, NULL);
        if (rc)
            return rc;
        a->released++;
    }
    return rc == IG_ENOTFOUND ? 0 : rc;
}

int ig_ledger_release_stale(struct ig_store *s, int64_t before_ms, int *released)
{
    struct stale_args a = {before_ms, 0};
    int rc = ig_store_transact(s, stale_body, &a);
    if (released)
        *released = rc ? 0 : a.released;
    return rc;
}

struct create_args {
    const struct ig_account_record *a;
    int64_t grant;
    const struct ig_key_record *key;
    int64_t now_ms;
};

static int create_body(struct ig_store_tx *tx, void *ud)
{
    struct create_args *c = ud;
    int rc = ig_store_tx_account_insert(tx, c->a);
    if (rc == 0 && c->grant > 0) {
        struct ig_ledger_entry e = {.account_id = c->a->id,
                                    .kind = IG_LEDGER_GRANT,
                                    .amount = c->grant,
                                    .reason = "initial grant",
                                    .created_ms = c->now_ms};
        rc = ig_store_tx_ledger_append(tx, &e, 0, NULL);
    }
    if (rc == 0 && c->key)
        rc = ig_store_tx_key_insert(tx, c->key);
    return rc;
}

int ig_account_create(struct ig_store *s, const struct ig_account_record *a, int64_t grant,
                      const struct ig_key_record *key, int64_t now_ms)
{
    struct create_args c = {a, grant, key, now_ms};
    return ig_store_transact(s, create_body, &c);
}
