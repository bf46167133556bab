/* classify.h — the one table that says what an upstream failure means.
 *
 *   upstream 400            → IG_ERRC_CLIENT: our 400, no fallback
 *   upstream 401, 403       → IG_ERRC_AUTH: 502 provider_auth_failed, next deployment
 *   upstream 402            → IG_ERRC_QUOTA: next deployment
 *   upstream 404            → IG_ERRC_NOT_FOUND: next deployment
 *   408 409 425 429 5xx,
 *   timeouts, resets,
 *   malformed bodies        → IG_ERRC_RETRYABLE: retry with backoff, then next
 *   content refusals        → IG_ERRC_CONTENT_POLICY: our 400, never elsewhere
 *   answers the gateway
 *   refuses (address
 *   policy, size cap)       → IG_ERRC_REFUSED: next deployment, no retry
 * Adapters call ig_classify_status() and then refine (a 400 whose body says
 * content_policy_violation, a 429 whose body says the quota is spent). */
#ifndef IG_CLASSIFY_H
#define IG_CLASSIFY_H

#include "providers/provider.h"

enum ig_error_class ig_classify_status(long status);
/* The retry hint of an answer in milliseconds (retry-after-ms, then
 * retry-after as seconds or an HTTP date), or -1. Capped at one hour. */
long ig_retry_after_ms(const struct ig_upstream_result *res, long now_unix);
/* Fills out for a transport failure or an unexpected status. */
void ig_classify_failure(const struct ig_upstream_result *res, struct ig_provider_result *out);
const char *ig_error_class_name(enum ig_error_class c);

#endif
