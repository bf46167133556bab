/* store.h — the durable state behind one interface.
 *
 * Callers see only struct ig_store and its functions; the backend (SQLite
 * now, PostgreSQL later) sits behind the ops table. Every call blocks, so
 * callers on an event loop run them on the thread pool. All calls are
 * thread-safe. Strings in records are NUL-terminated copies owned by the
 * record. */
#ifndef IG_STORE_H
#define IG_STORE_H

#include <stddef.h>
#include <stdint.h>

#define IG_ID_MAX 48

enum ig_scope {
    IG_SCOPE_GENERATE = 1u << 0, /* images, models, files */
    IG_SCOPE_ADMIN = 1u << 1,    /* /admin/ */
};

/* The operator's own account: it owns the bootstrap admin key (and every
 * key made before accounts existed); it is charged but never refused. */
#define IG_OPERATOR_ACCOUNT "acct_operator"

/* A setting that is not set: a key's limit is then its tier's default, a
 * budget absent. */
#define IG_UNSET (-1)
/* In a patch: leave the setting as it is. */
#define IG_UNCHANGED INT64_MIN

/* Spending caps in millicredits per UTC day and month (IG_UNSET: none). */
struct ig_budgets {
    int64_t day, month;
};

/* A key's own rate limits (IG_UNSET: its tier's default). */
struct ig_key_limits {
    int64_t requests_per_minute, images_per_minute, concurrent;
};

/* An account (a tenant): it owns keys and credits. Amounts are integers
 * in millicredits (1 credit = 1000). */
struct ig_account_record {
    char id[IG_ID_MAX];
    char name[128];
    char tier[32];
    int64_t balance; /* = the sum of its ledger entries */
    int metered;     /* 0: charged but never refused (the operator's own) */
    int64_t created_at;
    struct ig_budgets budgets;
    int64_t held; /* open holds (read by account_find only) */
};

/* What PATCH changes of an account: NULL strings and IG_UNCHANGED numbers
 * stay as they are; IG_UNSET removes a budget. */
struct ig_account_patch {
    const char *name, *tier;
    struct ig_budgets budgets;
};

/* What PATCH changes of a key: tier NULL stays, "" returns to the
 * account's; numbers as in ig_account_patch (IG_UNSET: back to the tier's
 * default, or no budget). */
struct ig_key_patch {
    const char *tier;
    struct ig_key_limits limits;
    struct ig_budgets budgets;
};

enum ig_ledger_kind {
    IG_LEDGER_GRANT,
    IG_LEDGER_HOLD,
    IG_LEDGER_CHARGE,
    IG_LEDGER_RELEASE,
    IG_LEDGER_REFUND,
    IG_LEDGER_ADJUST,
};

/* One append-only ledger entry; strings may be NULL (not for account_id). */
struct ig_ledger_entry {
    const char *account_id;
    enum ig_ledger_kind kind;
    int64_t amount; /* signed millicredits: what it adds to the balance */
    const char *hold_id;
    const char *generation_id;
    const char *reason;
    int64_t created_ms;
};

/* A budget a hold counts against: what subject ("key:ID", "account:ID")
 * may spend in period ("2026-12-06", "2026-12"; UTC). */
struct ig_budget_use {
    char subject[IG_ID_MAX + 8];
    char period[12];
    int64_t limit;
};

#define IG_HOLD_BUDGETS 4

/* Credits set aside for a generation before it is dispatched, counted
 * against budgets too (its settlement moves them by what was charged). */
struct ig_hold_record {
    char id[IG_ID_MAX];
    char account_id[IG_ID_MAX];
    char generation_id[IG_ID_MAX];
    int64_t amount;
    int64_t created_ms;
    struct ig_budget_use budgets[IG_HOLD_BUDGETS];
    int nbudgets;
};

/* A budget as it stands in a period. */
struct ig_budget_state {
    const char *subject, *period;
    int64_t limit, spent;
};

/* One record of a budget crossing a threshold. */
struct ig_budget_alert {
    char account_id[IG_ID_MAX];
    char subject[IG_ID_MAX + 8];
    char period[12];
    int threshold; /* percent: 50, 80 or 100 */
    int64_t spent, budget, created_ms;
};

/* An entry of the audit trail (admin actions, safety decisions); strings
 * may be NULL except action. detail is JSON text. */
struct ig_audit_record {
    int64_t seq; /* assigned when appended */
    int64_t created_ms;
    const char *actor, *account_id, *action, *target, *detail;
};

/* Which entries: newest first, older than before_seq (0: from the newest);
 * account_id NULL: every account's. */
