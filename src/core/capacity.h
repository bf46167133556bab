/* capacity.h — per-deployment concurrency caps with a bounded FIFO wait
 * queue, shared by all workers.
 *
 * A dispatch holds a slot of its deployment from submit until that
 * deployment's job ends (polls included: an async job occupies the
 * provider the whole time). When every slot is taken it may wait, but only
 * max_queue dispatches may wait per deployment; past that the caller moves
 * on (next deployment, or 503 with Retry-After). Waiters are served in the
 * order they came: a freed slot goes to the oldest waiter, and a newcomer
 * never takes a slot while anyone waits. Waiters look again on a short
 * timer (the slot is kept for the oldest meanwhile). Fixed memory: a
 * waiter's place in the queue is a node the caller owns. Thread-safe. */
#ifndef IG_CAPACITY_H
#define IG_CAPACITY_H

struct ig_capacity;

/* A place in a wait queue, owned by the waiter (inside its dispatch). */
struct ig_capacity_waiter {
    struct ig_capacity_waiter *prev, *next;
};

int ig_capacity_create(struct ig_capacity **out, int max_queue);
void ig_capacity_free(struct ig_capacity *c);
/* 1 when a slot of key was taken (max 0: unlimited, always 1). w is NULL
 * for a newcomer, who gets a slot only when no one waits; a waiter passes
 * its node and gets one only at the head of the queue, leaving the queue
 * when it does. */
int ig_capacity_acquire(struct ig_capacity *c, const void *key, int max,
                        struct ig_capacity_waiter *w);
void ig_capacity_release(struct ig_capacity *c, const void *key);
/* 1 when the caller may wait (w is now at the queue's tail), 0 when the
 * queue is full. A waiter leaves by acquiring, or by wait_leave. */
int ig_capacity_wait_enter(struct ig_capacity *c, const void *key, struct ig_capacity_waiter *w);
void ig_capacity_wait_leave(struct ig_capacity *c, const void *key, struct ig_capacity_waiter *w);
/* Slots in use, for tests and metrics. */
int ig_capacity_in_use(struct ig_capacity *c, const void *key);

#endif
