/* reserve.c — the price and the reservation, before anything is spent.
 *
 * The estimate is n images at the highest price among the model's
 * deployments for the request's size and quality (any of them may serve
 * it; those the account brings its own key for cost 0), raised by the
 * tier's markup. A deployment without a price is refused for metered
 * accounts (never free by omission). An account that is not metered —
 * the operator's own — is charged on its record and never refused: it
 * stops here.
 *
 * A metered account's estimate is then reserved in the shared counters
 * (core/counters.h), against the balance the store last gave
 * (core/balances.h): "res:ACCOUNT" is what its generations in flight have
 * reserved, and an add passes only while it stays within the balance, in
 * one step, so 200 requests at once against 37 images' worth admit exactly
 * 37. Each budget of the key and of its account (per UTC day and month) is
 * reserved the same way ("bres:SUBJECT|PERIOD" against the budget less what
 * the store says it has spent). Short, the generation fails 402
 * insufficient_credits or budget_exceeded, with the numbers.
 *
 * Nothing is written here: the store step charges what was delivered with
 * the generation's record (store/ledger.h: one entry per account per
 * transaction), then lowers the cached balance and gives the reservation
 * back, in that order, so the reserved sum always covers what is charged
 * and not yet seen. A failure gives it back in pipeline/settle.c. A process
 * that dies loses only its reservations, which charged nothing. A value
 * missing from the cache (the first request, or after a grant) is read
 * from the store on the thread pool. */
#include "pipeline/reserve.h"
#include "pipeline/stage.h"

#include "store/ledger.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The keys of the balances cache and of the counters (without printf:
 * they are made several times per generation). A budget's key is its
 * subject and period, "key:ID|2026-12-06". */
static void budget_key(const char *prefix, const struct ig_budget_use *b, char *out, size_t size)
{
    ig_join3(out, size, prefix, b->subject, "|");
    size_t used = strlen(out);
    ig_strlcpy(out + used, b->period, size - used);
}

static void balance_key(const struct ig_generation *g, char *out, size_t size)
{
    ig_join3(out, size, "bal:", g->ctx.account_id, NULL);
}

static void spent_key(const struct ig_budget_use *b, char *out, size_t size)
{
    budget_key("spent:", b, out, size);
}

/* What an account's generations in flight have reserved. */
static void account_reserved_key(const char *account_id, char *out, size_t size)
{
    ig_join3(out, size, "res:", account_id, NULL);
}

static void reserved_key(const struct ig_generation *g, int step, char *out, size_t size)
{
    if (step == 0)
        account_reserved_key(g->ctx.account_id, out, size);
    else
        budget_key("bres:", &g->acct.budgets[step - 1], out, size);
}

/* The cached balance and spends: 1 when all are known. */
static int known(struct ig_generation *g)
{
    struct ig_gen_account *a = &g->acct;
    struct ig_balances *bal = g->pipeline->balances;
    char key[160];
    balance_key(g, key, sizeof key);
    if (!ig_balances_get(bal, key, &a->balance))
        return 0;
    for (int i = 0; i < a->nbudgets; i++) {
        spent_key(&a->budgets[i], key, sizeof key);
        if (!ig_balances_get(bal, key, &a->spent[i]))
            return 0;
    }
    return 1;
}

static void take(struct ig_generation *g);

static void counted(void *ud, int ok, int64_t value, int64_t reset_ms)
{
    (void)reset_ms;
    struct ig_generation *g = ud;
    struct ig_gen_account *a = &g->acct;
    int step = a->step;
    int64_t room = step == 0 ? a->balance : a->budgets[step - 1].limit - a->spent[step - 1];
    if (ok) {
        a->reserved_steps = step + 1;
        a->step++;
        take(g);
        return;
    }
    ig_generation_release_reservation(g); /* the steps before this one */
    char have[32], need[32], limit[32];
    ig_credits_format(a->held, need, sizeof need);
    if (value + a->held <= room) {
        /* Refused, yet within the limit: the counters are full. */
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "overloaded", NULL,
                           "Too many accounts are spending at once; retry shortly.");
        g->error.retry_after_s = 1;
    } else if (step == 0) {
        ig_credits_format(room - value > 0 ? room - value : 0, have, sizeof have);
        ig_generation_fail(g, IG_GERR_QUOTA, "insufficient_credits", NULL,
                           "insufficient credits: balance %s, estimated cost %s", have, need);
    } else {
        const struct ig_budget_use *b = &a->budgets[step - 1];
        ig_credits_format(b->limit, limit, sizeof limit);
        ig_credits_format(a->spent[step - 1] + value, have, sizeof have);
        ig_generation_fail(g, IG_GERR_QUOTA, "budget_exceeded", NULL,
                           "budget exceeded: the %s %s budget for %s is %s, spent %s, estimated "
                           "cost %s",
                           strncmp(b->subject, "key:", 4) == 0 ? "key's" : "account's",
                           strlen(b->period) == 7 ? "monthly" : "daily", b->period, limit, have,
                           need);
    }
    ig_generation_resume(g);
}

/* Reserves the estimate on the account, then on each budget, one counter
 * add at a time (each may answer later); resumes g at the end. */
static void take(struct ig_generation *g)
{
    struct ig_gen_account *a = &g->acct;
    if (a->step > a->nbudgets) {
        ig_generation_resume(g);
        return;
    }
    char key[160];
    reserved_key(g, a->step, key, sizeof key);
    int64_t room =
        a->step == 0 ? a->balance : a->budgets[a->step - 1].limit - a->spent[a->step - 1];
    ig_counters_add(g->pipeline->counters, key, a->held, room > 0 ? room : 0, 0, counted, g);
}

