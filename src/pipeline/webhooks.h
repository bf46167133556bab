/* webhooks.h — the webhook deliverer: sends the deliveries written with
 * the events they tell of (a job's end: store/jobs.h), signed as Standard
 * Webhooks asks (core/webhook.h).
 *
 * One per process, beside the job runner on its loop. Due deliveries are
 * claimed from the store with a lease under the runner's name, as jobs
 * are, so a fleet delivers each once at a time and a delivery whose
 * process died is sent again once its lease passes (at least once). Each
 * attempt is a POST of the same body with the same webhook-id, signed
 * with the account's secret (and the one before it while a rotation's
 * window lasts), within webhooks.timeout_ms; a 2xx is delivered; a 410
 * disables the endpoint; a redirect is not followed (a failure); any
 * other answer or none is tried again after the next of
 * webhooks.retry_delays_ms (with ±10% jitter), and fails after the last.
 * A URL whose address the policy refuses (loopback, private, link-local,
 * metadata) fails at once, unless webhooks.allow_networks (or
 * IMAGEGATE_WEBHOOK_ALLOW_NETWORKS) lists it. */
#ifndef IG_PIPELINE_WEBHOOKS_H
#define IG_PIPELINE_WEBHOOKS_H

#include "pipeline/pipeline.h"

struct ig_webhook_deliverer;

/* A deliverer on w's loop, claiming under owner (which must outlive
 * it). IG_ENOMEM. */
int ig_webhook_deliverer_start(struct ig_pipeline_worker *w, const char *owner,
                               struct ig_webhook_deliverer **out);
/* On its loop: looks for due deliveries now. */
void ig_webhook_deliverer_wake(struct ig_webhook_deliverer *d);
/* On its loop: stops; attempts in flight are abandoned (their leases
 * pass and they are sent again). Frees d once its handles are closed. */
void ig_webhook_deliverer_stop(struct ig_webhook_deliverer *d);

#endif
