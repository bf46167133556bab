/* jobs.c — the rules of durable jobs; see jobs.h. */
#include "store/jobs.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

struct submit_args {
    struct ig_job_submission *subs;
    size_t n;
};

static int needs_hold(const struct ig_job_submission *sub)
{
    return sub->hold && (sub->hold->hold.amount > 0 || sub->hold->hold.nbudgets > 0);
}

static int submit_body(struct ig_store_tx *tx, void *ud)
{
    struct submit_args *a = ud;
    struct ig_hold_request *stack[64], **holds = stack;
    if (a->n > 64 && !(holds = calloc(a->n, sizeof *holds)))
        return IG_ENOMEM;
    size_t nholds = 0;
    for (size_t i = 0; i < a->n; i++)
        if (needs_hold(&a->subs[i]))
            holds[nholds++] = a->subs[i].hold;
    /* The holds together (one balance move per account), then the jobs
     * whose holds were granted. */
    int rc = nholds ? ig_ledger_tx_hold_many(tx, holds, nholds, a->subs[0].job->created_ms) : 0;
    for (size_t i = 0; rc == 0 && i < a->n; i++) {
        struct ig_job_submission *sub = &a->subs[i];
        sub->rc = needs_hold(sub) ? sub->hold->rc : 0;
        if (sub->rc == 0)
            rc = ig_store_tx_job_insert(tx, sub->job); /* its hold is written: all or nothing */
    }
    if (holds != stack)
        free(holds);
    return rc;
}

int ig_job_submit_many(struct ig_store *s, struct ig_job_submission *subs, size_t n)
{
    struct submit_args a = {subs, n};
    int rc = ig_store_transact(s, submit_body, &a);
    for (size_t i = 0; rc && i < n; i++)
        subs[i].rc = rc;
    return rc;
}

int ig_job_submit(struct ig_store *s, const struct ig_job_record *j, struct ig_hold_request *r)
{
    struct ig_job_submission sub = {j, r, 0};
    int rc = ig_job_submit_many(s, &sub, 1);
    return rc ? rc : sub.rc;
}

/* A delivery of event to j's webhook, in the transaction of j's end. */
static int enqueue_event(struct ig_store_tx *tx, const struct ig_job_record *j,
                         const struct ig_job_event *event, int64_t now_ms)
{
    struct ig_webhook_record w = {.created_ms = now_ms};
    if (ig_time_ordered_id("msg_", (uint64_t)now_ms, w.id, sizeof w.id))
        return IG_ENOMEM;
    ig_strlcpy(w.account_id, j->account_id, sizeof w.account_id);
    ig_strlcpy(w.event_type, event->type, sizeof w.event_type);
    ig_strlcpy(w.job_id, j->id, sizeof w.job_id);
    return ig_store_tx_webhook_enqueue(tx, &w, j->webhook_url, event->payload);
}

int ig_job_end_tx(struct ig_store_tx *tx, const char *id, const char *owner, const char *status,
                  const char *generation_id, const char *error, int64_t charge,
                  const struct ig_job_event *event, int64_t now_ms, int64_t *balance)
{
    struct ig_job_record j;
    int rc = ig_store_tx_job_find(tx, id, &j);
    if (rc)
        return rc;
    rc = ig_store_tx_job_end(tx, id, owner, status, generation_id, error, now_ms);
    int requeued = strcmp(status, "queued") == 0; /* its hold stays for the next run */
    if (rc == 0 && !requeued && (j.hold_id[0] || charge > 0))
        rc = ig_ledger_settle(tx, j.account_id, j.hold_id, generation_id, charge, now_ms, balance);
    if (rc == 0 && !requeued && event && event->payload && j.webhook_url)
        rc = enqueue_event(tx, &j, event, now_ms);
    ig_job_record_release(&j);
    return rc;
}

struct cancel_args {
    const char *account_id, *id, *error;
    const struct ig_job_event *event;
    int64_t now_ms;
    enum ig_job_cancel_result result;
    struct ig_job_record *out;
};

static int cancel_body(struct ig_store_tx *tx, void *ud)
{
    struct cancel_args *a = ud;
    int rc = ig_store_tx_job_find(tx, a->id, a->out);
    if (rc == 0 && strcmp(a->out->account_id, a->account_id) != 0)
        rc = IG_ENOTFOUND; /* another account's is as unknown as none */
    if (rc)
        return rc;
    if (strcmp(a->out->status, "queued") == 0) {
        rc = ig_job_end_tx(tx, a->id, NULL, "canceled", NULL, a->error, 0, a->event, a->now_ms,
                           NULL);
        a->result = IG_JOB_CANCELED;
    } else if (strcmp(a->out->status, "running") == 0) {
        rc = ig_store_tx_job_request_cancel(tx, a->id);
        a->result = IG_JOB_CANCELING;
    } else {
        a->result = IG_JOB_FINISHED;
        return 0;
    }
    ig_job_record_release(a->out);
    return rc ? rc : ig_store_tx_job_find(tx, a->id, a->out);
}

int ig_job_cancel(struct ig_store *s, const char *account_id, const char *id, int64_t now_ms,
                  const char *error, const struct ig_job_event *event,
                  enum ig_job_cancel_result *result, struct ig_job_record *out)
{
    struct cancel_args a = {account_id, id, error, event, now_ms, IG_JOB_FINISHED, out};
    memset(out, 0, sizeof *out);
    int rc = ig_store_transact(s, cancel_body, &a);
    if (rc)
        ig_job_record_release(out); /* what the rolled-back body read */
    *result = a.result;
    return rc;
}
