/* runner.c — the job runner; see runner.h.
 *
 * Store calls (claim, key lookups, renewals) run on the thread pool; the
 * generations run on the runner's loop. A claimed job becomes a
 * generation in IG_GEN_JOB mode, detached (it runs to its end whoever
 * watches), with the runner's waiter to count it out. */
#include "pipeline/runner.h"
#include "pipeline/stage.h"
#include "pipeline/webhooks.h"

#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Cancel requests taken from one renewal. */
#define CANCELS_PER_RENEWAL 256

struct run {
    struct ig_gen_waiter waiter; /* first: the waiter is the run */
    struct ig_job_runner *r;
    struct ig_generation *g;
    struct run *next, **prev;
};

/* Jobs one claim takes at most: a claim at a time stays short. */
#define CLAIM_MAX 64

/* One claimed job and what its run needs that the store has. */
struct claimed {
    struct ig_job_record rec;
    struct ig_key_record key;
    int key_rc;
};

struct claim_work {
    uv_work_t work;
    struct ig_job_runner *r;
    int max;
    struct claimed items[CLAIM_MAX];
    int n;
    int rc;
};

struct renew_work {
    uv_work_t work;
    struct ig_job_runner *r;
    int64_t until_ms;
    char cancels[CANCELS_PER_RENEWAL][IG_ID_MAX];
    int ncancels;
    int rc;
};

/* The runner's claim and renewal are allocated with it, once: its idle
 * ticks allocate nothing on the loop (mimalloc delays returning a loop's
 * freed memory while that loop keeps allocating). */
struct ig_job_runner {
    struct ig_pipeline_worker *w;
    struct ig_pipeline *p;
    char owner[48];
    uv_timer_t tick, renew;
    uv_async_t wake;
    uv_mutex_t lock; /* alive, for wakers on other threads */
    int alive;
    int claiming, renewing, woken;
    int running, max;
    uint64_t idle_ms; /* the wait before the next look: jobs.poll_ms, doubled while none is due */
    struct run *runs;
    int handles_open;
    struct ig_webhook_deliverer *webhooks; /* beside it, on its loop */
    struct claim_work claim;               /* while claiming */
    struct renew_work renewal;             /* while renewing */
};

static void tick_soon(struct ig_job_runner *r);
static void tick_cb(uv_timer_t *t);

/* ---- a run ---- */

static void run_done(struct ig_gen_waiter *w, struct ig_generation *g)
{
    (void)g;
    struct run *run = (struct run *)w;
    struct ig_job_runner *r = run->r;
    *run->prev = run->next;
    if (run->next)
        run->next->prev = run->prev;
    r->running--;
    free(run);
    if (r->alive) {
        tick_soon(r);
        ig_webhook_deliverer_wake(r->webhooks); /* its end may have one to send */
    }
}

/* The deployment of g's model that a kept provider job names (its
 * provider, model and api_base), so the run follows that job. */
static void find_resume(struct ig_generation *g, const char *upstream)
{
    json_error_t jerr;
    json_t *u = upstream ? ig_json_loadb(upstream, strlen(upstream), 0, &jerr) : NULL;
    const char *provider = json_string_value(json_object_get(u, "provider"));
    const char *model = json_string_value(json_object_get(u, "model"));
    const char *base = json_string_value(json_object_get(u, "api_base"));
    const char *url = json_string_value(json_object_get(u, "poll_url"));
    const struct ig_model *m = g->req.model;
    for (size_t i = 0; m && provider && model && base && url && i < m->ndeployments; i++) {
        const struct ig_deployment *d = &m->deployments[i];
        if (strcmp(d->provider, provider) == 0 && strcmp(d->model, model) == 0 &&
            strcmp(d->api_base ? d->api_base : "", base) == 0) {
            g->job.resume_dep = d;
            g->job.resume_url = strdup(url);
            break;
        }
    }
    json_decref(u);
}

