/* breaker.h — per-deployment circuit breakers, shared by all workers.
 *
 * closed: calls pass; each failure that is the deployment's fault
 * (retryable, auth, quota, not found) counts, a success resets the count.
 * open: after `threshold` consecutive failures no call passes for
 * `cooldown_ms`. half-open: after the cooldown exactly one probe passes;
 * its success closes the breaker, its failure opens it again. Fixed memory
 * (a table keyed by the deployment's address); thread-safe. A threshold of
 * 0 disables breaking. */
#ifndef IG_BREAKER_H
#define IG_BREAKER_H

#include <stdint.h>

struct ig_breakers;

int ig_breakers_new(struct ig_breakers **out, int threshold, uint64_t cooldown_ms);
void ig_breakers_free(struct ig_breakers *b);
/* 1 when a call to key may go now (in half-open, this claims the probe). */
int ig_breaker_allow(struct ig_breakers *b, const void *key, uint64_t now_ms);
/* The same question as the dispatcher asks it, shaped for a breaker state
 * that instances share: the answer comes through cb, on the caller's
 * loop, possibly before the call returns (in-process: always) or later
 * (a shared backend). b may be NULL: always allowed. */
typedef void (*ig_breaker_cb)(void *ud, int allowed);
void ig_breaker_check(struct ig_breakers *b, const void *key, uint64_t now_ms, ig_breaker_cb cb,
                      void *ud);
void ig_breaker_record(struct ig_breakers *b, const void *key, int success, uint64_t now_ms);
/* 0 closed, 1 open, 2 half-open (probe out), for metrics and tests. */
int ig_breaker_state(struct ig_breakers *b, const void *key, uint64_t now_ms);

#endif
