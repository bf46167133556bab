#include "core/capacity.h"

#include <criterion/criterion.h>

static int a_key, b_key;

Test(capacity, slots_and_bounded_queue)
{
    struct ig_capacity *c;
    cr_assert_eq(ig_capacity_create(&c, 2), 0);
    cr_assert(ig_capacity_acquire(c, &a_key, 2));
    cr_assert(ig_capacity_acquire(c, &a_key, 2));
    cr_assert_not(ig_capacity_acquire(c, &a_key, 2), "both slots taken");
    cr_assert(ig_capacity_acquire(c, &b_key, 2), "other deployments have their own slots");
    cr_assert(ig_capacity_acquire(c, &a_key, 0), "0 means unlimited");
    cr_assert_eq(ig_capacity_in_use(c, &a_key), 2);
    cr_assert(ig_capacity_wait_enter(c, &a_key));
    cr_assert(ig_capacity_wait_enter(c, &a_key));
    cr_assert_not(ig_capacity_wait_enter(c, &a_key), "the queue holds two");
    ig_capacity_wait_leave(c, &a_key);
    cr_assert(ig_capacity_wait_enter(c, &a_key));
    ig_capacity_release(c, &a_key);
    cr_assert(ig_capacity_acquire(c, &a_key, 2), "a released slot is free again");
    ig_capacity_release(c, &a_key);
    ig_capacity_release(c, &a_key);
    ig_capacity_release(c, &a_key); /* never below zero */
    cr_assert_eq(ig_capacity_in_use(c, &a_key), 0);
    ig_capacity_free(c);
}
