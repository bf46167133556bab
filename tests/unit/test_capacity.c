/* Concurrency caps: slots, the bounded queue, and the hand-off of a freed
 * slot to the oldest waiter, woken on its own loop (from any thread). */
#include "core/capacity.h"

#include <criterion/criterion.h>
#include <pthread.h>

static int a_key, b_key;
static uv_loop_t loop;
static struct ig_capacity_notifier *notifier;

/* A waiter that records the order it was granted in. */
struct waiter {
    struct ig_capacity_waiter w;
    int id;
};
static int order[16], norder;

static void granted(struct ig_capacity_waiter *w)
{
    order[norder++] = ((struct waiter *)w)->id;
}

/* A notifier's handle keeps no loop alive (a worker's other handles do):
 * this timer stands in for them, so uv_run polls. */
static uv_timer_t alive;

static void never_cb(uv_timer_t *t)
{
    (void)t;
}

static void setup(void)
{
    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &alive);
    uv_timer_start(&alive, never_cb, 3600 * 1000, 0);
    norder = 0;
}

static void teardown(void)
{
    if (notifier)
        ig_capacity_notifier_free(notifier);
    notifier = NULL;
    uv_close((uv_handle_t *)&alive, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0, "every handle closed");
}

TestSuite(capacity, .init = setup, .fini = teardown);

static void waiter_init(struct waiter *x, int id)
{
    memset(x, 0, sizeof *x);
    x->id = id;
    x->w.notifier = notifier;
    x->w.granted = granted;
}

Test(capacity, slots_and_bounded_queue)
{
    struct ig_capacity *c;
    struct waiter w1, w2, w3;
    cr_assert_eq(ig_capacity_new(&c, 2), 0);
    cr_assert_eq(ig_capacity_notifier_new(c, &loop, &notifier), 0);
    waiter_init(&w1, 1);
    waiter_init(&w2, 2);
    waiter_init(&w3, 3);
    cr_assert(ig_capacity_acquire(c, &a_key, 2));
    cr_assert(ig_capacity_acquire(c, &a_key, 2));
    cr_assert_not(ig_capacity_acquire(c, &a_key, 2), "both slots taken");
    cr_assert(ig_capacity_acquire(c, &b_key, 2), "other deployments have their own slots");
    cr_assert(ig_capacity_acquire(c, &a_key, 0), "0 means unlimited");
    cr_assert_eq(ig_capacity_in_use(c, &a_key), 2);
    cr_assert(ig_capacity_wait_enter(c, &a_key, &w1.w));
    cr_assert(ig_capacity_wait_enter(c, &a_key, &w2.w));
    cr_assert_not(ig_capacity_wait_enter(c, &a_key, &w3.w), "the queue holds two");
    ig_capacity_wait_leave(c, &a_key, &w2.w);
    cr_assert(ig_capacity_wait_enter(c, &a_key, &w3.w), "a place freed by leaving");
    cr_assert_eq(ig_capacity_waiting(c, &a_key), 2);
    ig_capacity_release(c, &a_key);
    cr_assert_eq(ig_capacity_in_use(c, &a_key), 2, "the slot went straight to the waiter");
    cr_assert_eq(norder, 0, "granted on its loop, not in the releasing call");
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(norder, 1);
    cr_assert_eq(order[0], 1);
    ig_capacity_wait_leave(c, &a_key, &w3.w);
    ig_capacity_release(c, &a_key);
    ig_capacity_release(c, &a_key);
    ig_capacity_release(c, &a_key); /* never below zero */
    cr_assert_eq(ig_capacity_in_use(c, &a_key), 0);
    ig_capacity_wait_leave(c, &a_key, &w3.w); /* leaving twice is harmless */
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(norder, 1, "a waiter that left is never called");
    ig_capacity_notifier_free(notifier);
    notifier = NULL;
    uv_run(&loop, UV_RUN_NOWAIT);
    ig_capacity_free(c);
}

Test(capacity, waiters_are_served_in_order_and_newcomers_wait_behind_them)
{
    struct ig_capacity *c;
    struct waiter w[4];
    cr_assert_eq(ig_capacity_new(&c, 8), 0);
    cr_assert_eq(ig_capacity_notifier_new(c, &loop, &notifier), 0);
    cr_assert(ig_capacity_acquire(c, &a_key, 1));
    for (int i = 0; i < 4; i++) {
        waiter_init(&w[i], i);
        cr_assert(ig_capacity_wait_enter(c, &a_key, &w[i].w));
    }
    ig_capacity_release(c, &a_key);
    cr_assert_not(ig_capacity_acquire(c, &a_key, 1), "a newcomer does not jump the queue");
    /* w[1] gives up in the middle; w[2] is granted, then leaves before its
     * wake ran: its slot passes on to w[3]. */
    ig_capacity_wait_leave(c, &a_key, &w[1].w);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(norder, 1);
    cr_assert_eq(order[0], 0);
    ig_capacity_release(c, &a_key); /* w[0] is done: w[2]'s turn */
    ig_capacity_wait_leave(c, &a_key, &w[2].w);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(norder, 2);
    cr_assert_eq(order[1], 3, "the slot w[2] left went to w[3]");
    cr_assert_eq(ig_capacity_in_use(c, &a_key), 1);
    ig_capacity_release(c, &a_key);
    cr_assert(ig_capacity_acquire(c, &a_key, 1), "with no one waiting, newcomers go first");
    cr_assert_eq(ig_capacity_in_use(c, &a_key), 1);
    ig_capacity_release(c, &a_key);
    ig_capacity_notifier_free(notifier);
    notifier = NULL;
    uv_run(&loop, UV_RUN_NOWAIT);
    ig_capacity_free(c);
}

static struct ig_capacity *shared;

static void *release_from_another_thread(void *arg)
{
    (void)arg;
    ig_capacity_release(shared, &a_key);
    return NULL;
}

static void stop_loop(struct ig_capacity_waiter *w)
{
    granted(w);
    uv_stop(&loop);
}

Test(capacity, a_slot_freed_on_another_thread_wakes_the_waiter_without_a_poll)
{
    struct waiter x;
    cr_assert_eq(ig_capacity_new(&shared, 4), 0);
    cr_assert_eq(ig_capacity_notifier_new(shared, &loop, &notifier), 0);
    cr_assert(ig_capacity_acquire(shared, &a_key, 1));
    waiter_init(&x, 7);
    x.w.granted = stop_loop;
    cr_assert(ig_capacity_wait_enter(shared, &a_key, &x.w));
    uv_timer_t guard; /* keeps the loop running; fails the test if no wake comes */
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, (uv_timer_cb)uv_stop, 5000, 0);
    guard.data = NULL;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, release_from_another_thread, NULL), 0);
    uint64_t before = uv_now(&loop);
    uv_run(&loop, UV_RUN_DEFAULT);
    pthread_join(t, NULL);
    cr_assert_eq(norder, 1, "granted once");
    cr_assert_eq(order[0], 7);
    cr_assert_lt(uv_now(&loop) - before, 1000, "woken by the release, not by the guard");
    uv_close((uv_handle_t *)&guard, NULL);
    ig_capacity_release(shared, &a_key);
    ig_capacity_notifier_free(notifier);
    notifier = NULL;
    uv_run(&loop, UV_RUN_NOWAIT);
    ig_capacity_free(shared);
}
