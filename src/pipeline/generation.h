/* generation.h — a generation: one request for images, driven through the
 * pipeline's stage table (pipeline/stages.c), independent of whoever asked.
 *
 * Any entry point makes one: the HTTP endpoints (api/images.c), and later
 * the job runner, a batch item or the cache's single flight. It owns no
 * socket. Whoever wants its result attaches a waiter; a generation may have
 * several, and goes on when one leaves (it is cancelled only when the last
 * one leaves and nobody has detached it to run on its own).
 *
 * Life: ig_generation_new → fill g->req → attach waiters →
 * ig_generation_start. The stages then run on the worker's loop, each
 * finishing at once or parking (on the thread pool, a provider, a queue)
 * and resuming on the loop. At the end every waiter's done() is called
 * once, in attachment order, and the generation frees itself: a waiter
 * must not touch g after its done() returns. */
#ifndef IG_GENERATION_H
#define IG_GENERATION_H

#include "pipeline/dispatcher.h"
#include "core/gen_error.h"
#include "core/imgcache.h"
#include "core/keycache.h"
#include "core/request.h"
#include "pipeline/pipeline.h"
#include "util/buf.h"

#include <stdint.h>

/* Who asked, as far as the pipeline needs to know. */
struct ig_gen_context {
    char key_id[48];
    char account_id[48];         /* who pays; empty: nobody (no price, no hold) */
    char tier[32];               /* the account's tier (its markup) */
    int metered;                 /* 0: charged on the record only, never held or refused */
    struct ig_key_limits limits; /* the key's own (IG_UNSET: its tier's) */
    struct ig_budgets key_budgets, account_budgets; /* IG_UNSET: none */
    int has_byok; /* the account has keys of its own (pipeline/byok.c) */
    char request_id[72];
    char base_url[300]; /* scheme://host[:port] that signed image URLs start with */
    uint64_t start_us;  /* when the request arrived (ig_now_us) */
};

/* A partial image event (stream=true), in OpenAI's form: an event name
 * ("image_generation.partial_image") and its data, one JSON object. */
struct ig_gen_partial {
    const char *name;
    size_t name_len;
    const char *data;
    size_t data_len;
};

struct ig_generation;
struct ig_gen_byok;

struct ig_gen_waiter {
    struct ig_gen_waiter *next; /* the generation's list */
    /* Optional: each partial image, on the loop. */
    void (*partial)(struct ig_gen_waiter *w, struct ig_generation *g,
                    const struct ig_gen_partial *p);
    /* Once, on the loop, when the generation has ended. */
    void (*done)(struct ig_gen_waiter *w, struct ig_generation *g);
};

enum ig_gen_state { IG_GEN_RUNNING, IG_GEN_SUCCEEDED, IG_GEN_FAILED };

/* What a successful generation made. */
struct ig_gen_result {
    /* The OpenAI images response (JSON text), or for a stream the data of
     * its completed event; owned by g (a waiter may take it: set NULL). */
    char *body;
    size_t body_len;
    int images;
    int blobs_created;
    size_t bytes_created;
};

/* What the generation costs its account (pipeline/reserve.c prices and
 * reserves it, the store step charges it with the record, then gives the
 * reservation back; pipeline/settle.c gives it back when nothing was
 * charged). Millicredits. */
struct ig_gen_account {
    int accounted; /* the reserve stage ran: tier, markup and prices are known */
    char tier[32];
    int markup;      /* percent */
    int metered;     /* 0: charged, never refused (the operator's own) */
    int64_t held;    /* the estimate, reserved before dispatch */
    int64_t cost;    /* charged for what was delivered */
    int64_t balance; /* as last known; after the charge once settled */
    int settled;     /* charged with the record */
    /* The budgets it counts against, what each had spent (as known), and
     * the reservation: the account's (step 0) and each budget's. */
    struct ig_budget_use budgets[IG_HOLD_BUDGETS];
    int nbudgets;
    int64_t spent[IG_HOLD_BUDGETS];
    int step, reserved_steps;
    struct ig_charge charge; /* what the store step asks the store to charge */
    uint64_t epoch;          /* of the balances cache, before the charge */
};

