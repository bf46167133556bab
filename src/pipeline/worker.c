/* worker.c — a worker loop's part of the pipeline: its upstream client and
 * its store-step batcher, and their lifetime, which may run past the
 * worker's own stop while generations whose clients left still run. */
#include "pipeline/stage.h"

#include <stdlib.h>

/* Store-step batches: two on the pool at once per worker, so one is
 * stored while the next fills; at most 32 generations each, which bounds
 * the wait a batch adds to the last of them. */
#define STORE_JOBS  2
#define STORE_ITEMS 32
/* Job submissions: small rows, so more of them to a transaction. */
#define SUBMIT_ITEMS 128

static void reaper_closed_cb(uv_handle_t *h)
{
    free(h->data);
}

static void release_now(struct ig_pipeline_worker *w)
{
    if (w->upstream)
        ig_upstream_free(w->upstream);
    if (w->store_batcher)
        ig_batcher_free(w->store_batcher);
    if (w->submit_batcher)
        ig_batcher_free(w->submit_batcher);
    ig_capacity_notifier_free(w->capacity_notifier);
    w->capacity_notifier = NULL;
    w->upstream = NULL;
    w->store_batcher = NULL;
    w->submit_batcher = NULL;
    uv_close((uv_handle_t *)&w->reaper, reaper_closed_cb);
}

static void reap_cb(uv_timer_t *t)
{
    release_now(t->data);
}

struct ig_pipeline_worker *ig_pipeline_worker_new(struct ig_pipeline *p, uv_loop_t *loop,
                                                  const struct ig_upstream_options *upstream)
{
    struct ig_pipeline_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->pipeline = p;
    w->loop = loop;
    uv_timer_init(loop, &w->reaper);
    w->reaper.data = w;
    w->store_batcher = ig_batcher_new(loop, &ig_store_batch_ops, p, STORE_JOBS, STORE_ITEMS);
    w->submit_batcher = ig_batcher_new(loop, &ig_submit_batch_ops, p, STORE_JOBS, SUBMIT_ITEMS);
    if (!w->store_batcher || !w->submit_batcher || ig_upstream_new(&w->upstream, loop, upstream) ||
        (p->capacity && ig_capacity_notifier_new(p->capacity, loop, &w->capacity_notifier))) {
        ig_pipeline_worker_free(w);
        return NULL;
    }
    return w;
}

void ig_pipeline_worker_free(struct ig_pipeline_worker *w)
{
    if (!w)
        return;
    w->closing = 1;
    if (w->live == 0)
        release_now(w);
}

void ig_pipeline_worker_generation_gone(struct ig_pipeline_worker *w)
{
    /* Not from inside the generation's own callbacks: on the next turn. */
    if (--w->live == 0 && w->closing)
        uv_timer_start(&w->reaper, reap_cb, 0, 0);
}
