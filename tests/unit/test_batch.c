#include "core/batch.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

struct item {
    struct ig_batch_item link;
    int id;
    int ran;          /* set by run(), on a pool thread */
    int batch;        /* which run() call saw it */
    pthread_t thread; /* where run() saw it */
};

#define ITEM(it) ((struct item *)((char *)(it)-offsetof(struct item, link)))

struct state {
    pthread_mutex_t lock;
    int batches;
    int sizes[64];
    int done_order[64];
    int ndone;
    int running, max_running; /* run() calls at once */
    struct ig_batcher *b;
    struct item *extra; /* submitted from done() of item 0 */
    int free_early;     /* free the batcher from done() of item 0 */
};

static void run(struct ig_batch_item *first, void *ud)
{
    struct state *s = ud;
    pthread_mutex_lock(&s->lock);
    int batch = s->batches++;
    if (++s->running > s->max_running)
        s->max_running = s->running;
    pthread_mutex_unlock(&s->lock);
    int n = 0;
    for (struct ig_batch_item *it = first; it; it = it->next, n++) {
        ITEM(it)->ran++;
        ITEM(it)->batch = batch;
        ITEM(it)->thread = pthread_self();
    }
    uv_sleep(20); /* long enough for the others to queue */
    pthread_mutex_lock(&s->lock);
    s->sizes[batch] = n;
    s->running--;
    pthread_mutex_unlock(&s->lock);
}

static void done(struct ig_batch_item *it, void *ud)
{
    struct state *s = ud;
    s->done_order[s->ndone++] = ITEM(it)->id;
    if (ITEM(it)->id == 0 && s->extra)
        ig_batcher_submit(s->b, &s->extra->link); /* from a completion: allowed */
    if (ITEM(it)->id == 0 && s->free_early)
        ig_batcher_free(s->b); /* a worker stopping with work still out */
}

static const struct ig_batch_ops ops = {.run = run, .done = done};

static void run_batches(int max_jobs, int max_items, int nitems, struct state *s,
                        struct item *items, int free_early)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(s, 0, sizeof *s);
    s->free_early = free_early;
    pthread_mutex_init(&s->lock, NULL);
    s->b = ig_batcher_new(&loop, &ops, s, max_jobs, max_items);
    cr_assert_not_null(s->b);
    for (int i = 0; i < nitems; i++) {
        memset(&items[i], 0, sizeof items[i]);
        items[i].id = i;
    }
    for (int i = 0; i < nitems - 1; i++)
        ig_batcher_submit(s->b, &items[i].link);
    s->extra = &items[nitems - 1];
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!free_early)
        ig_batcher_free(s->b);
    uv_loop_close(&loop);
    pthread_mutex_destroy(&s->lock);
}

Test(batch, one_job_at_a_time_takes_what_queued_meanwhile)
{
    struct state s;
    struct item items[8];
    run_batches(1, 3, 8, &s, items, 0);
    /* Item 0 leaves at once, alone; 1..6 queue meanwhile and leave three at a
     * time; 7, submitted from item 0's completion, queues behind them. */
    cr_assert_eq(s.batches, 4);
    cr_assert_eq(s.sizes[0], 1);
    cr_assert_eq(s.sizes[1], 3);
    cr_assert_eq(s.sizes[2], 3);
    cr_assert_eq(s.sizes[3], 1);
    cr_assert_eq(items[7].batch, 3);
    cr_assert_eq(s.max_running, 1);
    cr_assert_eq(s.ndone, 8);
    int expect[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    cr_assert_arr_eq(s.done_order, expect, sizeof expect, "completions come in order");
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(items[i].ran, 1, "item %d ran once", i);
        cr_assert(!pthread_equal(items[i].thread, pthread_self()), "on a pool thread");
    }
}

Test(batch, two_jobs_run_at_once)
{
    struct state s;
    struct item items[6];
    run_batches(2, 32, 6, &s, items, 0);
    /* 0 and 1 each leave at once in their own job, side by side; 2..4 wait
     * for a free job and leave together; 5 follows item 0's completion. */
    cr_assert_eq(s.max_running, 2);
    cr_assert_eq(s.sizes[0], 1);
    cr_assert_eq(s.sizes[1], 1);
    cr_assert_eq(items[2].batch, items[4].batch, "the waiting items share a job");
    cr_assert_eq(s.ndone, 6);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(items[i].ran, 1, "item %d ran once", i);
}

Test(batch, freed_with_work_out_finishes_it_first)
{
    struct state s;
    struct item items[8];
    /* Freed from item 0's completion, with 1..6 queued or running and 7
     * submitted just before: every item still runs and completes, and the
     * batcher goes away after the last (ASan would see it otherwise). */
    run_batches(1, 3, 8, &s, items, 1);
    cr_assert_eq(s.ndone, 8);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(items[i].ran, 1, "item %d ran once", i);
}
