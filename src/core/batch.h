/* batch.h — thread-pool work handed over in batches.
 *
 * A batcher belongs to one loop. Items submitted to it queue up; while
 * fewer than max_jobs of its jobs are on the thread pool, the queue (at most
 * max_items of it) leaves as one job: run() sees the whole batch on a pool
 * thread, then done() is called for each item, in submission order, on the
 * loop. An idle batcher sends an item at once, so batching adds no wait;
 * under load the items that arrive while jobs run share the next job, and
 * with it one thread crossing each way and whatever run() does once per
 * batch (one database transaction, say).
 *
 * Not thread-safe: submit on the batcher's loop only. */
#ifndef IG_BATCH_H
#define IG_BATCH_H

#include <uv.h>

/* Embedded in the caller's own struct (container_of style). */
struct ig_batch_item {
    struct ig_batch_item *next;
};

struct ig_batch_ops {
    /* On a pool thread: the batch, linked through next (NULL-terminated). */
    void (*run)(struct ig_batch_item *first, void *ud);
    /* On the loop, once per item after run(); may free the item and may
     * submit new items. */
    void (*done)(struct ig_batch_item *item, void *ud);
};

struct ig_batcher;

/* NULL when out of memory. max_jobs ≥ 1, max_items ≥ 1. */
struct ig_batcher *ig_batcher_new(uv_loop_t *loop, const struct ig_batch_ops *ops, void *ud,
                                  int max_jobs, int max_items);
void ig_batcher_submit(struct ig_batcher *b, struct ig_batch_item *item);
/* Frees b now, or, when jobs are still on the pool (a worker stops while
 * requests whose clients left are still being stored), once they and
 * what is queued behind them are done: their done() callbacks still run,
 * so every item is finished. The loop must keep running until then. */
void ig_batcher_free(struct ig_batcher *b);

#endif
