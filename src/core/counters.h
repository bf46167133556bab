/* counters.h — counts that a fleet's instances will share, behind an
 * interface whose calls may complete later.
 *
 * A counter is named by a key: a level ("generations in progress",
 * raised and lowered by its users) or, with a window, a rate ("requests
 * of key_abc this minute", which the limit stage will keep). The
 * in-process backend (counters.c) answers before the call returns; a
 * Redis backend will answer later, on the caller's loop. Callers are
 * written for the later case: they park until the callback, which the
 * stage driver resumes from (pipeline/stage.h). */
#ifndef IG_COUNTERS_H
#define IG_COUNTERS_H

#include <stdint.h>

struct ig_counters;

/* ok: the add was made (0: it would have passed the limit, and nothing
 * changed); value: the count after it (or as it stands, when refused);
 * reset_ms: for a rate, how long until its window starts again (0 for a
 * level). */
typedef void (*ig_counter_cb)(void *ud, int ok, int64_t value, int64_t reset_ms);

struct ig_counters_ops {
    /* Adds delta to key's count unless the result would pass limit
     * (limit < 0: no limit). window_ms > 0 makes it a rate: the count
     * starts again at 0 when the window the first add opened has passed.
     * cb (may be NULL) runs once, on the caller's loop, possibly before
     * the call returns. */
    void (*add)(struct ig_counters *c, const char *key, int64_t delta, int64_t limit,
                int64_t window_ms, ig_counter_cb cb, void *ud);
    void (*free)(struct ig_counters *c);
};

struct ig_counters {
    const struct ig_counters_ops *ops;
};

#define ig_counters_add(c, key, delta, limit, window_ms, cb, ud)                                   \
    ((c)->ops->add((c), (key), (delta), (limit), (window_ms), (cb), (ud)))
#define ig_counters_free(c) ((c)->ops->free((c)))

/* The in-process backend: up to 16,384 keys at once; a key whose window
 * has passed, or whose level is back at 0, gives its place to a new one
 * (past that, adds to new keys are refused). Thread-safe. NULL when out
 * of memory. */
struct ig_counters *ig_counters_local_new(void);
/* The in-process backend's count of key (0 when unknown), for tests and
 * metrics. */
int64_t ig_counters_local_value(struct ig_counters *c, const char *key);

#endif
