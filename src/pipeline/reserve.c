/* reserve.c — the price and the hold, before anything is spent.
 *
 * The estimate is n images at the highest price among the model's
 * deployments for the request's size and quality (any of them may serve
 * it), raised by the account's tier markup. A metered account then has it
 * set aside in one store transaction (store/ledger.h: never below zero,
 * however many ask at once): short, the generation fails 402 with the
 * balance and the estimate. Budgets of the key and of its account (per
 * UTC day and month) are counted in the same transaction with the same
 * rule: a hold that would pass one fails 402 budget_exceeded. A deployment without a price is
 * refused for metered accounts (never free by omission). The tier and whether the account is
 * metered come with the key (its cache entry), so an account that is not metered — the operator's
 * own — costs nothing here: its generations carry their cost on their record, with no hold and no
 * ledger entry, and are never refused. The store step settles a hold with
 * the generation's record; pipeline/settle.c releases one that nothing
 * settled. Holds are batched per worker loop: those asked for together
 * share one store transaction on the thread pool. */
#include "pipeline/stage.h"

#include "store/ledger.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A hold asked for by a generation, batched with the others of its
 * worker's loop (core/batch.h): holds that arrive together share one
 * store transaction, as records do in the store step. */
struct reserve_job {
    struct ig_batch_item item;
    struct ig_generation *g;
    struct ig_hold_request req;
};

#define JOB_OF_ITEM(it) ((struct reserve_job *)((char *)(it)-offsetof(struct reserve_job, item)))

/* On a pool thread: the batch's holds, in one transaction. */
static void holds_run(struct ig_batch_item *first, void *ud)
{
    struct ig_pipeline *p = ud;
    size_t n = 0;
    for (struct ig_batch_item *it = first; it; it = it->next)
        n++;
    struct ig_hold_request *reqs = calloc(n, sizeof *reqs);
    size_t i = 0;
    for (struct ig_batch_item *it = first; it; it = it->next, i++) {
        if (reqs)
            reqs[i] = JOB_OF_ITEM(it)->req;
        else
            JOB_OF_ITEM(it)->req.rc = IG_ENOMEM;
    }
    if (!reqs)
        return;
    ig_ledger_hold_many(p->store, reqs, n);
    i = 0;
    for (struct ig_batch_item *it = first; it; it = it->next, i++)
        JOB_OF_ITEM(it)->req = reqs[i];
    free(reqs);
}

/* On the loop, for each generation of the batch. */
static void holds_done(struct ig_batch_item *it, void *ud)
{
    (void)ud;
    struct reserve_job *j = JOB_OF_ITEM(it);
    struct ig_generation *g = j->g;
    struct ig_gen_account *a = &g->acct;
    const struct ig_hold_request *r = &j->req;
    a->balance = r->balance;
    if (r->rc == IG_EFUNDS) {
        char have[32], need[32];
        ig_credits_format(r->balance, have, sizeof have);
        ig_credits_format(r->hold.amount, need, sizeof need);
        ig_generation_fail(g, IG_GERR_QUOTA, "insufficient_credits", NULL,
                           "insufficient credits: balance %s, estimated cost %s", have, need);
    } else if (r->rc == IG_EBUDGET) {
        const struct ig_budget_use *b = &r->hold.budgets[r->budget_refused];
        char limit[32], spent[32], need[32];
        ig_credits_format(b->limit, limit, sizeof limit);
        ig_credits_format(r->budget_spent, spent, sizeof spent);
        ig_credits_format(r->hold.amount, need, sizeof need);
        ig_generation_fail(g, IG_GERR_QUOTA, "budget_exceeded", NULL,
                           "budget exceeded: the %s %s budget for %s is %s, spent %s, estimated "
                           "cost %s",
                           strncmp(b->subject, "key:", 4) == 0 ? "key's" : "account's",
                           strlen(b->period) == 7 ? "monthly" : "daily", b->period, limit, spent,
                           need);
    } else if (r->rc == IG_ENOTFOUND) {
        ig_generation_fail(g, IG_GERR_PERMISSION, "account_not_found", NULL,
                           "This key's account does not exist.");
    } else if (r->rc) {
        ig_error("generation %s: the hold failed: %s", g->id, ig_strerror(r->rc));
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "store_unavailable", NULL,
                           "The credit store is unavailable; try again.");
        g->error.retry_after_s = 1;
    } else {
        ig_strlcpy(a->hold_id, r->hold.id, sizeof a->hold_id);
        a->held = r->hold.amount;
        a->accounted = 1;
    }
    free(j);
    ig_generation_resume(g);
}

const struct ig_batch_ops ig_hold_batch_ops = {
    .run = holds_run,
    .done = holds_done,
};

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
    if (!a->metered) {
        a->accounted = 1; /* charged on its record, never held or refused */
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
    struct reserve_job *j = calloc(1, sizeof *j);
    struct ig_hold_record *h = j ? &j->req.hold : NULL;
    /* Time-ordered ids: holds land at the end of their index. */
    if (!j || ig_time_ordered_id("hold_", (uint64_t)ig_unix_ms(), h->id, sizeof h->id)) {
        free(j);
        ig_generation_fail_internal(g, IG_ENOMEM);
        return IG_STAGE_NEXT;
    }
    j->g = g;
    ig_strlcpy(h->account_id, g->ctx.account_id, sizeof h->account_id);
    ig_strlcpy(h->generation_id, g->id, sizeof h->generation_id);
    h->amount = ig_price_marked_up(unit, a->markup) * g->req.n;
    h->created_ms = ig_unix_ms();
    ig_hold_add_budgets(h, g->ctx.key_id, &g->ctx.key_budgets, &g->ctx.account_budgets);
    ig_batcher_submit(g->worker->hold_batcher, &j->item);
    return IG_STAGE_PARKED;
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