struct ig_audit_query {
    const char *account_id;
    const char *action; /* NULL: every action */
    int64_t before_seq;
    int limit;
};

/* An Idempotency-Key's claim (api/idempotency.c). */
struct ig_idem_claim {
    const char *account_id, *key;
    uint8_t request_hash[32];
    int64_t now_ms, lock_ms, ttl_ms; /* a running claim is abandoned after lock_ms */
};

/* What an existing claim holds; body and the strings are the caller's to
 * free (ig_idem_found_release). */
struct ig_idem_found {
    uint8_t request_hash[32];
    int done; /* 0: still running */
    int status;
    char *content_type, *headers;
    char *body;
    size_t body_len;
};

/* An account's own key for a provider, sealed (store/byok.h). */
struct ig_byok_record {
    char account_id[IG_ID_MAX];
    char provider[32];
    char last4[8];
    int64_t created_at; /* unix seconds */
    const uint8_t *sealed;
    size_t sealed_len;
};

/* A durable job (store/jobs.h has its rules). Strings marked owned are
 * malloc'd (ig_job_record_release); the rest are arrays. */
struct ig_job_record {
    char id[IG_ID_MAX];
    char account_id[IG_ID_MAX];
    char key_id[IG_ID_MAX];
    char status[12]; /* queued, running, succeeded, failed, canceled */
    char *request;   /* owned: the generation body as submitted */
    char base_url[300];
    char request_id[72];
    char *webhook_url; /* owned; NULL: none */
    char hold_id[IG_ID_MAX];
    int64_t held;
    int64_t created_ms, started_ms, finished_ms; /* 0: not yet */
    char lease_owner[48];
    int64_t lease_expires_ms;
    int attempts;
    char *upstream; /* owned; NULL: no upstream job known */
    int cancel_requested;
    char generation_id[IG_ID_MAX];
    char *error; /* owned: the OpenAI error object (JSON); NULL: none */
    char batch_id[IG_ID_MAX];
    int batch_index; /* its place in its batch's requests */
    char *progress;  /* owned: {"queue_position","percent"} as the provider said; NULL */
};

/* A batch of jobs (POST /v1/images/batch). */
struct ig_batch_record {
    char id[IG_ID_MAX];
    char account_id[IG_ID_MAX];
    int max_concurrency; /* of its jobs running at once */
    int total;           /* requests in it */
    char *rejected;      /* owned when read: [{index, error}] of those that never became jobs */
    int64_t created_ms;
};

/* Which jobs: one account's, newest first, older than the cursor job
 * (before_created_ms, before_id; 0/"" from the newest); status NULL: any. */
struct ig_job_query {
    const char *account_id;
    const char *status;
    const char *batch_id; /* NULL: any */
    int64_t before_created_ms;
    const char *before_id;
    int limit;
};

/* A webhook delivery (one event to one URL, every attempt of it). */
struct ig_webhook_record {
    char id[IG_ID_MAX]; /* msg_…, the webhook-id header */
    char account_id[IG_ID_MAX];
    char event_type[48];
    char *url;       /* owned when read */
    char *payload;   /* owned when read: the body, the same on every attempt */
    char status[12]; /* pending, delivered, failed, disabled */
    int attempts;
    int64_t next_attempt_ms;
    int last_status; /* 0: no answer */
    char last_error[256];
    int64_t created_ms, finished_ms;
    char job_id[IG_ID_MAX];
};

/* What an attempt at a delivery came to. */
struct ig_webhook_attempt {
    const char *status; /* delivered, failed, pending (again at next_attempt_ms) */
    int64_t next_attempt_ms;
    int last_status;
    const char *last_error;
    int64_t now_ms;
};

struct ig_key_record {
    char id[IG_ID_MAX];
    char account_id[IG_ID_MAX];
    char tier[32];     /* when read: its own tier, else its account's */
    char own_tier[32]; /* its own ("" : its account's) */
    int metered;       /* its account's */
    struct ig_key_limits limits;
    struct ig_budgets budgets, account_budgets;
    int has_byok; /* its account has keys of its own (when read) */
    char name[128];
    char prefix[16]; /* the first characters of the key, for people to recognise it */
    uint8_t hash[32];
    unsigned scopes;
    int64_t created_at; /* unix seconds */
    int64_t revoked_at; /* 0 when live */
};

struct ig_image_record {
    int index;
    char sha256[65];
    char format[8];
    int width, height;
    int64_t bytes;
    int64_t seed;
};

