/* job.c — durable jobs in the pipeline.
 *
 * A job's submission (IG_GEN_SUBMIT) is checked, priced and reserved like
 * any generation; the enqueue stage then commits the job and its hold in
 * one store transaction (store/jobs.h), lowers the cached balance by the
 * hold and gives the reservation back — the order the store step keeps
 * for charges, so the reserved sum always covers what is held and not yet
 * seen (pipeline/reserve.c). Nothing is dispatched: the submission's
 * answer is the queued job.
 *
 * A job's run (IG_GEN_JOB, started by pipeline/runner.c) is covered by
 * that hold: it counts against no rate limit and reserves nothing. Its
 * end is written in its record's transaction (ig_generation_job_end_tx:
 * the job's status and the settlement of its hold for what was
 * delivered), only while its runner still holds its lease, so a job ends
 * once even when a runner thought dead comes back. A run that never
 * reached a provider has no record: the job stage writes its end instead,
 * or puts it back in the queue when it could not start here (overloaded).
 * A provider's own job id (its poll URL) is kept as soon as it is known,
 * so a run taken over after a crash follows it instead of paying again. */
#include "pipeline/result.h"
#include "pipeline/stage.h"

#include "core/webhook.h"
#include "store/jobs.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the enqueue stage ---- */

/* A submission on its way to the store (g->job.submission). */
struct submission {
    struct ig_job_record rec;
    struct ig_hold_request hold;
    uint64_t epoch;
    int rc;
};

#define GEN_OF_SUBMIT(it)                                                                          \
    ((struct ig_generation *)((char *)(it)-offsetof(struct ig_generation, submit_item)))

/* A batch on one pool thread: every submission in one transaction. */
static void submit_batch_run(struct ig_batch_item *first, void *ud)
{
    struct ig_pipeline *p = ud;
    size_t n = 0;
    for (struct ig_batch_item *it = first; it; it = it->next)
        n++;
    struct ig_job_submission *subs = calloc(n, sizeof *subs);
    uint64_t epoch = ig_balances_epoch(p->balances); /* before the holds */
    size_t i = 0;
    for (struct ig_batch_item *it = first; subs && it; it = it->next, i++) {
        struct submission *s = GEN_OF_SUBMIT(it)->job.submission;
        subs[i] = (struct ig_job_submission){&s->rec, &s->hold, 0};
    }
    if (subs)
        ig_job_submit_many(p->store, subs, n);
    i = 0;
    for (struct ig_batch_item *it = first; it; it = it->next, i++) {
        struct submission *s = GEN_OF_SUBMIT(it)->job.submission;
        s->rc = subs ? subs[i].rc : IG_ENOMEM;
        s->epoch = epoch;
    }
    free(subs);
}

static void submit_batch_done(struct ig_batch_item *it, void *ud)
{
    (void)ud;
    struct ig_generation *g = GEN_OF_SUBMIT(it);
    struct submission *s = g->job.submission;
    struct ig_gen_account *a = &g->acct;
    g->job.submission = NULL;
    if (s->rc == 0) {
        g->job.queued = 1;
        if (s->rec.hold_id[0]) {
            /* The hold seen first, then the reservation given back. A
             * budget's spend moved too; its cached value is not known
             * exactly, so the cache starts again. */
            a->balance = s->hold.balance;
            ig_generation_remember_balances(g, s->epoch);
            if (a->nbudgets)
                ig_balances_forget_all(g->pipeline->balances);
        }
        ig_generation_release_reservation(g);
    } else if (s->rc == IG_EFUNDS) {
        ig_generation_fail(g, IG_GERR_QUOTA, "insufficient_credits", NULL,
                           "insufficient credits for this job's estimated cost");
    } else if (s->rc == IG_EBUDGET) {
        ig_generation_fail(g, IG_GERR_QUOTA, "budget_exceeded", NULL,
                           "this job's estimated cost would pass a budget");
    } else {
        ig_error("job %s: cannot be committed: %s", g->job.id, ig_strerror(s->rc));
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "store_unavailable", NULL,
                           "The job store is unavailable; try again.");
        g->error.retry_after_s = 1;
    }
    free(s);
    ig_generation_resume(g);
}

