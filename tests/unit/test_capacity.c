#include "core/capacity.h"

#include <criterion/criterion.h>

static int a_key, b_key;

Test(capacity, slots_and_bounded_queue)
{
    struct ig_capacity *c;
    struct ig_capacity_waiter w1, w2, w3;
    cr_assert_eq(ig_capacity_create(&c, 2), 0);
    cr_assert(ig_capacity_acquire(c, &a_key, 2, NULL));
    cr_assert(ig_capacity_acquire(c, &a_key, 2, NULL));
    cr_assert_not(ig_capacity_acquire(c, &a_key, 2, NULL), "both slots taken");
    cr_assert(ig_capacity_acquire(c, &b_key, 2, NULL), "other deployments have their own slots");
    cr_assert(ig_capacity_acquire(c, &a_key, 0, NULL), "0 means unlimited");
    cr_assert_eq(ig_capacity_in_use(c, &a_key), 2);
    cr_assert(ig_capacity_wait_enter(c, &a_key, &w1));
    cr_assert(ig_capacity_wait_enter(c, &a_key, &w2));
    cr_assert_not(ig_capacity_wait_enter(c, &a_key, &w3), "the queue holds two");
    ig_capacity_wait_leave(c, &a_key, &w2);
    cr_assert(ig_capacity_wait_enter(c, &a_key, &w3), "a place freed by leaving");
    ig_capacity_release(c, &a_key);
    cr_assert(ig_capacity_acquire(c, &a_key, 2, &w1), "a released slot goes to the waiter");
    ig_capacity_release(c, &a_key);
    ig_capacity_release(c, &a_key);
    ig_capacity_release(c, &a_key); /* never below zero */
    cr_assert_eq(ig_capacity_in_use(c, &a_key), 0);
    ig_capacity_wait_leave(c, &a_key, &w3);
    ig_capacity_wait_leave(c, &a_key, &w3); /* leaving twice is harmless */
    ig_capacity_free(c);
}

Test(capacity, waiters_are_served_in_order_and_newcomers_wait_behind_them)
{
    struct ig_capacity *c;
    struct ig_capacity_waiter w[4];
    cr_assert_eq(ig_capacity_create(&c, 8), 0);
    cr_assert(ig_capacity_acquire(c, &a_key, 1, NULL));
    for (int i = 0; i < 4; i++)
        cr_assert(ig_capacity_wait_enter(c, &a_key, &w[i]));
    ig_capacity_release(c, &a_key);
    /* A slot is free, but it belongs to the oldest waiter. */
    cr_assert_not(ig_capacity_acquire(c, &a_key, 1, NULL), "a newcomer does not jump the queue");
    cr_assert_not(ig_capacity_acquire(c, &a_key, 1, &w[2]), "nor does a later waiter");
    cr_assert(ig_capacity_acquire(c, &a_key, 1, &w[0]));
    /* The head left the queue by acquiring; w[1] is next. A waiter that
     * gives up in the middle simply drops out. */
    ig_capacity_wait_leave(c, &a_key, &w[1]);
    ig_capacity_release(c, &a_key);
    cr_assert_not(ig_capacity_acquire(c, &a_key, 1, &w[3]));
    cr_assert(ig_capacity_acquire(c, &a_key, 1, &w[2]), "w[1] left, so w[2] is first");
    ig_capacity_release(c, &a_key);
    cr_assert(ig_capacity_acquire(c, &a_key, 1, &w[3]));
    ig_capacity_release(c, &a_key);
    cr_assert(ig_capacity_acquire(c, &a_key, 1, NULL), "with no one waiting, newcomers go first");
    cr_assert_eq(ig_capacity_in_use(c, &a_key), 1);
    ig_capacity_free(c);
}