struct ig_generation_record {
    char id[IG_ID_MAX];
    char key_id[IG_ID_MAX];
    char account_id[IG_ID_MAX];
    int64_t cost; /* millicredits charged */
    char request_id[72];
    char model[128];
    char provider[32];
    const char *prompt;
    const char *params_json; /* the normalized request */
    int n;
    int width, height;
    const char *status; /* "succeeded" or "failed" */
    const char *error;  /* NULL on success */
    int64_t created_ms;
    int64_t completed_ms;
    int64_t latency_us;
};

/* One generation as its account's history shows it; the strings are
 * borrowed for the callback only. images_json is [{"sha256", "format",
 * "seed"}, …] in image order. */
struct ig_history_row {
    const char *id, *model, *provider, *prompt, *params_json, *status, *error, *images_json;
    int n, width, height;
    int64_t created_ms, completed_ms, latency_us, cost;
};

/* Which history: one account's, newest first; NULL fields match all. */
struct ig_history_query {
    const char *account_id; /* required: an account sees its own only */
    const char *id;         /* one generation */
    const char *before_id;  /* a page's cursor: older than this id */
    const char *model, *status;
    int limit;
};

/* An account's usage over [from_ms, to_ms), in groups. */
enum ig_usage_group { IG_USAGE_ALL, IG_USAGE_MODEL, IG_USAGE_DAY, IG_USAGE_KEY, IG_USAGE_ACCOUNT };

struct ig_usage_row {
    const char *group; /* the model, the day (YYYY-MM-DD, UTC), the key or account id, or "all" */
    int64_t generations, images, failed, cost;
    int64_t p50_latency_us, p95_latency_us;
};

struct ig_store;

/* A transaction in progress: handed to the body of ig_store_transact, and
 * to a generation write's also (the settlement of its hold, its ledger
 * entries), which then commit together or not at all. Valid only during
 * the call it is passed to; its operations are the ig_store_tx_* calls. */
struct ig_store_tx {
    struct ig_store *store;
};

/* What a recorded generation costs its account, charged with its record.
 * The charges of one transaction are applied together (store/ledger.h:
 * ig_ledger_charge_writes): per account one balance move and one ledger
 * entry, per budget and period one move of its spend. */
struct ig_charge {
    const char *account_id;
    int64_t amount; /* millicredits, 0 or more */
    const struct ig_budget_use *budgets;
    int nbudgets;
    /* Set when the write succeeded: */
    int64_t balance;                /* the account's balance after */
    int64_t spent[IG_HOLD_BUDGETS]; /* each budget's spend after */
};

/* One generation to record and its images; rc is the store's answer for
 * this one. also, when set, runs inside the same transaction right after
 * the generation's rows: what it writes commits with them or not at all,
 * and a nonzero return refuses this write (it then fails alone, like a
 * refused row, and is tried again on its own, so also may run twice). */
struct ig_generation_write {
    const struct ig_generation_record *g;
    const struct ig_image_record *images;
    size_t nimages;
    int (*also)(struct ig_store_tx *tx, void *ud);
    void *also_ud;
    struct ig_charge *charge; /* NULL: nothing to charge */
    int rc;
};

struct ig_store_ops {
    int (*key_insert)(struct ig_store *s, const struct ig_key_record *k);
    /* 0 and *out filled, or IG_ENOTFOUND. Revoked keys are found too. */
    int (*key_find_by_hash)(struct ig_store *s, const uint8_t hash[32], struct ig_key_record *out);
    int (*key_find_by_id)(struct ig_store *s, const char *id, struct ig_key_record *out);
    /* Replaces the hash and scopes of an existing key id (the env admin key). */
    int (*key_update_hash)(struct ig_store *s, const char *id, const uint8_t hash[32],
                           const char *prefix, unsigned scopes);
    /* Calls cb for each key, oldest first; a non-zero return stops. */
    int (*key_list)(struct ig_store *s, int (*cb)(const struct ig_key_record *, void *), void *ud);
    /* Records n finished generations, each with its images (and their
     * blobs) all or nothing: w[i].rc is 0 or why that one failed (a bad
     * one fails alone). Returns 0 when all are recorded, else the first
     * failure. Concurrent calls may share a transaction (SQLite: group
     * commit), so recording costs less per generation under load. */
    int (*generation_insert)(struct ig_store *s, struct ig_generation_write *w, size_t n);
    int (*generation_count)(struct ig_store *s, int64_t *out);
    /* 1 when the blob is recorded, 0 when not, or a negative error. */
    int (*blob_known)(struct ig_store *s, const char *sha256);
    int (*ping)(struct ig_store *s);

