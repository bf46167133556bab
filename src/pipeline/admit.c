/* admit.c — admission: a bound on generations in progress
 * (limits.max_pending_renders), counted in the pipeline's shared counters
 * ("pending"). Past it a generation fails at once as unavailable with a
 * one-second retry hint, before anything is spent. The slot is given back
 * when the generation ends, whatever happened. The count may answer later
 * (a shared backend), so the stage parks until it does. */
#include "pipeline/stage.h"

#define PENDING "pending"

static void admitted_cb(void *ud, int ok, int64_t value)
{
    (void)value;
    struct ig_generation *g = ud;
    if (ok) {
        g->admitted = 1;
    } else {
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "overloaded", NULL,
                           "Too many generations are in progress; retry shortly.");
        g->error.retry_after_s = 1;
    }
    ig_generation_resume(g);
}

enum ig_stage_rc ig_stage_admit(struct ig_generation *g)
{
    struct ig_pipeline *p = g->pipeline;
    ig_counters_add(p->counters, PENDING, 1, p->cfg->max_pending_renders, 0, admitted_cb, g);
    return IG_STAGE_PARKED;
}

void ig_stage_admit_release(struct ig_generation *g)
{
    if (g->admitted) {
        ig_counters_add(g->pipeline->counters, PENDING, -1, -1, 0, NULL, NULL);
        g->admitted = 0;
    }
}
