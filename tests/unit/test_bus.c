/* The in-process bus: notices reach every subscriber of their topic (and
 * no other) before publish returns, in subscription order; bounds are
 * refused; a key revocation published on it empties a key cache. */
#include "core/bus.h"
#include "core/keycache.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

struct heard {
    char log[256];
};

static void hear(void *ud, const char *topic, const char *payload)
{
    struct heard *h = ud;
    size_t n = strlen(h->log);
    snprintf(h->log + n, sizeof h->log - n, "[%s %s]", topic, payload);
}

static void hear_second(void *ud, const char *topic, const char *payload)
{
    (void)topic;
    struct heard *h = ud;
    size_t n = strlen(h->log);
    snprintf(h->log + n, sizeof h->log - n, "(2nd %s)", payload);
}

Test(bus, delivers_to_its_topic_in_order_before_returning)
{
    struct ig_bus *b = ig_bus_local_new();
    cr_assert_not_null(b);
    struct heard h = {{0}};
    cr_assert_eq(ig_bus_subscribe(b, "keys.revoked", hear, &h), 0);
    cr_assert_eq(ig_bus_subscribe(b, "other", hear, &h), 0);
    cr_assert_eq(ig_bus_subscribe(b, "keys.revoked", hear_second, &h), 0);
    cr_assert_eq(ig_bus_publish(b, "keys.revoked", "key_1"), 0);
    cr_assert_str_eq(h.log, "[keys.revoked key_1](2nd key_1)");
    cr_assert_eq(ig_bus_publish(b, "nobody", "x"), 0);
    cr_assert_str_eq(h.log, "[keys.revoked key_1](2nd key_1)", "no subscriber, no call");
    cr_assert_eq(ig_bus_publish(b, "other", ""), 0);
    cr_assert_str_eq(h.log, "[keys.revoked key_1](2nd key_1)[other ]");
    ig_bus_free(b);
}

Test(bus, bounds_are_refused)
{
    struct ig_bus *b = ig_bus_local_new();
    struct heard h = {{0}};
    char topic[IG_BUS_TOPIC_MAX + 1], payload[IG_BUS_PAYLOAD_MAX + 1];
    memset(topic, 't', sizeof topic - 1);
    topic[sizeof topic - 1] = '\0';
    memset(payload, 'p', sizeof payload - 1);
    payload[sizeof payload - 1] = '\0';
    cr_assert_eq(ig_bus_subscribe(b, topic, hear, &h), IG_EINVAL);
    cr_assert_eq(ig_bus_subscribe(b, "t", hear, &h), 0);
    cr_assert_eq(ig_bus_publish(b, topic, "x"), IG_EINVAL);
    cr_assert_eq(ig_bus_publish(b, "t", payload), IG_EINVAL);
    cr_assert_str_eq(h.log, "", "nothing delivered");
    ig_bus_free(b);
}

static void forget(void *ud, const char *topic, const char *payload)
{
    (void)topic;
    (void)payload;
    ig_keycache_invalidate(ud);
}

Test(bus, key_revocation_empties_the_key_cache)
{
    struct ig_bus *b = ig_bus_local_new();
    struct ig_keycache *kc;
    cr_assert_eq(ig_keycache_new(&kc, 6, 60000), 0);
    cr_assert_eq(ig_bus_subscribe(b, IG_TOPIC_KEY_REVOKED, forget, kc), 0);
    uint8_t hash[32] = {7};
    struct ig_key_identity who = {.id = "key_x", .scopes = 1}, got;
    ig_keycache_put(kc, hash, 1000, &who);
    cr_assert_eq(ig_keycache_get(kc, hash, 1001, &got), IG_KEY_LIVE);
    cr_assert_eq(ig_bus_publish(b, IG_TOPIC_KEY_REVOKED, "key_x"), 0);
    cr_assert_eq(ig_keycache_get(kc, hash, 1002, &got), IG_KEY_MISS);
    ig_keycache_free(kc);
    ig_bus_free(b);
}
