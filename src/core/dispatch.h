/* dispatch.h — the dispatch stage: getting images for a request from a
 * network model's deployments.
 *
 * Runs on one worker loop. Deployments are tried in priority order (a
 * weighted random order among equal priorities). Each failure is
 * classified (core/classify.h): retryable ones are retried on the same
 * deployment with exponential backoff and full jitter, honouring the
 * upstream's Retry-After, up to max_attempts; then, like auth, quota and
 * not-found failures, they move on to the next deployment. Client errors
 * and content refusals end at once. Image URLs in a result are downloaded
 * at once (size cap, http(s) only, magic bytes checked; private and
 * loopback addresses refused unless the URL's host is the deployment's own
 * api_base host). An overall deadline ends everything with 504.
 *
 * Exactly one callback, on the loop, unless cancelled first. */
#ifndef IG_DISPATCH_H
#define IG_DISPATCH_H

#include "core/models.h"
#include "core/request.h"
#include "providers/provider.h"
#include "upstream/upstream.h"

struct ig_dispatch;

struct ig_breakers;
struct ig_capacity;

struct ig_dispatch_options {
    struct ig_breakers *breakers; /* may be NULL */
    struct ig_capacity *capacity; /* may be NULL */
    int max_attempts;             /* per deployment, first try included */
    long base_delay_ms;           /* backoff base */
    long max_delay_ms;            /* backoff cap */
    long deadline_ms;             /* the whole dispatch */
    size_t max_image_bytes;
    /* Optional, for stream=true: the pieces of a provider's streamed (2xx)
     * answer as they arrive. It returns nonzero once it has passed anything
     * on to the client; from then on a failure is final (no retry, no
     * fallback), since the client has seen part of this attempt. */
    int (*on_stream)(void *ud, const char *data, size_t len);
    void *stream_ud;
};

struct ig_dispatch_outcome {
    int ok;
    /* On success: every image has bytes or base64 text whose leading
     * bytes are an image's signature (ig_sniff); nothing more is checked. */
    struct ig_provider_result result;
    const struct ig_deployment *deployment;
    int attempts;
    /* On failure: the answer to give the client. */
    int status;
    const char *type;
    const char *code;
    char message[700];
    long retry_after_s; /* -1: none */
};

/* May run before ig_dispatch_start() returns (nothing to try). The
 * callback may take the images by moving o->result out and zeroing it. */
typedef void (*ig_dispatch_cb)(struct ig_dispatch *d, struct ig_dispatch_outcome *o, void *ud);

/* Starts dispatching req (which must outlive the dispatch) to model's
 * deployments. */
int ig_dispatch_start(struct ig_upstream *u, uv_loop_t *loop, const struct ig_gen_request *req,
                      const struct ig_model *model, const struct ig_dispatch_options *opts,
                      ig_dispatch_cb cb, void *ud, struct ig_dispatch **out);
/* Stops everything in flight; no callback afterwards. */
void ig_dispatch_cancel(struct ig_dispatch *d);

/* The backoff before retry number `retry` (1 = first retry): a uniform
 * random delay in [0, min(max, base * 2^(retry-1))], or the upstream's hint
 * when it gave one (capped at max). */
long ig_backoff_ms(int retry, long base_ms, long max_ms, long retry_after_ms, uint64_t random);

#endif
