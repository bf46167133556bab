/* stage.h — private to pipeline/: what a stage is, the table of them, and
 * what stages may do to a generation.
 *
 * A stage's run() returns IG_STAGE_NEXT when it is done (failed or not:
 * a failure is recorded with ig_generation_fail), or IG_STAGE_PARKED when
 * it has started work that will call ig_generation_resume() on the loop.
 * Once a generation has failed, only the stages marked IG_STAGE_ALWAYS run
 * (the store step records the failure, settle releases holds, answer tells
 * the waiters). A stage's release() runs at the end, before the answer,
 * for every stage whose run() was called: it gives back what run() took
 * (an admission slot, a hold), whatever happened afterwards. */
#ifndef IG_STAGE_H
#define IG_STAGE_H

#include "pipeline/generation.h"

enum ig_stage_rc { IG_STAGE_NEXT, IG_STAGE_PARKED, IG_STAGE_ENDED };

enum { IG_STAGE_ALWAYS = 1 };

struct ig_stage {
    const char *name;
    /* NULL: an empty slot (a stage a later issue fills). */
    enum ig_stage_rc (*run)(struct ig_generation *g);
    void (*release)(struct ig_generation *g);
    /* Optional: stops the stage's parked work for ig_generation_cancel(). */
    void (*cancel)(struct ig_generation *g);
    unsigned flags;
};

/* Continues with the next stage, on the loop (from a parked stage's
 * completion). Safe to call from inside the stage's own run(). */
void ig_generation_resume(struct ig_generation *g);
/* Records a failure (the first one wins) and marks g failed. */
void ig_generation_fail(struct ig_generation *g, enum ig_gen_error_kind kind, const char *code,
                        const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Fails g as the gateway's own fault (rc says why), naming its id. */
void ig_generation_fail_internal(struct ig_generation *g, int rc);
/* Passes a partial image to every waiter that wants them. */
void ig_generation_emit_partial(struct ig_generation *g, const struct ig_gen_partial *p);
/* The answer stage's end: releases what stages took, counts, tells every
 * waiter, frees g. Returns IG_STAGE_ENDED. */
enum ig_stage_rc ig_generation_finish(struct ig_generation *g);

/* The stages (one file each). */
enum ig_stage_rc ig_stage_validate(struct ig_generation *g);
enum ig_stage_rc ig_stage_admit(struct ig_generation *g);
void ig_stage_admit_release(struct ig_generation *g);
enum ig_stage_rc ig_stage_moderate(struct ig_generation *g);
enum ig_stage_rc ig_stage_limit(struct ig_generation *g);
void ig_stage_limit_release(struct ig_generation *g);
enum ig_stage_rc ig_stage_byok(struct ig_generation *g);
void ig_stage_byok_release(struct ig_generation *g);
/* The providers g's account brings its own keys for (NULL-terminated), or
 * NULL when none; and the keys themselves (pipeline/byok.c). */
const char *const *ig_generation_byok_providers(const struct ig_generation *g);
const struct ig_byok_key *ig_generation_byok_keys(const struct ig_generation *g, size_t *n);
enum ig_stage_rc ig_stage_reserve(struct ig_generation *g);
enum ig_stage_rc ig_stage_dispatch(struct ig_generation *g);
enum ig_stage_rc ig_stage_settle(struct ig_generation *g);
/* What d's delivery of `images` costs g's account (reserve.c): the
 * deployment's price for the request, with the account's markup; 0 when
 * the generation is not accounted, the deployment has no price, or it
 * was called with the account's own key (byok). */
int64_t ig_generation_cost(const struct ig_generation *g, const struct ig_deployment *d, int images,
                           int byok);
/* Records g's balance and spends (as the store gave them, as of the
 * balances cache's epoch) in the cache (reserve.c). */
void ig_generation_remember_balances(struct ig_generation *g, uint64_t epoch);
/* Gives back what g reserved (reserve.c); again: nothing. */
void ig_generation_release_reservation(struct ig_generation *g);
enum ig_stage_rc ig_stage_cache(struct ig_generation *g);
void ig_stage_cache_release(struct ig_generation *g);
void ig_stage_cache_cancel(struct ig_generation *g);
enum ig_stage_rc ig_stage_enqueue(struct ig_generation *g);
enum ig_stage_rc ig_stage_job(struct ig_generation *g);
/* A job run's end, written in its record's transaction (store.h: also):
 * ud is the generation. */
int ig_generation_job_end_tx(struct ig_store_tx *tx, void *ud);
/* The dispatch options of a job run: its provider job to follow, and the
 * hook that keeps a new one (pipeline/job.c). */
void ig_generation_job_dispatch(struct ig_generation *g, struct ig_dispatch_options *opts);
enum ig_stage_rc ig_stage_store(struct ig_generation *g);
enum ig_stage_rc ig_stage_answer(struct ig_generation *g);
void ig_stage_dispatch_cancel(struct ig_generation *g);
/* Appends an entry about g to the audit trail, on the thread pool: action
 * ("moderation.block"), detail a JSON object made by fmt; the actor is
 * g's key, the target g. With wait, g is resumed once it is written (the
 * caller returns IG_STAGE_PARKED); without, nobody waits. 0, or
 * IG_ENOMEM when it could not start (then nothing resumes g). */
int ig_generation_audit(struct ig_generation *g, const char *action, int wait, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A generation of w's has been freed (pipeline/worker.c). */
void ig_pipeline_worker_generation_gone(struct ig_pipeline_worker *w);
/* The store step's batch operations, for each worker's batcher. */
extern const struct ig_batch_ops ig_store_batch_ops;
/* Job submissions' batch operations (pipeline/job.c): a group commit. */
extern const struct ig_batch_ops ig_submit_batch_ops;

#endif
