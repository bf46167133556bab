/* balances.c — see balances.h. 4,096 direct-mapped slots under 64 striped
 * locks; the epoch is one atomic counter. */
#include "core/balances.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/num.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS   4096
#define STRIPES 64
#define KEY_MAX 96

struct slot {
    char key[KEY_MAX]; /* "" when empty */
    int64_t value;
    uint64_t epoch;
};

struct ig_balances {
    _Atomic uint64_t epoch;
    pthread_mutex_t locks[STRIPES];
    struct slot slots[SLOTS];
};

static size_t slot_of(const char *key)
{
    size_t len;
    return (size_t)(ig_hash_str(key, &len) % SLOTS);
}

int ig_balances_new(struct ig_balances **out)
{
    struct ig_balances *b = calloc(1, sizeof *b);
    if (!b)
        return IG_ENOMEM;
    atomic_init(&b->epoch, 1);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&b->locks[i], NULL);
    *out = b;
    return 0;
}

void ig_balances_free(struct ig_balances *b)
{
    if (!b)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&b->locks[i]);
    free(b);
}

uint64_t ig_balances_epoch(struct ig_balances *b)
{
    return b ? atomic_load(&b->epoch) : 0;
}

int ig_balances_get(struct ig_balances *b, const char *key, int64_t *out)
{
    if (!b)
        return 0;
    size_t i = slot_of(key);
    pthread_mutex_t *lock = &b->locks[i % STRIPES];
    pthread_mutex_lock(lock);
    struct slot *s = &b->slots[i];
    int found = s->key[0] && s->epoch == atomic_load(&b->epoch) && strcmp(s->key, key) == 0;
    if (found)
        *out = s->value;
    pthread_mutex_unlock(lock);
    return found;
}

void ig_balances_put(struct ig_balances *b, const char *key, int64_t value, uint64_t epoch,
                     enum ig_balance_mode mode)
{
    if (!b || strlen(key) >= KEY_MAX)
        return;
    size_t i = slot_of(key);
    pthread_mutex_t *lock = &b->locks[i % STRIPES];
    pthread_mutex_lock(lock);
    struct slot *s = &b->slots[i];
    /* Checked under the lock: forget_all bumps the epoch first, so a put
     * that sees the old epoch here lands before the slot is dropped. */
    uint64_t now = atomic_load(&b->epoch);
    if (epoch == now) {
        int known = s->key[0] && s->epoch == now && strcmp(s->key, key) == 0;
        if (!known) {
            ig_strlcpy(s->key, key, sizeof s->key);
            s->value = value;
            s->epoch = now;
        } else if (mode == IG_BALANCE_MIN ? value < s->value : value > s->value) {
            s->value = value;
        }
    }
    pthread_mutex_unlock(lock);
}

void ig_balances_forget_all(struct ig_balances *b)
{
    if (b)
        atomic_fetch_add(&b->epoch, 1); /* every slot's epoch is now stale */
}
