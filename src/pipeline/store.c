/* store.c — the store step: every image of a dispatched generation written
 * to the content-addressed blob store, the generation recorded (failed
 * ones too, with their error, and without images), and its result
 * rendered (pipeline/result.c). Generations that never reached dispatch
 * are not recorded: nothing was spent on them.
 *
 * Runs on the thread pool through the worker's batcher (core/batch.h):
 * generations that finish while a batch is being stored go together, with
 * one thread crossing each way and one store call (one transaction)
 * between them. On the loop, dispatch only checked each image's magic
 * bytes; here a provider's base64 is decoded, its header read and the
 * bytes hashed. An image that fails here (broken base64, or a header past
 * a good signature) fails the generation as an upstream error, without a
 * retry: the provider has delivered, and charged. */
#include "pipeline/result.h"
#include "pipeline/stage.h"

#include "image/codec.h"
#include "store/ledger.h"
#include "providers/common.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room in the answer for what surrounds its items (_metadata included). */
#define ANSWER_ROOM (64 * 1024)

/* Fills s->rec, the history record of the generation as it now stands. */
static void fill_record(struct ig_generation *g, struct ig_stored *s)
{
    struct ig_gen_request *r = &g->req;
    struct ig_generation_record *rec = &s->rec;
    memset(rec, 0, sizeof *rec);
    ig_strlcpy(rec->id, g->id, sizeof rec->id);
    ig_strlcpy(rec->key_id, g->ctx.key_id, sizeof rec->key_id);
    ig_strlcpy(rec->account_id, g->ctx.account_id, sizeof rec->account_id);
    ig_strlcpy(rec->request_id, g->ctx.request_id, sizeof rec->request_id);
    ig_strlcpy(rec->model, r->model->id, sizeof rec->model);
    ig_strlcpy(rec->provider, r->model->provider, sizeof rec->provider);
    s->params = ig_gen_request_normalized_json(r);
    rec->prompt = r->prompt;
    rec->params_json = s->params;
    rec->n = r->n;
    rec->width = r->width;
    rec->height = r->height;
    rec->status = s->error ? "failed" : "succeeded";
    rec->error = s->error;
    rec->cost = g->acct.cost;
    rec->created_ms = g->created * 1000;
    rec->completed_ms = ig_unix_ms();
    rec->latency_us = (int64_t)(ig_now_us() - g->t.start_us);
}

static void stored_release(struct ig_stored *s)
{
    free(s->params);
    ig_buf_release(&s->items);
}

/* Stores one encoded image (its format and size read from its header) and
 * adds it to the answer; b64, when not NULL, is its base64 exactly as
 * ig_base64_encode would write it, handed out instead of encoding again. */
static int store_image(struct ig_generation *g, struct ig_stored *s, const uint8_t *bytes,
                       size_t len, const char *b64, int64_t seed, const char *revised_prompt)
{
    struct ig_image_record *im = &s->images[s->made];
    memset(im, 0, sizeof *im);
    im->index = s->made;
    enum ig_format fmt;
    if (ig_probe(bytes, len, &fmt, &im->width, &im->height))
        return IG_ECODEC;
    int created = 0;
    int rc = ig_blob_put(g->pipeline->blobs, bytes, len, im->sha256, &created);
    if (rc)
        return rc;
    ig_strlcpy(im->format, ig_format_name(fmt), sizeof im->format);
    im->bytes = (int64_t)len;
    im->seed = seed;
    if (created) {
        g->result.blobs_created++;
        g->result.bytes_created += len;
    }
    return ig_result_add_item(g, s, bytes, len, b64, im, revised_prompt);
}

/* A generation served from the cache (pipeline/cache.c): its answer made
 * of the stored images (read back only for base64), and its record. */