const struct ig_batch_ops ig_submit_batch_ops = {
    .run = submit_batch_run,
    .done = submit_batch_done,
};

enum ig_stage_rc ig_stage_enqueue(struct ig_generation *g)
{
    if (g->job.mode != IG_GEN_SUBMIT)
        return IG_STAGE_NEXT;
    struct ig_gen_account *a = &g->acct;
    struct submission *j = calloc(1, sizeof *j);
    int64_t now = ig_unix_ms();
    if (!j || ig_time_ordered_id("job_", (uint64_t)now, g->job.id, sizeof g->job.id)) {
        free(j);
        ig_generation_fail_internal(g, IG_ENOMEM);
        return IG_STAGE_NEXT;
    }
    struct ig_job_record *r = &j->rec;
    ig_strlcpy(r->id, g->job.id, sizeof r->id);
    ig_strlcpy(r->account_id, g->ctx.account_id, sizeof r->account_id);
    ig_strlcpy(r->key_id, g->ctx.key_id, sizeof r->key_id);
    r->request = g->job.body; /* borrowed: the record is not released */
    r->webhook_url = g->job.webhook_url;
    ig_strlcpy(r->base_url, g->ctx.base_url, sizeof r->base_url);
    ig_strlcpy(r->request_id, g->ctx.request_id, sizeof r->request_id);
    ig_strlcpy(r->batch_id, g->job.batch_id, sizeof r->batch_id);
    r->batch_index = g->job.batch_index;
    r->created_ms = now;
    if (a->accounted && a->metered && (a->held > 0 || a->nbudgets > 0)) {
        struct ig_hold_record *h = &j->hold.hold;
        /* Time-ordered like the job's id: holds' and jobs' indexes of
         * hold ids grow at their right edge, not at a random page each. */
        if (ig_time_ordered_id("hold_", (uint64_t)now, h->id, sizeof h->id)) {
            free(j);
            ig_generation_fail_internal(g, IG_ENOMEM);
            return IG_STAGE_NEXT;
        }
        ig_strlcpy(h->account_id, g->ctx.account_id, sizeof h->account_id);
        h->amount = a->held;
        h->created_ms = now;
        memcpy(h->budgets, a->budgets, sizeof h->budgets);
        h->nbudgets = a->nbudgets;
        ig_strlcpy(r->hold_id, h->id, sizeof r->hold_id);
        r->held = a->held;
    }
    g->job.submission = j;
    ig_batcher_submit(g->worker->submit_batcher, &g->submit_item);
    return IG_STAGE_PARKED;
}

/* ---- a job run's end ---- */

/* The job's status for how g ended. */
static const char *end_status(const struct ig_generation *g)
{
    if (g->state != IG_GEN_FAILED)
        return "succeeded";
    return g->error.kind == IG_GERR_CANCELED ? "canceled" : "failed";
}

/* g's error as the job keeps it (a domain value; the API gives it
 * OpenAI's shape): malloc'd JSON, or NULL when g succeeded or out of
 * memory. */
static char *error_json(const struct ig_generation *g)
{
    if (g->state != IG_GEN_FAILED)
        return NULL;
    const struct ig_gen_error *e = &g->error;
    struct ig_buf b;
    ig_buf_init(&b, 4096);
    struct ig_jw w;
    ig_jw_begin(&w, &b);
    ig_jw_str(&w, "kind", ig_gen_error_kind_name(e->kind));
    ig_jw_str(&w, "code", e->code);
    ig_jw_str(&w, "param", e->param[0] ? e->param : NULL);
    ig_jw_str(&w, "message", e->message);
    ig_jw_str(&w, "provider", e->provider[0] ? e->provider : NULL);
    if (ig_jw_end(&w)) {
        ig_buf_release(&b);
        return NULL;
    }
    return ig_buf_detach(&b, NULL);
}

/* What the job's account pays for g: a metered account what was
 * delivered (the operator's own has its cost on the record only). */
static int64_t job_charge(const struct ig_generation *g)
{
    return g->acct.accounted && g->acct.metered ? g->acct.cost : 0;
}

/* What g's end tells the job's webhook (NULL: it has none, or out of
 * memory: the end is written without it). Its result is the answer's
 * created and data, as the store step has written them so far (the rest
 * of the answer comes once the record is in). */
