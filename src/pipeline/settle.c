/* settle.c — the settle stage: a reservation nothing charged is given
 * back (and a provider's refusal of the content is put in the audit
 * trail).
 *
 * The store step charges a recorded generation with its record and gives
 * its reservation back itself (pipeline/store.c). One that was not
 * recorded — it failed before dispatch, or its record could not be
 * written — still holds its reservation: it is given back here. Nothing
 * of it is in the store, so there is nothing to write. */
#include "pipeline/stage.h"

enum ig_stage_rc ig_stage_settle(struct ig_generation *g)
{
    if (g->dispatched && g->state == IG_GEN_FAILED && g->error.kind == IG_GERR_REFUSED)
        ig_generation_audit(g, "provider.refusal", 0, "{\"provider\":\"%s\",\"model\":\"%s\"}",
                            g->error.provider, g->req.model ? g->req.model->id : "");
    ig_generation_release_reservation(g);
    return IG_STAGE_NEXT;
}
