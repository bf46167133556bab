/* settle.c — the settle stage: a hold nothing settled is released (and a
 * provider's refusal of the content is put in the audit trail).
 *
 * The store step settles a generation's hold in the transaction that
 * records it (store/ledger.h: release the hold, charge what was
 * delivered), so a recorded generation arrives here settled. One that was
 * not recorded — it failed before dispatch, or its record could not be
 * written — still holds credits: they are released here, on the thread
 * pool. A process that dies first leaves the hold to the sweep at the
 * next start (ig_ledger_release_stale). */
#include "pipeline/stage.h"

#include "store/ledger.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <stdlib.h>

struct release_job {
    uv_work_t work;
    struct ig_generation *g;
    int rc;
};

static int release_body(struct ig_store_tx *tx, void *ud)
{
    struct ig_generation *g = ud;
    return ig_ledger_settle(tx, g->ctx.account_id, g->acct.hold_id, g->id, 0, ig_unix_ms(),
                            &g->acct.balance);
}

static void release_work(uv_work_t *w)
{
    struct release_job *j = w->data;
    j->rc = ig_store_transact(j->g->pipeline->store, release_body, j->g);
}

static void release_done(uv_work_t *w, int status)
{
    (void)status;
    struct release_job *j = w->data;
    struct ig_generation *g = j->g;
    if (j->rc)
        ig_error("generation %s: releasing hold %s failed (%s); the next start releases it", g->id,
                 g->acct.hold_id, ig_strerror(j->rc));
    else
        g->acct.settled = 1;
    free(j);
    ig_generation_resume(g);
}

enum ig_stage_rc ig_stage_settle(struct ig_generation *g)
{
    if (g->dispatched && g->state == IG_GEN_FAILED && g->error.kind == IG_GERR_REFUSED)
        ig_generation_audit(g, "provider.refusal", 0, "{\"provider\":\"%s\",\"model\":\"%s\"}",
                            g->error.provider, g->req.model ? g->req.model->id : "");
    if (!g->acct.hold_id[0] || g->acct.settled)
        return IG_STAGE_NEXT;
    struct release_job *j = calloc(1, sizeof *j);
    if (!j) {
        ig_error("generation %s: out of memory releasing hold %s; the next start releases it",
                 g->id, g->acct.hold_id);
        return IG_STAGE_NEXT;
    }
    j->work.data = j;
    j->g = g;
    if (uv_queue_work(g->worker->loop, &j->work, release_work, release_done)) {
        free(j);
        return IG_STAGE_NEXT;
    }
    return IG_STAGE_PARKED;
}