/* The key's rate limits as the limit stage found them (pipeline/limit.c),
 * for the x-ratelimit-* headers; a limit of 0 is none. */
struct ig_gen_limits {
    int known; /* the stage looked: the numbers below are true */
    int64_t requests_limit, requests_remaining, requests_reset_ms;
    int64_t images_limit, images_remaining, images_reset_ms;
    int64_t concurrent_limit;
    /* The stage's own. */
    int step;
    int peek; /* the generation had failed: read, count nothing */
    int concurrent_taken;
};

/* What a generation is to the durable jobs (pipeline/job.c). */
enum ig_gen_mode {
    IG_GEN_SYNC,   /* answered to whoever waits (an HTTP request) */
    IG_GEN_SUBMIT, /* a job's submission: checked, priced and reserved like any
                    * generation, then committed with its hold instead of
                    * dispatched (the enqueue stage) */
    IG_GEN_JOB,    /* a job's run (pipeline/runner.c): its hold covers it, its end
                    * is written with its record */
};

struct ig_gen_job {
    enum ig_gen_mode mode;
    char id[48];       /* the job's (IG_GEN_SUBMIT: set by the enqueue stage) */
    const char *owner; /* IG_GEN_JOB: the runner's lease name (outlives g) */
    /* IG_GEN_SUBMIT: what is kept (owned). */
    char *body;
    size_t body_len;
    char *webhook_url; /* NULL: none (IG_GEN_JOB too: its end is told there) */
    char batch_id[48];
    int batch_index;
    int queued;       /* committed: nothing more to do but answer */
    void *submission; /* on its way to the store (pipeline/job.c) */
    /* IG_GEN_JOB: the provider's job to follow (a taken-over job). */
    const struct ig_deployment *resume_dep;
    char *resume_url;            /* owned */
    int64_t held;                /* what its hold set aside */
    int ended;                   /* its end is written (with its record, or by the job stage) */
    int lost;                    /* another runner has it now: nothing of it may be written */
    int requeue;                 /* it could not start here (overloaded): back to the queue */
    int queue_position, percent; /* what its provider last said (kept with the job) */
    void *stored; /* during its record's write: the store step's state (pipeline/result.h) */
};

/* The client's say in the cache (x-imagegate-cache), and what came of it
 * (pipeline/cache.c). */
enum ig_cache_mode { IG_CACHE_AUTO, IG_CACHE_USE, IG_CACHE_SKIP, IG_CACHE_REFRESH };
enum ig_cache_outcome { IG_CACHE_NONE, IG_CACHE_MISS, IG_CACHE_HIT, IG_CACHE_COALESCED };

struct ig_gen_cache {
    enum ig_cache_mode mode; /* AUTO: used when the request pins a seed */
    enum ig_cache_outcome outcome;
    uint8_t key[IG_CACHE_KEY];
    struct ig_flight *flight; /* the flight it leads or follows */
    int leader;
    struct ig_cache_entry *entry;  /* a hit's or a coalesced twin's images (owned) */
    struct ig_cache_entry *stored; /* a leader's images once recorded (owned) */
    uv_timer_t *timer;             /* a follower's look at its flight */
};

struct ig_gen_timings {
    uint64_t start_us;    /* the request arrived */
    uint64_t dispatch_us; /* dispatch began */
    uint64_t stored_us;   /* the store step was back */
    uint64_t done_us;     /* answered */
};

struct ig_generation {
    /* Readable by waiters. */
    char id[48];
    struct ig_gen_request req; /* owned */
    struct ig_gen_context ctx;
    enum ig_gen_state state;
    struct ig_gen_error error; /* IG_GEN_FAILED: why */
    struct ig_gen_result result;
    struct ig_gen_timings t;
    struct ig_gen_account acct;
    struct ig_gen_limits limits;
    struct ig_gen_byok *byok; /* the account's own keys, opened (pipeline/byok.c) */
    struct ig_gen_job job;
    struct ig_gen_cache cache;
    uint64_t seed; /* the seed used (the request's, or a random one) */
    int64_t created;

