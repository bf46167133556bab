/* test_ledger.c — accounts and credits in the store: holds never take a
 * metered account below zero however many race (two connections, as two
 * processes would), settlement releases once and charges what was
 * delivered, stale holds are released, the ledger is append-only and the
 * balance always equals its sum. */
#include "store/ledger.h"
#include "store/store.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char path[96];
static struct ig_store *s;

static void setup(void)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/igledgerXXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/test.db", dir);
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
}

static void teardown(void)
{
    ig_store_close(s);
}

TestSuite(ledger, .init = setup, .fini = teardown, .timeout = 60);

static struct ig_account_record account(const char *id, int metered)
{
    struct ig_account_record a;
    memset(&a, 0, sizeof a);
    snprintf(a.id, sizeof a.id, "%s", id);
    snprintf(a.name, sizeof a.name, "name-%s", id);
    snprintf(a.tier, sizeof a.tier, "managed");
    a.metered = metered;
    a.created_at = 1000;
    return a;
}

static struct ig_hold_record hold(const char *id, const char *account_id, int64_t amount)
{
    struct ig_hold_record h;
    memset(&h, 0, sizeof h);
    snprintf(h.id, sizeof h.id, "%s", id);
    snprintf(h.account_id, sizeof h.account_id, "%s", account_id);
    snprintf(h.generation_id, sizeof h.generation_id, "gen_%s", id);
    h.amount = amount;
    h.created_ms = 5000;
    return h;
}

static int64_t balance_of(const char *id)
{
    struct ig_account_record a;
    cr_assert_eq(ig_store_account_find(s, id, &a), 0);
    return a.balance;
}

/* The one integer a query of one id answers, read through a connection
 * of its own. */
static int64_t file_int(const char *sql, const char *id)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* What an account has on hold as the store keeps it (accounts.held,
 * migration 0015), checked against the sum of its open holds. */
static int64_t held_of(const char *id)
{
    struct ig_account_record a;
    cr_assert_eq(ig_store_account_find(s, id, &a), 0);
    cr_assert_eq(a.held,
                 file_int("SELECT coalesce(sum(amount), 0) FROM holds WHERE account_id = ? AND "
                          "settled_at IS NULL",
                          id),
                 "the kept total is the open holds' sum");
    return a.held;
}

/* The sum of an account's ledger. */
static int64_t ledger_sum(const char *id)
{
    return file_int("SELECT coalesce(sum(amount), 0) FROM ledger WHERE account_id = ?", id);
}

Test(ledger, the_operator_account_exists_and_is_not_metered)
{
    struct ig_account_record a;
    cr_assert_eq(ig_store_account_find(s, IG_OPERATOR_ACCOUNT, &a), 0);
    cr_assert_eq(a.metered, 0);
    cr_assert_str_eq(a.tier, "operator");
    /* Charged, never refused: it may go below zero. */
    struct ig_hold_record h = hold("h1", IG_OPERATOR_ACCOUNT, 5000);
    int64_t bal;
    cr_assert_eq(ig_ledger_hold(s, &h, &bal), 0);
    cr_assert_eq(bal, -5000);
    cr_assert_eq(ledger_sum(IG_OPERATOR_ACCOUNT), balance_of(IG_OPERATOR_ACCOUNT));
}

Test(ledger, a_hold_past_the_balance_is_refused_and_changes_nothing)
{
    struct ig_account_record a = account("acct_a", 1);
    cr_assert_eq(ig_account_create(s, &a, 10000, NULL, 1), 0);
    cr_assert_eq(balance_of("acct_a"), 10000);
    struct ig_hold_record h = hold("h1", "acct_a", 10001);
    int64_t bal = 0;
    cr_assert_eq(ig_ledger_hold(s, &h, &bal), IG_EFUNDS);
    cr_assert_eq(bal, 10000, "the balance is reported");
    cr_assert_eq(balance_of("acct_a"), 10000);
    h = hold("h2", "acct_a", 10000);
    cr_assert_eq(ig_ledger_hold(s, &h, &bal), 0, "exactly the balance is fine");
    cr_assert_eq(bal, 0);
    struct ig_hold_record nobody = hold("h3", "acct_nobody", 1);
    cr_assert_eq(ig_ledger_hold(s, &nobody, &bal), IG_ENOTFOUND);
    cr_assert_eq(ledger_sum("acct_a"), 0);
}