    /* Runs body inside one transaction: what it does through tx commits
     * when it returns 0 and is rolled back otherwise. Returns body's
     * nonzero return, or IG_EDB when the transaction itself failed. What
     * body reads stays true until it returns (no other writer comes
     * between), so a check and the write it guards are one step. body
     * must not call the store's other (non-tx) operations. */
    int (*transact)(struct ig_store *s, int (*body)(struct ig_store_tx *tx, void *ud), void *ud);
    /* The operations of a transaction. */
    int (*tx_key_find_by_id)(struct ig_store_tx *tx, const char *id, struct ig_key_record *out);
    /* 0, or IG_ENOTFOUND when no live key has that id. */
    int (*tx_key_revoke)(struct ig_store_tx *tx, const char *id, int64_t now);
    /* The number of live keys that have scope (one IG_SCOPE_* bit). */
    int (*tx_key_count_live)(struct ig_store_tx *tx, unsigned scope, int64_t *out);
    /* IG_EEXISTS when the id (or the key's hash) is taken. */
    int (*tx_key_insert)(struct ig_store_tx *tx, const struct ig_key_record *k);
    int (*tx_account_insert)(struct ig_store_tx *tx, const struct ig_account_record *a);
    int (*tx_account_find)(struct ig_store_tx *tx, const char *id, struct ig_account_record *out);
    /* An account's balance and whether it is metered, alone (account_find
     * also sums its open holds). IG_ENOTFOUND. */
    int (*tx_account_balance)(struct ig_store_tx *tx, const char *id, int64_t *balance,
                              int *metered);
    /* Appends e and moves its account's balance by e->amount, together;
     * *balance (may be NULL) gets the balance after. covered: only when a
     * metered account stays at or above zero, else IG_EFUNDS (nothing
     * written; *balance the balance as it is). */
    int (*tx_ledger_append)(struct ig_store_tx *tx, const struct ig_ledger_entry *e, int covered,
                            int64_t *balance);
    int (*tx_ledger_sum)(struct ig_store_tx *tx, const char *account_id, int64_t *out);
    int (*tx_hold_insert)(struct ig_store_tx *tx, const struct ig_hold_record *h);
    /* Closes the open hold id; *out gets it. IG_ENOTFOUND when none is open. */
    int (*tx_hold_close)(struct ig_store_tx *tx, const char *id, int64_t now_ms,
                         struct ig_hold_record *out);
    /* The oldest hold still open made before before_ms that is not a
     * job's (a job's hold lives until the job ends); IG_ENOTFOUND. */
    int (*tx_hold_oldest_open)(struct ig_store_tx *tx, int64_t before_ms,
                               struct ig_hold_record *out);

    /* Outside transactions. */
    /* Calls cb for each generation q matches, newest first, at most
     * q->limit; a nonzero return stops. 0 (also when none matched). */
    int (*generation_history)(struct ig_store *s, const struct ig_history_query *q,
                              int (*cb)(const struct ig_history_row *, void *), void *ud);
    /* Calls cb for each group of account_id's generations (NULL: every
     * account's) made in [from_ms, to_ms), in group order. 0 (also when
     * there were none). */
    int (*usage)(struct ig_store *s, const char *account_id, int64_t from_ms, int64_t to_ms,
                 enum ig_usage_group by, int (*cb)(const struct ig_usage_row *, void *), void *ud);
    int (*account_find)(struct ig_store *s, const char *id, struct ig_account_record *out);
    int (*account_list)(struct ig_store *s, int (*cb)(const struct ig_account_record *, void *),
                        void *ud);
    /* Applies p to account id; *out gets it as it now is. IG_ENOTFOUND. */
    int (*account_update)(struct ig_store *s, const char *id, const struct ig_account_patch *p,
                          struct ig_account_record *out);
    /* Applies p to key id; *out gets it as it now is. IG_ENOTFOUND. */
    int (*key_update)(struct ig_store *s, const char *id, const struct ig_key_patch *p,
                      struct ig_key_record *out);

