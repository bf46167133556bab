/* jobs.h — the rules of durable jobs, built on store.h's transactions
 * and the ledger's holds: a job and its hold are committed together or
 * not at all; a job ends once, and its hold is settled in the same
 * transaction as its end; a queued job canceled releases its hold. */
#ifndef IG_STORE_JOBS_H
#define IG_STORE_JOBS_H

#include "store/ledger.h"
#include "store/store.h"

/* Commits j (queued) with its hold r (r->hold.amount 0 and no budgets:
 * none): 0; r->rc (IG_EFUNDS, IG_EBUDGET, IG_ENOTFOUND) when the hold is
 * refused, with nothing written; IG_EEXISTS for a taken id; IG_EDB. */
int ig_job_submit(struct ig_store *s, const struct ig_job_record *j, struct ig_hold_request *r);

/* One job of a batch of submissions, and its answer (as ig_job_submit's). */
struct ig_job_submission {
    const struct ig_job_record *job;
    struct ig_hold_request *hold; /* NULL, or amount 0 and no budgets: none */
    int rc;
};

/* Commits n submissions in one transaction (a group commit: the pipeline
 * sends the submissions that arrive while one is committed together), in
 * order, each job with its hold: a refused hold refuses its job alone
 * (its rc), the others go on. When the transaction itself fails every rc
 * is its error. Returns 0 or that error. */
int ig_job_submit_many(struct ig_store *s, struct ig_job_submission *subs, size_t n);

/* What a job's end tells its webhook, when it has one (core/webhook.h
 * writes it): a delivery of it is written with the end. */
struct ig_job_event {
    const char *type; /* image.generation.succeeded, … */
    const char *payload;
};

/* Inside a transaction (the job's generation write): ends job id, which
 * owner runs, as status (succeeded, failed, canceled), recording its
 * generation and error (JSON, may be NULL), and settles its hold for
 * charge; *balance gets the account's balance after. With event (may be
 * NULL) and a webhook_url on the job, a delivery of event is written too.
 * Status queued puts it back for another run instead, its hold kept.
 * IG_ENOTFOUND when
 * owner no longer runs it (its lease passed and another took it): then
 * nothing may be written. */
int ig_job_end_tx(struct ig_store_tx *tx, const char *id, const char *owner, const char *status,
                  const char *generation_id, const char *error, int64_t charge,
                  const struct ig_job_event *event, int64_t now_ms, int64_t *balance);

/* What asking to cancel a job did. */
enum ig_job_cancel_result {
    IG_JOB_CANCELED,  /* it was queued: canceled now, its hold released */
    IG_JOB_CANCELING, /* it runs: its runner was asked to stop it */
    IG_JOB_FINISHED,  /* it had ended already: nothing changed */
};

/* Cancels account_id's job id (see the results), a queued one with error
 * and its webhook's event; *out gets the job as it now is. IG_ENOTFOUND
 * when the account has no such job. */
int ig_job_cancel(struct ig_store *s, const char *account_id, const char *id, int64_t now_ms,
                  const char *error, const struct ig_job_event *event,
                  enum ig_job_cancel_result *result, struct ig_job_record *out);

#endif
