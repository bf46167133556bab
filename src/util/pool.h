/* pool.h — thread-pool threads give way to the I/O loops.
 *
 * Every request passes through one worker loop, a single thread; the
 * thread pool does work that can wait a little and gains from waiting
 * (store steps batch more when they queue; renders are long anyway). On a
 * busy machine the two compete for the same cores, and a pool thread that
 * wakes preempts the loop. Lowering the pool threads (a positive nice,
 * and SCHED_BATCH, which stops their wake-ups from preempting) lets the
 * loops keep the cores: on 2 cores it raised generations through a network
 * provider by 10–25% at no cost in paced latency (bench/RESULTS.md).
 * Lowering needs no privilege; raising the loops instead would.
 *
 * libuv creates its pool threads itself, so each job the gateway queues
 * calls ig_pool_thread_enter() first: the first call on a thread lowers
 * it, later ones cost a thread-local read. Linux only, like the rest. */
#ifndef IG_UTIL_POOL_H
#define IG_UTIL_POOL_H

/* nice 0..19, added to what a pool thread starts with (at most 19); 0
 * leaves pool threads as they are. Call before any job is queued. */
void ig_pool_set_nice(int nice);
/* At the top of every thread-pool job. */
void ig_pool_thread_enter(void);

#endif