    /* Budgets. Inside a transaction: adds delta to what subject has spent
     * in period unless that would pass limit (limit < 0: no limit; then
     * IG_EBUDGET and nothing changes); *spent gets the sum after (or as it
     * is, when refused). */
    int (*tx_budget_add)(struct ig_store_tx *tx, const char *subject, const char *period,
                         int64_t delta, int64_t limit, int64_t *spent);
    /* What subject has spent in period (0 when nothing), in a transaction. */
    int (*tx_budget_spent)(struct ig_store_tx *tx, const char *subject, const char *period,
                           int64_t *out);
    /* Records a, unless its subject, period and threshold are recorded
     * already; *added (may be NULL) says which. */
    int (*tx_budget_alert)(struct ig_store_tx *tx, const struct ig_budget_alert *a, int *added);
    /* What subject has spent in period (0 when nothing). */
    int (*budget_spent)(struct ig_store *s, const char *subject, const char *period, int64_t *out);
    /* account_id's alerts made at or after since_ms, oldest first. */
    int (*budget_alerts)(struct ig_store *s, const char *account_id, int64_t since_ms,
                         int (*cb)(const struct ig_budget_alert *, void *), void *ud);

    /* The audit trail: append-only. */
    int (*audit_append)(struct ig_store *s, const struct ig_audit_record *r);
    int (*audit_list)(struct ig_store *s, const struct ig_audit_query *q,
                      int (*cb)(const struct ig_audit_record *, void *), void *ud);

    /* BYOK keys, sealed by the caller (store/byok.h). put replaces the
     * account's key for the provider; delete answers IG_ENOTFOUND when
     * there is none; list gives one account's (account_id NULL: none). */
    int (*byok_put)(struct ig_store *s, const struct ig_byok_record *r);
    int (*byok_delete)(struct ig_store *s, const char *account_id, const char *provider);
    int (*byok_list)(struct ig_store *s, const char *account_id,
                     int (*cb)(const struct ig_byok_record *, void *), void *ud);

    /* Idempotency-Key. claim: 0 when (account, key) was free, expired or
     * abandoned and is now this request's; IG_EEXISTS with *out when
     * another holds it. finish: records the answer (status 0: forgets
     * the claim instead, so the key may be used again). */
    int (*idem_claim)(struct ig_store *s, const struct ig_idem_claim *c, struct ig_idem_found *out);
    int (*idem_finish)(struct ig_store *s, const char *account_id, const char *key, int status,
                       const char *content_type, const char *headers, const char *body,
                       size_t body_len);

    /* Jobs. Inside a transaction: insert (IG_EEXISTS for a taken id);
     * find (IG_ENOTFOUND); end: moves job id to status (succeeded,
     * failed or canceled; queued puts it back for another run) with its
     * generation and error, only while it is
     * running under owner's lease (owner NULL: only while queued), else
     * IG_ENOTFOUND and nothing changes; request_cancel marks a running
     * job for its runner to cancel. */
    int (*tx_job_insert)(struct ig_store_tx *tx, const struct ig_job_record *j);
    int (*tx_job_find)(struct ig_store_tx *tx, const char *id, struct ig_job_record *out);
    int (*tx_job_end)(struct ig_store_tx *tx, const char *id, const char *owner, const char *status,
                      const char *generation_id, const char *error, int64_t now_ms);
    int (*tx_job_request_cancel)(struct ig_store_tx *tx, const char *id);
    /* Outside transactions. find: account_id NULL finds any account's. */
    int (*job_find)(struct ig_store *s, const char *account_id, const char *id,
                    struct ig_job_record *out);
    /* Calls cb for each job q matches, newest first, at most q->limit. */
    int (*job_list)(struct ig_store *s, const struct ig_job_query *q,
                    int (*cb)(const struct ig_job_record *, void *), void *ud);
    /* Claims at most max due jobs for owner, in one step (two runners
     * never claim the same job): queued ones oldest first (a batch's only
     * while fewer than its max_concurrency run), and running ones whose
     * lease passed before now_ms (their runner died); each
     * becomes running with a lease until now_ms + lease_ms and one more
     * attempt, and is passed to cb. 0 (also when none was due). */
    int (*job_claim)(struct ig_store *s, const char *owner, int64_t now_ms, int64_t lease_ms,
                     int max, int (*cb)(const struct ig_job_record *, void *), void *ud);
    /* Extends the lease of every job owner runs to until_ms; calls cb
     * (may be NULL) with the id of each whose cancel was requested. */
    int (*job_renew)(struct ig_store *s, const char *owner, int64_t until_ms,
                     int (*cb)(const char *id, void *), void *ud);
    /* Records the upstream job of a job owner runs (JSON text). */
    int (*job_set_upstream)(struct ig_store *s, const char *id, const char *owner,
                            const char *upstream);
    /* Records what the provider says of a job owner runs (JSON text). */
    int (*job_set_progress)(struct ig_store *s, const char *id, const char *owner,
                            const char *progress);

