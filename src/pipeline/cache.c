/* cache.c — the cache stage: an exact cache of generations, and single
 * flights of identical ones (core/imgcache.h).
 *
 * A generation is cacheable when it makes images from a prompt alone (no
 * edits, no stream) and either pins a seed or its client asks
 * (x-imagegate-cache: use | refresh; skip turns it off). Its key is the
 * SHA-256 of the normalized request: model, prompt, negative prompt, n,
 * size, quality, style, seed, steps, guidance, output format, compression
 * and background — and its account, unless cache.shared says accounts
 * share. A hit is served from the stored images (no provider call) and
 * recorded as a generation of its own, costing cache.hit_cost_percent of
 * its estimate (0 by default). A miss joins the key's flight: the first
 * leads it to the provider; the others wait for it (looking every few
 * milliseconds, on their own loops) and are served what it stored
 * (coalesced), or go to the provider themselves when it failed: errors
 * are never cached. The leader's images enter the cache once recorded,
 * for cache.ttl_s. */
#include "pipeline/result.h"
#include "pipeline/stage.h"

#include "util/buf.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLLOW_POLL_MS 2

static int cacheable(const struct ig_generation *g)
{
    const struct ig_gen_request *r = &g->req;
    enum ig_cache_mode m = g->cache.mode;
    if (!g->pipeline->cache || m == IG_CACHE_SKIP || r->op != IG_OP_GENERATE || r->stream)
        return 0;
    return m == IG_CACHE_USE || m == IG_CACHE_REFRESH || r->seed >= 0;
}

/* Appends s and a separator (NULL: an absent field, which differs from ""). */
static int field(struct ig_buf *b, const char *s)
{
    int rc = s ? ig_buf_append(b, s, strlen(s)) : ig_buf_puts(b, "\x01");
    return rc ? rc : ig_buf_append(b, "", 1);
}

static int key_of(const struct ig_generation *g, uint8_t key[IG_CACHE_KEY])
{
    const struct ig_gen_request *r = &g->req;
    struct ig_buf b;
    ig_buf_init(&b, (size_t)1 << 20);
    char nums[160];
    snprintf(nums, sizeof nums, "%d|%lld|%d|%.9g|%d|%d", r->n, (long long)r->seed, r->steps,
             r->guidance, (int)r->output_format, r->output_compression);
    int rc = field(&b, "imagegate cache v1");
    rc = rc ? rc : field(&b, g->pipeline->cfg->cache_shared ? "" : g->ctx.account_id);
    rc = rc ? rc : field(&b, r->model->id);
    rc = rc ? rc : field(&b, r->prompt);
    rc = rc ? rc : field(&b, r->negative_prompt);
    rc = rc ? rc : field(&b, r->size);
    rc = rc ? rc : field(&b, r->quality);
    rc = rc ? rc : field(&b, r->style);
    rc = rc ? rc : field(&b, r->background);
    rc = rc ? rc : field(&b, nums);
    if (rc == 0)
        ig_sha256(b.data, b.len, key);
    ig_buf_release(&b);
    return rc;
}

/* A free hit's answer, made here: links on the loop, base64 (read back
 * from the blobs) on the pool. */
struct answer_work {
    uv_work_t work;
    struct ig_generation *g;
};

/* 0 when answered (or failed); IG_EAGAIN when it must read from disk and
 * may_block is 0 (nothing is done then). */
static int answer_now(struct ig_generation *g, int may_block)
{
    struct ig_stored *s = calloc(1, sizeof *s);
    int rc = s ? 0 : IG_ENOMEM;
    if (s) {
        ig_buf_init(&s->items, (size_t)IG_CACHE_IMAGES *
                                       ((size_t)g->pipeline->cfg->max_image_bytes / 3 * 4 + 8192) +
                                   65536);
        rc = ig_result_from_cache(g, s, g->cache.entry, may_block);
    }
    if (rc == 0)
        ig_result_close(g, s, 0);
    else if (rc != IG_EAGAIN)
        ig_generation_fail_internal(g, rc);
    if (s)
        ig_buf_release(&s->items);
    free(s);
    return rc == IG_EAGAIN ? rc : 0;
}

static void answer_run(uv_work_t *w)
{
    struct answer_work *a = w->data;
    answer_now(a->g, 1);
}

static void answer_done(uv_work_t *w, int status)
{
    (void)status;
    struct answer_work *a = w->data;
    struct ig_generation *g = a->g;
    free(a);
    ig_generation_resume(g);
}

/* g is served e's images (a hit, or coalesced with a twin in flight). A
 * hit that costs something, or a job's (whose result is its record), is
 * recorded and charged like any generation (the store step); a free one
 * is answered from the entry and not recorded (its images and their generation are: _metadata names
 * it), so it costs what serving a file costs. */
