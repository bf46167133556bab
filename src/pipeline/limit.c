/* limit.c — the limit stage: each key's rate limits, before anything is
 * reserved.
 *
 * Three counts per key, kept in the pipeline's shared counters (core/
 * counters.h: in-process now, shared by a fleet later): requests in the
 * current minute ("rpm:KEY"), images asked for in it ("ipm:KEY") and
 * generations in progress ("conc:KEY"). The limits are the key's own
 * (PATCH /admin/keys/{id}) or its tier's defaults (rate_limits.* in the
 * config); 0, or a tier not listed, is no limit, and an unlimited count
 * is not kept. Each add checks and counts in one step, so 61 requests at
 * once against 60 a minute admit exactly 60. A refused request takes back
 * what it counted and fails 429 rate_limit_exceeded with Retry-After.
 *
 * The stage runs for failed generations too (IG_STAGE_ALWAYS), counting
 * nothing: it reads the counts, so every answer can carry the
 * x-ratelimit-* headers. The counter calls may answer later (a shared
 * backend), so the stage parks, and walks its steps from the callback. */
#include "pipeline/stage.h"

#include "util/err.h"

#include <stdio.h>

#define MINUTE_MS 60000

enum step { STEP_REQUESTS, STEP_IMAGES, STEP_CONCURRENT, STEP_DONE };

static int64_t limit_of(const struct ig_generation *g, int64_t own, int which)
{
    const struct ig_tiers *t = g->pipeline->rate_tiers;
    int64_t v = own >= 0 ? own : t ? ig_tier_value(&t[which], g->ctx.tier, 0) : 0;
    return v > 0 ? v : 0;
}

/* "rpm:KEY" and the like (kind includes its colon). */
static void counter_key(char *out, size_t size, const char *kind, const struct ig_generation *g)
{
    ig_join3(out, size, kind, g->ctx.key_id, NULL);
}

static void run_step(struct ig_generation *g);

/* Takes back what this generation counted of requests and images. */
static void give_back(struct ig_generation *g, int through)
{
    struct ig_gen_limits *l = &g->limits;
    char key[96];
    if (through > STEP_REQUESTS && l->requests_limit) {
        counter_key(key, sizeof key, "rpm:", g);
        ig_counters_add(g->pipeline->counters, key, -1, -1, MINUTE_MS, NULL, NULL);
        l->requests_remaining++;
    }
    if (through > STEP_IMAGES && l->images_limit) {
        counter_key(key, sizeof key, "ipm:", g);
        ig_counters_add(g->pipeline->counters, key, -g->req.n, -1, MINUTE_MS, NULL, NULL);
        l->images_remaining += g->req.n;
    }
}

static void refuse(struct ig_generation *g, int step, int64_t limit, int64_t reset_ms)
{
    static const char *const what[] = {"requests per minute", "images per minute",
                                       "concurrent generations"};
    give_back(g, step);
    ig_generation_fail(g, IG_GERR_RATE_LIMITED, "rate_limit_exceeded", NULL,
                       "Rate limit reached for %s: %lld for this key. Retry after %lld s.",
                       what[step], (long long)limit,
                       (long long)(reset_ms > 0 ? (reset_ms + 999) / 1000 : 1));
    g->error.retry_after_s = reset_ms > 0 ? (long)((reset_ms + 999) / 1000) : 1;
}

static void counted(void *ud, int ok, int64_t value, int64_t reset_ms)
{
    struct ig_generation *g = ud;
    struct ig_gen_limits *l = &g->limits;
    int step = l->step;
    int64_t limit = step == STEP_REQUESTS ? l->requests_limit
                    : step == STEP_IMAGES ? l->images_limit
                                          : l->concurrent_limit;
    if (step == STEP_REQUESTS) {
        l->requests_remaining = limit - value > 0 ? limit - value : 0;
        l->requests_reset_ms = reset_ms;
    } else if (step == STEP_IMAGES) {
        l->images_remaining = limit - value > 0 ? limit - value : 0;
        l->images_reset_ms = reset_ms;
    } else if (ok && !l->peek) {
        l->concurrent_taken = 1;
    }
    if (!ok) {
        refuse(g, step, limit, reset_ms);
        l->step = STEP_DONE;
        ig_generation_resume(g);
        return;
    }
    l->step++;
    run_step(g);
}

/* Runs the next step whose limit is set; resumes g after the last. */
static void run_step(struct ig_generation *g)
{
    struct ig_gen_limits *l = &g->limits;
    struct ig_counters *c = g->pipeline->counters;
    char key[96];
    for (;; l->step++) {
        if (l->step == STEP_REQUESTS && l->requests_limit) {
            counter_key(key, sizeof key, "rpm:", g);
            ig_counters_add(c, key, l->peek ? 0 : 1, l->requests_limit, MINUTE_MS, counted, g);
            return;
        }
        if (l->step == STEP_IMAGES && l->images_limit) {
            counter_key(key, sizeof key, "ipm:", g);
            ig_counters_add(c, key, l->peek ? 0 : g->req.n, l->images_limit, MINUTE_MS, counted, g);
            return;
        }
        if (l->step == STEP_CONCURRENT && l->concurrent_limit && !l->peek) {
            counter_key(key, sizeof key, "conc:", g);
            ig_counters_add(c, key, 1, l->concurrent_limit, 0, counted, g);
            return;
        }
        if (l->step >= STEP_DONE) {
            ig_generation_resume(g);
            return;
        }
    }
}

enum ig_stage_rc ig_stage_limit(struct ig_generation *g)
{
    struct ig_gen_limits *l = &g->limits;
    if (!g->ctx.key_id[0] || g->job.mode == IG_GEN_JOB)
        return IG_STAGE_NEXT; /* the gateway's own, or a job counted when submitted */
    l->requests_limit = limit_of(g, g->ctx.limits.requests_per_minute, IG_RATE_REQUESTS);
    l->images_limit = limit_of(g, g->ctx.limits.images_per_minute, IG_RATE_IMAGES);
    l->concurrent_limit = limit_of(g, g->ctx.limits.concurrent, IG_RATE_CONCURRENT);
    if (!l->requests_limit && !l->images_limit && !l->concurrent_limit)
        return IG_STAGE_NEXT;
    l->known = 1;
    l->peek = g->state == IG_GEN_FAILED || g->req.n <= 0;
    l->step = STEP_REQUESTS;
    run_step(g);
    return IG_STAGE_PARKED;
}

void ig_stage_limit_release(struct ig_generation *g)
{
    if (g->limits.concurrent_taken) {
        char key[96];
        counter_key(key, sizeof key, "conc:", g);
        ig_counters_add(g->pipeline->counters, key, -1, -1, 0, NULL, NULL);
        g->limits.concurrent_taken = 0;
    }
}