static char *event_of(const struct ig_generation *g, const char *generation_id)
{
    if (!g->job.webhook_url)
        return NULL;
    const struct ig_gen_error *e = &g->error;
    int failed = g->state == IG_GEN_FAILED;
    const struct ig_stored *s = g->job.stored;
    struct ig_buf result;
    ig_buf_init(&result, (size_t)64 << 20);
    if (!failed && s && s->items.len &&
        (ig_buf_append(&result, s->items.data, s->items.len) || ig_buf_puts(&result, "]}")))
        ig_buf_release(&result);
    char *event =
        ig_webhook_job_event(g->job.id, end_status(g), generation_id,
                             result.len ? result.data : NULL, failed ? e->code : NULL,
                             failed ? e->message : NULL, failed ? e->param : NULL, ig_unix_ms());
    ig_buf_release(&result);
    return event;
}

int ig_generation_job_end_tx(struct ig_store_tx *tx, void *ud)
{
    struct ig_generation *g = ud;
    char *err = error_json(g);
    char *payload = event_of(g, g->id);
    struct ig_job_event event = {ig_webhook_job_event_type(end_status(g)), payload};
    int64_t balance = 0;
    int rc = ig_job_end_tx(tx, g->job.id, g->job.owner, end_status(g), g->id, err, job_charge(g),
                           &event, ig_unix_ms(), &balance);
    free(payload);
    free(err);
    if (rc == IG_ENOTFOUND)
        g->job.lost = 1; /* another runner has it: this record is not written */
    else if (rc == 0)
        g->acct.balance = balance;
    return rc;
}

struct end_work {
    uv_work_t work;
    struct ig_generation *g;
    int rc;
};

static int end_body(struct ig_store_tx *tx, void *ud)
{
    struct ig_generation *g = ud;
    char *err = g->job.requeue ? NULL : error_json(g);
    char *payload = g->job.requeue ? NULL : event_of(g, NULL);
    struct ig_job_event event = {ig_webhook_job_event_type(end_status(g)), payload};
    int rc = ig_job_end_tx(tx, g->job.id, g->job.owner, g->job.requeue ? "queued" : end_status(g),
                           NULL, err, 0, &event, ig_unix_ms(), NULL);
    free(payload);
    free(err);
    return rc;
}

static void end_run(uv_work_t *w)
{
    struct end_work *j = w->data;
    j->rc = ig_store_transact(j->g->pipeline->store, end_body, j->g);
}

static void end_done(uv_work_t *w, int status)
{
    (void)status;
    struct end_work *j = w->data;
    struct ig_generation *g = j->g;
    if (j->rc == 0) {
        g->job.ended = !g->job.requeue;
        if (g->job.ended && g->job.held)
            ig_balances_forget_all(g->pipeline->balances); /* its hold came back */
    } else if (j->rc == IG_ENOTFOUND) {
        g->job.lost = 1;
    } else {
        /* Its lease passes and it is run again: nothing is lost. */
        ig_error("job %s: its end cannot be written: %s", g->job.id, ig_strerror(j->rc));
    }
    free(j);
    ig_generation_resume(g);
}

enum ig_stage_rc ig_stage_job(struct ig_generation *g)
{
    if (g->job.mode != IG_GEN_JOB)
        return IG_STAGE_NEXT;
    if (g->job.ended) {
        if (g->job.held)
            ig_balances_forget_all(g->pipeline->balances); /* its hold came back */
        return IG_STAGE_NEXT;
    }
    if (g->job.lost)
        return IG_STAGE_NEXT;
    /* It could not start here (admission, the store, no capacity): back to
     * the queue, to be run again. What it could never do fails it. */
    g->job.requeue = !g->dispatched && g->state == IG_GEN_FAILED &&
                     g->error.kind == IG_GERR_UNAVAILABLE && !g->refused;
    struct end_work *j = calloc(1, sizeof *j);
    if (!j)
        return IG_STAGE_NEXT; /* its lease passes and it runs again */
    j->g = g;
    j->work.data = j;
    if (uv_queue_work(g->worker->loop, &j->work, end_run, end_done)) {
        free(j);
        return IG_STAGE_NEXT;
    }
    return IG_STAGE_PARKED;
}