    /* The pipeline's own. */
    struct ig_pipeline *pipeline;
    struct ig_pipeline_worker *worker;
    struct ig_gen_waiter *waiters;
    int detached; /* runs on when its last waiter leaves (a job) */
    struct ig_generation *orphan_next, **orphan_prev; /* in worker->orphans */
    int refused;      /* refused before it began (ig_generation_refuse) */
    int stage;        /* the next stage to run */
    int driving;      /* inside a stage's run() */
    int resumed;      /* resumed while driving */
    unsigned entered; /* stages whose run() was called, by index */
    int admitted;     /* holds a slot of admission (pipeline/admit.c) */
    int dispatched;   /* reached dispatch: the store step records it */
    int relaying;     /* a provider's partial images have been passed on */
    struct ig_dispatch *dispatch;
    struct ig_dispatch_outcome *outcome; /* when dispatch has ended */
    struct ig_buf sse;                   /* a provider's stream not yet split */
    struct ig_batch_item store_item;
    struct ig_batch_item submit_item; /* a job's submission (pipeline/job.c) */
};

/* Fills who pays and how it is limited (ctx's key and account fields)
 * from key key_id's identity. */
void ig_gen_context_for_key(struct ig_gen_context *ctx, const char *key_id,
                            const struct ig_key_identity *who);
/* A new generation on worker w for ctx (copied; NULL: the caller fills
 * g->ctx). Its request is empty: the caller parses into g->req (or moves
 * a parsed request there). IG_ENOMEM. */
int ig_generation_new(struct ig_pipeline_worker *w, const struct ig_gen_context *ctx,
                      struct ig_generation **out);
/* Frees a generation that was never started. */
void ig_generation_free(struct ig_generation *g);
/* Attaches a waiter (before or after the start, until the end). */
void ig_generation_watch(struct ig_generation *g, struct ig_gen_waiter *w);
/* Detaches a waiter; it gets no more calls. When it was the last and the
 * generation is not detached, the generation is cancelled (it still runs
 * to its end, recording what happened, and frees itself). */
void ig_generation_unwatch(struct ig_generation *g, struct ig_gen_waiter *w);
/* Runs the stages. Waiters may be called before it returns. */
void ig_generation_start(struct ig_generation *g);
/* Ends g, whose request was refused before it began (it could not be
 * decoded: e says why), through the stages that run for failures, so
 * its answer carries what they add (the key's rate-limit headers);
 * nothing is counted against the key, and it is not a failed generation
 * in the metrics. Waiters may be called before it returns. */
void ig_generation_refuse(struct ig_generation *g, const struct ig_gen_error *e);
/* OpenAI's event names of g's stream: image_generation.* for
 * generations, image_edit.* for edits; completed or partial_image. */
const char *ig_generation_event_name(const struct ig_generation *g, int completed);
/* The provider whose deployment answered g (or last failed it), "cache"
 * for an answer from the cache, NULL when none was asked. Static: it
 * outlives g. */
const char *ig_generation_provider(const struct ig_generation *g);
/* "hit", "coalesced", "miss"; NULL for IG_CACHE_NONE (not cacheable). */
const char *ig_cache_outcome_name(enum ig_cache_outcome o);
/* The client of g's waiter has left: g runs on to its end and is recorded
 * (its images are in the history, and an Idempotency-Key replays them),
 * unless its worker drains, which cancels it; returns 1 when it runs on,
 * 0 when it was cancelled at once (the worker drains). */
int ig_generation_orphan(struct ig_generation *g);
/* Stops upstream work at once where it can (a provider call, a backoff, a
 * queue): the generation fails as IG_GERR_CANCELED and goes on to record
 * that. Work that cannot be stopped (a render or the store step on the
 * thread pool) runs to its end. */
void ig_generation_cancel(struct ig_generation *g);

#endif
