/* batch.c — batches of jobs:
 *
 *   POST /v1/images/batch       {requests: [generation bodies], max_concurrency, webhook_url}
 *                               → 202 with each request's job, or why it was refused
 *   GET  /v1/images/batch/{id}  the batch: each item's status, result or error
 *
 * A batch is a row (its max_concurrency, which the runner's claim
 * honours) and a job per request, submitted as POST /v1/images/jobs
 * submits one (checked, counted, priced, held, committed). A request that
 * is refused (invalid, over the balance, blocked by moderation) is
 * reported in its item and kept with the batch; it never fails the
 * others. Items are in the order of the requests. */
#include "api/app.h"
#include "api/handlers.h"
#include "api/idempotency.h"
#include "api/images.h"
#include "api/jobview.h"
#include "pipeline/runner.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

#define BATCH_MAX           100
#define CONCURRENCY_DEFAULT 4
#define CONCURRENCY_MAX     64

/* ---- the batch as JSON ---- */

/* The batch document from its record and its items (each {index, job_id,
 * status, result, error}, any order: sorted here); the reference to
 * items is taken. */
static json_t *batch_json(const struct ig_batch_record *b, json_t *items)
{
    size_t n = json_array_size(items);
    json_t **sorted = calloc(n ? n : 1, sizeof *sorted);
    json_t *ordered = json_array();
    int counts[6] = {0}; /* queued, running, succeeded, failed, canceled, rejected */
    static const char *const names[] = {"queued", "running",  "succeeded",
                                        "failed", "canceled", "rejected"};
    for (size_t i = 0; sorted && i < n; i++) {
        json_t *it = json_array_get(items, i);
        size_t at = (size_t)json_integer_value(json_object_get(it, "index"));
        if (at < n && !sorted[at])
            sorted[at] = it;
        const char *st = json_string_value(json_object_get(it, "status"));
        for (int k = 0; st && k < 6; k++)
            if (strcmp(st, names[k]) == 0)
                counts[k]++;
    }
    for (size_t i = 0; sorted && i < n; i++)
        if (sorted[i])
            json_array_append(ordered, sorted[i]);
    free(sorted);
    json_decref(items);
    int open = counts[0] + counts[1];
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:i, s:i, s:{s:i, s:i, s:i, s:i, s:i, s:i}, s:o}", "id", b->id,
        "object", "image.batch", "status", open ? "in_progress" : "completed", "created",
        (json_int_t)(b->created_ms / 1000), "max_concurrency", b->max_concurrency, "total",
        b->total, "counts", "queued", counts[0], "running", counts[1], "succeeded", counts[2],
        "failed", counts[3], "canceled", counts[4], "rejected", counts[5], "items", ordered);
    return o;
}

/* An item of a job, from the job's JSON (ig_api_job_json). */
static json_t *job_item(int index, json_t *job)
{
    return json_pack("{s:i, s:O, s:O, s:O, s:O}", "index", index, "job_id",
                     json_object_get(job, "id"), "status", json_object_get(job, "status"), "result",
                     json_object_get(job, "result"), "error", json_object_get(job, "error"));
}

/* ---- POST /v1/images/batch ---- */

struct submission;

struct item_waiter {
    struct ig_gen_waiter waiter; /* first */
    struct submission *sub;
    int index;
};

struct submission {
    struct ig_app *app;
    struct ig_http_req *req;
    struct ig_batch_record rec;
    json_t *requests;
    char *webhook_url;
    json_t *items;    /* what each request became */
    json_t *rejected; /* [{index, error}] */
    int pending;
    int rc;
};

static void submission_free(void *p)
{
    struct submission *s = p;
    json_decref(s->requests);
    json_decref(s->items);
    json_decref(s->rejected);
    free(s->webhook_url);
    free(s);
}

static void rejected_work(void *p)
{
    struct submission *s = p;
    char *text = ig_json_dumps(s->rejected, NULL);
    s->rc = text ? ig_store_batch_set_rejected(s->app->store, s->rec.id, text) : IG_ENOMEM;
    free(text);
}