static void start_run(struct ig_job_runner *r, struct claimed *c)
{
    struct ig_job_record *rec = &c->rec;
    struct ig_generation *g = NULL;
    struct run *run = calloc(1, sizeof *run);
    if (!run || ig_generation_new(r->w, NULL, &g)) {
        free(run);
        return; /* its lease passes and it is run again */
    }
    struct ig_gen_context *ctx = &g->ctx;
    const struct ig_key_record *k = &c->key;
    struct ig_key_identity who;
    ig_key_identity_of(k, &who);
    ig_gen_context_for_key(ctx, rec->key_id, &who);
    ig_strlcpy(ctx->account_id, rec->account_id, sizeof ctx->account_id); /* the job's */
    ig_strlcpy(ctx->request_id, rec->request_id, sizeof ctx->request_id);
    ig_strlcpy(ctx->base_url, rec->base_url, sizeof ctx->base_url);
    ctx->start_us = g->t.start_us;
    g->detached = 1;
    g->job.mode = IG_GEN_JOB;
    ig_strlcpy(g->job.id, rec->id, sizeof g->job.id);
    g->job.owner = r->owner;
    g->job.held = rec->held;
    if (rec->webhook_url && !(g->job.webhook_url = strdup(rec->webhook_url))) {
        ig_generation_free(g);
        free(run);
        return; /* its lease passes and it is run again */
    }

    run->r = r;
    run->g = g;
    run->waiter.done = run_done;
    run->next = r->runs;
    run->prev = &r->runs;
    if (r->runs)
        r->runs->prev = &run->next;
    r->runs = run;
    r->running++;
    ig_generation_watch(g, &run->waiter);

    struct ig_gen_error err;
    if (c->key_rc || k->revoked_at) {
        ig_gen_error_set(&err, IG_GERR_PERMISSION, "key_revoked", NULL,
                         "The key that submitted this job has been revoked.");
        ig_generation_refuse(g, &err);
        return;
    }
    if (ig_gen_request_parse(rec->request, strlen(rec->request), r->p->models, &g->req, &err)) {
        /* The configuration changed under it (a model removed). */
        ig_generation_refuse(g, &err);
        return;
    }
    if (rec->upstream)
        find_resume(g, rec->upstream);
    if (rec->attempts > 1)
        ig_info("job %s: taken over (attempt %d)%s", rec->id, rec->attempts,
                g->job.resume_url ? ", following its provider job" : "");
    ig_generation_start(g);
}

/* Looks up the job at r->runs whose id is id. */
static struct run *find_run(struct ig_job_runner *r, const char *id)
{
    for (struct run *run = r->runs; run; run = run->next)
        if (strcmp(run->g->job.id, id) == 0)
            return run;
    return NULL;
}

/* ---- claims ---- */

static int claimed_cb(const struct ig_job_record *j, void *ud)
{
    struct claim_work *c = ud;
    if (c->n == c->max)
        return 1;
    struct claimed *it = &c->items[c->n];
    it->rec = *j;
    it->rec.request = strdup(j->request);
    it->rec.webhook_url = j->webhook_url ? strdup(j->webhook_url) : NULL;
    it->rec.upstream = j->upstream ? strdup(j->upstream) : NULL;
    it->rec.error = NULL;
    it->rec.progress = NULL;
    if (!it->rec.request) {
        ig_job_record_release(&it->rec);
        return 0; /* its lease passes and it is claimed again */
    }
    c->n++;
    return 0;
}

static void claim_run(uv_work_t *w)
{
    struct claim_work *c = w->data;
    struct ig_job_runner *r = c->r;
    struct ig_store *s = r->p->store;
    c->rc = ig_store_job_claim(s, r->owner, ig_unix_ms(), r->p->cfg->jobs_lease_ms, c->max,
                               claimed_cb, c);
    for (int i = 0; i < c->n; i++)
        c->items[i].key_rc = ig_store_key_find_by_id(s, c->items[i].rec.key_id, &c->items[i].key);
}

static void claim_done(uv_work_t *w, int status)
{
    (void)status;
    struct claim_work *c = w->data;
    struct ig_job_runner *r = c->r;
    r->claiming = 0;
    if (c->rc)
        ig_error("jobs: cannot claim due jobs: %s", ig_strerror(c->rc));
    for (int i = 0; i < c->n; i++) {
        if (r->alive)
            start_run(r, &c->items[i]);
        ig_job_record_release(&c->items[i].rec);
    }
    int full = c->n == c->max;
    if (!r->alive)
        return;
    if (full || r->woken) {
        tick_soon(r); /* more may be due */
        return;
    }
    /* Nothing due: look less often (up to 16 times jobs.poll_ms), so an
     * idle instance is idle; a submission here wakes it at once. */
    uint64_t base = (uint64_t)r->p->cfg->jobs_poll_ms;
    r->idle_ms = c->n ? base : r->idle_ms * 2 > base * 16 ? base * 16 : r->idle_ms * 2;
    uv_timer_start(&r->tick, tick_cb, r->idle_ms, 0);
}

/* 1 when a claim has started (its end schedules the next look). */
static int claim(struct ig_job_runner *r)
{
    int room = r->max - r->running;
    if (r->claiming || room <= 0 || !r->alive)
        return 0;
    struct claim_work *c = &r->claim;
    c->r = r;
    c->max = room < CLAIM_MAX ? room : CLAIM_MAX;
    c->n = 0;
    c->rc = 0;
    c->work.data = c;
    r->woken = 0;
    if (uv_queue_work(r->w->loop, &c->work, claim_run, claim_done))
        return 0;
    r->claiming = 1;
    return 1;
}

/* ---- renewals and cancel requests ---- */

static int cancel_asked_cb(const char *id, void *ud)
{
    struct renew_work *x = ud;
    if (x->ncancels < CANCELS_PER_RENEWAL)
        ig_strlcpy(x->cancels[x->ncancels++], id, IG_ID_MAX);
    return 0;
}

