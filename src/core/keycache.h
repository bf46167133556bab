/* keycache.h — a fixed-size cache of API key lookups, shared by all workers.
 *
 * Slots are indexed by the key hash, so memory is fixed however many
 * distinct (even random) keys clients send: a flood of bad keys evicts
 * entries but cannot grow anything. Both answers are cached: "this hash is
 * key X with scopes S" and "this hash is not a live key". Entries expire
 * after ttl_ms; ig_keycache_invalidate() drops every entry at once, which is
 * how a revocation through this instance takes effect immediately. Striped
 * locks; thread-safe. */
#ifndef IG_KEYCACHE_H
#define IG_KEYCACHE_H

#include "store/store.h"

#include <stdint.h>

enum ig_keycache_result { IG_KEY_MISS, IG_KEY_LIVE, IG_KEY_UNKNOWN };

struct ig_key_identity {
    char id[48];
    char account_id[48]; /* the account it spends from */
    char tier[32];       /* the key's tier (its own, else its account's) */
    int metered;         /* whether its account is metered */
    unsigned scopes;
    /* Its own rate limits (-1: the tier's default) and the budgets of the
     * key and of its account (IG_UNSET: none). */
    struct ig_key_limits limits;
    struct ig_budgets key_budgets, account_budgets;
    int has_byok; /* its account has provider keys of its own */
};

/* The identity of a key as the store has it. */
void ig_key_identity_of(const struct ig_key_record *k, struct ig_key_identity *out);

struct ig_keycache;

int ig_keycache_new(struct ig_keycache **out, unsigned slots_log2, uint64_t ttl_ms);
void ig_keycache_free(struct ig_keycache *kc);
enum ig_keycache_result ig_keycache_get(struct ig_keycache *kc, const uint8_t hash[32],
                                        uint64_t now_ms, struct ig_key_identity *out);
/* who == NULL records "not a live key". */
void ig_keycache_put(struct ig_keycache *kc, const uint8_t hash[32], uint64_t now_ms,
                     const struct ig_key_identity *who);
void ig_keycache_invalidate(struct ig_keycache *kc);

#endif
