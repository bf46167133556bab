/* admit.c — admission: a bound on generations in progress, counted in the
 * pipeline's shared counters. Two kinds are bounded apart, since they cost
 * different things: a local render takes a core for its time ("renders",
 * limits.max_pending_renders, sized from the cores), while a generation
 * waiting on a provider takes only memory, for seconds or minutes
 * ("provider", limits.max_provider_generations, sized from memory). Past
 * its bound a generation fails at once as unavailable with a one-second
 * retry hint, before anything is spent. The slot is given back when the
 * generation ends, whatever happened. The count may answer later (a
 * shared backend), so the stage parks until it does. */
#include "pipeline/stage.h"

#include "providers/provider.h"

#define RENDERS  "renders"
#define PROVIDER "provider"

/* 1 when every deployment of the generation's model renders in-process. */
static int renders_locally(const struct ig_generation *g)
{
    const struct ig_model *m = g->req.model;
    if (!m || m->ndeployments == 0)
        return 0;
    for (size_t i = 0; i < m->ndeployments; i++) {
        const struct ig_provider *p = ig_provider_find(m->deployments[i].provider);
        if (!p || !p->generate)
            return 0;
    }
    return 1;
}

static void admitted_cb(void *ud, int ok, int64_t value, int64_t reset_ms)
{
    (void)value;
    (void)reset_ms;
    struct ig_generation *g = ud;
    if (ok) {
        g->admitted = 1;
    } else {
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "overloaded", NULL,
                           renders_locally(g)
                               ? "Too many local renders are in progress; retry shortly."
                               : "Too many generations are waiting on providers; retry shortly.");
        g->error.retry_after_s = 1;
    }
    ig_generation_resume(g);
}

enum ig_stage_rc ig_stage_admit(struct ig_generation *g)
{
    struct ig_pipeline *p = g->pipeline;
    if (g->job.mode == IG_GEN_SUBMIT)
        return IG_STAGE_NEXT; /* a job's submission generates nothing here */
    if (renders_locally(g))
        ig_counters_add(p->counters, RENDERS, 1, p->max_renders, 0, admitted_cb, g);
    else
        ig_counters_add(p->counters, PROVIDER, 1, p->max_provider, 0, admitted_cb, g);
    return IG_STAGE_PARKED;
}

void ig_stage_admit_release(struct ig_generation *g)
{
    if (g->admitted) {
        ig_counters_add(g->pipeline->counters, renders_locally(g) ? RENDERS : PROVIDER, -1, -1, 0,
                        NULL, NULL);
        g->admitted = 0;
    }
}
