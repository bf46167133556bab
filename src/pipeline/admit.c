/* admit.c — admission: a process-wide bound on generations in progress
 * (limits.max_pending_renders). Past it a generation fails at once as
 * unavailable with a one-second retry hint, before anything is spent.
 * The slot is given back when the generation ends, whatever happened. */
#include "pipeline/stage.h"

enum ig_stage_rc ig_stage_admit(struct ig_generation *g)
{
    struct ig_pipeline *p = g->pipeline;
    long pending = atomic_fetch_add(&p->pending, 1);
    if (pending >= p->cfg->max_pending_renders) {
        atomic_fetch_sub(&p->pending, 1);
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "overloaded", NULL,
                           "Too many generations are in progress; retry shortly.");
        g->error.retry_after_s = 1;
        return IG_STAGE_NEXT;
    }
    g->admitted = 1;
    return IG_STAGE_NEXT;
}

void ig_stage_admit_release(struct ig_generation *g)
{
    if (g->admitted) {
        atomic_fetch_sub(&g->pipeline->pending, 1);
        g->admitted = 0;
    }
}
