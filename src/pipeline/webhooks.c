/* webhooks.c — the webhook deliverer; see webhooks.h.
 *
 * A claim (on the pool) also works out each claimed delivery's signature
 * header, since that reads the account's secret version from the store;
 * the attempt itself is an upstream call on the loop; its outcome is
 * written on the pool. */
#include "pipeline/webhooks.h"

#include "core/webhook.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLAIM_MAX     32
#define IN_FLIGHT_MAX 128
#define LEASE_MS      (5 * 60 * 1000)
#define ANSWER_MAX    (64 * 1024)

struct attempt {
    struct ig_webhook_deliverer *d; /* until its answer */
    struct ig_store *store;         /* for its outcome, written after d may be gone */
    const char *owner;
    struct ig_webhook_record rec;
    char signature[2 * IG_WEBHOOK_SIGNATURE_MAX + 2];
    int64_t timestamp;
    struct ig_upstream_call *call;
    struct attempt *next, **prev;
    /* The outcome, written on the pool. */
    uv_work_t work;
    struct ig_webhook_attempt out;
    char error[256];
    int disable;
};

struct claim_work {
    uv_work_t work;
    struct ig_webhook_deliverer *d;
    struct attempt *got[CLAIM_MAX];
    int n, max, rc;
    int64_t next_due_ms; /* of what is left pending (0: nothing) */
};

/* Its claim is allocated with it, once: idle ticks allocate nothing on
 * the loop (see pipeline/runner.c). */
struct ig_webhook_deliverer {
    struct ig_pipeline_worker *w;
    struct ig_pipeline *p;
    const char *owner;
    uv_timer_t tick;
    int claiming, stopping, in_flight;
    int refs;                 /* the timer's handle, and a claim on the pool: freed at 0 */
    struct attempt *attempts; /* calls in flight */
    struct claim_work claim;  /* while claiming */
};

static void claim(struct ig_webhook_deliverer *d);
static void tick_cb(uv_timer_t *t);

static void unref(struct ig_webhook_deliverer *d)
{
    if (--d->refs == 0)
        free(d);
}

/* ---- an attempt's outcome ---- */

static void attempt_free(struct attempt *a)
{
    ig_webhook_record_release(&a->rec);
    free(a);
}

static void record_run(uv_work_t *w)
{
    struct attempt *a = w->data;
    struct ig_store *s = a->store;
    int rc = ig_store_webhook_attempted(s, a->rec.id, a->owner, &a->out);
    if (rc && rc != IG_ENOTFOUND)
        ig_warn("webhook %s: the attempt cannot be recorded: %s", a->rec.id, ig_strerror(rc));
    /* After the attempt's own record (a 410, failed): disabling the
     * endpoint disables the deliveries still waiting for it. */
    if (a->disable)
        ig_store_webhook_disable_endpoint(s, a->rec.account_id, a->rec.url, a->out.now_ms);
}

static void record_done(uv_work_t *w, int status)
{
    (void)status;
    attempt_free(w->data);
}

/* The delay before attempt number `done + 1` (done attempts made), with
 * ±10% jitter; -1 when none is left. */
static int64_t next_delay(const struct ig_pipeline *p, int done)
{
    if (done < 1 || done > p->nwebhook_delays)
        return -1;
    int64_t base = p->webhook_delays[done - 1];
    uint32_t r = 0;
    ig_random_fast(&r, sizeof r);
    int64_t spread = base / 10;
    return base - spread + (spread ? (int64_t)(r % (uint64_t)(2 * spread + 1)) : 0);
}