/* ---- the provider's job ---- */

struct upstream_note {
    uv_work_t work;
    struct ig_store *store;
    char id[48];
    char owner[48];
    char *json;
};

static void note_run(uv_work_t *w)
{
    struct upstream_note *n = w->data;
    int rc = ig_store_job_set_upstream(n->store, n->id, n->owner, n->json);
    if (rc && rc != IG_ENOTFOUND)
        ig_warn("job %s: its provider job cannot be kept: %s", n->id, ig_strerror(rc));
}

static void note_done(uv_work_t *w, int status)
{
    (void)status;
    struct upstream_note *n = w->data;
    free(n->json);
    free(n);
}

/* The dispatcher's hook: keeps the provider's job (its deployment and
 * poll URL) with the job, on the pool; nobody waits for it. */
static void note_upstream(void *ud, const struct ig_deployment *dep, const char *poll_url)
{
    struct ig_generation *g = ud;
    struct upstream_note *n = calloc(1, sizeof *n);
    if (!n)
        return;
    struct ig_buf b;
    ig_buf_init(&b, 16384);
    struct ig_jw w;
    ig_jw_begin(&w, &b);
    ig_jw_str(&w, "provider", dep->provider);
    ig_jw_str(&w, "model", dep->model);
    ig_jw_str(&w, "api_base", dep->api_base);
    ig_jw_str(&w, "poll_url", poll_url);
    if (ig_jw_end(&w)) {
        ig_buf_release(&b);
        free(n);
        return;
    }
    n->json = ig_buf_detach(&b, NULL);
    n->store = g->pipeline->store;
    ig_strlcpy(n->id, g->job.id, sizeof n->id);
    ig_strlcpy(n->owner, g->job.owner, sizeof n->owner);
    n->work.data = n;
    if (uv_queue_work(g->worker->loop, &n->work, note_run, note_done)) {
        free(n->json);
        free(n);
    }
}

struct progress_note {
    uv_work_t work;
    struct ig_store *store;
    char id[48];
    char owner[48];
    char json[96];
};

static void progress_run(uv_work_t *w)
{
    struct progress_note *n = w->data;
    int rc = ig_store_job_set_progress(n->store, n->id, n->owner, n->json);
    if (rc && rc != IG_ENOTFOUND)
        ig_warn("job %s: its progress cannot be kept: %s", n->id, ig_strerror(rc));
}

static void progress_done(uv_work_t *w, int status)
{
    (void)status;
    free(w->data);
}

/* The dispatcher's hook at each poll: what the provider says of its job,
 * kept with the job when it changed (on the pool; nobody waits). */
static void note_progress(void *ud, int queue_position, int percent)
{
    struct ig_generation *g = ud;
    if (queue_position == g->job.queue_position && percent == g->job.percent)
        return;
    g->job.queue_position = queue_position;
    g->job.percent = percent;
    struct progress_note *n = calloc(1, sizeof *n);
    if (!n)
        return;
    char qp[16] = "null", pc[16] = "null";
    if (queue_position >= 0)
        snprintf(qp, sizeof qp, "%d", queue_position);
    if (percent >= 0)
        snprintf(pc, sizeof pc, "%d", percent);
    snprintf(n->json, sizeof n->json, "{\"queue_position\":%s,\"percent\":%s}", qp, pc);
    n->store = g->pipeline->store;
    ig_strlcpy(n->id, g->job.id, sizeof n->id);
    ig_strlcpy(n->owner, g->job.owner, sizeof n->owner);
    n->work.data = n;
    if (uv_queue_work(g->worker->loop, &n->work, progress_run, progress_done))
        free(n);
}

void ig_generation_job_dispatch(struct ig_generation *g, struct ig_dispatch_options *opts)
{
    if (g->job.mode != IG_GEN_JOB)
        return;
    opts->on_upstream_job = note_upstream;
    opts->upstream_job_ud = g;
    g->job.queue_position = g->job.percent = -2; /* nothing said yet */
    opts->on_progress = note_progress;
    opts->progress_ud = g;
    opts->resume_dep = g->job.resume_dep;
    opts->resume_url = g->job.resume_url;
    opts->deadline_ms = (long)g->pipeline->cfg->jobs_deadline_ms;
}
