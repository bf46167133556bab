/* The balances cache: missing until put, MIN keeps a balance's lowest,
 * MAX a spend's highest, and a put read before the cache was emptied is
 * refused (it may be older than the change that emptied it). */
#include "core/balances.h"

#include <criterion/criterion.h>
#include <stdio.h>

Test(balances, min_max_and_epochs)
{
    struct ig_balances *b;
    cr_assert_eq(ig_balances_new(&b), 0);
    int64_t v = 0;
    cr_assert_not(ig_balances_get(b, "bal:acct_a", &v), "nothing is guessed");
    uint64_t e = ig_balances_epoch(b);
    ig_balances_put(b, "bal:acct_a", 100, e, IG_BALANCE_MIN);
    cr_assert(ig_balances_get(b, "bal:acct_a", &v));
    cr_assert_eq(v, 100);
    ig_balances_put(b, "bal:acct_a", 120, e, IG_BALANCE_MIN);
    ig_balances_get(b, "bal:acct_a", &v);
    cr_assert_eq(v, 100, "a balance only goes down between refreshes");
    ig_balances_put(b, "bal:acct_a", 90, e, IG_BALANCE_MIN);
    ig_balances_get(b, "bal:acct_a", &v);
    cr_assert_eq(v, 90);
    ig_balances_put(b, "spent:key:k|2026-12", 5, e, IG_BALANCE_MAX);
    ig_balances_put(b, "spent:key:k|2026-12", 3, e, IG_BALANCE_MAX);
    ig_balances_get(b, "spent:key:k|2026-12", &v);
    cr_assert_eq(v, 5, "a spend only goes up");
    /* A grant: emptied; a value read before it is refused. */
    ig_balances_forget_all(b);
    cr_assert_not(ig_balances_get(b, "bal:acct_a", &v));
    ig_balances_put(b, "bal:acct_a", 90, e, IG_BALANCE_MIN);
    cr_assert_not(ig_balances_get(b, "bal:acct_a", &v), "an answer older than the grant");
    ig_balances_put(b, "bal:acct_a", 190, ig_balances_epoch(b), IG_BALANCE_MIN);
    cr_assert(ig_balances_get(b, "bal:acct_a", &v));
    cr_assert_eq(v, 190);
    ig_balances_free(b);
    /* A NULL cache knows nothing and keeps nothing. */
    ig_balances_put(NULL, "x", 1, 0, IG_BALANCE_MIN);
    cr_assert_not(ig_balances_get(NULL, "x", &v));
}

Test(balances, colliding_keys_replace_each_other_never_mix)
{
    struct ig_balances *b;
    cr_assert_eq(ig_balances_new(&b), 0);
    uint64_t e = ig_balances_epoch(b);
    char key[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "bal:acct_%d", i);
        ig_balances_put(b, key, i, e, IG_BALANCE_MIN);
    }
    int found = 0;
    for (int i = 0; i < 20000; i++) {
        int64_t v;
        snprintf(key, sizeof key, "bal:acct_%d", i);
        if (ig_balances_get(b, key, &v)) {
            cr_assert_eq(v, i, "a key's own value, never another's");
            found++;
        }
    }
    cr_assert_gt(found, 1000);
    cr_assert_leq(found, 4096, "fixed size");
    ig_balances_free(b);
}