static void answered_cb(struct ig_upstream_call *call, struct ig_upstream_result *res, void *ud)
{
    (void)call;
    struct attempt *a = ud;
    struct ig_webhook_deliverer *d = a->d;
    *a->prev = a->next;
    if (a->next)
        a->next->prev = a->prev;
    d->in_flight--;
    int64_t now = ig_unix_ms();
    a->out = (struct ig_webhook_attempt){.now_ms = now, .last_error = a->error};
    int done = a->rec.attempts + 1;
    if (!res->transport_error && res->status >= 200 && res->status < 300) {
        a->out.status = "delivered";
        a->out.last_status = (int)res->status;
    } else if (!res->transport_error && res->status == 410) {
        a->out.status = "failed";
        a->out.last_status = 410;
        a->disable = 1;
        snprintf(a->error, sizeof a->error, "the endpoint answered 410 Gone: it is disabled");
    } else if (res->blocked) {
        a->out.status = "failed"; /* its address will not become allowed */
        snprintf(a->error, sizeof a->error, "%s", res->error);
    } else {
        if (res->transport_error)
            snprintf(a->error, sizeof a->error, "%s", res->error[0] ? res->error : "no answer");
        else
            snprintf(a->error, sizeof a->error, "the endpoint answered %ld%s", res->status,
                     res->status >= 300 && res->status < 400 ? " (redirects are not followed)"
                                                             : "");
        a->out.last_status = res->transport_error ? 0 : (int)res->status;
        int64_t delay = next_delay(d->p, done);
        a->out.status = delay < 0 ? "failed" : "pending";
        a->out.next_attempt_ms = delay < 0 ? 0 : now + delay;
    }
    if (strcmp(a->out.status, "delivered") != 0)
        ig_info("webhook %s (%s) attempt %d: %s", a->rec.id, a->rec.event_type, done, a->error);
    a->work.data = a;
    if (uv_queue_work(d->w->loop, &a->work, record_run, record_done))
        attempt_free(a); /* its lease passes and it is sent again */
    if (!d->stopping)
        claim(d);
}

static void send_attempt(struct ig_webhook_deliverer *d, struct attempt *a)
{
    struct ig_upstream_request r;
    memset(&r, 0, sizeof r);
    snprintf(r.method, sizeof r.method, "POST");
    r.url = strdup(a->rec.url);
    size_t len = strlen(a->rec.payload);
    r.body = malloc(len + 1);
    r.body_len = len;
    r.timeout_ms = (long)d->p->cfg->webhooks_timeout_ms;
    r.max_response_bytes = ANSWER_MAX;
    r.allow = d->p->webhook_networks;
    ig_buf_init(&r.headers, 8192);
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)a->timestamp);
    if (!r.url || !r.body || ig_upstream_request_header(&r, "Content-Type", "application/json") ||
        ig_upstream_request_header(&r, "User-Agent", "imagegate-webhooks/1") ||
        ig_upstream_request_header(&r, "webhook-id", a->rec.id) ||
        ig_upstream_request_header(&r, "webhook-timestamp", ts) ||
        ig_upstream_request_header(&r, "webhook-signature", a->signature)) {
        ig_upstream_request_release(&r);
        attempt_free(a);
        return;
    }
    memcpy(r.body, a->rec.payload, len + 1);
    a->d = d;
    a->store = d->p->store;
    a->owner = d->owner;
    a->next = d->attempts;
    a->prev = &d->attempts;
    if (d->attempts)
        d->attempts->prev = &a->next;
    d->attempts = a;
    d->in_flight++;
    if (ig_upstream_start(d->w->upstream, &r, answered_cb, a, &a->call)) {
        /* It could not start: an attempt without an answer. */
        struct ig_upstream_result res = {.transport_error = IG_ENOMEM};
        snprintf(res.error, sizeof res.error, "the call could not start");
        answered_cb(NULL, &res, a);
    }
}

/* ---- claims ---- */

/* On the pool: the signature header of a's attempt now, under the
 * account's secret and, within a rotation's window, the one before. */
static int sign(struct ig_webhook_deliverer *d, struct attempt *a)
{
    int64_t version = 1, previous_until = 0;
    int rc =
        ig_store_webhook_secret_version(d->p->store, a->rec.account_id, &version, &previous_until);
    if (rc)
        return rc;
    a->timestamp = ig_unix_time();
    char secret[IG_WEBHOOK_SECRET_MAX];
    size_t len = strlen(a->rec.payload);
    ig_webhook_secret(d->p->secret, d->p->secret_len, a->rec.account_id, version, secret);
    rc = ig_webhook_sign(secret, a->rec.id, a->timestamp, a->rec.payload, len, a->signature);
    if (rc == 0 && version > 1 && previous_until > ig_unix_ms()) {
        char old[IG_WEBHOOK_SIGNATURE_MAX];
        ig_webhook_secret(d->p->secret, d->p->secret_len, a->rec.account_id, version - 1, secret);
        rc = ig_webhook_sign(secret, a->rec.id, a->timestamp, a->rec.payload, len, old);
        size_t n = strlen(a->signature);
        snprintf(a->signature + n, sizeof a->signature - n, " %s", old);
    }
    explicit_bzero(secret, sizeof secret);
    return rc;
}

