#include "core/keycache.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <string.h>

static void hash_of(int i, uint8_t h[32])
{
    memset(h, 0, 32);
    memcpy(h, &i, sizeof i);
    h[31] = (uint8_t)i;
}

Test(keycache, live_negative_expiry_and_invalidation)
{
    struct ig_keycache *kc;
    cr_assert_eq(ig_keycache_new(&kc, 8, 1000), 0);
    uint8_t a[32], b[32];
    hash_of(1, a);
    hash_of(2, b);
    struct ig_key_identity who = {.id = "key_1", .account_id = "acct_1", .scopes = 3}, got;
    cr_assert_eq(ig_keycache_get(kc, a, 0, &got), IG_KEY_MISS);
    ig_keycache_put(kc, a, 0, &who);
    ig_keycache_put(kc, b, 0, NULL);
    cr_assert_eq(ig_keycache_get(kc, a, 10, &got), IG_KEY_LIVE);
    cr_assert_str_eq(got.id, "key_1");
    cr_assert_str_eq(got.account_id, "acct_1", "the account travels with the key");
    cr_assert_eq(got.scopes, 3);
    cr_assert_eq(ig_keycache_get(kc, b, 10, &got), IG_KEY_UNKNOWN);
    cr_assert_eq(ig_keycache_get(kc, a, 1000, &got), IG_KEY_MISS, "expired");
    ig_keycache_put(kc, a, 2000, &who);
    ig_keycache_invalidate(kc);
    cr_assert_eq(ig_keycache_get(kc, a, 2001, &got), IG_KEY_MISS, "invalidated");
    ig_keycache_free(kc);
}

Test(keycache, collisions_never_confuse_keys)
{
    struct ig_keycache *kc;
    cr_assert_eq(ig_keycache_new(&kc, 6, 1000), 0);
    /* Same low bits, different hashes: the second evicts the first. */
    uint8_t a[32] = {0}, b[32] = {0};
    b[31] = 1;
    struct ig_key_identity who = {.id = "key_a", .scopes = 1}, got;
    ig_keycache_put(kc, a, 0, &who);
    cr_assert_eq(ig_keycache_get(kc, b, 1, &got), IG_KEY_MISS);
    ig_keycache_put(kc, b, 0, NULL);
    cr_assert_eq(ig_keycache_get(kc, a, 1, &got), IG_KEY_MISS);
    cr_assert_eq(ig_keycache_get(kc, b, 1, &got), IG_KEY_UNKNOWN);
    ig_keycache_free(kc);
}

Test(keycache, ttl_zero_disables)
{
    struct ig_keycache *kc;
    cr_assert_eq(ig_keycache_new(&kc, 6, 0), 0);
    uint8_t a[32] = {7};
    struct ig_key_identity who = {.id = "k", .scopes = 1};
    ig_keycache_put(kc, a, 0, &who);
    cr_assert_eq(ig_keycache_get(kc, a, 0, NULL), IG_KEY_MISS);
    ig_keycache_free(kc);
    cr_assert_eq(ig_keycache_new(&kc, 3, 10), IG_EINVAL);
}
