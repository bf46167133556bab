/* generation.c — the generation object and the driver of the stage table;
 * see generation.h and stage.h.
 *
 * The driver runs stages in table order on the worker's loop. A stage that
 * parks returns; its completion calls ig_generation_resume(), which
 * continues with the next stage. A completion that comes while the stage's
 * own run() is still on the stack (a dispatch with nothing to try) only
 * notes it, and the driver goes on when run() returns, so stages never
 * recurse into each other. */
#include "pipeline/stage.h"

#include "util/clock.h"
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ig_generation_new(struct ig_pipeline_worker *w, const struct ig_gen_context *ctx,
                      struct ig_generation **out)
{
    struct ig_generation *g = calloc(1, sizeof *g);
    if (!g)
        return IG_ENOMEM;
    g->pipeline = w->pipeline;
    g->worker = w;
    if (ctx)
        g->ctx = *ctx;
    g->t.start_us = ctx && ctx->start_us ? ctx->start_us : ig_now_us();
    g->state = IG_GEN_RUNNING;
    g->error.retry_after_s = -1; /* calloc zeroed the rest */
    w->live++;
    *out = g;
    return 0;
}

void ig_gen_context_for_key(struct ig_gen_context *ctx, const char *key_id,
                            const struct ig_key_identity *who)
{
    ig_strlcpy(ctx->key_id, key_id, sizeof ctx->key_id);
    ig_strlcpy(ctx->account_id, who->account_id, sizeof ctx->account_id);
    ig_strlcpy(ctx->tier, who->tier, sizeof ctx->tier);
    ctx->metered = who->metered;
    ctx->limits = who->limits;
    ctx->key_budgets = who->key_budgets;
    ctx->account_budgets = who->account_budgets;
    ctx->has_byok = who->has_byok;
}

static void unorphan(struct ig_generation *g)
{
    if (!g->orphan_prev)
        return;
    *g->orphan_prev = g->orphan_next;
    if (g->orphan_next)
        g->orphan_next->orphan_prev = g->orphan_prev;
    g->orphan_prev = NULL;
    g->orphan_next = NULL;
}

int ig_generation_orphan(struct ig_generation *g)
{
    struct ig_pipeline_worker *w = g->worker;
    if (w->draining) {
        ig_generation_cancel(g);
        return 0;
    }
    if (!g->orphan_prev) {
        g->orphan_next = w->orphans;
        g->orphan_prev = &w->orphans;
        if (w->orphans)
            w->orphans->orphan_prev = &g->orphan_next;
        w->orphans = g;
    }
    return 1;
}

void ig_pipeline_worker_drain(struct ig_pipeline_worker *w)
{
    w->draining = 1;
    while (w->orphans) {
        struct ig_generation *g = w->orphans;
        unorphan(g);
        ig_generation_cancel(g);
    }
}

void ig_generation_free(struct ig_generation *g)
{
    if (!g)
        return;
    unorphan(g);
    free(g->result.body);
    ig_buf_release(&g->sse);
    if (g->outcome) {
        ig_provider_result_release(&g->outcome->result);
        free(g->outcome);
    }
    ig_gen_request_release(&g->req);
    free(g->job.body);
    free(g->job.webhook_url);
    free(g->job.resume_url);
    free(g->cache.entry);
    free(g->cache.stored);
    struct ig_pipeline_worker *w = g->worker;
    free(g);
    ig_pipeline_worker_generation_gone(w);
}

void ig_generation_watch(struct ig_generation *g, struct ig_gen_waiter *w)
{
    struct ig_gen_waiter **p = &g->waiters;
    while (*p)
        p = &(*p)->next;
    w->next = NULL;
    *p = w;
}

