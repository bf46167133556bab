#include "core/breaker.h"

#include <criterion/criterion.h>

static int a_key, b_key;

Test(breaker, opens_after_threshold_and_probes_once)
{
    struct ig_breakers *b;
    cr_assert_eq(ig_breakers_new(&b, 3, 1000), 0);
    for (int i = 0; i < 2; i++) {
        cr_assert(ig_breaker_allow(b, &a_key, 0));
        ig_breaker_record(b, &a_key, 0, 0);
    }
    cr_assert(ig_breaker_allow(b, &a_key, 0), "two failures: still closed");
    ig_breaker_record(b, &a_key, 0, 100);
    cr_assert_eq(ig_breaker_state(b, &a_key, 100), 1);
    cr_assert_not(ig_breaker_allow(b, &a_key, 500), "open during the cooldown");
    cr_assert(ig_breaker_allow(&*b, &b_key, 500), "other deployments are unaffected");
    cr_assert(ig_breaker_allow(b, &a_key, 1100), "one probe after the cooldown");
    cr_assert_not(ig_breaker_allow(b, &a_key, 1100), "only one");
    ig_breaker_record(b, &a_key, 0, 1200);
    cr_assert_not(ig_breaker_allow(b, &a_key, 1300), "a failed probe opens it again");
    cr_assert(ig_breaker_allow(b, &a_key, 2300));
    ig_breaker_record(b, &a_key, 1, 2300);
    cr_assert_eq(ig_breaker_state(b, &a_key, 2300), 0, "a good probe closes it");
    cr_assert(ig_breaker_allow(b, &a_key, 2301));
    ig_breakers_free(b);
}

Test(breaker, success_resets_and_zero_disables)
{
    struct ig_breakers *b;
    cr_assert_eq(ig_breakers_new(&b, 2, 1000), 0);
    ig_breaker_record(b, &a_key, 0, 0);
    ig_breaker_record(b, &a_key, 1, 0);
    ig_breaker_record(b, &a_key, 0, 0);
    cr_assert(ig_breaker_allow(b, &a_key, 1), "failures must be consecutive");
    ig_breakers_free(b);
    cr_assert_eq(ig_breakers_new(&b, 0, 1000), 0);
    for (int i = 0; i < 10; i++)
        ig_breaker_record(b, &a_key, 0, 0);
    cr_assert(ig_breaker_allow(b, &a_key, 1));
    ig_breakers_free(b);
}

static int answers, last_allowed;

static void answer_cb(void *ud, int allowed)
{
    (void)ud;
    answers++;
    last_allowed = allowed;
}

/* The call the dispatcher makes, shaped for a shared backend: answered
 * through the callback, once, with what ig_breaker_allow says. */
Test(breaker, check_answers_through_its_callback)
{
    struct ig_breakers *b;
    cr_assert_eq(ig_breakers_new(&b, 1, 1000), 0);
    ig_breaker_check(b, &a_key, 0, answer_cb, NULL);
    cr_assert_eq(answers, 1);
    cr_assert(last_allowed);
    ig_breaker_record(b, &a_key, 0, 0);
    ig_breaker_check(b, &a_key, 10, answer_cb, NULL);
    cr_assert_eq(answers, 2);
    cr_assert_not(last_allowed, "open after one failure");
    ig_breaker_check(NULL, &a_key, 10, answer_cb, NULL);
    cr_assert(last_allowed, "no breakers: always allowed");
    ig_breakers_free(b);
}
