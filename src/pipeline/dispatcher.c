/* dispatcher.c — retries, fallback, deadline and downloads; see dispatcher.h.
 *
 * A dispatch is a small state machine: ATTEMPT (an upstream call in
 * flight) → on failure WAIT (a backoff timer) or the next deployment →
 * on images DOWNLOAD (one upstream GET per URL, all in flight at once) →
 * DONE. Its two timers (backoff, deadline) are freed in their close
 * callbacks, and the struct with the last of them. */
#include "pipeline/dispatcher.h"
#include "providers/common.h"
#include "core/breaker.h"
#include "core/capacity.h"
#include "providers/classify.h"
#include "util/clock.h"
#include "image/codec.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"
#include "util/pool.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPLOYMENTS 32

struct ig_dispatch {
    struct ig_upstream *u;
    uv_loop_t *loop;
    const struct ig_gen_request *req;
    const struct ig_model *model;
    struct ig_dispatch_options opt;
    ig_dispatch_cb cb;
    void *ud;

    const struct ig_deployment *order[MAX_DEPLOYMENTS];
    size_t norder, current;
    /* BYOK: for each deployment of order whose provider has the account's
     * own key, a copy with that key, which provider calls get instead
     * (order keeps the registry's, which outcomes name); NULL: none. */
    struct ig_deployment *byok;
    int attempts_here, attempts_total;
    struct ig_upstream_call *call;
    struct ig_upstream_call *downloads[IG_MAX_IMAGES];
    size_t downloads_pending;
    char download_error[IG_UPSTREAM_ERROR_SIZE]; /* why the first failed download failed */
    uv_timer_t backoff, deadline;
    int open_timers;
    int finished;

    struct ig_provider_result result;
    /* The last failure, for the final answer. */
    struct ig_provider_result last;
    int any_attempted;
    int last_auth_byok; /* the last failure was an account's own key refused */
    char last_auth_provider[32];
    int relayed; /* a streamed attempt has passed events to the client */
    int breaker_skips;
    /* Async providers: the poll to repeat, how many polls so far, and how
     * many in a row failed in transit (those are re-polled, never
     * re-submitted: the job is already paid for). */
    struct ig_upstream_request poll;
    struct ig_upstream_request cancel; /* the job at the provider, while it runs */
    int polls;
    int poll_failures;
    /* Concurrency: the deployment whose slot is held, and the one whose
     * queue this dispatch waits in (its place: waiter). */
    const struct ig_deployment *holding;
    const struct ig_deployment *waiting_for;
    struct ig_capacity_waiter waiter;
    int queue_full_skips;
    /* In-process providers: a render on the thread pool reads req, so it
     * is not abandoned: it is asked to stop (stop_rendering, read between
     * images; a job not yet started is taken off the pool's queue) and
     * waited for. A deadline that passes meanwhile is acted on when it is
     * back. */
    int rendering;
    struct render_job *render_job; /* while rendering */
    atomic_int stop_rendering;
    int render_cancelled; /* ig_dispatch_stop_render: ends as cancelled */
    int deadline_passed;
};

