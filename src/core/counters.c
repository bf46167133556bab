/* counters.c — the in-process counters backend; see counters.h.
 *
 * A fixed open-addressed table of keys (copied), each with its count and
 * the start of its window, under one of 64 striped locks chosen by the
 * key's hash, so workers counting different keys do not meet. Answers
 * before the call returns. */
#include "core/counters.h"

#include "util/clock.h"
#include "util/num.h"

#include "util/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS   16384
#define STRIPES 64
#define KEY_MAX 96

struct slot {
    char key[KEY_MAX]; /* "" when never used */
    int64_t value;
    uint64_t window_start_ms;
    int64_t window_ms; /* 0: a level */
};

/* A slot that counts nothing any more: its window has passed, or it is a
 * level back at 0. */
static int spent(const struct slot *s, uint64_t now_ms)
{
    return s->window_ms > 0 ? now_ms - s->window_start_ms >= (uint64_t)s->window_ms : s->value == 0;
}

/* A full table is said in the log once a minute at most: its refusals
 * look like rate limits to clients, so the operator must hear of it. */
#define FULL_WARN_MS 60000

struct local {
    struct ig_counters base;
    _Atomic uint64_t full_warned_ms; /* when a full table was last said; 0: never */
    pthread_mutex_t locks[STRIPES];
    struct slot slots[SLOTS];
};

/* The key's slot (claimed when new: a never-used slot, or the first spent
 * one along its probe), under its stripe's lock; NULL when the key is too
 * long or the table is full. Probing stays within the stripe (slots i
 * with i % STRIPES == the stripe), so one lock covers it. Slots are never
 * emptied, only taken over, so a probe never stops short of its key. */
static struct slot *find(struct local *l, const char *key, size_t len, uint64_t h, size_t stripe,
                         int claim, uint64_t now_ms)
{
    if (len >= KEY_MAX)
        return NULL;
    size_t per = SLOTS / STRIPES;
    struct slot *reusable = NULL;
    for (size_t i = 0; i < per; i++) {
        struct slot *s = &l->slots[((h / STRIPES + i) % per) * STRIPES + stripe];
        if (strcmp(s->key, key) == 0)
            return s;
        if (!s->key[0]) {
            reusable = reusable ? reusable : s;
            break;
        }
        if (!reusable && claim && spent(s, now_ms))
            reusable = s;
    }
    if (!claim || !reusable)
        return NULL;
    memcpy(reusable->key, key, len + 1);
    reusable->value = 0;
    reusable->window_start_ms = now_ms;
    reusable->window_ms = 0;
    return reusable;
}

static void local_add(struct ig_counters *c, const char *key, int64_t delta, int64_t limit,
                      int64_t window_ms, ig_counter_cb cb, void *ud)
{
    struct local *l = (struct local *)c;
    size_t len;
    uint64_t h = ig_hash_str(key, &len);
    size_t stripe = h % STRIPES;
    uint64_t now = ig_now_us() / 1000;
    pthread_mutex_lock(&l->locks[stripe]);
    struct slot *s = find(l, key, len, h, stripe, 1, now);
    int ok = 0;
    int64_t value = 0, reset_ms = 0;
    if (s) {
        s->window_ms = window_ms > 0 ? window_ms : 0;
        if (window_ms > 0 && now - s->window_start_ms >= (uint64_t)window_ms) {
            s->value = 0;
            s->window_start_ms = now;
        }
        ok = limit < 0 || delta <= 0 || s->value + delta <= limit;
        if (ok)
            s->value += delta;
        value = s->value;
        if (window_ms > 0)
            reset_ms = (int64_t)(s->window_start_ms + (uint64_t)window_ms - now);
    }
    pthread_mutex_unlock(&l->locks[stripe]);
    if (!s && len < KEY_MAX) {
        uint64_t last = atomic_load(&l->full_warned_ms);
        if ((last == 0 || now - last >= FULL_WARN_MS) &&
            atomic_compare_exchange_strong(&l->full_warned_ms, &last, now ? now : 1))
            ig_warn("counters: all %d slots are in use this minute; new keys' requests are "
                    "refused as rate-limited (429) until windows pass",
                    SLOTS);
    }
    if (cb)
        cb(ud, ok, value, reset_ms);
}

static void local_free(struct ig_counters *c)
{
    struct local *l = (struct local *)c;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&l->locks[i]);
    free(l);
}

static const struct ig_counters_ops local_ops = {.add = local_add, .free = local_free};

struct ig_counters *ig_counters_local_new(void)
{
    struct local *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->base.ops = &local_ops;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&l->locks[i], NULL);
    return &l->base;
}

int64_t ig_counters_local_value(struct ig_counters *c, const char *key)
{
    struct local *l = (struct local *)c;
    size_t len;
    uint64_t h = ig_hash_str(key, &len);
    size_t stripe = h % STRIPES;
    pthread_mutex_lock(&l->locks[stripe]);
    struct slot *s = find(l, key, len, h, stripe, 0, ig_now_us() / 1000);
    int64_t v = s ? s->value : 0;
    pthread_mutex_unlock(&l->locks[stripe]);
    return v;
}
