/* test_pricing.c — price lookup by specificity, markups rounded up,
 * credits as decimals both ways, the tier list. */
#include "core/pricing.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <string.h>

Test(pricing, the_most_specific_entry_wins)
{
    static const struct ig_price dalle3[] = {
        {NULL, NULL, 40000},
        {NULL, "hd", 80000},
        {"1792x1024", NULL, 80000},
        {"1792x1024", "hd", 120000},
    };
    int64_t p = -1;
    cr_assert_eq(ig_price_lookup(dalle3, 4, "1024x1024", "standard", &p), 0);
    cr_assert_eq(p, 40000);
    cr_assert_eq(ig_price_lookup(dalle3, 4, "1024x1024", "hd", &p), 0);
    cr_assert_eq(p, 80000);
    cr_assert_eq(ig_price_lookup(dalle3, 4, "1792x1024", "standard", &p), 0);
    cr_assert_eq(p, 80000);
    cr_assert_eq(ig_price_lookup(dalle3, 4, "1792x1024", "hd", &p), 0);
    cr_assert_eq(p, 120000);
    static const struct ig_price only_hd[] = {{NULL, "hd", 80000}};
    cr_assert_eq(ig_price_lookup(only_hd, 1, "1024x1024", "standard", &p), IG_ENOTFOUND);
    cr_assert_eq(ig_price_lookup(NULL, 0, "1024x1024", "hd", &p), IG_ENOTFOUND, "not priced");
    static const struct ig_price free_[] = {{NULL, NULL, 0}};
    cr_assert_eq(ig_price_lookup(free_, 1, "64x64", "auto", &p), 0);
    cr_assert_eq(p, 0, "free on purpose");
}

Test(pricing, markups_round_up_to_a_millicredit)
{
    cr_assert_eq(ig_price_marked_up(40000, 20), 48000);
    cr_assert_eq(ig_price_marked_up(40000, 50), 60000);
    cr_assert_eq(ig_price_marked_up(18000, 20), 21600);
    cr_assert_eq(ig_price_marked_up(1, 20), 2, "never rounded down to free");
    cr_assert_eq(ig_price_marked_up(3, 0), 3);
    cr_assert_eq(ig_price_marked_up(0, 50), 0);
}

Test(pricing, credits_as_decimals)
{
    int64_t v;
    cr_assert_eq(ig_credits_parse("40", &v), 0);
    cr_assert_eq(v, 40000);
    cr_assert_eq(ig_credits_parse("0.5", &v), 0);
    cr_assert_eq(v, 500);
    cr_assert_eq(ig_credits_parse("12.345", &v), 0);
    cr_assert_eq(v, 12345);
    cr_assert_eq(ig_credits_parse("0", &v), 0);
    cr_assert_eq(v, 0);
    const char *bad[] = {"", "-1", "1.2345", "1.", ".5", "1e3", "abc", "1,5", "99999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(ig_credits_parse(bad[i], &v), IG_EINVAL, "%s", bad[i]);
    char out[32];
    ig_credits_format(48000, out, sizeof out);
    cr_assert_str_eq(out, "48");
    ig_credits_format(10500, out, sizeof out);
    cr_assert_str_eq(out, "10.5");
    ig_credits_format(-125, out, sizeof out);
    cr_assert_str_eq(out, "-0.125");
    ig_credits_format(21600, out, sizeof out);
    cr_assert_str_eq(out, "21.6");
    ig_credits_format(0, out, sizeof out);
    cr_assert_str_eq(out, "0");
}

Test(pricing, tiers)
{
    struct ig_tiers t;
    char err[128];
    cr_assert_eq(ig_tiers_parse("free:50, managed:20,byok:0,vip:0,gold:5", &t, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(t.n, 5);
    cr_assert_eq(ig_tiers_markup(&t, "free"), 50);
    cr_assert_eq(ig_tiers_markup(&t, "gold"), 5, "new tiers are allowed");
    cr_assert_eq(ig_tiers_markup(&t, "platinum"), -1);
    const char *bad[] = {"free", "free:", "free:x", "free:2000", ":5", "free:5x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(ig_tiers_parse(bad[i], &t, err, sizeof err), IG_EINVAL, "%s", bad[i]);
}