static enum ig_stage_rc serve(struct ig_generation *g, const struct ig_cache_entry *e,
                              enum ig_cache_outcome outcome)
{
    if (e->nimages != g->req.n)
        return IG_STAGE_ENDED; /* not what was asked: a provider gave fewer; ask again */
    g->cache.entry = malloc(sizeof *g->cache.entry);
    if (!g->cache.entry)
        return IG_STAGE_ENDED;
    memcpy(g->cache.entry, e, sizeof *e);
    g->cache.outcome = outcome;
    g->t.dispatch_us = ig_now_us();
    struct ig_metrics *m = g->pipeline->metrics;
    if (m)
        atomic_fetch_add_explicit(outcome == IG_CACHE_HIT ? &m->cache_hits : &m->cache_coalesced, 1,
                                  memory_order_relaxed);
    int paid = (g->acct.accounted && g->acct.metered && g->pipeline->cfg->cache_hit_cost_percent) ||
               g->job.mode == IG_GEN_JOB; /* a job keeps its result as a record */
    if (paid) {
        g->dispatched = 1; /* recorded and charged by the store step */
        return IG_STAGE_NEXT;
    }
    ig_strlcpy(g->id, e->generation_id, sizeof g->id); /* the one that made them */
    if (answer_now(g, 0) != IG_EAGAIN)
        return IG_STAGE_NEXT; /* links, or base64 from memory: answered here */
    struct answer_work *a = calloc(1, sizeof *a);
    if (!a) {
        ig_generation_fail_internal(g, IG_ENOMEM);
        return IG_STAGE_NEXT;
    }
    a->g = g;
    a->work.data = a;
    if (uv_queue_work(g->worker->loop, &a->work, answer_run, answer_done)) {
        free(a);
        ig_generation_fail_internal(g, IG_ENOMEM);
        return IG_STAGE_NEXT;
    }
    return IG_STAGE_PARKED;
}

static void follow_cb(uv_timer_t *t)
{
    struct ig_generation *g = t->data;
    struct ig_cache_entry e;
    int ok = 0;
    if (!ig_flight_landed(g->cache.flight, &e, &ok))
        return;
    uv_timer_stop(t);
    enum ig_stage_rc rc = ok ? serve(g, &e, IG_CACHE_COALESCED) : IG_STAGE_ENDED;
    if (rc == IG_STAGE_ENDED)
        g->cache.outcome = IG_CACHE_MISS; /* the twin failed: ask the provider */
    if (rc != IG_STAGE_PARKED)
        ig_generation_resume(g);
}

enum ig_stage_rc ig_stage_cache(struct ig_generation *g)
{
    struct ig_gen_cache *c = &g->cache;
    if (!cacheable(g) || key_of(g, c->key))
        return IG_STAGE_NEXT;
    struct ig_cache_entry e;
    if (c->mode != IG_CACHE_REFRESH &&
        ig_imgcache_get(g->pipeline->cache, c->key, ig_unix_ms(), &e)) {
        enum ig_stage_rc rc = serve(g, &e, IG_CACHE_HIT);
        if (rc != IG_STAGE_ENDED)
            return rc;
    }
    c->outcome = IG_CACHE_MISS;
    int rc = ig_flights_join(g->pipeline->flights, c->key, &c->flight);
    if (rc < 0) {
        c->flight = NULL;
        return IG_STAGE_NEXT; /* no flight: it asks the provider alone */
    }
    if (rc == 0) {
        c->leader = 1;
        return IG_STAGE_NEXT;
    }
    c->timer = malloc(sizeof *c->timer);
    if (!c->timer)
        return IG_STAGE_NEXT;
    uv_timer_init(g->worker->loop, c->timer);
    c->timer->data = g;
    uv_timer_start(c->timer, follow_cb, 0, FOLLOW_POLL_MS);
    return IG_STAGE_PARKED;
}

void ig_stage_cache_cancel(struct ig_generation *g)
{
    if (!g->cache.timer || !uv_is_active((uv_handle_t *)g->cache.timer))
        return;
    uv_timer_stop(g->cache.timer);
    ig_generation_fail(g, IG_GERR_CANCELED, "client_closed_request", NULL,
                       "The request was cancelled before its twin in flight landed.");
    ig_generation_resume(g);
}

static void timer_closed_cb(uv_handle_t *h)
{
    free(h);
}

void ig_stage_cache_release(struct ig_generation *g)
{
    struct ig_gen_cache *c = &g->cache;
    struct ig_pipeline *p = g->pipeline;
    if (c->timer) {
        uv_close((uv_handle_t *)c->timer, timer_closed_cb);
        c->timer = NULL;
    }
    if (c->leader) {
        /* What it recorded (store.c filled stored), or nothing: an error is
         * never cached. */
        struct ig_cache_entry *e = g->state != IG_GEN_FAILED ? c->stored : NULL;
        if (e) {
            memcpy(e->key, c->key, IG_CACHE_KEY);
            e->expires_ms = ig_unix_ms() + p->cfg->cache_ttl_s * 1000;
            ig_imgcache_put(p->cache, e);
        }
        ig_flight_land(p->flights, c->flight, e);
        c->leader = 0;
    }
    if (c->flight)
        ig_flight_release(p->flights, c->flight);
    c->flight = NULL;
    free(c->stored);
    c->stored = NULL;
}