struct settle_args {
    const char *account_id, *hold_id;
    int64_t charge, balance;
};

static int settle_body(struct ig_store_tx *tx, void *ud)
{
    struct settle_args *a = ud;
    return ig_ledger_settle(tx, a->account_id, a->hold_id, "gen_x", a->charge, 9000, &a->balance);
}

Test(ledger, settlement_releases_once_and_charges_what_was_delivered)
{
    struct ig_account_record a = account("acct_s", 1);
    cr_assert_eq(ig_account_create(s, &a, 200000, NULL, 1), 0);
    struct ig_hold_record h = hold("hold_s", "acct_s", 48000 * 3); /* n=3 at 48 credits */
    cr_assert_eq(ig_ledger_hold(s, &h, NULL), 0);
    cr_assert_eq(balance_of("acct_s"), 200000 - 144000);
    cr_assert_eq(held_of("acct_s"), 144000);
    struct settle_args sa = {"acct_s", "hold_s", 48000 * 2, 0}; /* two were delivered */
    cr_assert_eq(ig_store_transact(s, settle_body, &sa), 0);
    cr_assert_eq(sa.balance, 200000 - 96000);
    cr_assert_eq(held_of("acct_s"), 0, "settled: nothing held");
    /* A second settlement (a write retried after a refused batch) releases
     * nothing more; only its charge would repeat, so callers settle once. */
    struct settle_args again = {"acct_s", "hold_s", 0, 0};
    cr_assert_eq(ig_store_transact(s, settle_body, &again), 0);
    cr_assert_eq(again.balance, 104000);
    cr_assert_eq(ledger_sum("acct_s"), balance_of("acct_s"));
    /* The entries: grant, hold, release, charge. */
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT group_concat(kind || ':' || amount, ' ') FROM "
                                    "(SELECT kind, amount FROM ledger WHERE account_id = 'acct_s' "
                                    "ORDER BY seq)",
                                    -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0),
                     "grant:200000 hold:-144000 release:144000 charge:-96000");
    sqlite3_finalize(st);
    /* Append-only: the database itself refuses to change history. */
    cr_assert_neq(sqlite3_exec(db, "UPDATE ledger SET amount = 0", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_neq(sqlite3_exec(db, "DELETE FROM ledger", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

struct racer {
    struct ig_store *store;
    int index;
    pthread_barrier_t *start;
    int rc;
};

static void *race_hold(void *p)
{
    struct racer *r = p;
    char id[32];
    snprintf(id, sizeof id, "race_%d", r->index);
    struct ig_hold_record h = hold(id, "acct_race", 1000);
    pthread_barrier_wait(r->start);
    r->rc = ig_ledger_hold(r->store, &h, NULL);
    return NULL;
}

/* 200 holds of one credit at once, from two connections (as from two
 * processes), against a balance of 37 credits: exactly 37 are granted. */
Test(ledger, concurrent_holds_never_overdraw)
{
    struct ig_account_record a = account("acct_race", 1);
    cr_assert_eq(ig_account_create(s, &a, 37000, NULL, 1), 0);
    struct ig_store *other;
    cr_assert_eq(ig_store_open_sqlite(&other, path), 0);
    enum { N = 200 };
    static struct racer r[N];
    static pthread_t t[N];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (struct racer){i % 2 ? other : s, i, &start, -1};
        pthread_create(&t[i], NULL, race_hold, &r[i]);
    }
    int granted = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        granted += r[i].rc == 0;
        refused += r[i].rc == IG_EFUNDS;
    }
    pthread_barrier_destroy(&start);
    ig_store_close(other);
    cr_assert_eq(granted, 37);
    cr_assert_eq(refused, N - 37, "every other one was refused for funds, none failed otherwise");
    cr_assert_eq(balance_of("acct_race"), 0);
    cr_assert_eq(ledger_sum("acct_race"), 0);
    cr_assert_eq(held_of("acct_race"), 37000);
}

Test(ledger, stale_holds_are_released)
{
    struct ig_account_record a = account("acct_st", 1);
    cr_assert_eq(ig_account_create(s, &a, 5000, NULL, 1), 0);
    struct ig_hold_record old = hold("old", "acct_st", 2000),
                          recent = hold("recent", "acct_st", 1000);
    old.created_ms = 100;
    recent.created_ms = 900;
    cr_assert_eq(ig_ledger_hold(s, &old, NULL), 0);
    cr_assert_eq(ig_ledger_hold(s, &recent, NULL), 0);
    cr_assert_eq(balance_of("acct_st"), 2000);
    cr_assert_eq(held_of("acct_st"), 3000);
    int released = -1;
    cr_assert_eq(ig_ledger_release_stale(s, 500, &released), 0);
    cr_assert_eq(released, 1, "only holds made before the mark");
    cr_assert_eq(balance_of("acct_st"), 4000);
    cr_assert_eq(held_of("acct_st"), 1000);
    cr_assert_eq(ig_ledger_release_stale(s, 1000, &released), 0);
    cr_assert_eq(released, 1);
    cr_assert_eq(balance_of("acct_st"), 5000);
    cr_assert_eq(ledger_sum("acct_st"), 5000);
    cr_assert_eq(held_of("acct_st"), 0);
}

Test(ledger, an_account_and_its_first_key_are_made_together)
{
    struct ig_key_record k;
    memset(&k, 0, sizeof k);
    snprintf(k.id, sizeof k.id, "key_one");
    snprintf(k.name, sizeof k.name, "one");
    snprintf(k.prefix, sizeof k.prefix, "ig_x");
    memset(k.hash, 7, 32);
    k.scopes = IG_SCOPE_GENERATE;
    snprintf(k.account_id, sizeof k.account_id, "acct_k1");
    struct ig_account_record a = account("acct_k1", 1);
    cr_assert_eq(ig_account_create(s, &a, 2500, &k, 1), 0);
    struct ig_key_record found;
    cr_assert_eq(ig_store_key_find_by_id(s, "key_one", &found), 0);
    cr_assert_str_eq(found.account_id, "acct_k1");
    /* The same key hash again: neither the account nor its grant is made. */
    struct ig_account_record b = account("acct_k2", 1);
    snprintf(k.id, sizeof k.id, "key_two");
    snprintf(k.account_id, sizeof k.account_id, "acct_k2");
    cr_assert_eq(ig_account_create(s, &b, 2500, &k, 1), IG_EEXISTS);
    struct ig_account_record none;
    cr_assert_eq(ig_store_account_find(s, "acct_k2", &none), IG_ENOTFOUND);
    cr_assert_eq(ledger_sum("acct_k2"), 0);
}

Test(ledger, credits_and_adjustments)
{
    struct ig_account_record a = account("acct_c", 1);
    cr_assert_eq(ig_account_create(s, &a, 0, NULL, 1), 0);
    int64_t bal;
    cr_assert_eq(ig_ledger_credit(s, "acct_c", IG_LEDGER_GRANT, 7500, "top-up", 2, &bal), 0);
    cr_assert_eq(bal, 7500);
    cr_assert_eq(ig_ledger_credit(s, "acct_c", IG_LEDGER_ADJUST, -8000, "too much", 3, &bal),
                 IG_EFUNDS);
    cr_assert_eq(ig_ledger_credit(s, "acct_c", IG_LEDGER_ADJUST, -500, "correction", 3, &bal), 0);
    cr_assert_eq(bal, 7000);
    cr_assert_eq(ig_ledger_credit(s, "acct_zz", IG_LEDGER_GRANT, 1, "x", 3, &bal), IG_ENOTFOUND);
    cr_assert_eq(ledger_sum("acct_c"), balance_of("acct_c"));
}

Test(ledger, budget_periods_are_the_utc_day_and_month)
{
    /* Against gmtime + strftime, over 400 years of days and around the
     * epoch on, leap days and century years included. */
    for (int64_t day = 0; day < 146097 + 800; day += 7) {
        int64_t ms = day * 86400000 + 86399999 - (day % 5) * 3600000;
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        char want_day[12], want_month[12], got_day[12], got_month[12];
        strftime(want_day, sizeof want_day, "%Y-%m-%d", &tm);
        strftime(want_month, sizeof want_month, "%Y-%m", &tm);
        ig_budget_periods(ms, got_day, got_month);
        cr_assert_str_eq(got_day, want_day, "day %lld", (long long)day);
        cr_assert_str_eq(got_month, want_month, "day %lld", (long long)day);
    }
    char d[12], m[12];
    ig_budget_periods(INT64_C(1709164800000), d, m); /* 2024-02-29 00:00 UTC */
    cr_assert_str_eq(d, "2024-02-29");
    cr_assert_str_eq(m, "2024-02");
}

/* A count of ledger entries of kind for id. */
static int64_t entries(const char *id, const char *kind)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT count(*) FROM ledger WHERE account_id = ? AND kind = ?",
                                    -1, &st, NULL),
                 SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

Test(ledger, charges_of_one_transaction_are_one_entry_per_account_and_move_budgets)
{
    struct ig_account_record a = account("acct_a", 1), b = account("acct_b", 1);
    cr_assert_eq(ig_account_create(s, &a, 100000, NULL, 1), 0);
    cr_assert_eq(ig_account_create(s, &b, 50000, NULL, 1), 0);
    /* Five generations in one store call: three of a's (one free), two of
     * b's; a's key has a daily budget of 10 credits. */
    struct ig_budget_use day = {.limit = 10000};
    snprintf(day.subject, sizeof day.subject, "key:key_a");
    snprintf(day.period, sizeof day.period, "2026-12-06");
    const struct {
        const char *acct;
        int64_t amount;
        int budget;
    } plan[] = {{"acct_a", 3000, 1},
                {"acct_b", 2000, 0},
                {"acct_a", 4000, 1},
                {"acct_a", 0, 1},
                {"acct_b", 2500, 0}};
    enum { N = 5 };
    struct ig_generation_record recs[N];
    struct ig_charge charges[N];
    struct ig_generation_write w[N];
    for (int i = 0; i < N; i++) {
        memset(&recs[i], 0, sizeof recs[i]);
        snprintf(recs[i].id, sizeof recs[i].id, "gen_%d", i);
        snprintf(recs[i].account_id, sizeof recs[i].account_id, "%s", plan[i].acct);
        snprintf(recs[i].model, sizeof recs[i].model, "m");
        recs[i].status = "succeeded";
        recs[i].prompt = "p";
        recs[i].params_json = "{}";
        recs[i].n = 1;
        recs[i].cost = plan[i].amount;
        charges[i] = (struct ig_charge){.account_id = plan[i].acct,
                                        .amount = plan[i].amount,
                                        .budgets = &day,
                                        .nbudgets = plan[i].budget};
        w[i] = (struct ig_generation_write){.g = &recs[i], .charge = &charges[i]};
    }
    cr_assert_eq(ig_store_generation_insert(s, w, N), 0);
    cr_assert_eq(balance_of("acct_a"), 93000);
    cr_assert_eq(balance_of("acct_b"), 45500);
    cr_assert_eq(ledger_sum("acct_a"), 93000, "the balance is the ledger's sum");
    cr_assert_eq(ledger_sum("acct_b"), 45500);
    cr_assert_eq(entries("acct_a", "charge"), 1, "one entry for the account's charges");
    cr_assert_eq(entries("acct_b", "charge"), 1);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(w[i].rc, 0);
        cr_assert_eq(charges[i].balance, strcmp(plan[i].acct, "acct_a") == 0 ? 93000 : 45500,
                     "each charge learns its account's balance after");
        if (plan[i].budget)
            cr_assert_eq(charges[i].spent[0], 7000, "and its budget's spend after");
    }
    int64_t spent = -1;
    cr_assert_eq(ig_store_budget_spent(s, "key:key_a", "2026-12-06", &spent), 0);
    cr_assert_eq(spent, 7000);
    /* 7 of 10: the 50% alert, once; another 1.5 passes 80%. */
    struct ig_charge more = {
        .account_id = "acct_a", .amount = 1500, .budgets = &day, .nbudgets = 1};
    struct ig_generation_record r = recs[0];
    snprintf(r.id, sizeof r.id, "gen_more");
    struct ig_generation_write w2 = {.g = &r, .charge = &more};
    cr_assert_eq(ig_store_generation_insert(s, &w2, 1), 0);
    cr_assert_eq(more.spent[0], 8500);
    int thresholds[4] = {0}, n = 0;
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT threshold FROM budget_alerts WHERE account_id = "
                                    "'acct_a' ORDER BY threshold",
                                    -1, &st, NULL),
                 SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW && n < 4)
        thresholds[n++] = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    cr_assert_eq(n, 2, "50 and 80, each once: %d", n);
    cr_assert_eq(thresholds[0], 50);
    cr_assert_eq(thresholds[1], 80);
}
