/* breaker.c — see breaker.h. One mutex: the table is touched once per
 * upstream attempt, far from the hot path of request parsing. */
#include "core/breaker.h"
#include "util/err.h"

#include <pthread.h>
#include <stdlib.h>

#define SLOTS 1024

struct slot {
    const void *key;
    int failures;
    uint64_t open_until; /* 0: closed */
    int probing;
};

struct ig_breakers {
    pthread_mutex_t lock;
    int threshold;
    uint64_t cooldown_ms;
    struct slot slots[SLOTS];
};

int ig_breakers_new(struct ig_breakers **out, int threshold, uint64_t cooldown_ms)
{
    struct ig_breakers *b = calloc(1, sizeof *b);
    if (!b)
        return IG_ENOMEM;
    pthread_mutex_init(&b->lock, NULL);
    b->threshold = threshold;
    b->cooldown_ms = cooldown_ms;
    *out = b;
    return 0;
}

void ig_breakers_free(struct ig_breakers *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* The key's slot, claiming a free one; NULL when the table is full (then
 * the key is never broken, which fails open, the safe direction). */
static struct slot *find(struct ig_breakers *b, const void *key)
{
    size_t h = ((uintptr_t)key >> 4) % SLOTS;
    for (size_t i = 0; i < SLOTS; i++) {
        struct slot *s = &b->slots[(h + i) % SLOTS];
        if (s->key == key)
            return s;
        if (!s->key) {
            s->key = key;
            return s;
        }
    }
    return NULL;
}

int ig_breaker_allow(struct ig_breakers *b, const void *key, uint64_t now_ms)
{
    if (!b || b->threshold <= 0)
        return 1;
    pthread_mutex_lock(&b->lock);
    struct slot *s = find(b, key);
    int allow = 1;
    if (s && s->open_until) {
        if (now_ms < s->open_until || s->probing)
            allow = 0;
        else
            s->probing = 1;
    }
    pthread_mutex_unlock(&b->lock);
    return allow;
}

void ig_breaker_record(struct ig_breakers *b, const void *key, int success, uint64_t now_ms)
{
    if (!b || b->threshold <= 0)
        return;
    pthread_mutex_lock(&b->lock);
    struct slot *s = find(b, key);
    if (s) {
        if (success) {
            s->failures = 0;
            s->open_until = 0;
            s->probing = 0;
        } else {
            s->failures++;
            if (s->probing || s->failures >= b->threshold) {
                s->open_until = now_ms + b->cooldown_ms;
                s->probing = 0;
            }
        }
    }
    pthread_mutex_unlock(&b->lock);
}

int ig_breaker_state(struct ig_breakers *b, const void *key, uint64_t now_ms)
{
    if (!b || b->threshold <= 0)
        return 0;
    pthread_mutex_lock(&b->lock);
    struct slot *s = find(b, key);
    int state = 0;
    if (s && s->open_until)
        state = s->probing ? 2 : (now_ms < s->open_until ? 1 : 2);
    pthread_mutex_unlock(&b->lock);
    return state;
}

void ig_breaker_check(struct ig_breakers *b, const void *key, uint64_t now_ms, ig_breaker_cb cb,
                      void *ud)
{
    cb(ud, ig_breaker_allow(b, key, now_ms));
}