    /* Webhooks. tx_webhook_enqueue: a pending delivery of payload to url
     * (w's own are ignored), due at its created_ms, written with the
     * event it tells of. */
    int (*tx_webhook_enqueue)(struct ig_store_tx *tx, const struct ig_webhook_record *w,
                              const char *url, const char *payload);
    /* Claims at most max due deliveries for owner until now_ms + lease_ms,
     * as job_claim does; those to an endpoint disabled since they were
     * written become disabled instead. */
    int (*webhook_claim)(struct ig_store *s, const char *owner, int64_t now_ms, int64_t lease_ms,
                         int max, int (*cb)(const struct ig_webhook_record *, void *), void *ud);
    /* When the next pending delivery is due (*ms 0: none is pending). */
    int (*webhook_next_due)(struct ig_store *s, int64_t *ms);
    /* Records an attempt of delivery id, which owner holds (IG_ENOTFOUND
     * when it does not). */
    int (*webhook_attempted)(struct ig_store *s, const char *id, const char *owner,
                             const struct ig_webhook_attempt *a);
    /* Disables account_id's endpoint url (it answered 410): its pending
     * deliveries are not attempted. */
    int (*webhook_disable_endpoint)(struct ig_store *s, const char *account_id, const char *url,
                                    int64_t now_ms);
    /* account_id's deliveries, newest first, older than before_id ("":
     * from the newest), at most limit. */
    int (*webhook_list)(struct ig_store *s, const char *account_id, const char *before_id,
                        int limit, int (*cb)(const struct ig_webhook_record *, void *), void *ud);
    /* Makes account_id's delivery id pending again, due now (and its
     * endpoint enabled again); *out gets it. IG_ENOTFOUND when the account
     * has no such delivery; IG_EEXISTS when it is pending already. */
    int (*webhook_redeliver)(struct ig_store *s, const char *account_id, const char *id,
                             int64_t now_ms, struct ig_webhook_record *out);
    /* An account's endpoint for its own events (budget.threshold): set
     * (url NULL: removed), and read (IG_ENOTFOUND when none; *url is
     * malloc'd). tx_webhook_account_event writes a delivery of payload to
     * it, in the transaction of the event, when the account has one. */
    int (*webhook_endpoint_set)(struct ig_store *s, const char *account_id, const char *url,
                                int64_t now_ms);
    int (*webhook_endpoint_get)(struct ig_store *s, const char *account_id, char **url);
    int (*tx_webhook_account_event)(struct ig_store_tx *tx, const struct ig_webhook_record *w,
                                    const char *payload);
    /* The version of account_id's signing secret (1 when never rotated)
     * and until when the one before it is valid too (0: not). */
    int (*webhook_secret_version)(struct ig_store *s, const char *account_id, int64_t *version,
                                  int64_t *previous_until_ms);
    /* Moves account_id to its next secret version; the current one stays
     * valid until previous_until_ms. *version gets the new one. */
    int (*webhook_secret_rotate)(struct ig_store *s, const char *account_id,
                                 int64_t previous_until_ms, int64_t *version);

    /* Batches: insert (IG_EEXISTS), find (account_id's; IG_ENOTFOUND),
     * and the requests refused when it was submitted (JSON). */
    int (*batch_insert)(struct ig_store *s, const struct ig_batch_record *b);
    int (*batch_find)(struct ig_store *s, const char *account_id, const char *id,
                      struct ig_batch_record *out);
    int (*batch_set_rejected)(struct ig_store *s, const char *id, const char *rejected);

    void (*close)(struct ig_store *s);
};

struct ig_store {
    const struct ig_store_ops *ops;
};

/* Opens (creating and migrating) the SQLite store at path. */
int ig_store_open_sqlite(struct ig_store **out, const char *path);
/* Opens the store a URL names: "sqlite:PATH" (or a bare path). Other
 * schemes answer IG_ECONFIG with the reason in err: "postgres://" is the
 * fleet's store, not built in yet. The other failures of the backend's
 * open otherwise. */
int ig_store_open(const char *url, struct ig_store **out, char *err, size_t err_size);

/* Scope bits to and from the comma-separated names "generate,admin". */
int ig_scopes_parse(const char *text, unsigned *out);
void ig_scopes_format(unsigned scopes, char *out, size_t size);

#define ig_store_key_insert(s, k)          ((s)->ops->key_insert((s), (k)))
#define ig_store_key_find_by_hash(s, h, o) ((s)->ops->key_find_by_hash((s), (h), (o)))
#define ig_store_key_find_by_id(s, i, o)   ((s)->ops->key_find_by_id((s), (i), (o)))
#define ig_store_key_update_hash(s, i, h, p, sc)                                                   \
    ((s)->ops->key_update_hash((s), (i), (h), (p), (sc)))