static void serve_cached(struct ig_generation *g, struct ig_stored *s)
{
    int rc = ig_result_from_cache(g, s, g->cache.entry, 1);
    if (rc) {
        ig_error("generation %s: the cached images cannot be served (%s)", g->id, ig_strerror(rc));
        ig_generation_fail_internal(g, rc);
        s->error = "cannot read the cached images";
        s->made = 0;
    }
    /* A hit costs its share of the estimate (cache.hit_cost_percent). */
    g->acct.cost = s->error ? 0 : g->acct.held * g->pipeline->cfg->cache_hit_cost_percent / 100;
    fill_record(g, s);
}

/* The store step's first half: the images written to the blob store and
 * added to the answer, and the record filled. */
static void store_images(struct ig_generation *g, struct ig_stored *s)
{
    struct ig_gen_request *r = &g->req;
    struct ig_dispatch_outcome *o = g->outcome;
    /* Bounded by what the images can be: base64 of each, plus room for
     * the answer around them. */
    size_t max_image = (size_t)g->pipeline->cfg->max_image_bytes;
    ig_buf_init(&s->items, IG_MAX_IMAGES * (max_image / 3 * 4 + 8192) + ANSWER_ROOM);
    if (g->state != IG_GEN_FAILED && g->cache.entry) {
        serve_cached(g, s);
        return;
    }
    if (g->state == IG_GEN_FAILED || !o || !o->ok) {
        s->error = g->error.message[0] ? g->error.message : "out of memory";
        fill_record(g, s);
        return;
    }
    /* The answer in one allocation. */
    size_t need = 4096;
    for (size_t i = 0; i < o->result.nimages; i++)
        need +=
            (r->response_format == IG_RESP_B64 ? ig_base64_len(o->result.images[i].len) : 0) + 1024;
    if (ig_result_open(g, s, need)) {
        ig_generation_fail_internal(g, IG_ENOMEM);
        s->error = "out of memory";
    }
    for (size_t i = 0; !s->error && i < o->result.nimages; i++) {
        struct ig_provider_image *pi = &o->result.images[i];
        int rc = ig_provider_image_decode(pi);
        if (rc == 0)
            rc = store_image(g, s, pi->bytes, pi->len,
                             ig_provider_image_b64_canonical(pi) ? pi->b64 : NULL, pi->seed,
                             pi->revised_prompt);
        if (rc == IG_EINVAL || rc == IG_ECODEC) {
            ig_generation_fail(g, IG_GERR_UPSTREAM, "provider_error", NULL,
                               "The provider's image cannot be read: %s",
                               rc == IG_EINVAL ? "its base64 is malformed"
                                               : "it is not a PNG, JPEG or WebP image");
            ig_strlcpy(g->error.provider, o->deployment->provider, sizeof g->error.provider);
            s->error = g->error.message;
            ig_warn("generation %s: %s", g->id, g->error.message);
        } else if (rc) {
            ig_error("generation %s failed: cannot store the image (%s)", g->id, ig_strerror(rc));
            ig_generation_fail_internal(g, rc);
            s->error = "cannot store the image";
        } else {
            s->made++;
        }
    }
    if (s->error)
        s->made = 0; /* a failed generation is recorded without images */
    /* What was delivered, at the price of the deployment that delivered
     * it: charged with the record (settle_with_record). */
    g->acct.cost = ig_generation_cost(g, o->deployment, s->made, o->byok);
    fill_record(g, s);
}

/* What g's record charges its account: a metered account pays what was
 * delivered (the operator's own has its cost on the record only). */
static struct ig_charge *charge_of(struct ig_generation *g)
{
    struct ig_gen_account *a = &g->acct;
    if (!a->accounted || !a->metered || g->job.mode == IG_GEN_JOB)
        return NULL; /* a job's run settles its hold instead (pipeline/job.c) */
    a->charge = (struct ig_charge){.account_id = g->ctx.account_id,
                                   .amount = a->cost,
                                   .budgets = a->budgets,
                                   .nbudgets = a->nbudgets};
    return &a->charge;
}

#define GEN_OF_ITEM(it)                                                                            \
    ((struct ig_generation *)((char *)(it)-offsetof(struct ig_generation, store_item)))

