/* bus.h — notices that one instance of a fleet sends and every instance
 * (the sender included) receives, behind an interface a shared backend
 * will implement.
 *
 * A notice is a topic and a short payload: IG_TOPIC_KEY_REVOKED with the
 * key's id, so every instance drops that key from its cache at once
 * instead of when the cache entry expires. The in-process backend
 * (bus.c) delivers to this process's subscribers before publish returns;
 * a Redis backend (pub/sub) will do the same for its own process and
 * deliver to the others later, from its own thread. So: subscribers are
 * called on any thread, must be thread-safe and short, and a publisher may
 * count on its own process having seen the notice when publish returns. */
#ifndef IG_BUS_H
#define IG_BUS_H

#define IG_TOPIC_KEY_REVOKED     "keys.revoked"     /* payload: the key id */
#define IG_TOPIC_ACCOUNT_CHANGED "accounts.changed" /* payload: the account id (its tier) */

#define IG_BUS_TOPIC_MAX   64
#define IG_BUS_PAYLOAD_MAX 256

struct ig_bus;

typedef void (*ig_bus_cb)(void *ud, const char *topic, const char *payload);

struct ig_bus_ops {
    /* 0, or IG_EINVAL when topic or payload is longer than its bound. */
    int (*publish)(struct ig_bus *b, const char *topic, const char *payload);
    /* cb(ud, …) for every later notice on topic, until the bus is freed.
     * 0, or IG_ENOMEM. Subscribe before publishing starts (at start-up). */
    int (*subscribe)(struct ig_bus *b, const char *topic, ig_bus_cb cb, void *ud);
    void (*free)(struct ig_bus *b);
};

struct ig_bus {
    const struct ig_bus_ops *ops;
};

#define ig_bus_publish(b, topic, payload)  ((b)->ops->publish((b), (topic), (payload)))
#define ig_bus_subscribe(b, topic, cb, ud) ((b)->ops->subscribe((b), (topic), (cb), (ud)))
#define ig_bus_free(b)                     ((b)->ops->free((b)))

/* The in-process backend. NULL when out of memory. */
struct ig_bus *ig_bus_local_new(void);

#endif