static int claimed_cb(const struct ig_webhook_record *rec, void *ud)
{
    struct claim_work *c = ud;
    struct attempt *a = calloc(1, sizeof *a);
    if (!a)
        return 0; /* its lease passes and it is claimed again */
    a->rec = *rec;
    a->rec.url = strdup(rec->url);
    a->rec.payload = strdup(rec->payload);
    if (!a->rec.url || !a->rec.payload || c->n == c->max) {
        attempt_free(a);
        return 0;
    }
    c->got[c->n++] = a;
    return 0;
}

static void claim_run(uv_work_t *w)
{
    struct claim_work *c = w->data;
    struct ig_webhook_deliverer *d = c->d;
    c->rc = ig_store_webhook_claim(d->p->store, d->owner, ig_unix_ms(), LEASE_MS, c->max,
                                   claimed_cb, c);
    if (c->rc == 0)
        c->rc = ig_store_webhook_next_due(d->p->store, &c->next_due_ms);
    for (int i = 0; i < c->n; i++) {
        if (sign(d, c->got[i])) {
            attempt_free(c->got[i]); /* its lease passes and it is claimed again */
            c->got[i] = NULL;
        }
    }
}

static void claim_done(uv_work_t *w, int status)
{
    (void)status;
    struct claim_work *c = w->data;
    struct ig_webhook_deliverer *d = c->d;
    d->claiming = 0;
    if (d->stopping) {
        for (int i = 0; i < c->n; i++)
            if (c->got[i])
                attempt_free(c->got[i]); /* their leases pass; sent again later */
        unref(d);
        return;
    }
    if (c->rc)
        ig_warn("webhooks: cannot claim due deliveries: %s", ig_strerror(c->rc));
    for (int i = 0; i < c->n; i++)
        if (c->got[i])
            send_attempt(d, c->got[i]);
    int full = c->n == c->max;
    unref(d);
    if (full) {
        claim(d);
        return;
    }
    /* The next look when the next delivery is due, and at most every 16
     * jobs.poll_ms while none is (a job's end wakes it at once). */
    uint64_t most = (uint64_t)d->p->cfg->jobs_poll_ms * 16;
    int64_t wait = c->next_due_ms ? c->next_due_ms - ig_unix_ms() : (int64_t)most;
    if (c->rc || wait > (int64_t)most)
        wait = (int64_t)most;
    uv_timer_start(&d->tick, tick_cb, (uint64_t)(wait > 0 ? wait : 0), 0);
}

static void claim(struct ig_webhook_deliverer *d)
{
    int room = IN_FLIGHT_MAX - d->in_flight;
    if (d->claiming || d->stopping || room <= 0)
        return;
    struct claim_work *c = &d->claim;
    c->d = d;
    c->n = 0;
    c->rc = 0;
    c->max = room < CLAIM_MAX ? room : CLAIM_MAX;
    c->work.data = c;
    if (uv_queue_work(d->w->loop, &c->work, claim_run, claim_done))
        return;
    d->claiming = 1;
    d->refs++;
}

static void tick_cb(uv_timer_t *t)
{
    claim(t->data);
}

int ig_webhook_deliverer_start(struct ig_pipeline_worker *w, const char *owner,
                               struct ig_webhook_deliverer **out)
{
    struct ig_webhook_deliverer *d = calloc(1, sizeof *d);
    if (!d)
        return IG_ENOMEM;
    d->w = w;
    d->p = w->pipeline;
    d->owner = owner;
    uv_timer_init(w->loop, &d->tick);
    d->tick.data = d;
    d->refs = 1;
    uv_timer_start(&d->tick, tick_cb, 0, 0);
    *out = d;
    return 0;
}

void ig_webhook_deliverer_wake(struct ig_webhook_deliverer *d)
{
    if (d && !d->stopping)
        claim(d);
}

static void closed_cb(uv_handle_t *h)
{
    unref(h->data);
}

void ig_webhook_deliverer_stop(struct ig_webhook_deliverer *d)
{
    if (!d)
        return;
    d->stopping = 1;
    while (d->attempts) {
        struct attempt *a = d->attempts;
        d->attempts = a->next;
        ig_upstream_cancel(a->call);
        attempt_free(a);
    }
    d->in_flight = 0;
    uv_close((uv_handle_t *)&d->tick, closed_cb); /* a claim on the pool holds d too */
}
