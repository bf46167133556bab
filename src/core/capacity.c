/* capacity.c — see capacity.h.
 *
 * One lock guards the table, every queue and every notifier's ready list.
 * A waiter's state: QUEUED (in its deployment's queue), GRANTED (the slot
 * is its own and it is on its notifier's ready list, its wake pending),
 * or IDLE. The async callback moves GRANTED waiters to IDLE under the lock
 * and calls them after dropping it, so a waiter that leaves is either
 * still on a list (and taken off) or already called: never both. */
#include "core/capacity.h"
#include "util/err.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define SLOTS 1024

enum { IDLE, QUEUED, GRANTED };

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

struct ig_capacity_notifier {
    uv_async_t async;
    struct ig_capacity *c;
    struct ig_capacity_waiter *ready_head, *ready_tail;
};

int ig_capacity_new(struct ig_capacity **out, int max_queue)
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

/* Under the lock: hands a freed slot of e to its oldest waiter, or back
 * to the pool. Returns the notifier to wake (after unlocking), or NULL. */
static struct ig_capacity_notifier *hand_on(struct entry *e)
{
    struct ig_capacity_waiter *w = e->head;
    if (!w) {
        if (e->in_use > 0)
            e->in_use--;
        return NULL;
    }
    unlink_waiter(e, w); /* the slot stays in use: it is w's now */
    w->state = GRANTED;
    struct ig_capacity_notifier *n = w->notifier;
    w->ready_next = NULL;
    if (n->ready_tail)
        n->ready_tail->ready_next = w;
    else
        n->ready_head = w;
    n->ready_tail = w;
    return n;
}

static void wake_cb(uv_async_t *a)
{
    struct ig_capacity_notifier *n = a->data;
    pthread_mutex_lock(&n->c->lock);
    struct ig_capacity_waiter *w = n->ready_head;
    n->ready_head = n->ready_tail = NULL;
    for (struct ig_capacity_waiter *x = w; x; x = x->ready_next)
        x->state = IDLE;
    pthread_mutex_unlock(&n->c->lock);
    while (w) {
        struct ig_capacity_waiter *next = w->ready_next;
        w->ready_next = NULL;
        w->granted(w); /* may free w */
        w = next;
    }
}

int ig_capacity_notifier_new(struct ig_capacity *c, uv_loop_t *loop,
                             struct ig_capacity_notifier **out)
{
    struct ig_capacity_notifier *n = calloc(1, sizeof *n);
    if (!n)
        return IG_ENOMEM;
    n->c = c;
    if (uv_async_init(loop, &n->async, wake_cb)) {
        free(n);
        return IG_ENOMEM;
    }
    n->async.data = n;
    uv_unref((uv_handle_t *)&n->async);
    *out = n;
    return 0;
}

static void notifier_closed_cb(uv_handle_t *h)
{
    free(h->data);
}

void ig_capacity_notifier_free(struct ig_capacity_notifier *n)
{
    if (n)
        uv_close((uv_handle_t *)&n->async, notifier_closed_cb);
}

int ig_capacity_acquire(struct ig_capacity *c, const void *key, int max)
{
    if (!c || max <= 0)
        return 1;
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    int ok = !e || (e->in_use < max && !e->head);
    if (ok && e)
        e->in_use++;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

void ig_capacity_release(struct ig_capacity *c, const void *key)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    struct ig_capacity_notifier *n = e ? hand_on(e) : NULL;
    pthread_mutex_unlock(&c->lock);
    if (n)
        uv_async_send(&n->async);
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
        w->state = QUEUED;
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

void ig_capacity_wait_leave(struct ig_capacity *c, const void *key, struct ig_capacity_waiter *w)
{
    if (!c)
        return;
    struct ig_capacity_notifier *wake = NULL;
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    if (e && w->state == QUEUED) {
        unlink_waiter(e, w);
    } else if (e && w->state == GRANTED) {
        /* Off its notifier's ready list, and the slot passed on. */
        struct ig_capacity_notifier *n = w->notifier;
        struct ig_capacity_waiter **p = &n->ready_head, *prev = NULL;
        while (*p && *p != w) {
            prev = *p;
            p = &(*p)->ready_next;
        }
        if (*p) {
            *p = w->ready_next;
            if (n->ready_tail == w)
                n->ready_tail = prev;
        }
        wake = hand_on(e);
    }
    w->state = IDLE;
    pthread_mutex_unlock(&c->lock);
    if (wake)
        uv_async_send(&wake->async);
}

int ig_capacity_in_use(struct ig_capacity *c, const void *key)
{
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    int n = e ? e->in_use : 0;
    pthread_mutex_unlock(&c->lock);
    return n;
}

int ig_capacity_waiting(struct ig_capacity *c, const void *key)
{
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    int n = e ? e->waiting : 0;
    pthread_mutex_unlock(&c->lock);
    return n;
}
