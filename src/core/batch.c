/* batch.c — see batch.h. */
#include "core/batch.h"
#include "util/pool.h"

#include <stdlib.h>

struct batch_job {
    uv_work_t work;
    struct ig_batcher *b;
    struct ig_batch_item *first; /* NULL: the slot is free */
};

struct ig_batcher {
    uv_loop_t *loop;
    const struct ig_batch_ops *ops;
    void *ud;
    int max_jobs, max_items;
    int running;   /* jobs on the pool */
    int finishing; /* inside finish(): done() callbacks are running */
    int closing;   /* ig_batcher_free was called: free once idle */
    struct ig_batch_item *queue, **queue_tail;
    struct batch_job jobs[];
};

struct ig_batcher *ig_batcher_new(uv_loop_t *loop, const struct ig_batch_ops *ops, void *ud,
                                  int max_jobs, int max_items)
{
    if (max_jobs < 1)
        max_jobs = 1;
    if (max_items < 1)
        max_items = 1;
    struct ig_batcher *b = calloc(1, sizeof *b + (size_t)max_jobs * sizeof b->jobs[0]);
    if (!b)
        return NULL;
    b->loop = loop;
    b->ops = ops;
    b->ud = ud;
    b->max_jobs = max_jobs;
    b->max_items = max_items;
    b->queue_tail = &b->queue;
    for (int i = 0; i < max_jobs; i++) {
        b->jobs[i].b = b;
        b->jobs[i].work.data = &b->jobs[i];
    }
    return b;
}

static void job_run_cb(uv_work_t *w)
{
    ig_pool_thread_enter();
    struct batch_job *j = w->data;
    j->b->ops->run(j->first, j->b->ud);
}

static void kick(struct ig_batcher *b);

static void free_if_done(struct ig_batcher *b)
{
    if (b->closing && !b->running && !b->finishing && !b->queue)
        free(b);
}

static void finish(struct batch_job *j)
{
    struct ig_batcher *b = j->b;
    struct ig_batch_item *it = j->first;
    j->first = NULL;
    b->running--;
    b->finishing++;
    kick(b); /* the pool works on the next batch while these are answered */
    while (it) {
        struct ig_batch_item *next = it->next;
        b->ops->done(it, b->ud);
        it = next;
    }
    b->finishing--;
    free_if_done(b);
}

static void job_done_cb(uv_work_t *w, int status)
{
    (void)status; /* run() always runs: batch jobs are never cancelled */
    finish(w->data);
}

/* Sends the queue (up to max_items) to a free job slot, if there is one. */
static void kick(struct ig_batcher *b)
{
    if (!b->queue)
        return;
    struct batch_job *j = NULL;
    for (int i = 0; i < b->max_jobs && !j; i++)
        if (!b->jobs[i].first)
            j = &b->jobs[i];
    if (!j)
        return;
    struct ig_batch_item *first = b->queue, *last = first;
    for (int n = 1; n < b->max_items && last->next; n++)
        last = last->next;
    b->queue = last->next;
    if (!b->queue)
        b->queue_tail = &b->queue;
    last->next = NULL;
    j->first = first;
    b->running++;
    if (uv_queue_work(b->loop, &j->work, job_run_cb, job_done_cb) != 0) {
        /* Only fails on bad arguments; run it here rather than lose it. */
        b->ops->run(first, b->ud);
        finish(j);
    }
}

void ig_batcher_submit(struct ig_batcher *b, struct ig_batch_item *item)
{
    item->next = NULL;
    *b->queue_tail = item;
    b->queue_tail = &item->next;
    kick(b);
}

void ig_batcher_free(struct ig_batcher *b)
{
    if (!b)
        return;
    b->closing = 1;
    free_if_done(b);
}
