/* capacity.h — per-deployment concurrency caps with a bounded wait queue,
 * shared by all workers.
 *
 * A dispatch holds a slot of its deployment from submit until that
 * deployment's job ends (polls included: an async job occupies the
 * provider the whole time). When every slot is taken it may wait, but only
 * max_queue dispatches may wait per deployment; past that the caller moves
 * on (next deployment, or 503 with Retry-After). Waiters re-try on a short
 * timer, so wake-up order is not strictly FIFO. Fixed memory; thread-safe. */
#ifndef IG_CAPACITY_H
#define IG_CAPACITY_H

struct ig_capacity;

int ig_capacity_create(struct ig_capacity **out, int max_queue);
void ig_capacity_free(struct ig_capacity *c);
/* 1 when a slot of key was taken (max 0: unlimited, always 1). */
int ig_capacity_acquire(struct ig_capacity *c, const void *key, int max);
void ig_capacity_release(struct ig_capacity *c, const void *key);
/* 1 when the caller may wait (and now counts as waiting), 0 when the
 * queue is full. Every successful enter is paired with one leave. */
int ig_capacity_wait_enter(struct ig_capacity *c, const void *key);
void ig_capacity_wait_leave(struct ig_capacity *c, const void *key);
/* Slots in use, for tests and metrics. */
int ig_capacity_in_use(struct ig_capacity *c, const void *key);

#endif