long ig_backoff_ms(int retry, long base_ms, long max_ms, long retry_after_ms, uint64_t random)
{
    if (retry_after_ms >= 0)
        return retry_after_ms < max_ms ? retry_after_ms : max_ms;
    long cap = base_ms;
    for (int i = 1; i < retry && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    return (long)(random % (uint64_t)(cap + 1));
}

static uint64_t random_u64(void)
{
    uint64_t r = 0;
    ig_random_fast(&r, sizeof r);
    return r;
}

size_t ig_deployments_order(const struct ig_model *m, uint64_t (*random)(void *ud), void *ud,
                            const struct ig_deployment **order, size_t max)
{
    if (max > MAX_DEPLOYMENTS)
        max = MAX_DEPLOYMENTS;
    size_t n = m->ndeployments < max ? m->ndeployments : max, norder = 0;
    const struct ig_deployment *pool[MAX_DEPLOYMENTS];
    for (size_t i = 0; i < n; i++)
        pool[i] = &m->deployments[i];
    size_t left = n;
    while (left) {
        int best = pool[0]->priority;
        for (size_t i = 1; i < left; i++)
            if (pool[i]->priority < best)
                best = pool[i]->priority;
        long total = 0;
        for (size_t i = 0; i < left; i++)
            if (pool[i]->priority == best)
                total += pool[i]->weight > 0 ? pool[i]->weight : 1;
        long pick = (long)(random(ud) % (uint64_t)total);
        for (size_t i = 0; i < left; i++) {
            if (pool[i]->priority != best)
                continue;
            pick -= pool[i]->weight > 0 ? pool[i]->weight : 1;
            if (pick < 0) {
                order[norder++] = pool[i];
                pool[i] = pool[--left];
                break;
            }
        }
    }
    return norder;
}

static uint64_t fast_random(void *ud)
{
    (void)ud;
    return random_u64();
}

/* Drops one of the things that keep d alive (its two timers, a parse on
 * the thread pool); the last one frees it. */
static void unref(struct ig_dispatch *d)
{
    if (--d->open_timers == 0) {
        ig_provider_result_release(&d->result);
        ig_provider_result_release(&d->last);
        ig_upstream_request_release(&d->poll);
        ig_upstream_request_release(&d->cancel);
        free(d->byok);
        free(d);
    }
}

/* 1 when the current deployment is called with the account's own key. */
static int byok_here(const struct ig_dispatch *d)
{
    return d->byok && d->byok[d->current].api_key;
}

/* The deployment as provider calls see it: with the account's own key
 * where it has one. */
static const struct ig_deployment *call_dep(const struct ig_dispatch *d)
{
    return byok_here(d) ? &d->byok[d->current] : d->order[d->current];
}

static void timer_closed_cb(uv_handle_t *h)
{
    unref(h->data);
}

static void cancel_sent_cb(struct ig_upstream_call *call, struct ig_upstream_result *res, void *ud)
{
    (void)call;
    (void)ud;
    if (res->transport_error || res->status >= 300)
        ig_warn("cancelling an abandoned provider job failed: %s (HTTP %ld)",
                res->error[0] ? res->error : "bad status", res->status);
}

static void release_slot(struct ig_dispatch *d)
{
    if (d->holding) {
        ig_capacity_release(d->opt.capacity, d->holding);
        d->holding = NULL;
    }
    if (d->waiting_for) {
        ig_capacity_wait_leave(d->opt.capacity, d->waiting_for, &d->waiter);
        d->waiting_for = NULL;
    }
}

/* A job still running at the provider is cancelled there, fire and
 * forget, so an abandoned request stops costing money. */
static void cancel_job(struct ig_dispatch *d)
{
    if (d->cancel.url) {
        struct ig_upstream_request c = d->cancel;
        memset(&d->cancel, 0, sizeof d->cancel);
        ig_upstream_start(d->u, &c, cancel_sent_cb, NULL, NULL);
    }
}

static void stop_render(struct ig_dispatch *d);

static void stop_io(struct ig_dispatch *d)
{
    release_slot(d);
    cancel_job(d);
    stop_render(d);
    if (d->call) {
        ig_upstream_cancel(d->call);
        d->call = NULL;
    }
    for (size_t i = 0; i < IG_MAX_IMAGES; i++) {
        if (d->downloads[i]) {
            ig_upstream_cancel(d->downloads[i]);
            d->downloads[i] = NULL;
        }
    }
}

static void dispose(struct ig_dispatch *d)
{
    d->finished = 1;
    stop_io(d);
    uv_close((uv_handle_t *)&d->backoff, timer_closed_cb);
    uv_close((uv_handle_t *)&d->deadline, timer_closed_cb);
}

static void finish(struct ig_dispatch *d, struct ig_dispatch_outcome *o)
{
    if (d->finished)
        return;
    d->finished = 1;
    stop_io(d);
    uv_timer_stop(&d->backoff);
    uv_timer_stop(&d->deadline);
    o->attempts = d->attempts_total;
    d->cb(d, o, d->ud);
    ig_provider_result_release(&o->result);
    dispose(d);
}

static void fail(struct ig_dispatch *d, enum ig_gen_error_kind kind, const char *code,
                 const char *param, long retry_after_ms, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void fail(struct ig_dispatch *d, enum ig_gen_error_kind kind, const char *code,
                 const char *param, long retry_after_ms, const char *fmt, ...)
{
    struct ig_dispatch_outcome o;
    memset(&o, 0, sizeof o);
    va_list ap;
    va_start(ap, fmt);
    ig_gen_error_vset(&o.error, kind, code, param, fmt, ap);
    va_end(ap);
    o.error.retry_after_s = retry_after_ms >= 0 ? (retry_after_ms + 999) / 1000 : -1;
    if (d->current < d->norder)
        ig_strlcpy(o.error.provider, d->order[d->current]->provider, sizeof o.error.provider);
    finish(d, &o);
}

/* Everything has been tried: answer with the last upstream reason. */
static void fail_exhausted(struct ig_dispatch *d)
{
    const struct ig_provider_result *l = &d->last;
    if (!d->any_attempted) {
        if (d->queue_full_skips)
            fail(d, IG_GERR_UNAVAILABLE, "deployment_busy", NULL, 1000, "%s",
                 "Every deployment of this model is at its concurrency limit and its wait queue "
                 "is full; retry shortly.");
        else if (d->breaker_skips)
            fail(d, IG_GERR_UNAVAILABLE, "providers_unavailable", NULL, 5000, "%s",
                 "Every deployment of this model is failing (circuit breakers open); "
                 "retry shortly.");
        else
            fail(d, IG_GERR_UNAVAILABLE, "no_provider", NULL, -1, "%s",
                 "No deployment of this model is available.");
        return;
    }
    d->current = d->norder - 1; /* the last one tried names the provider */
    if (l->error_class == IG_ERRC_AUTH && d->last_auth_byok) {
        fail(d, IG_GERR_UPSTREAM, "byok_key_rejected", NULL, -1,
             "The provider %s rejected this account's own key (BYOK): %s. Replace it with POST "
             "/v1/byok/keys or remove it with DELETE /v1/byok/keys/%s; the gateway's key is "
             "never used in its place.",
             d->last_auth_provider, l->message, d->last_auth_provider);
        return;
    }
    if (l->error_class == IG_ERRC_AUTH) {
        fail(d, IG_GERR_UPSTREAM, "provider_auth_failed", NULL, -1,
             "Every provider failed; the last one refused the gateway's credentials: %s",
             l->message);
        return;
    }
    if (l->error_class == IG_ERRC_INTERNAL) {
        fail(d, IG_GERR_INTERNAL, "generation_failed", NULL, -1,
             "The image could not be generated (%s).", l->message);
        return;
    }
    fail(d, IG_GERR_UPSTREAM, "provider_error", NULL, l->retry_after_ms,
         "Every provider failed; the last reason: %s", l->message);
}

static void attempt(struct ig_dispatch *d);
static void deadline_cb(uv_timer_t *t);

static void attempt_allowed(struct ig_dispatch *d);
static void breaker_answer_cb(void *ud, int allowed);

/* A slot this dispatch waited for is its own now (on its loop); the
 * breaker let this attempt through before it waited. */
static void slot_granted_cb(struct ig_capacity_waiter *w)
{
    struct ig_dispatch *d =
        (struct ig_dispatch *)((char *)w - offsetof(struct ig_dispatch, waiter));
    d->holding = d->waiting_for;
    d->waiting_for = NULL;
    attempt_allowed(d);
}

static int same_host(const char *url, const char *base);

static void next_deployment(struct ig_dispatch *d)
{
    d->current++;
    d->attempts_here = 0;
    attempt(d);
}

static void backoff_cb(uv_timer_t *t)
{
    attempt(t->data);
}

static void upstream_done_cb(struct ig_upstream_call *call, struct ig_upstream_result *res,
                             void *ud);

static void poll_cb(uv_timer_t *t)
{
    struct ig_dispatch *d = t->data;
    if (d->finished)
        return;
    struct ig_upstream_request r;
    if (ig_upstream_request_dup(&r, &d->poll) ||
        ig_upstream_start(d->u, &r, upstream_done_cb, d, &d->call)) {
        d->call = NULL;
        uv_timer_start(&d->backoff, poll_cb, 1000, 0);
    }
}

static void download_done_cb(struct ig_upstream_call *call, struct ig_upstream_result *res,
                             void *ud);

static int same_host(const char *url, const char *base)
{
    /* Compares scheme://host[:port] of both URLs. */
    const char *a = strstr(url, "://"), *b = strstr(base, "://");
    if (!a || !b)
        return 0;
    size_t na = strcspn(a + 3, "/?#"), nb = strcspn(b + 3, "/?#");
    return (size_t)(a - url) == (size_t)(b - base) && strncmp(url, base, (size_t)(a - url)) == 0 &&
           na == nb && strncasecmp(a + 3, b + 3, na) == 0;
}

static void start_downloads(struct ig_dispatch *d)
{
    const struct ig_deployment *dep = d->order[d->current];
    d->download_error[0] = '\0';
    for (size_t i = 0; i < d->result.nimages; i++) {
        struct ig_provider_image *im = &d->result.images[i];
        if (im->bytes || im->b64)
            continue;
        if (strncmp(im->url, "https://", 8) != 0 && strncmp(im->url, "http://", 7) != 0) {
            ig_provider_result_release(&d->last);
            d->last = d->result;
            memset(&d->result, 0, sizeof d->result);
            d->last.outcome = IG_OUTCOME_ERROR;
            d->last.error_class = IG_ERRC_RETRYABLE;
            snprintf(d->last.message, sizeof d->last.message,
                     "the provider returned an image URL that is not http(s)");
            return;
        }
        struct ig_upstream_request r;
        memset(&r, 0, sizeof r);
        snprintf(r.method, sizeof r.method, "GET");
        r.url = strdup(im->url);
        r.timeout_ms = 60000;
        r.max_response_bytes = d->opt.max_image_bytes;
        r.allow_private = same_host(im->url, dep->api_base);
        if (!r.url || ig_upstream_start(d->u, &r, download_done_cb, d, &d->downloads[i])) {
            d->downloads[i] = NULL;
            continue; /* counted as failed below when the bytes are missing */
        }
        d->downloads_pending++;
    }
}

static void downloads_finished(struct ig_dispatch *d)
{
    for (size_t i = 0; i < d->result.nimages; i++) {
        /* The magic bytes only: enough to tell an image from an error page
         * and treat the answer as malformed here, where it can still be
         * retried. The store step reads the header and the rest. */
        struct ig_provider_image *im = &d->result.images[i];
        if ((!im->bytes && !im->b64) || ig_provider_image_sniff(im) == IG_FMT_UNKNOWN) {
            /* Not an image: treat the provider's answer as malformed. */
            ig_provider_result_release(&d->last);
            d->last.outcome = IG_OUTCOME_ERROR;
            d->last.error_class = IG_ERRC_RETRYABLE;
            d->last.retry_after_ms = -1;
            if (im->bytes || im->b64)
                snprintf(d->last.message, sizeof d->last.message,
                         "an image from the provider is not PNG, JPEG or WebP");
            else
                snprintf(d->last.message, sizeof d->last.message,
                         "an image from the provider could not be downloaded: %.180s",
                         d->download_error[0] ? d->download_error : "no answer");
            ig_provider_result_release(&d->result);
            next_deployment(d);
            return;
        }
    }
    struct ig_dispatch_outcome o;
    memset(&o, 0, sizeof o);
    o.ok = 1;
    o.result = d->result;
    memset(&d->result, 0, sizeof d->result);
    o.deployment = d->order[d->current];
    o.byok = byok_here(d);
    finish(d, &o);
}

static void download_done_cb(struct ig_upstream_call *call, struct ig_upstream_result *res,
                             void *ud)
{
    struct ig_dispatch *d = ud;
    size_t i;
    for (i = 0; i < IG_MAX_IMAGES && d->downloads[i] != call; i++)
        ;
    if (i == IG_MAX_IMAGES)
        return;
    d->downloads[i] = NULL;
    d->downloads_pending--;
    if (!res->transport_error && res->status == 200 && res->body.len) {
        struct ig_provider_image *im = &d->result.images[i];
        size_t len;
        im->bytes = (uint8_t *)ig_buf_detach(&res->body, &len);
        im->len = len;
    } else {
        char why[IG_UPSTREAM_ERROR_SIZE];
        if (res->transport_error || res->status == 200)
            snprintf(why, sizeof why, "%s", res->error[0] ? res->error : "an empty answer");
        else
            snprintf(why, sizeof why, "HTTP %ld", res->status);
        ig_warn("image download failed: %s", why);
        if (!d->download_error[0])
            memcpy(d->download_error, why, sizeof why);
    }
    if (d->downloads_pending == 0)
        downloads_finished(d);
}

/* Parsing a large answer (megabytes of JSON and base64) would stall the
 * loop, so it runs on the thread pool: the job owns the answer, and
 * d stays alive until the job is back even if the dispatch ends first. */
struct parse_job {
    uv_work_t work;
    struct ig_dispatch *d;
    const struct ig_provider *p;
    const struct ig_deployment *dep;
    int poll;
    struct ig_upstream_result res;
    struct ig_provider_result out;
};

static void handle_parsed(struct ig_dispatch *d, struct ig_provider_result *rp);

static void parse_work_cb(uv_work_t *w)
{
    ig_pool_thread_enter();
    struct parse_job *j = w->data;
    j->p->parse(j->dep, &j->res, j->poll, &j->out);
}

static void parse_done_cb(uv_work_t *w, int status)
{
    (void)status;
    struct parse_job *j = w->data;
    struct ig_dispatch *d = j->d;
    struct ig_provider_result r = j->out;
    ig_buf_release(&j->res.body);
    ig_buf_release(&j->res.headers);
    free(j);
    if (d->finished) { /* cancelled or out of time meanwhile */
        ig_provider_result_release(&r);
        unref(d);
        return;
    }
    d->open_timers--; /* not the last: the timers are open while not finished */
    handle_parsed(d, &r);
}

/* Answers smaller than this are parsed on the loop: tens of microseconds,
 * less than the two thread crossings a pool job costs. */
#define PARSE_INLINE_MAX (64 * 1024)

/* Takes res (its buffers move into the job) and queues its parse; nonzero
 * when it is small enough to parse here or cannot be queued, and res is
 * untouched. */
static int parse_on_pool(struct ig_dispatch *d, const struct ig_provider *p,
                         const struct ig_deployment *dep, struct ig_upstream_result *res)
{
    if (res->body.len < PARSE_INLINE_MAX)
        return IG_EINVAL;
    struct parse_job *j = calloc(1, sizeof *j);
    if (!j)
        return IG_ENOMEM;
    j->work.data = j;
    j->d = d;
    j->p = p;
    j->dep = dep;
    j->poll = d->polls;
    j->res = *res;
    if (uv_queue_work(d->loop, &j->work, parse_work_cb, parse_done_cb)) {
        free(j);
        return IG_ENOMEM;
    }
    ig_buf_init(&res->body, 0); /* the job owns the bytes now */
    ig_buf_init(&res->headers, 0);
    d->open_timers++;
    return 0;
}

static void upstream_done_cb(struct ig_upstream_call *call, struct ig_upstream_result *res,
                             void *ud)
{
    (void)call;
    struct ig_dispatch *d = ud;
    d->call = NULL;
    const struct ig_deployment *dep = d->order[d->current];
    const struct ig_provider *p = ig_provider_find(dep->provider);
    struct ig_provider_result r;
    int polling = d->poll.url != NULL;
    if (polling && (res->transport_error || res->status == 429 || res->status >= 500)) {
        /* The poll failed in transit: ask again; the job itself may be fine. */
        if (++d->poll_failures <= d->opt.max_attempts) {
            long delay = ig_backoff_ms(d->poll_failures, d->opt.base_delay_ms, d->opt.max_delay_ms,
                                       -1, random_u64());
            uv_timer_start(&d->backoff, poll_cb, (uint64_t)delay, 0);
            return;
        }
        /* The job cannot be followed any more. It is paid for, so it is not
         * submitted again here: the next deployment, or the final answer. */
        ig_provider_result_release(&d->last);
        ig_classify_failure(res, &d->last);
        ig_upstream_request_release(&d->poll);
        cancel_job(d);
        release_slot(d);
        d->polls = 0;
        d->poll_failures = 0;
        next_deployment(d);
        return;
    }
    if (parse_on_pool(d, p, call_dep(d), res) == 0)
        return; /* handle_parsed() follows on the loop */
    p->parse(call_dep(d), res, d->polls, &r);
    handle_parsed(d, &r);
}

/* What a parsed answer means: poll again, download, retry, fall back or
 * finish. On the loop. */
static void handle_parsed(struct ig_dispatch *d, struct ig_provider_result *rp)
{
    const struct ig_deployment *dep = d->order[d->current];
    struct ig_provider_result r = *rp;
    if (r.outcome == IG_OUTCOME_PENDING && (r.poll.url || d->poll.url)) {
        if (r.cancel.url) {
            ig_upstream_request_release(&d->cancel);
            d->cancel = r.cancel;
            memset(&r.cancel, 0, sizeof r.cancel);
            d->cancel.allow_private = same_host(d->cancel.url, dep->api_base);
        }
        if (r.poll.url) {
            ig_upstream_request_release(&d->poll);
            d->poll = r.poll;
            memset(&r.poll, 0, sizeof r.poll);
            /* Private addresses only on the api_base's own host. */
            d->poll.allow_private = same_host(d->poll.url, dep->api_base);
            if (d->polls == 0 && d->opt.on_upstream_job)
                d->opt.on_upstream_job(d->opt.upstream_job_ud, dep, d->poll.url);
        }
        d->polls++;
        d->poll_failures = 0;
        if (d->opt.on_progress)
            d->opt.on_progress(d->opt.progress_ud, r.queue_position, r.percent);
        long after = r.poll_after_ms > 0 ? r.poll_after_ms : 500;
        ig_provider_result_release(&r);
        uv_timer_start(&d->backoff, poll_cb, (uint64_t)after, 0);
        return;
    }
    ig_upstream_request_release(&d->poll);
    ig_upstream_request_release(&d->cancel); /* the job is over either way */
    release_slot(d);
    d->polls = 0;
    d->poll_failures = 0;
    if (r.outcome == IG_OUTCOME_PENDING) {
        /* Pending with nothing to poll: the adapter broke its contract. */
        r.outcome = IG_OUTCOME_ERROR;
        r.error_class = IG_ERRC_RETRYABLE;
        snprintf(r.message, sizeof r.message, "the provider's job cannot be polled");
    }
    /* The breaker counts failures that are the deployment's fault; a
     * client error or a content refusal shows the deployment alive. */
    /* A failure counts once per request and deployment: retries on the
     * same deployment are not separate failures, or one request's burst
     * of retries would open the breaker by itself. */
    int healthy = r.outcome != IG_OUTCOME_ERROR || r.error_class == IG_ERRC_CLIENT ||
                  r.error_class == IG_ERRC_CONTENT_POLICY;
    int retrying_here = !healthy && r.error_class == IG_ERRC_RETRYABLE && !d->relayed &&
                        d->attempts_here < d->opt.max_attempts;
    /* An account's own key failing is not the deployment's health. */
    if (!retrying_here && !byok_here(d))
        ig_breaker_record(d->opt.breakers, dep, healthy, ig_now_us() / 1000);
    if (r.outcome == IG_OUTCOME_IMAGES) {
        d->result = r;
        start_downloads(d);
        if (d->result.nimages == 0) { /* a URL was refused before download */
            next_deployment(d);
            return;
        }
        if (d->downloads_pending == 0)
            downloads_finished(d);
        return;
    }
    ig_provider_result_release(&d->last);
    d->last = r;
    d->last_auth_byok = r.error_class == IG_ERRC_AUTH && byok_here(d);
    if (d->last_auth_byok)
        ig_strlcpy(d->last_auth_provider, dep->provider, sizeof d->last_auth_provider);
    ig_info("provider %s (%s) failed: %s [%s]", dep->provider, dep->model, r.message,
            ig_error_class_name(r.error_class));
    if (d->relayed && r.error_class != IG_ERRC_CONTENT_POLICY) {
        /* The client has seen part of this attempt: another one would show
         * a second, different picture. */
        fail(d, IG_GERR_UPSTREAM, "provider_error", NULL, -1,
             "The provider's stream failed after partial images were sent: %s", r.message);
        return;
    }
    switch (r.error_class) {
    case IG_ERRC_CLIENT:
        fail(d, IG_GERR_INVALID, "provider_rejected_request", "prompt", -1,
             "The provider rejected the request: %s", r.message);
        return;
    case IG_ERRC_CONTENT_POLICY:
        fail(d, IG_GERR_REFUSED, "content_policy_violation", "prompt", -1,
             "The provider refused this content: %s", r.message);
        return;
    case IG_ERRC_RETRYABLE:
        if (d->attempts_here < d->opt.max_attempts) {
            long delay = ig_backoff_ms(d->attempts_here, d->opt.base_delay_ms, d->opt.max_delay_ms,
                                       r.retry_after_ms, random_u64());
            uv_timer_start(&d->backoff, backoff_cb, (uint64_t)delay, 0);
            return;
        }
        break;
    default:
        break;
    }
    next_deployment(d);
}

static void stream_data_cb(void *ud, const char *data, size_t len)
{
    struct ig_dispatch *d = ud;
    if (d->opt.on_stream(d->opt.stream_ud, data, len))
        d->relayed = 1;
}

/* ---- in-process providers ---- */

/* One render on the thread pool: partial `partial`, or (partial < 0) the
 * request's n images. The job reads d->req and d->opt while it runs; d
 * stays alive until it is back (it holds one of d's references). */
struct render_job {
    uv_work_t work;
    struct ig_dispatch *d;
    const struct ig_provider *p;
    int partial;
    int rc;
    struct ig_image_out partial_out;
    struct ig_provider_result res;
};

/* Asks a render in progress to stop after its current image, and takes
 * one not yet started off the pool's queue (render_done_cb then runs with
 * UV_ECANCELED). */
static void stop_render(struct ig_dispatch *d)
{
    if (!d->rendering)
        return;
    atomic_store_explicit(&d->stop_rendering, 1, memory_order_relaxed);
    uv_cancel((uv_req_t *)&d->render_job->work);
}

static void render_work_cb(uv_work_t *w)
{
    ig_pool_thread_enter();
    struct render_job *j = w->data;
    const struct ig_gen_request *r = j->d->req;
    size_t max = j->d->opt.max_image_bytes;
    uint64_t seed = j->d->opt.seed;
    if (j->partial >= 0) {
        float progress = (float)(j->partial + 1) / (float)(r->partial_images + 1);
        j->rc = j->p->generate(r, seed & 0xffffffffu, progress, max, &j->partial_out);
        return;
    }
    j->res.retry_after_ms = -1;
    j->rc = r->n > IG_MAX_IMAGES ? IG_ERANGE : 0;
    for (int i = 0; j->rc == 0 && i < r->n; i++) {
        if (atomic_load_explicit(&j->d->stop_rendering, memory_order_relaxed)) {
            j->rc = IG_EAGAIN; /* nobody wants the rest */
            break;
        }
        struct ig_image_out out;
        memset(&out, 0, sizeof out);
        j->rc = j->p->generate(r, (seed + (uint64_t)i) & 0xffffffffu, 0.0f, max, &out);
        if (j->rc == 0) {
            struct ig_provider_image *im = &j->res.images[j->res.nimages++];
            size_t len;
            im->bytes = (uint8_t *)ig_buf_detach(&out.data, &len);
            im->len = len;
            im->seed = out.seed;
            j->rc = im->bytes ? 0 : IG_ENOMEM;
        }
        ig_buf_release(&out.data);
    }
    if (j->rc) {
        ig_provider_result_release(&j->res);
        j->res.outcome = IG_OUTCOME_ERROR;
        j->res.error_class = IG_ERRC_INTERNAL;
        j->res.retry_after_ms = -1;
        snprintf(j->res.message, sizeof j->res.message, "%s", ig_strerror(j->rc));
    } else {
        j->res.outcome = IG_OUTCOME_IMAGES;
    }
}

static void render(struct ig_dispatch *d, const struct ig_provider *p, int partial);

static void render_done_cb(uv_work_t *w, int status)
{
    struct render_job *j = w->data;
    if (status == UV_ECANCELED) { /* taken off the queue before it ran */
        j->rc = IG_EAGAIN;
        j->res.outcome = IG_OUTCOME_ERROR;
        j->res.error_class = IG_ERRC_INTERNAL;
        j->res.retry_after_ms = -1;
    }
    struct ig_dispatch *d = j->d;
    const struct ig_provider *p = j->p;
    int partial = j->partial;
    struct ig_provider_result r = j->res;
    if (partial >= 0 && j->rc == 0 && !d->finished && !d->deadline_passed && d->opt.on_partial)
        d->opt.on_partial(d->opt.stream_ud, partial, &j->partial_out);
    ig_buf_release(&j->partial_out.data);
    free(j);
    d->rendering = 0;
    d->render_job = NULL;
    if (d->finished) {
        ig_provider_result_release(&r);
        unref(d);
        return;
    }
    d->open_timers--; /* not the last: the timers are open while not finished */
    if (d->render_cancelled) {
        ig_provider_result_release(&r);
        fail(d, IG_GERR_CANCELED, "client_closed_request", NULL, -1,
             "the client closed the connection; the render was stopped");
        return;
    }
    if (d->deadline_passed) {
        ig_provider_result_release(&r);
        deadline_cb(&d->deadline);
        return;
    }
    if (partial >= 0) {
        render(d, p, partial + 1 < d->req->partial_images ? partial + 1 : -1);
        return;
    }
    handle_parsed(d, &r);
}

static void render(struct ig_dispatch *d, const struct ig_provider *p, int partial)
{
    if (partial >= d->req->partial_images)
        partial = -1;
    struct render_job *j = calloc(1, sizeof *j);
    if (j) {
        j->work.data = j;
        j->d = d;
        j->p = p;
        j->partial = partial;
    }
    if (!j || uv_queue_work(d->loop, &j->work, render_work_cb, render_done_cb)) {
        free(j);
        struct ig_provider_result r;
        memset(&r, 0, sizeof r);
        r.outcome = IG_OUTCOME_ERROR;
        r.error_class = IG_ERRC_INTERNAL;
        r.retry_after_ms = -1;
        snprintf(r.message, sizeof r.message, "cannot queue the render");
        handle_parsed(d, &r);
        return;
    }
    d->rendering = 1;
    d->render_job = j;
    d->open_timers++;
}

static void attempt(struct ig_dispatch *d)
{
    if (d->finished)
        return;
    if (d->current >= d->norder) {
        fail_exhausted(d);
        return;
    }
    const struct ig_deployment *dep = d->order[d->current];
    const struct ig_provider *p = ig_provider_find(dep->provider);
    if (!p || (!p->prepare && !p->generate)) {
        next_deployment(d);
        return;
    }
    if (byok_here(d)) {
        attempt_allowed(d); /* the account's own key: not the deployment's breaker */
        return;
    }
    /* The breaker's answer may come later (a shared backend): d stays
     * alive for it, as for a parse on the pool. */
    d->open_timers++;
    ig_breaker_check(d->opt.breakers, dep, ig_now_us() / 1000, breaker_answer_cb, d);
}

static void breaker_answer_cb(void *ud, int allowed)
{
    struct ig_dispatch *d = ud;
    if (d->finished) {
        unref(d);
        return;
    }
    d->open_timers--; /* not the last: the timers are open while not finished */
    if (!allowed) {
        const struct ig_deployment *dep = d->order[d->current];
        ig_info("deployment %s (%s): circuit open, skipped", dep->provider, dep->model);
        d->breaker_skips++;
        next_deployment(d);
        return;
    }
    attempt_allowed(d);
}

/* The attempt once the deployment's breaker let it through: a slot, then
 * the render or the upstream call. */
static void attempt_allowed(struct ig_dispatch *d)
{
    const struct ig_deployment *dep = d->order[d->current];
    const struct ig_provider *p = ig_provider_find(dep->provider);
    struct ig_upstream_request r;
    if (dep->max_concurrency > 0 && !d->holding && !byok_here(d)) {
        if (!ig_capacity_acquire(d->opt.capacity, dep, dep->max_concurrency)) {
            d->waiter.notifier = d->opt.capacity_notifier;
            d->waiter.granted = slot_granted_cb;
            if (!d->opt.capacity_notifier ||
                !ig_capacity_wait_enter(d->opt.capacity, dep, &d->waiter)) {
                ig_info("deployment %s (%s): at capacity and its queue is full", dep->provider,
                        dep->model);
                d->queue_full_skips++;
                next_deployment(d);
                return;
            }
            d->waiting_for = dep; /* slot_granted_cb goes on from here */
            return;
        }
        d->holding = dep;
    }
    if (p->generate) {
        d->attempts_here++;
        d->attempts_total++;
        d->any_attempted = 1;
        render(d, p, d->opt.on_partial && d->req->stream ? 0 : -1);
        return;
    }
    if (p->prepare(d->req, call_dep(d), &r)) {
        release_slot(d);
        next_deployment(d);
        return;
    }
    /* The operator configured this api_base, so its host may be private
     * (a self-hosted server on the LAN, a fake on loopback). */
    r.allow_private = same_host(r.url, dep->api_base);
    if (d->opt.on_stream && d->req->stream) {
        r.on_data = stream_data_cb;
        r.on_data_ud = d;
    }
    d->attempts_here++;
    d->attempts_total++;
    d->any_attempted = 1;
    if (ig_upstream_start(d->u, &r, upstream_done_cb, d, &d->call)) {
        d->call = NULL;
        snprintf(d->last.message, sizeof d->last.message, "cannot start the upstream call");
        d->last.error_class = IG_ERRC_RETRYABLE;
        next_deployment(d);
    }
}

/* Follows the provider's job opts.resume_* names, as its first poll
 * (nothing new is submitted, so nothing is paid twice): 1 when started. */
static int resume(struct ig_dispatch *d)
{
    if (!d->opt.resume_dep || !d->opt.resume_url || d->norder == 0 ||
        d->order[0] != d->opt.resume_dep)
        return 0;
    const struct ig_deployment *dep = d->order[0];
    const struct ig_provider *p = ig_provider_find(dep->provider);
    if (!p || !p->poll_request || p->poll_request(call_dep(d), d->opt.resume_url, &d->poll))
        return 0;
    d->poll.allow_private = same_host(d->poll.url, dep->api_base);
    d->polls = 1;
    d->attempts_here = d->attempts_total = 1;
    d->any_attempted = 1;
    uv_timer_start(&d->backoff, poll_cb, 0, 0);
    return 1;
}

static void deadline_cb(uv_timer_t *t)
{
    struct ig_dispatch *d = t->data;
    if (d->rendering) {
        d->deadline_passed = 1; /* acted on when the render is back, soon */
        stop_render(d);
        return;
    }
    fail(d, IG_GERR_TIMEOUT, "deadline_exceeded", NULL, -1,
         "No provider answered within the request deadline (%ld ms).", d->opt.deadline_ms);
}

int ig_dispatch_start(struct ig_upstream *u, uv_loop_t *loop, const struct ig_gen_request *req,
                      const struct ig_model *model, const struct ig_dispatch_options *opts,
                      ig_dispatch_cb cb, void *ud, struct ig_dispatch **out)
{
    struct ig_dispatch *d = calloc(1, sizeof *d);
    if (!d)
        return IG_ENOMEM;
    d->u = u;
    d->loop = loop;
    d->req = req;
    d->model = model;
    d->opt = *opts;
    if (d->opt.max_attempts < 1)
        d->opt.max_attempts = 1;
    d->cb = cb;
    d->ud = ud;
    d->last.retry_after_ms = -1;
    d->norder = ig_deployments_order(d->model, fast_random, NULL, d->order, MAX_DEPLOYMENTS);
    for (size_t i = 0; opts->resume_dep && i < d->norder; i++) {
        if (d->order[i] == opts->resume_dep) { /* the provider's job first */
            d->order[i] = d->order[0];
            d->order[0] = opts->resume_dep;
        }
    }
    for (size_t i = 0; i < d->norder && opts->nbyok; i++) {
        for (size_t k = 0; k < opts->nbyok; k++) {
            if (strcmp(d->order[i]->provider, opts->byok[k].provider) != 0)
                continue;
            if (!d->byok && !(d->byok = calloc(d->norder, sizeof *d->byok))) {
                free(d);
                return IG_ENOMEM;
            }
            d->byok[i] = *d->order[i];
            d->byok[i].api_key = opts->byok[k].api_key;
        }
    }
    uv_timer_init(loop, &d->backoff);
    uv_timer_init(loop, &d->deadline);
    d->backoff.data = d->deadline.data = d;
    d->open_timers = 2;
    if (d->opt.deadline_ms > 0)
        uv_timer_start(&d->deadline, deadline_cb, (uint64_t)d->opt.deadline_ms, 0);
    *out = d;
    if (!resume(d))
        attempt(d);
    return 0;
}

int ig_dispatch_rendering(const struct ig_dispatch *d)
{
    return d->rendering;
}

void ig_dispatch_stop_render(struct ig_dispatch *d)
{
    if (d->finished || !d->rendering)
        return;
    d->render_cancelled = 1;
    stop_render(d);
}

void ig_dispatch_cancel(struct ig_dispatch *d)
{
    if (!d->finished)
        dispose(d);
}