/* A batch on one pool thread: each one's images stored, then all records
 * in one store call (one transaction), then each answer rendered. */
static void store_batch_run(struct ig_batch_item *first, void *ud)
{
    struct ig_pipeline *p = ud;
    size_t n = 0;
    for (struct ig_batch_item *it = first; it; it = it->next)
        n++;
    struct ig_stored *ss = calloc(n, sizeof *ss);
    struct ig_generation_write *ws = calloc(n, sizeof *ws);
    if (!ss || !ws) {
        for (struct ig_batch_item *it = first; it; it = it->next) {
            struct ig_generation *g = GEN_OF_ITEM(it);
            ig_generation_fail_internal(g, IG_ENOMEM);
        }
        free(ss);
        free(ws);
        return;
    }
    size_t i = 0;
    for (struct ig_batch_item *it = first; it; it = it->next, i++) {
        store_images(GEN_OF_ITEM(it), &ss[i]);
        struct ig_generation *g = GEN_OF_ITEM(it);
        ws[i] = (struct ig_generation_write){.g = &ss[i].rec,
                                             .images = ss[i].images,
                                             .nimages = (size_t)ss[i].made,
                                             .charge = charge_of(g)};
        if (g->job.mode == IG_GEN_JOB) {
            ws[i].also = ig_generation_job_end_tx;
            ws[i].also_ud = g;
            g->job.stored = &ss[i]; /* its answer so far, for its webhook */
        }
        g->acct.epoch = ig_balances_epoch(p->balances); /* before the charge */
    }
    ig_store_generation_insert(p->store, ws, n);
    i = 0;
    for (struct ig_batch_item *it = first; it; it = it->next, i++) {
        struct ig_generation *g = GEN_OF_ITEM(it);
        g->job.stored = NULL;
        if (ws[i].rc == 0 && g->cache.leader && !ss[i].error && ss[i].made > 0 &&
            ss[i].made <= IG_CACHE_IMAGES && (g->cache.stored = malloc(sizeof *g->cache.stored))) {
            /* What enters the cache once it has ended (pipeline/cache.c). */
            struct ig_cache_entry *e = g->cache.stored;
            ig_strlcpy(e->generation_id, g->id, sizeof e->generation_id);
            e->nimages = ss[i].made;
            memcpy(e->images, ss[i].images, (size_t)ss[i].made * sizeof e->images[0]);
        }
        if (ws[i].rc == 0 && g->job.mode == IG_GEN_JOB)
            g->job.ended = 1;                /* with its hold settled (the job stage says so) */
        if (ws[i].rc == 0 && ws[i].charge) { /* charged with the record */
            g->acct.settled = 1;
            g->acct.balance = ws[i].charge->balance;
            memcpy(g->acct.spent, ws[i].charge->spent, sizeof g->acct.spent);
        }
        ig_result_close(g, &ss[i], ws[i].rc);
        stored_release(&ss[i]);
    }
    free(ss);
    free(ws);
}

static void store_batch_done(struct ig_batch_item *it, void *ud)
{
    (void)ud;
    struct ig_generation *g = GEN_OF_ITEM(it);
    g->t.stored_us = ig_now_us();
    if (g->acct.settled) {
        /* The charge seen first, then the reservation given back: the
         * reserved sum always covers what is charged and not yet seen. */
        ig_generation_remember_balances(g, g->acct.epoch);
        ig_generation_release_reservation(g);
    }
    ig_generation_resume(g);
}

const struct ig_batch_ops ig_store_batch_ops = {
    .run = store_batch_run,
    .done = store_batch_done,
};

enum ig_stage_rc ig_stage_store(struct ig_generation *g)
{
    if (!g->dispatched)
        return IG_STAGE_NEXT; /* failed before anything was spent: not recorded */
    ig_batcher_submit(g->worker->store_batcher, &g->store_item);
    return IG_STAGE_PARKED;
}
