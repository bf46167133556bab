/* keycache.c — see keycache.h. A slot is valid only while its epoch equals
 * the cache's, so invalidation is one atomic increment. */
#include "core/keycache.h"
#include "util/buf.h"
#include "util/err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 64

struct slot {
    uint8_t hash[32];
    uint64_t expires_ms;
    uint64_t epoch;
    int used;
    int live;
    struct ig_key_identity who;
};

struct ig_keycache {
    struct slot *slots;
    uint64_t mask;
    uint64_t ttl_ms;
    atomic_uint_fast64_t epoch;
    pthread_mutex_t locks[STRIPES];
};

int ig_keycache_new(struct ig_keycache **out, unsigned slots_log2, uint64_t ttl_ms)
{
    if (slots_log2 < 6 || slots_log2 > 24)
        return IG_EINVAL;
    struct ig_keycache *kc = calloc(1, sizeof *kc);
    if (!kc)
        return IG_ENOMEM;
    kc->slots = calloc((size_t)1 << slots_log2, sizeof *kc->slots);
    if (!kc->slots) {
        free(kc);
        return IG_ENOMEM;
    }
    kc->mask = ((uint64_t)1 << slots_log2) - 1;
    kc->ttl_ms = ttl_ms;
    atomic_init(&kc->epoch, 1);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&kc->locks[i], NULL);
    *out = kc;
    return 0;
}

void ig_keycache_free(struct ig_keycache *kc)
{
    if (!kc)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&kc->locks[i]);
    free(kc->slots);
    free(kc);
}

static uint64_t slot_index(const struct ig_keycache *kc, const uint8_t hash[32])
{
    uint64_t h;
    memcpy(&h, hash, sizeof h); /* a SHA-256 is already uniform */
    return h & kc->mask;
}

enum ig_keycache_result ig_keycache_get(struct ig_keycache *kc, const uint8_t hash[32],
                                        uint64_t now_ms, struct ig_key_identity *out)
{
    if (kc->ttl_ms == 0)
        return IG_KEY_MISS;
    uint64_t i = slot_index(kc, hash);
    pthread_mutex_t *lock = &kc->locks[i % STRIPES];
    enum ig_keycache_result r = IG_KEY_MISS;
    pthread_mutex_lock(lock);
    struct slot *s = &kc->slots[i];
    if (s->used && s->epoch == atomic_load(&kc->epoch) && now_ms < s->expires_ms &&
        memcmp(s->hash, hash, 32) == 0) {
        r = s->live ? IG_KEY_LIVE : IG_KEY_UNKNOWN;
        if (s->live && out)
            *out = s->who;
    }
    pthread_mutex_unlock(lock);
    return r;
}

void ig_keycache_put(struct ig_keycache *kc, const uint8_t hash[32], uint64_t now_ms,
                     const struct ig_key_identity *who)
{
    if (kc->ttl_ms == 0)
        return;
    uint64_t i = slot_index(kc, hash);
    pthread_mutex_t *lock = &kc->locks[i % STRIPES];
    pthread_mutex_lock(lock);
    struct slot *s = &kc->slots[i];
    memcpy(s->hash, hash, 32);
    s->used = 1;
    s->live = who != NULL;
    if (who)
        s->who = *who;
    s->expires_ms = now_ms + kc->ttl_ms;
    s->epoch = atomic_load(&kc->epoch);
    pthread_mutex_unlock(lock);
}

void ig_keycache_invalidate(struct ig_keycache *kc)
{
    atomic_fetch_add(&kc->epoch, 1);
}

void ig_key_identity_of(const struct ig_key_record *k, struct ig_key_identity *out)
{
    memset(out, 0, sizeof *out);
    ig_strlcpy(out->id, k->id, sizeof out->id);
    ig_strlcpy(out->account_id, k->account_id, sizeof out->account_id);
    ig_strlcpy(out->tier, k->tier, sizeof out->tier);
    out->metered = k->metered;
    out->scopes = k->scopes;
    out->limits = k->limits;
    out->key_budgets = k->budgets;
    out->account_budgets = k->account_budgets;
    out->has_byok = k->has_byok;
}