static void rejected_done(struct ig_http_req *req, void *p)
{
    struct submission *s = p;
    if (s->rc)
        ig_warn("batch %s: its refused requests cannot be kept: %s", s->rec.id, ig_strerror(s->rc));
    char location[96];
    snprintf(location, sizeof location, "/v1/images/batch/%s", s->rec.id);
    ig_http_add_header(req, "Location", location);
    ig_app_respond_json(req, 202, batch_json(&s->rec, json_incref(s->items)));
    ig_job_runner_wake(atomic_load(&s->app->runner));
    submission_free(s);
}

/* One request's outcome; the answer once all are in. */
static void item_settled(struct submission *s, int index, json_t *item)
{
    json_array_append_new(s->items, item);
    if (json_is_string(json_object_get(item, "status")) &&
        strcmp(json_string_value(json_object_get(item, "status")), "rejected") == 0)
        json_array_append_new(s->rejected, json_pack("{s:i, s:O}", "index", index, "error",
                                                     json_object_get(item, "error")));
    if (--s->pending > 0)
        return;
    if (json_array_size(s->rejected) == 0) {
        rejected_done(s->req, s);
        return;
    }
    if (ig_app_offload(s->req, rejected_work, rejected_done, s)) {
        s->rc = IG_ENOMEM;
        rejected_done(s->req, s);
    }
}

static json_t *rejected_item(int index, const struct ig_gen_error *e)
{
    return json_pack("{s:i, s:n, s:s, s:n, s:{s:s, s:s, s:s?, s:s?}}", "index", index, "job_id",
                     "status", "rejected", "result", "error", "message", e->message, "type",
                     ig_api_error_type(e->kind), "param", e->param[0] ? e->param : NULL, "code",
                     e->code);
}

static void item_done(struct ig_gen_waiter *w, struct ig_generation *g)
{
    struct item_waiter *iw = (struct item_waiter *)w;
    struct submission *s = iw->sub;
    json_t *item;
    if (g->state == IG_GEN_SUCCEEDED && g->job.queued)
        item = json_pack("{s:i, s:s, s:s, s:n, s:n}", "index", iw->index, "job_id", g->job.id,
                         "status", "queued", "result", "error");
    else
        item = rejected_item(iw->index, &g->error);
    int index = iw->index;
    free(iw);
    item_settled(s, index, item);
}

/* Makes and starts the generation of request i (a job's submission in
 * the batch), or settles it as refused. */
static void submit_item(struct submission *s, int i)
{
    struct ig_app *app = s->app;
    struct ig_gen_error err;
    json_t *body = json_array_get(s->requests, (size_t)i);
    if (s->webhook_url && !json_object_get(body, "webhook_url"))
        json_object_set_new(body, "webhook_url", json_string(s->webhook_url));
    size_t len = 0;
    char *text = ig_json_dumps(body, &len);
    struct ig_generation *g = text ? ig_api_generation_for(app, s->req) : NULL;
    struct item_waiter *iw = g ? calloc(1, sizeof *iw) : NULL;
    if (!iw) {
        ig_generation_free(g);
        free(text);
        ig_gen_error_set(&err, IG_GERR_UNAVAILABLE, "overloaded", NULL,
                         "The server is overloaded; try again.");
        item_settled(s, i, rejected_item(i, &err));
        return;
    }
    int bad = ig_gen_request_parse(text, len, app->models, &g->req, &err);
    if (!bad && g->req.stream)
        bad = 1, ig_gen_error_set(&err, IG_GERR_INVALID, "unsupported_parameter", "stream",
                                  "A batch's jobs are not streamed.");
    if (!bad && g->req.response_format == IG_RESP_B64)
        bad = 1, ig_gen_error_set(&err, IG_GERR_INVALID, "unsupported_parameter", "response_format",
                                  "A job's images are given as signed links: response_format "
                                  "must be 'url'.");
    if (bad) {
        ig_generation_free(g);
        free(text);
        free(iw);
        item_settled(s, i, rejected_item(i, &err));
        return;
    }
    g->job.mode = IG_GEN_SUBMIT;
    g->job.body = text;
    g->job.body_len = len;
    g->job.webhook_url = g->req.webhook_url ? strdup(g->req.webhook_url) : NULL;
    ig_strlcpy(g->job.batch_id, s->rec.id, sizeof g->job.batch_id);
    g->job.batch_index = i;
    iw->sub = s;
    iw->index = i;
    iw->waiter.done = item_done;
    ig_generation_watch(g, &iw->waiter);
    ig_generation_start(g);
}