static void renew_run(uv_work_t *w)
{
    struct renew_work *x = w->data;
    x->rc = ig_store_job_renew(x->r->p->store, x->r->owner, x->until_ms, cancel_asked_cb, x);
}

static void renew_done(uv_work_t *w, int status)
{
    (void)status;
    struct renew_work *x = w->data;
    struct ig_job_runner *r = x->r;
    r->renewing = 0;
    if (x->rc)
        ig_warn("jobs: cannot renew leases: %s", ig_strerror(x->rc));
    for (int i = 0; i < x->ncancels; i++) {
        struct run *run = find_run(r, x->cancels[i]);
        if (run) {
            ig_info("job %s: cancel asked for", x->cancels[i]);
            ig_generation_cancel(run->g);
        }
    }
}

static void renew(struct ig_job_runner *r)
{
    if (r->renewing || !r->alive)
        return;
    struct renew_work *x = &r->renewal;
    x->r = r;
    x->ncancels = 0;
    x->rc = 0;
    x->until_ms = ig_unix_ms() + r->p->cfg->jobs_lease_ms;
    x->work.data = x;
    if (uv_queue_work(r->w->loop, &x->work, renew_run, renew_done))
        return;
    r->renewing = 1;
}

/* ---- the loop's side ---- */

static void tick_cb(uv_timer_t *t)
{
    struct ig_job_runner *r = t->data;
    if (!claim(r) && r->alive && !r->claiming)
        uv_timer_start(&r->tick, tick_cb, r->idle_ms, 0); /* full now: look again later */
}

static void tick_soon(struct ig_job_runner *r)
{
    r->idle_ms = (uint64_t)r->p->cfg->jobs_poll_ms;
    uv_timer_start(&r->tick, tick_cb, 0, 0);
}

static void renew_cb(uv_timer_t *t)
{
    renew(t->data);
}

static void wake_cb(uv_async_t *a)
{
    struct ig_job_runner *r = a->data;
    r->woken = 1;
    tick_soon(r);
    if (r->running)
        renew(r); /* a cancel may have been asked for */
}

int ig_job_runner_start(struct ig_pipeline_worker *w, struct ig_job_runner **out)
{
    struct ig_job_runner *r = calloc(1, sizeof *r);
    if (!r)
        return IG_ENOMEM;
    if (ig_random_id("run_", 12, r->owner, sizeof r->owner) || uv_mutex_init(&r->lock)) {
        free(r);
        return IG_ENOMEM;
    }
    r->w = w;
    r->p = w->pipeline;
    r->max = (int)r->p->cfg->jobs_runners;
    if (ig_webhook_deliverer_start(w, r->owner, &r->webhooks)) {
        uv_mutex_destroy(&r->lock);
        free(r);
        return IG_ENOMEM;
    }
    r->alive = 1;
    uv_timer_init(w->loop, &r->tick);
    uv_timer_init(w->loop, &r->renew);
    uv_async_init(w->loop, &r->wake, wake_cb);
    r->tick.data = r->renew.data = r->wake.data = r;
    r->handles_open = 3;
    tick_soon(r);
    uint64_t every = (uint64_t)r->p->cfg->jobs_lease_ms / 3;
    uv_timer_start(&r->renew, renew_cb, every, every);
    ig_info("jobs: runner %s runs up to %d jobs at once", r->owner, r->max);
    *out = r;
    return 0;
}

void ig_job_runner_wake(struct ig_job_runner *r)
{
    if (!r)
        return;
    uv_mutex_lock(&r->lock);
    if (r->alive)
        uv_async_send(&r->wake);
    uv_mutex_unlock(&r->lock);
}

static void closed_cb(uv_handle_t *h)
{
    struct ig_job_runner *r = h->data;
    r->handles_open--;
}

void ig_job_runner_stop(struct ig_job_runner *r)
{
    if (!r || !r->alive)
        return;
    uv_mutex_lock(&r->lock);
    r->alive = 0;
    uv_mutex_unlock(&r->lock);
    uv_close((uv_handle_t *)&r->tick, closed_cb);
    uv_close((uv_handle_t *)&r->renew, closed_cb);
    uv_close((uv_handle_t *)&r->wake, closed_cb);
    ig_webhook_deliverer_stop(r->webhooks);
    r->webhooks = NULL;
    if (r->running) {
        /* Blocking, once, at shutdown: the next instance need not wait
         * for these leases to pass. */
        int rc = ig_store_job_renew(r->p->store, r->owner, 0, NULL, NULL);
        if (rc)
            ig_warn("jobs: cannot give up leases: %s", ig_strerror(rc));
    }
}

void ig_job_runner_free(struct ig_job_runner *r)
{
    if (!r)
        return;
    uv_mutex_destroy(&r->lock);
    free(r);
}

struct ig_pipeline_worker *ig_job_runner_worker(const struct ig_job_runner *r)
{
    return r->w;
}

const char *ig_job_runner_owner(const struct ig_job_runner *r)
{
    return r->owner;
}