struct load_job {
    uv_work_t work;
    struct ig_generation *g;
    uint64_t epoch;
    int rc;
};

/* On a pool thread: the balance and spends the cache lacks. */
static void load_work(uv_work_t *w)
{
    struct load_job *j = w->data;
    struct ig_generation *g = j->g;
    struct ig_gen_account *a = &g->acct;
    struct ig_store *s = g->pipeline->store;
    struct ig_account_record acct;
    j->epoch = ig_balances_epoch(g->pipeline->balances); /* before the reads */
    j->rc = ig_store_account_find(s, g->ctx.account_id, &acct);
    a->balance = acct.balance;
    for (int i = 0; j->rc == 0 && i < a->nbudgets; i++)
        j->rc = ig_store_budget_spent(s, a->budgets[i].subject, a->budgets[i].period, &a->spent[i]);
}

static void load_done(uv_work_t *w, int status)
{
    (void)status;
    struct load_job *j = w->data;
    struct ig_generation *g = j->g;
    int rc = j->rc;
    uint64_t epoch = j->epoch;
    free(j);
    if (rc == IG_ENOTFOUND) {
        ig_generation_fail(g, IG_GERR_PERMISSION, "account_not_found", NULL,
                           "This key's account does not exist.");
    } else if (rc) {
        ig_error("generation %s: the account cannot be read: %s", g->id, ig_strerror(rc));
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "store_unavailable", NULL,
                           "The credit store is unavailable; try again.");
        g->error.retry_after_s = 1;
    } else {
        ig_generation_remember_balances(g, epoch);
        take(g);
        return;
    }
    ig_generation_resume(g);
}

enum ig_stage_rc ig_stage_reserve(struct ig_generation *g)
{
    if (!g->ctx.account_id[0])
        return IG_STAGE_NEXT; /* nobody pays: a generation of the gateway's own */
    struct ig_gen_account *a = &g->acct;
    const struct ig_tiers *tiers = g->pipeline->tiers;
    ig_strlcpy(a->tier, g->ctx.tier, sizeof a->tier);
    a->markup = tiers ? ig_tiers_markup(tiers, a->tier) : 0;
    if (a->markup < 0)
        a->markup = 0; /* a tier credits.markups no longer names */
    a->metered = g->ctx.metered;
    if (g->job.mode == IG_GEN_JOB) {
        a->accounted = 1; /* a job's run: its hold covers it (pipeline/job.c) */
        a->held = g->job.held;
        return IG_STAGE_NEXT;
    }
    if (!a->metered) {
        a->accounted = 1; /* charged on its record, never reserved or refused */
        return IG_STAGE_NEXT;
    }
    int64_t unit;
    if (ig_gen_request_price(&g->req, ig_generation_byok_providers(g), &unit)) {
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "model_not_priced", "model",
                           "'%s' has no price for size %s and quality %s, so it cannot be "
                           "charged; the operator sets one with price: in the config.",
                           g->req.model->id, g->req.size, g->req.quality);
        return IG_STAGE_NEXT;
    }
    a->accounted = 1;
    a->held = ig_price_marked_up(unit, a->markup) * g->req.n;
    a->nbudgets = ig_budget_uses(g->ctx.key_id, &g->ctx.key_budgets, g->ctx.account_id,
                                 &g->ctx.account_budgets, ig_unix_ms(), a->budgets);
    if (a->held == 0 && a->nbudgets == 0)
        return IG_STAGE_NEXT; /* nothing to reserve: free here (its own keys) */
    a->step = 0;
    if (known(g)) {
        take(g);
        return IG_STAGE_PARKED;
    }
    struct load_job *j = calloc(1, sizeof *j);
    if (!j) {
        ig_generation_fail_internal(g, IG_ENOMEM);
        return IG_STAGE_NEXT;
    }
    j->work.data = j;
    j->g = g;
    if (uv_queue_work(g->worker->loop, &j->work, load_work, load_done)) {
        free(j);
        ig_generation_fail_internal(g, IG_ENOMEM);
        return IG_STAGE_NEXT;
    }
    return IG_STAGE_PARKED;
}

void ig_generation_remember_balances(struct ig_generation *g, uint64_t epoch)
{
    struct ig_gen_account *a = &g->acct;
    struct ig_balances *bal = g->pipeline->balances;
    char key[160];
    balance_key(g, key, sizeof key);
    ig_balances_put(bal, key, a->balance, epoch, IG_BALANCE_MIN);
    for (int i = 0; i < a->nbudgets; i++) {
        spent_key(&a->budgets[i], key, sizeof key);
        ig_balances_put(bal, key, a->spent[i], epoch, IG_BALANCE_MAX);
    }
}

void ig_generation_release_reservation(struct ig_generation *g)
{
    struct ig_gen_account *a = &g->acct;
    char key[160];
    for (int step = 0; step < a->reserved_steps; step++) {
        reserved_key(g, step, key, sizeof key);
        ig_counters_add(g->pipeline->counters, key, -a->held, -1, 0, NULL, NULL);
    }
    a->reserved_steps = 0;
}

int64_t ig_generation_cost(const struct ig_generation *g, const struct ig_deployment *d, int images,
                           int byok)
{
    int64_t unit;
    if (!g->acct.accounted || images <= 0 || !d || byok ||
        ig_price_lookup(d->prices, d->nprices, g->req.size, g->req.quality, &unit))
        return 0;
    return ig_price_marked_up(unit, g->acct.markup) * images;
}

void ig_reserved_read(struct ig_pipeline *p, const char *account_id, ig_counter_cb cb, void *ud)
{
    char key[160];
    account_reserved_key(account_id, key, sizeof key);
    ig_counters_add(p->counters, key, 0, -1, 0, cb, ud);
}
