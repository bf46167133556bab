/* pipeline.h — what the generation pipeline needs from the process it runs
 * in, and from each worker loop.
 *
 * struct ig_pipeline is shared by every loop: the configuration, the store
 * and blobs, the signing secret, the model registry, the shared state of
 * deployments (breakers, capacity) and the counters. It is built by its
 * owner (api/app.c today; a job runner or a test equally) and read-only
 * afterwards except through its own thread-safe members.
 *
 * struct ig_pipeline_worker is one loop's part: the loop, its upstream
 * client and its batchers (the store step, job submissions). A
 * generation lives on one worker from start to answer. */
#ifndef IG_PIPELINE_H
#define IG_PIPELINE_H

#include "config.h"
#include "core/batch.h"
#include "core/balances.h"
#include "core/breaker.h"
#include "core/capacity.h"
#include "core/counters.h"
#include "core/imgcache.h"
#include "core/metrics.h"
#include "core/models.h"
#include "core/moderation.h"
#include "core/pricing.h"
#include "store/blobs.h"
#include "store/store.h"
#include "upstream/policy.h"
#include "upstream/upstream.h"

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

struct ig_stage;

enum ig_rate_limit { IG_RATE_REQUESTS, IG_RATE_IMAGES, IG_RATE_CONCURRENT, IG_RATE_COUNT };

struct ig_pipeline {
    const struct ig_stage *stages; /* the stage table (pipeline/stages.c) */
    int nstages;
    const struct ig_config *cfg;
    struct ig_store *store;
    struct ig_blob_store *blobs;
    const uint8_t *secret; /* signs image URLs */
    size_t secret_len;
    const struct ig_models *models;
    struct ig_breakers *breakers; /* may be NULL */
    struct ig_capacity *capacity; /* may be NULL */
    struct ig_metrics *metrics;   /* may be NULL */
    /* Counts instances will share: "renders" and "provider" (generations
     * admitted and not yet answered, local and not), and the rates of the
     * stages to come. */
    struct ig_counters *counters;
    /* Set by ig_pipeline_init from the configuration: the bounds of
     * admission (limits.max_pending_renders with 0 resolved from the
     * cores, limits.max_provider_generations). */
    int64_t max_renders, max_provider;
    /* The balances and budget spends the store last gave (reserve.c). */
    struct ig_balances *balances;
    /* Each tier's markup (credits.markups); NULL: no markups. */
    const struct ig_tiers *tiers;
    /* Each tier's default rate limits (rate_limits.*), indexed by enum
     * ig_rate_limit; NULL: none. */
    const struct ig_tiers *rate_tiers;
    /* The operator's content rules (moderation:); NULL: none. */
    const struct ig_moderation *moderation;
    /* Webhooks (pipeline/webhooks.h): the private networks deliveries may
     * reach (NULL: none), and the delays before each retry. */
    const struct ig_networks *webhook_networks;
    /* The exact cache and its single flights (core/imgcache.h); NULL: no
     * cache. */
    struct ig_imgcache *cache;
    struct ig_flights *flights;
    struct ig_bytecache *b64cache; /* cached images' base64 (NULL: none) */
    const int64_t *webhook_delays;
    int nwebhook_delays;
};

struct ig_pipeline_worker {
    struct ig_pipeline *pipeline;
    uv_loop_t *loop;
    struct ig_upstream *upstream;
    struct ig_batcher *store_batcher;
    struct ig_batcher *submit_batcher;              /* job submissions (pipeline/job.c) */
    struct ig_capacity_notifier *capacity_notifier; /* NULL without capacity */
    /* Generations made on this worker and not yet freed: the worker is
     * freed only after the last (a generation outlives the request that
     * asked for it when its client leaves). */
    long live;
    int closing;
    int draining; /* the server drains: no generation is orphaned any more */
    /* Generations whose waiters' clients left, running on so their work is
     * not lost, until the server drains (ig_pipeline_worker_drain). */
    struct ig_generation *orphans;
    uv_timer_t reaper;
};

/* Sets p's stage table; the caller fills the rest. */
void ig_pipeline_init(struct ig_pipeline *p);

/* A worker's part on loop. NULL when out of memory. Free it on the same
 * loop: it is freed at once, or once its last generation has ended, on
 * the loop, which must keep running until then (the generation's work
 * keeps it alive). */
struct ig_pipeline_worker *ig_pipeline_worker_new(struct ig_pipeline *p, uv_loop_t *loop,
                                                  const struct ig_upstream_options *upstream);
void ig_pipeline_worker_free(struct ig_pipeline_worker *w);
/* The server drains: every orphaned generation of w is cancelled (it is
 * recorded as cancelled, and the drain need not wait for its provider). */
void ig_pipeline_worker_drain(struct ig_pipeline_worker *w);

#endif