#define ig_store_key_list(s, cb, ud)          ((s)->ops->key_list((s), (cb), (ud)))
#define ig_store_generation_insert(s, w, n)   ((s)->ops->generation_insert((s), (w), (n)))
#define ig_store_generation_count(s, o)       ((s)->ops->generation_count((s), (o)))
#define ig_store_blob_known(s, sha)           ((s)->ops->blob_known((s), (sha)))
#define ig_store_ping(s)                      ((s)->ops->ping((s)))
#define ig_store_close(s)                     ((s)->ops->close((s)))
#define ig_store_transact(s, body, ud)        ((s)->ops->transact((s), (body), (ud)))
#define ig_store_tx_key_find_by_id(tx, id, o) ((tx)->store->ops->tx_key_find_by_id((tx), (id), (o)))
#define ig_store_tx_key_revoke(tx, id, now)   ((tx)->store->ops->tx_key_revoke((tx), (id), (now)))
#define ig_store_tx_key_count_live(tx, scope, o)                                                   \
    ((tx)->store->ops->tx_key_count_live((tx), (scope), (o)))
#define ig_store_tx_key_insert(tx, k)       ((tx)->store->ops->tx_key_insert((tx), (k)))
#define ig_store_tx_account_insert(tx, a)   ((tx)->store->ops->tx_account_insert((tx), (a)))
#define ig_store_tx_account_find(tx, id, o) ((tx)->store->ops->tx_account_find((tx), (id), (o)))
#define ig_store_tx_account_balance(tx, id, b, m)                                                  \
    ((tx)->store->ops->tx_account_balance((tx), (id), (b), (m)))
#define ig_store_tx_ledger_append(tx, e, covered, bal)                                             \
    ((tx)->store->ops->tx_ledger_append((tx), (e), (covered), (bal)))
#define ig_store_tx_ledger_sum(tx, id, o) ((tx)->store->ops->tx_ledger_sum((tx), (id), (o)))
#define ig_store_tx_hold_insert(tx, h)    ((tx)->store->ops->tx_hold_insert((tx), (h)))
#define ig_store_tx_hold_close(tx, id, now, o)                                                     \
    ((tx)->store->ops->tx_hold_close((tx), (id), (now), (o)))
#define ig_store_tx_hold_oldest_open(tx, before, o)                                                \
    ((tx)->store->ops->tx_hold_oldest_open((tx), (before), (o)))
#define ig_store_account_find(s, id, o) ((s)->ops->account_find((s), (id), (o)))
#define ig_store_generation_history(s, q, cb, ud)                                                  \
    ((s)->ops->generation_history((s), (q), (cb), (ud)))
#define ig_store_usage(s, acct, from, to, by, cb, ud)                                              \
    ((s)->ops->usage((s), (acct), (from), (to), (by), (cb), (ud)))
#define ig_store_account_list(s, cb, ud)     ((s)->ops->account_list((s), (cb), (ud)))
#define ig_store_account_update(s, id, p, o) ((s)->ops->account_update((s), (id), (p), (o)))
#define ig_store_key_update(s, id, p, o)     ((s)->ops->key_update((s), (id), (p), (o)))
#define ig_store_tx_budget_add(tx, subj, period, delta, limit, spent)                              \
    ((tx)->store->ops->tx_budget_add((tx), (subj), (period), (delta), (limit), (spent)))
#define ig_store_tx_budget_spent(tx, subj, period, o)                                              \
    ((tx)->store->ops->tx_budget_spent((tx), (subj), (period), (o)))
#define ig_store_tx_budget_alert(tx, a, added)                                                     \
    ((tx)->store->ops->tx_budget_alert((tx), (a), (added)))
#define ig_store_budget_spent(s, subj, period, o)                                                  \
    ((s)->ops->budget_spent((s), (subj), (period), (o)))
#define ig_store_budget_alerts(s, acct, since, cb, ud)                                             \
    ((s)->ops->budget_alerts((s), (acct), (since), (cb), (ud)))
#define ig_store_audit_append(s, r)       ((s)->ops->audit_append((s), (r)))
#define ig_store_audit_list(s, q, cb, ud) ((s)->ops->audit_list((s), (q), (cb), (ud)))
#define ig_store_idem_claim(s, c, o)      ((s)->ops->idem_claim((s), (c), (o)))
#define ig_store_idem_finish(s, acct, key, st, ct, h, b, n)                                        \
    ((s)->ops->idem_finish((s), (acct), (key), (st), (ct), (h), (b), (n)))
