/* capacity.c — see capacity.h. */
#include "core/capacity.h"
#include "util/err.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define SLOTS 1024

struct entry {
    const void *key;
    int in_use;
    int waiting;
    struct ig_capacity_waiter *head, *tail; /* oldest first */
};

struct ig_capacity {
    pthread_mutex_t lock;
    int max_queue;
    struct entry entries[SLOTS];
};

int ig_capacity_create(struct ig_capacity **out, int max_queue)
{
    struct ig_capacity *c = calloc(1, sizeof *c);
    if (!c)
        return IG_ENOMEM;
    pthread_mutex_init(&c->lock, NULL);
    c->max_queue = max_queue;
    *out = c;
    return 0;
}

void ig_capacity_free(struct ig_capacity *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static struct entry *find(struct ig_capacity *c, const void *key)
{
    size_t h = ((uintptr_t)key >> 4) % SLOTS;
    for (size_t i = 0; i < SLOTS; i++) {
        struct entry *e = &c->entries[(h + i) % SLOTS];
        if (e->key == key)
            return e;
        if (!e->key) {
            e->key = key;
            return e;
        }
    }
    return NULL;
}

static void unlink_waiter(struct entry *e, struct ig_capacity_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        e->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        e->tail = w->prev;
    w->prev = w->next = NULL;
    e->waiting--;
}

int ig_capacity_acquire(struct ig_capacity *c, const void *key, int max,
                        struct ig_capacity_waiter *w)
{
    if (!c || max <= 0)
        return 1;
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    int ok = !e || (e->in_use < max && e->head == w); /* NULL w: no one waits */
    if (ok && e) {
        e->in_use++;
        if (w)
            unlink_waiter(e, w);
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

void ig_capacity_release(struct ig_capacity *c, const void *key)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    if (e && e->in_use > 0)
        e->in_use--;
    pthread_mutex_unlock(&c->lock);
}

int ig_capacity_wait_enter(struct ig_capacity *c, const void *key, struct ig_capacity_waiter *w)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    int ok = e && e->waiting < c->max_queue;
    if (ok) {
        w->next = NULL;
        w->prev = e->tail;
        if (e->tail)
            e->tail->next = w;
        else
            e->head = w;
        e->tail = w;
        e->waiting++;
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

void ig_capacity_wait_leave(struct ig_capacity *c, const void *key, struct ig_capacity_waiter *w)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    if (e && (e->head == w || w->prev)) /* still queued */
        unlink_waiter(e, w);
    pthread_mutex_unlock(&c->lock);
}

int ig_capacity_in_use(struct ig_capacity *c, const void *key)
{
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    int n = e ? e->in_use : 0;
    pthread_mutex_unlock(&c->lock);
    return n;
}
