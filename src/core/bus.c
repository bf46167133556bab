/* bus.c — the in-process bus backend; see bus.h.
 *
 * Subscriptions are a list made at start-up; publish walks it under a
 * read lock and calls each matching subscriber in the publisher's
 * thread. */
#include "core/bus.h"

#include "util/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct subscription {
    char topic[IG_BUS_TOPIC_MAX];
    ig_bus_cb cb;
    void *ud;
    struct subscription *next;
};

struct local_bus {
    struct ig_bus base;
    pthread_rwlock_t lock;
    struct subscription *subs;
};

static int local_publish(struct ig_bus *b, const char *topic, const char *payload)
{
    struct local_bus *l = (struct local_bus *)b;
    if (strlen(topic) >= IG_BUS_TOPIC_MAX || strlen(payload) >= IG_BUS_PAYLOAD_MAX)
        return IG_EINVAL;
    pthread_rwlock_rdlock(&l->lock);
    for (struct subscription *s = l->subs; s; s = s->next)
        if (strcmp(s->topic, topic) == 0)
            s->cb(s->ud, topic, payload);
    pthread_rwlock_unlock(&l->lock);
    return 0;
}

static int local_subscribe(struct ig_bus *b, const char *topic, ig_bus_cb cb, void *ud)
{
    struct local_bus *l = (struct local_bus *)b;
    if (strlen(topic) >= IG_BUS_TOPIC_MAX)
        return IG_EINVAL;
    struct subscription *s = calloc(1, sizeof *s);
    if (!s)
        return IG_ENOMEM;
    memcpy(s->topic, topic, strlen(topic) + 1);
    s->cb = cb;
    s->ud = ud;
    pthread_rwlock_wrlock(&l->lock);
    struct subscription **tail = &l->subs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = s; /* in subscription order */
    pthread_rwlock_unlock(&l->lock);
    return 0;
}

static void local_free(struct ig_bus *b)
{
    struct local_bus *l = (struct local_bus *)b;
    while (l->subs) {
        struct subscription *next = l->subs->next;
        free(l->subs);
        l->subs = next;
    }
    pthread_rwlock_destroy(&l->lock);
    free(l);
}

static const struct ig_bus_ops local_ops = {
    .publish = local_publish,
    .subscribe = local_subscribe,
    .free = local_free,
};

struct ig_bus *ig_bus_local_new(void)
{
    struct local_bus *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    if (pthread_rwlock_init(&l->lock, NULL)) {
        free(l);
        return NULL;
    }
    l->base.ops = &local_ops;
    return &l->base;
}
