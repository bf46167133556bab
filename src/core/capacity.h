/* capacity.h — per-deployment concurrency caps with a bounded FIFO wait
 * queue, shared by all workers.
 *
 * A dispatch holds a slot of its deployment from submit until that
 * deployment's job ends (polls included: an async job occupies the
 * provider the whole time). When every slot is taken it may wait, but only
 * max_queue dispatches may wait per deployment; past that the caller moves
 * on (next deployment, or 503 with Retry-After). Waiters are served in the
 * order they came, and nobody polls: a freed slot is handed straight to
 * the oldest waiter, whose loop is woken (its notifier's async handle) to
 * call its granted() callback with the slot already held. A newcomer never
 * takes a slot while anyone waits. Fixed memory: a waiter's place in the
 * queue is a node the caller owns. Thread-safe. */
#ifndef IG_CAPACITY_H
#define IG_CAPACITY_H

#include <uv.h>

struct ig_capacity;
/* One per loop whose dispatches may wait: how a waiter on that loop is
 * woken from whichever thread freed the slot. */
struct ig_capacity_notifier;

/* A place in a wait queue, owned by the waiter (inside its dispatch). The
 * caller sets notifier and granted before ig_capacity_wait_enter(). */
struct ig_capacity_waiter {
    struct ig_capacity_notifier *notifier;
    /* On the notifier's loop, once the slot is the waiter's. */
    void (*granted)(struct ig_capacity_waiter *w);
    /* The capacity's own. */
    struct ig_capacity_waiter *prev, *next, *ready_next;
    int state;
};

int ig_capacity_new(struct ig_capacity **out, int max_queue);
void ig_capacity_free(struct ig_capacity *c);
/* A notifier on loop (its handle keeps no loop alive while idle). Free it
 * on its loop once none of its waiters waits: the handle closes and the
 * struct goes with the close callback. IG_ENOMEM. */
int ig_capacity_notifier_new(struct ig_capacity *c, uv_loop_t *loop,
                             struct ig_capacity_notifier **out);
void ig_capacity_notifier_free(struct ig_capacity_notifier *n);
/* 1 when a slot of key was taken (max 0: unlimited, always 1); never while
 * anyone waits for one. */
int ig_capacity_acquire(struct ig_capacity *c, const void *key, int max);
/* Gives a slot back: to the oldest waiter when there is one (woken on its
 * loop), else to the pool. */
void ig_capacity_release(struct ig_capacity *c, const void *key);
/* 1 when the caller waits (w is now at the queue's tail), 0 when the
 * queue is full. */
int ig_capacity_wait_enter(struct ig_capacity *c, const void *key, struct ig_capacity_waiter *w);
/* Stops waiting; no granted() call afterwards. A slot already handed to w
 * whose wake has not run yet is given back (to the next waiter). Harmless
 * when w does not wait. */
void ig_capacity_wait_leave(struct ig_capacity *c, const void *key, struct ig_capacity_waiter *w);
/* Slots in use, and waiters queued, for tests and metrics. */
int ig_capacity_in_use(struct ig_capacity *c, const void *key);
int ig_capacity_waiting(struct ig_capacity *c, const void *key);

#endif