#define ig_store_byok_put(s, r)             ((s)->ops->byok_put((s), (r)))
#define ig_store_byok_delete(s, acct, pr)   ((s)->ops->byok_delete((s), (acct), (pr)))
#define ig_store_byok_list(s, acct, cb, ud) ((s)->ops->byok_list((s), (acct), (cb), (ud)))

#define ig_store_tx_job_insert(tx, j)   ((tx)->store->ops->tx_job_insert((tx), (j)))
#define ig_store_tx_job_find(tx, id, o) ((tx)->store->ops->tx_job_find((tx), (id), (o)))
#define ig_store_tx_job_end(tx, id, owner, st, gen, err, now)                                      \
    ((tx)->store->ops->tx_job_end((tx), (id), (owner), (st), (gen), (err), (now)))
#define ig_store_tx_job_request_cancel(tx, id) ((tx)->store->ops->tx_job_request_cancel((tx), (id)))
#define ig_store_job_find(s, acct, id, o)      ((s)->ops->job_find((s), (acct), (id), (o)))
#define ig_store_job_list(s, q, cb, ud)        ((s)->ops->job_list((s), (q), (cb), (ud)))
#define ig_store_job_claim(s, owner, now, lease, max, cb, ud)                                      \
    ((s)->ops->job_claim((s), (owner), (now), (lease), (max), (cb), (ud)))
#define ig_store_job_renew(s, owner, until, cb, ud)                                                \
    ((s)->ops->job_renew((s), (owner), (until), (cb), (ud)))
#define ig_store_job_set_upstream(s, id, owner, up)                                                \
    ((s)->ops->job_set_upstream((s), (id), (owner), (up)))
#define ig_store_job_set_progress(s, id, owner, pr)                                                \
    ((s)->ops->job_set_progress((s), (id), (owner), (pr)))

#define ig_store_tx_webhook_enqueue(tx, w, url, payload)                                           \
    ((tx)->store->ops->tx_webhook_enqueue((tx), (w), (url), (payload)))
#define ig_store_webhook_claim(s, owner, now, lease, max, cb, ud)                                  \
    ((s)->ops->webhook_claim((s), (owner), (now), (lease), (max), (cb), (ud)))
#define ig_store_webhook_next_due(s, ms) ((s)->ops->webhook_next_due((s), (ms)))
#define ig_store_webhook_attempted(s, id, owner, a)                                                \
    ((s)->ops->webhook_attempted((s), (id), (owner), (a)))
#define ig_store_webhook_disable_endpoint(s, acct, url, now)                                       \
    ((s)->ops->webhook_disable_endpoint((s), (acct), (url), (now)))
#define ig_store_webhook_list(s, acct, before, limit, cb, ud)                                      \
    ((s)->ops->webhook_list((s), (acct), (before), (limit), (cb), (ud)))
#define ig_store_webhook_redeliver(s, acct, id, now, o)                                            \
    ((s)->ops->webhook_redeliver((s), (acct), (id), (now), (o)))
#define ig_store_webhook_secret_version(s, acct, v, until)                                         \
    ((s)->ops->webhook_secret_version((s), (acct), (v), (until)))
#define ig_store_webhook_secret_rotate(s, acct, until, v)                                          \
    ((s)->ops->webhook_secret_rotate((s), (acct), (until), (v)))

#define ig_store_webhook_endpoint_set(s, acct, url, now)                                           \
    ((s)->ops->webhook_endpoint_set((s), (acct), (url), (now)))
#define ig_store_webhook_endpoint_get(s, acct, url)                                                \
    ((s)->ops->webhook_endpoint_get((s), (acct), (url)))
#define ig_store_tx_webhook_account_event(tx, w, payload)                                          \
    ((tx)->store->ops->tx_webhook_account_event((tx), (w), (payload)))
#define ig_store_batch_insert(s, b)           ((s)->ops->batch_insert((s), (b)))
#define ig_store_batch_find(s, acct, id, o)   ((s)->ops->batch_find((s), (acct), (id), (o)))
#define ig_store_batch_set_rejected(s, id, r) ((s)->ops->batch_set_rejected((s), (id), (r)))

/* Frees what an ig_webhook_record owns. */
void ig_webhook_record_release(struct ig_webhook_record *w);

/* Frees what an ig_job_record owns. */
void ig_job_record_release(struct ig_job_record *j);

/* Frees what an ig_idem_found holds. */
void ig_idem_found_release(struct ig_idem_found *f);

/* "grant", "hold", … */
const char *ig_ledger_kind_name(enum ig_ledger_kind k);

#endif
