/* dispatcher.h — getting images for a request from a model's deployments,
 * in-process (the local renderer, on the thread pool) or over the network.
 *
 * Runs on one worker loop. Deployments are tried in priority order (a
 * weighted random order among equal priorities). Each failure is
 * classified (providers/classify.h): retryable ones are retried on the same
 * deployment with exponential backoff and full jitter, honouring the
 * upstream's Retry-After, up to max_attempts; then, like auth, quota and
 * not-found failures, they move on to the next deployment. Client errors
 * and content refusals end at once. Image URLs in a result are downloaded
 * at once (size cap, http(s) only, magic bytes checked; private and
 * loopback addresses refused unless the URL's host is the deployment's own
 * api_base host). An overall deadline ends everything (IG_GERR_TIMEOUT).
 * Failures are domain errors (core/gen_error.h); no HTTP here.
 *
 * Exactly one callback, on the loop, unless cancelled first. */
#ifndef IG_DISPATCHER_H
#define IG_DISPATCHER_H

#include "core/gen_error.h"
#include "core/models.h"
#include "core/request.h"
#include "providers/provider.h"
#include "upstream/upstream.h"

struct ig_dispatch;

struct ig_breakers;
struct ig_capacity;
struct ig_capacity_notifier;

/* An account's own key for a provider (BYOK): every deployment of that
 * provider is called with it, never with the gateway's. */
struct ig_byok_key {
    const char *provider;
    const char *api_key;
};

struct ig_dispatch_options {
    struct ig_breakers *breakers; /* may be NULL */
    struct ig_capacity *capacity; /* may be NULL */
    /* The loop's notifier for waiting on a deployment's slots; NULL: no
     * waiting (a full deployment is skipped). */
    struct ig_capacity_notifier *capacity_notifier;
    int max_attempts;   /* per deployment, first try included */
    long base_delay_ms; /* backoff base */
    long max_delay_ms;  /* backoff cap */
    long deadline_ms;   /* the whole dispatch */
    size_t max_image_bytes;
    /* Optional, for stream=true: the pieces of a provider's streamed (2xx)
     * answer as they arrive. It returns nonzero once it has passed anything
     * on to the client; from then on a failure is final (no retry, no
     * fallback), since the client has seen part of this attempt. */
    int (*on_stream)(void *ud, const char *data, size_t len);
    void *stream_ud;
    /* In-process providers: image i uses seed + i (kept to 32 bits). */
    uint64_t seed;
    /* Optional, for stream=true on an in-process provider: each partial
     * image (request's partial_images of them) as it is rendered, on the
     * loop, before the final images; the data stays the dispatcher's. */
    void (*on_partial)(void *ud, int index, const struct ig_image_out *img);
    /* The account's own keys (they must outlive the dispatch). Their
     * deployments skip the breakers and concurrency caps (those measure
     * the gateway's keys), and a refusal of one fails 502
     * byok_key_rejected. */
    const struct ig_byok_key *byok;
    size_t nbyok;
    /* Optional, for durable jobs: called on the loop when a provider has
     * started a job of its own for this dispatch (its first poll URL), so
     * that a job taken over later can follow it (resume_*) instead of
     * paying for a new one. */
    void (*on_upstream_job)(void *ud, const struct ig_deployment *dep, const char *poll_url);
    void *upstream_job_ud;
    /* Optional: a provider's job to follow first, by polling resume_url on
     * resume_dep (one of the model's deployments), instead of submitting
     * the request there. A provider that cannot follow jobs
     * (poll_request NULL) is asked afresh. */
    const struct ig_deployment *resume_dep;
    const char *resume_url;
    /* Optional: what a provider says of its job while it is pending (queue
     * position, 0 when running; percent; -1 each when unknown), on the
     * loop, at each poll. */
    void (*on_progress)(void *ud, int queue_position, int percent);
    void *progress_ud;
};

struct ig_dispatch_outcome {
    int ok;
    /* On success: every image has bytes or base64 text whose leading
     * bytes are an image's signature (ig_sniff); nothing more is checked. */
    struct ig_provider_result result;
    const struct ig_deployment *deployment;
    int byok; /* delivered with the account's own key */
    int attempts;
    /* On failure: why (kind, code, message, retry hint). */
    struct ig_gen_error error;
};

/* May run before ig_dispatch_start() returns (nothing to try). The
 * callback may take the images by moving o->result out and zeroing it. */
typedef void (*ig_dispatch_cb)(struct ig_dispatch *d, struct ig_dispatch_outcome *o, void *ud);

/* Starts dispatching req (which must outlive the dispatch) to model's
 * deployments. */
int ig_dispatch_start(struct ig_upstream *u, uv_loop_t *loop, const struct ig_gen_request *req,
                      const struct ig_model *model, const struct ig_dispatch_options *opts,
                      ig_dispatch_cb cb, void *ud, struct ig_dispatch **out);
/* Stops everything in flight; no callback afterwards. Not while
 * ig_dispatch_rendering(): an in-process render on the thread pool reads
 * the request until it is back; stop it with ig_dispatch_stop_render. */
void ig_dispatch_cancel(struct ig_dispatch *d);
/* 1 while an in-process provider renders for d on the thread pool. */
int ig_dispatch_rendering(const struct ig_dispatch *d);
/* While rendering: the render stops after the image it is on (one not
 * started yet does not start), and once it is back the dispatch ends with
 * its callback, cancelled (IG_GERR_CANCELED, client_closed_request). */
void ig_dispatch_stop_render(struct ig_dispatch *d);

/* The backoff before retry number `retry` (1 = first retry): a uniform
 * random delay in [0, min(max, base * 2^(retry-1))], or the upstream's hint
 * when it gave one (capped at max). */
long ig_backoff_ms(int retry, long base_ms, long max_ms, long retry_after_ms, uint64_t random);
/* The order in which m's deployments are tried: by priority (lower
 * first), and among equal priorities a weighted random order (weight 3 is
 * first three times as often as weight 1), drawn from random(ud). Writes
 * at most max (and at most 32) to order; returns how many. */
size_t ig_deployments_order(const struct ig_model *m, uint64_t (*random)(void *ud), void *ud,
                            const struct ig_deployment **order, size_t max);

#endif
