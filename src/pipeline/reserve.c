/* reserve.c — the price and the hold, before anything is spent.
 *
 * The estimate is n images at the highest price among the model's
 * deployments for the request's size and quality (any of them may serve
 * it), raised by the account's tier markup. A metered account then has it
 * set aside in one store transaction (store/ledger.h: never below zero,
 * however many ask at once): short, the generation fails 402 with the
 * balance and the estimate. A deployment without a price is refused for
 * metered accounts (never free by omission); the operator's own account
 * (not metered) is charged what is known and never refused, so it takes
 * no hold. The store step settles the hold with the generation's record;
 * pipeline/settle.c releases one that nothing settled. Store calls run on
 * the thread pool. */
#include "pipeline/stage.h"

#include "store/ledger.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reserve_job {
    uv_work_t work;
    struct ig_generation *g;
    int64_t unit; /* the highest list price per image; -1: a deployment is not priced */
    int rc;
    struct ig_account_record account;
    int markup;
};

static void reserve_work(uv_work_t *w)
{
    struct reserve_job *j = w->data;
    struct ig_generation *g = j->g;
    struct ig_pipeline *p = g->pipeline;
    j->rc = ig_store_account_find(p->store, g->ctx.account_id, &j->account);
    if (j->rc)
        return;
    j->markup = p->tiers ? ig_tiers_markup(p->tiers, j->account.tier) : 0;
    if (j->markup < 0) {
        ig_warn("account %s has tier '%s', which credits.markups does not name: no markup",
                j->account.id, j->account.tier);
        j->markup = 0;
    }
    if (!j->account.metered || j->unit < 0)
        return; /* not held: never refused, or refused below */
    struct ig_hold_record h;
    memset(&h, 0, sizeof h);
    if (ig_random_id("hold_", 12, h.id, sizeof h.id)) {
        j->rc = IG_ECRYPTO;
        return;
    }
    ig_strlcpy(h.account_id, j->account.id, sizeof h.account_id);
    ig_strlcpy(h.generation_id, g->id, sizeof h.generation_id);
    h.amount = ig_price_marked_up(j->unit, j->markup) * g->req.n;
    h.created_ms = ig_unix_ms();
    j->rc = ig_ledger_hold(p->store, &h, &j->account.balance);
    if (j->rc == 0) {
        ig_strlcpy(g->acct.hold_id, h.id, sizeof g->acct.hold_id);
        g->acct.held = h.amount;
    }
}

static void reserve_done(uv_work_t *w, int status)
{
    (void)status;
    struct reserve_job *j = w->data;
    struct ig_generation *g = j->g;
    struct ig_gen_account *a = &g->acct;
    ig_strlcpy(a->tier, j->account.tier, sizeof a->tier);
    a->markup = j->markup;
    a->metered = j->account.metered;
    a->balance = j->account.balance;
    char have[32], need[32];
    if (j->rc == IG_EFUNDS) {
        ig_credits_format(j->account.balance, have, sizeof have);
        ig_credits_format(ig_price_marked_up(j->unit, j->markup) * g->req.n, need, sizeof need);
        ig_generation_fail(g, IG_GERR_QUOTA, "insufficient_credits", NULL,
                           "insufficient credits: balance %s, estimated cost %s", have, need);
    } else if (j->rc == IG_ENOTFOUND) {
        ig_generation_fail(g, IG_GERR_PERMISSION, "account_not_found", NULL,
                           "This key's account does not exist.");
    } else if (j->rc) {
        ig_error("generation %s: the hold failed: %s", g->id, ig_strerror(j->rc));
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "store_unavailable", NULL,
                           "The credit store is unavailable; try again.");
        g->error.retry_after_s = 1;
    } else if (j->unit < 0 && a->metered) {
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "model_not_priced", "model",
                           "'%s' has no price for size %s and quality %s, so it cannot be "
                           "charged; the operator sets one with price: in the config.",
                           g->req.model->id, g->req.size, g->req.quality);
    } else {
        a->accounted = 1;
    }
    free(j);
    ig_generation_resume(g);
}

enum ig_stage_rc ig_stage_reserve(struct ig_generation *g)
{
    if (!g->ctx.account_id[0])
        return IG_STAGE_NEXT; /* nobody pays: a generation of the gateway's own */
    struct reserve_job *j = calloc(1, sizeof *j);
    if (!j) {
        ig_generation_fail_internal(g, IG_ENOMEM);
        return IG_STAGE_NEXT;
    }
    j->work.data = j;
    j->g = g;
    if (ig_gen_request_price(&g->req, &j->unit))
        j->unit = -1;
    if (uv_queue_work(g->worker->loop, &j->work, reserve_work, reserve_done)) {
        free(j);
        ig_generation_fail_internal(g, IG_ENOMEM);
        return IG_STAGE_NEXT;
    }
    return IG_STAGE_PARKED;
}

int64_t ig_generation_cost(const struct ig_generation *g, const struct ig_deployment *d, int images)
{
    int64_t unit;
    if (!g->acct.accounted || images <= 0 || !d ||
        ig_price_lookup(d->prices, d->nprices, g->req.size, g->req.quality, &unit))
        return 0;
    return ig_price_marked_up(unit, g->acct.markup) * images;
}