static void insert_work(void *p)
{
    struct submission *s = p;
    s->rc = ig_store_batch_insert(s->app->store, &s->rec);
}

static void insert_done(struct ig_http_req *req, void *p)
{
    struct submission *s = p;
    if (s->rc) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The job store is unavailable; try again.");
        submission_free(s);
        return;
    }
    int n = (int)json_array_size(s->requests);
    s->pending = n;
    for (int i = 0; i < n; i++)
        submit_item(s, i);
}

static void go(struct ig_app *app, struct ig_http_req *req, void *ud)
{
    (void)app;
    if (ig_app_offload_or_refuse(req, insert_work, insert_done, ud))
        submission_free(ud);
}

void ig_api_batch_create(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    static const char *const allowed[] = {"requests", "max_concurrency", "webhook_url", NULL};
    json_t *body = ig_app_json_body(req, allowed);
    if (!body)
        return;
    json_t *requests = json_object_get(body, "requests");
    json_t *mc = json_object_get(body, "max_concurrency");
    json_t *hook = json_object_get(body, "webhook_url");
    size_t i;
    json_t *r;
    const char *bad = NULL, *why = NULL;
    if (!json_is_array(requests) || json_array_size(requests) == 0 ||
        json_array_size(requests) > BATCH_MAX) {
        bad = "requests";
        why = "'requests' must be an array of 1 to 100 generation requests.";
    }
    json_array_foreach(requests, i, r)
    {
        if (!bad && !json_is_object(r)) {
            bad = "requests";
            why = "each of 'requests' must be an object (a generation request).";
        }
    }
    if (!bad && mc && !json_is_null(mc) &&
        (!json_is_integer(mc) || json_integer_value(mc) < 1 ||
         json_integer_value(mc) > CONCURRENCY_MAX)) {
        bad = "max_concurrency";
        why = "'max_concurrency' must be an integer from 1 to 64.";
    }
    if (!bad && hook && !json_is_null(hook) && !json_is_string(hook)) {
        bad = "webhook_url";
        why = "'webhook_url' must be a string (an http or https URL).";
    }
    if (bad) {
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", bad, "%s", why);
        json_decref(body);
        return;
    }
    int concurrency = json_is_integer(mc) ? (int)json_integer_value(mc) : CONCURRENCY_DEFAULT;
    struct submission *s = calloc(1, sizeof *s);
    if (s) {
        s->items = json_array();
        s->rejected = json_array();
        s->requests = json_deep_copy(requests);
        s->webhook_url = json_is_string(hook) ? strdup(json_string_value(hook)) : NULL;
    }
    int lost = s && json_is_string(hook) && !s->webhook_url;
    json_decref(body); /* mc and hook with it */
    if (!s || !s->items || !s->rejected || !s->requests || lost ||
        ig_time_ordered_id("batch_", (uint64_t)ig_unix_ms(), s->rec.id, sizeof s->rec.id)) {
        if (s)
            submission_free(s);
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    s->app = app;
    s->req = req;
    ig_strlcpy(s->rec.account_id, ig_api_req_of(req)->account.account_id, sizeof s->rec.account_id);
    s->rec.max_concurrency = concurrency;
    s->rec.total = (int)json_array_size(s->requests);
    s->rec.created_ms = ig_unix_ms();
    ig_idem_run(app, req, go, submission_free, s, 0);
}

/* ---- GET /v1/images/batch/{id} ---- */

struct read_ctx {
    struct ig_app *app;
    char account_id[IG_ID_MAX];
    char id[IG_ID_MAX];
    struct ig_batch_record rec;
    json_t *items;
    int rc;
};

struct job_rows {
    struct ig_job_record *rows;
    int n, max;
};

/* Under the store's lock: copies (a result is read after). */
static int job_row(const struct ig_job_record *j, void *ud)
{
    struct job_rows *r = ud;
    if (r->n == r->max)
        return 1;
    struct ig_job_record *c = &r->rows[r->n];
    *c = *j;
    c->request = strdup(j->request);
    c->webhook_url = j->webhook_url ? strdup(j->webhook_url) : NULL;
    c->upstream = NULL;
    c->error = j->error ? strdup(j->error) : NULL;
    c->progress = j->progress ? strdup(j->progress) : NULL;
    if (!c->request) {
        ig_job_record_release(c);
        return 1;
    }
    r->n++;
    return 0;
}

static void read_work(void *p)
{
    struct read_ctx *c = p;
    struct ig_store *s = c->app->store;
    c->rc = ig_store_batch_find(s, c->account_id, c->id, &c->rec);
    if (c->rc)
        return;
    json_error_t jerr;
    c->items = json_array();
    json_t *rejected = ig_json_loadb(c->rec.rejected, strlen(c->rec.rejected), 0, &jerr);
    size_t i;
    json_t *r;
    json_array_foreach(rejected, i, r)
    {
        json_array_append_new(c->items,
                              json_pack("{s:O, s:n, s:s, s:n, s:O}", "index",
                                        json_object_get(r, "index"), "job_id", "status", "rejected",
                                        "result", "error", json_object_get(r, "error")));
    }
    json_decref(rejected);
    struct job_rows rows = {calloc(BATCH_MAX, sizeof *rows.rows), 0, BATCH_MAX};
    struct ig_job_query q = {.account_id = c->account_id, .batch_id = c->id, .limit = BATCH_MAX};
    c->rc = rows.rows ? ig_store_job_list(s, &q, job_row, &rows) : IG_ENOMEM;
    for (int k = 0; k < rows.n; k++) {
        json_t *job = c->rc ? NULL : ig_api_job_json_read(c->app, &rows.rows[k]);
        if (job)
            json_array_append_new(c->items, job_item(rows.rows[k].batch_index, job));
        json_decref(job);
        ig_job_record_release(&rows.rows[k]);
    }
    free(rows.rows);
}

static void read_done(struct ig_http_req *req, void *p)
{
    struct read_ctx *c = p;
    if (c->rc == IG_ENOTFOUND)
        ig_api_respond_error(req, 404, "invalid_request_error", "batch_not_found", "id",
                             "No batch of this account has id '%.64s'.", c->id);
    else if (c->rc)
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The job store is unavailable; try again.");
    else
        ig_app_respond_json(req, 200, batch_json(&c->rec, json_incref(c->items)));
    json_decref(c->items);
    free(c->rec.rejected);
    free(c);
}

void ig_api_batch_get(struct ig_app *app, struct ig_http_req *req, const char *id)
{
    if (!id[0] || strlen(id) >= IG_ID_MAX || strchr(id, '/')) {
        ig_api_respond_error(req, 404, "invalid_request_error", "not_found", NULL,
                             "Unknown path: a batch is /v1/images/batch/{id}.");
        return;
    }
    struct read_ctx *c = ig_app_calloc(req, sizeof *c);
    if (!c)
        return;
    c->app = app;
    ig_strlcpy(c->account_id, ig_api_req_of(req)->account.account_id, sizeof c->account_id);
    ig_strlcpy(c->id, id, sizeof c->id);
    if (ig_app_offload_or_refuse(req, read_work, read_done, c))
        free(c);
}