void ig_generation_unwatch(struct ig_generation *g, struct ig_gen_waiter *w)
{
    for (struct ig_gen_waiter **p = &g->waiters; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    if (!g->waiters && !g->detached)
        ig_generation_cancel(g);
}

void ig_generation_fail(struct ig_generation *g, enum ig_gen_error_kind kind, const char *code,
                        const char *param, const char *fmt, ...)
{
    if (g->state == IG_GEN_FAILED)
        return;
    g->state = IG_GEN_FAILED;
    va_list ap;
    va_start(ap, fmt);
    ig_gen_error_vset(&g->error, kind, code, param, fmt, ap);
    va_end(ap);
}

void ig_generation_fail_internal(struct ig_generation *g, int rc)
{
    ig_generation_fail(g, IG_GERR_INTERNAL, "generation_failed", NULL,
                       "The image could not be generated (%s). Generation id: %s.", ig_strerror(rc),
                       g->id);
}

const char *ig_generation_event_name(const struct ig_generation *g, int completed)
{
    if (g->req.op == IG_OP_EDIT)
        return completed ? "image_edit.completed" : "image_edit.partial_image";
    return completed ? "image_generation.completed" : "image_generation.partial_image";
}

const char *ig_generation_provider(const struct ig_generation *g)
{
    if (g->outcome && g->outcome->deployment)
        return g->outcome->deployment->provider;
    return g->cache.entry ? "cache" : NULL;
}

const char *ig_cache_outcome_name(enum ig_cache_outcome o)
{
    static const char *const names[] = {NULL, "miss", "hit", "coalesced"};
    return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : NULL;
}

void ig_generation_emit_partial(struct ig_generation *g, const struct ig_gen_partial *p)
{
    for (struct ig_gen_waiter *w = g->waiters; w; w = w->next)
        if (w->partial)
            w->partial(w, g, p);
}

static void drive(struct ig_generation *g)
{
    const struct ig_pipeline *p = g->pipeline;
    while (g->stage < p->nstages) {
        int i = g->stage++;
        const struct ig_stage *s = &p->stages[i];
        if (!s->run || (g->state == IG_GEN_FAILED && !(s->flags & IG_STAGE_ALWAYS)))
            continue;
        g->entered |= 1u << i;
        g->driving = 1;
        g->resumed = 0;
        enum ig_stage_rc rc = s->run(g);
        if (rc == IG_STAGE_ENDED)
            return; /* g is gone */
        g->driving = 0;
        if (rc == IG_STAGE_PARKED && !g->resumed)
            return;
    }
}

void ig_generation_resume(struct ig_generation *g)
{
    if (g->driving) {
        g->resumed = 1;
        return;
    }
    drive(g);
}

void ig_generation_start(struct ig_generation *g)
{
    g->stage = 0;
    drive(g);
}

void ig_generation_refuse(struct ig_generation *g, const struct ig_gen_error *e)
{
    g->error = *e;
    g->state = IG_GEN_FAILED;
    g->refused = 1;
    ig_generation_start(g);
}

void ig_generation_cancel(struct ig_generation *g)
{
    /* The stage the generation is parked in is the one before g->stage. */
    int i = g->stage - 1;
    if (!g->driving && i >= 0 && g->pipeline->stages[i].cancel)
        g->pipeline->stages[i].cancel(g);
}

enum ig_stage_rc ig_generation_finish(struct ig_generation *g)
{
    const struct ig_stage *stages = g->pipeline->stages;
    for (int i = g->pipeline->nstages - 1; i >= 0; i--)
        if ((g->entered & (1u << i)) && stages[i].release)
            stages[i].release(g);
    if (g->state == IG_GEN_RUNNING)
        g->state = IG_GEN_SUCCEEDED;
    g->t.done_us = ig_now_us();
    struct ig_metrics *m = g->pipeline->metrics;
    if (m && g->refused) {
        /* an invalid request, not a generation */
    } else if (m && g->state == IG_GEN_FAILED) {
        atomic_fetch_add_explicit(&m->generations_failed, 1, memory_order_relaxed);
    } else if (m) {
        atomic_fetch_add_explicit(&m->images_generated, (unsigned long long)g->result.images,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&m->bytes_stored, g->result.bytes_created, memory_order_relaxed);
        atomic_fetch_add_explicit(&m->blobs_created, (unsigned long long)g->result.blobs_created,
                                  memory_order_relaxed);
    }
    struct ig_gen_waiter *w = g->waiters;
    g->waiters = NULL;
    while (w) {
        struct ig_gen_waiter *next = w->next;
        w->done(w, g);
        w = next;
    }
    ig_generation_free(g);
    return IG_STAGE_ENDED;
}

enum ig_stage_rc ig_stage_answer(struct ig_generation *g)
{
    return ig_generation_finish(g);
}
