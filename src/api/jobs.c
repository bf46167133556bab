/* jobs.c — durable jobs over HTTP:
 *
 *   POST /v1/images/jobs               a generation body (+ webhook_url) → 202, queued
 *   GET  /v1/images/jobs               the account's jobs, newest first (status, limit, cursor)
 *   GET  /v1/images/jobs/{id}          one job: status, progress, result or error
 *   POST /v1/images/jobs/{id}/cancel   cancel (releases the hold; stops the provider's job)
 *   GET  /v1/images/jobs/{id}/events   Server-Sent Events of its transitions, ending with the
 * result
 *
 * A submission is a generation in IG_GEN_SUBMIT mode: it is checked,
 * moderated, rate-limited, priced and reserved like a synchronous one, and
 * its enqueue stage commits the job with its hold before the 202 is sent
 * (pipeline/job.c). The runner (pipeline/runner.h) does the rest. A job's
 * result is its generation's record: image links are signed when it is
 * read, so they are fresh however late it is read. An account sees only
 * its own jobs; another's id is 404 like an unknown one. */
#include "api/app.h"
#include "api/handlers.h"
#include "api/history.h"
#include "api/images.h"
#include "api/jobview.h"
#include "pipeline/runner.h"
#include "core/webhook.h"
#include "store/jobs.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"
#include "util/num.h"

#include <stdlib.h>
#include <string.h>

#define PAGE_DEFAULT 20
#define PAGE_MAX     100
/* How often an event stream looks at its job, and says it is alive. */
#define EVENTS_POLL_MS      250
#define EVENTS_HEARTBEAT_MS 15000
#define EVENTS_MAX_MS       (60 * 60 * 1000)

static int terminal(const char *status)
{
    return strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
           strcmp(status, "canceled") == 0;
}

/* ---- reading jobs (on the pool) ---- */

struct read_ctx {
    struct ig_app *app;
    char account_id[IG_ID_MAX];
    char id[IG_ID_MAX];
    json_t *doc;
    char status[12];
    int rc;
};

static void read_one(struct read_ctx *c)
{
    struct ig_job_record j;
    c->rc = ig_store_job_find(c->app->store, c->account_id, c->id, &j);
    if (c->rc)
        return;
    ig_strlcpy(c->status, j.status, sizeof c->status);
    c->doc = ig_api_job_json_read(c->app, &j);
    ig_job_record_release(&j);
    if (!c->doc)
        c->rc = IG_ENOMEM;
}

static void read_work(void *p)
{
    read_one(p);
}

static void respond_read_failure(struct ig_http_req *req, const struct read_ctx *c)
{
    if (c->rc == IG_ENOTFOUND)
        ig_api_respond_error(req, 404, "invalid_request_error", "job_not_found", "id",
                             "No job of this account has id '%.64s'.", c->id);
    else
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The job store is unavailable; try again.");
}

static void read_done(struct ig_http_req *req, void *p)
{
    struct read_ctx *c = p;
    if (c->rc)
        respond_read_failure(req, c);
    else
        ig_app_respond_json(req, 200, c->doc);
    free(c);
}

/* A zeroed context of size bytes that starts with a struct read_ctx for
 * job id of req's account; NULL (req answered) when out of memory. */
static void *read_ctx_new(size_t size, struct ig_app *app, struct ig_http_req *req, const char *id)
{
    struct read_ctx *c = ig_app_calloc(req, size);
    if (!c)
        return NULL;
    c->app = app;
    ig_strlcpy(c->account_id, ig_api_req_of(req)->account.account_id, sizeof c->account_id);
    ig_strlcpy(c->id, id, sizeof c->id);
    return c;
}

/* ---- POST /v1/images/jobs ---- */

void ig_api_jobs_create(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct ig_generation *g = ig_api_generation_for(app, req);
    if (!g)
        return;
    struct ig_gen_error err;
    const char *body = req->body.data ? req->body.data : "";
    if (ig_gen_request_parse(body, req->body.len, app->models, &g->req, &err)) {
        ig_api_generation_refuse(req, g, &err);
        return;
    }
    if (g->req.stream) {
        ig_gen_error_set(&err, IG_GERR_INVALID, "unsupported_parameter", "stream",
                         "A job is not streamed: follow it with GET "
                         "/v1/images/jobs/{id}/events instead.");
        ig_api_generation_refuse(req, g, &err);
        return;
    }
    if (g->req.response_format == IG_RESP_B64) {
        ig_gen_error_set(&err, IG_GERR_INVALID, "unsupported_parameter", "response_format",
                         "A job's images are kept and given as signed links: response_format "
                         "must be 'url'.");
        ig_api_generation_refuse(req, g, &err);
        return;
    }
    g->job.mode = IG_GEN_SUBMIT;
    g->job.body = malloc(req->body.len + 1);
    g->job.webhook_url = g->req.webhook_url ? strdup(g->req.webhook_url) : NULL;
    if (!g->job.body || (g->req.webhook_url && !g->job.webhook_url)) {
        ig_generation_free(g);
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    memcpy(g->job.body, body, req->body.len);
    g->job.body[req->body.len] = '\0';
    g->job.body_len = req->body.len;
    ig_api_generation_run(app, req, g);
}

/* ---- GET /v1/images/jobs/{id}, …/cancel, …/events ---- */

static void job_get(struct ig_app *app, struct ig_http_req *req, const char *id)
{
    struct read_ctx *c = read_ctx_new(sizeof *c, app, req, id);
    if (c && ig_app_offload_or_refuse(req, read_work, read_done, c))
        free(c);
}

struct cancel_ctx {
    struct read_ctx r;
    enum ig_job_cancel_result result;
};

static void cancel_work(void *p)
{
    struct cancel_ctx *c = p;
    struct ig_app *app = c->r.app;
    struct ig_job_record j;
    static const char message[] = "The job was canceled before it ran.";
    char err[256];
    snprintf(err, sizeof err,
             "{\"kind\":\"canceled\",\"code\":\"job_canceled\",\"param\":null,"
             "\"message\":\"%s\",\"provider\":null}",
             message);
    int64_t now = ig_unix_ms();
    char *payload =
        ig_webhook_job_event(c->r.id, "canceled", NULL, NULL, "job_canceled", message, NULL, now);
    struct ig_job_event event = {ig_webhook_job_event_type("canceled"), payload};
    c->r.rc = ig_job_cancel(app->store, c->r.account_id, c->r.id, now, err, &event, &c->result, &j);
    free(payload);
    if (c->r.rc)
        return;
    ig_strlcpy(c->r.status, j.status, sizeof c->r.status);
    c->r.doc = ig_api_job_json_read(app, &j);
    ig_job_record_release(&j);
    if (!c->r.doc)
        c->r.rc = IG_ENOMEM;
}

static void cancel_done(struct ig_http_req *req, void *p)
{
    struct cancel_ctx *c = p;
    struct ig_app *app = c->r.app;
    if (c->r.rc) {
        respond_read_failure(req, &c->r);
    } else if (c->result == IG_JOB_FINISHED && strcmp(c->r.status, "canceled") != 0) {
        json_decref(c->r.doc);
        ig_api_respond_error(req, 409, "invalid_request_error", "job_finished", "id",
                             "Job '%.64s' has %s already; there is nothing to cancel.", c->r.id,
                             c->r.status);
    } else {
        if (c->result == IG_JOB_CANCELED)
            ig_balances_forget_all(app->balances); /* its hold came back */
        else if (c->result == IG_JOB_CANCELING)
            ig_job_runner_wake(atomic_load(&app->runner)); /* its runner looks now */
        ig_app_respond_json(req, c->result == IG_JOB_CANCELING ? 202 : 200, c->r.doc);
    }
    free(c);
}

static void job_cancel(struct ig_app *app, struct ig_http_req *req, const char *id)
{
    struct cancel_ctx *c = read_ctx_new(sizeof *c, app, req, id);
    if (c && ig_app_offload_or_refuse(req, cancel_work, cancel_done, c))
        free(c);
}

/* An event stream: the job looked at every EVENTS_POLL_MS (on the pool;
 * any instance may be running it), an event for each change of status or
 * progress, and the stream ends with the job's end. */
struct events {
    struct read_ctx r;
    struct ig_http_req *req;
    uv_timer_t timer;
    uv_work_t work;
    char last[160]; /* the status and progress last sent */
    char last_status[12];
    uint64_t started_ms, last_write_ms;
    int gone;
    int ending;
};

static void events_closed_cb(uv_handle_t *h)
{
    free(h->data);
}

static void events_end(struct events *e)
{
    e->ending = 1;
    ig_http_stream_end(e->req);
    uv_close((uv_handle_t *)&e->timer, events_closed_cb);
}

static void events_gone_cb(struct ig_http_req *req, void *arg)
{
    (void)req;
    struct events *e = arg;
    e->gone = 1;
}

static void events_look_run(uv_work_t *w)
{
    struct events *e = w->data;
    json_decref(e->r.doc);
    e->r.doc = NULL;
    read_one(&e->r);
}

static void events_tick(uv_timer_t *t);

/* A progress number as the state compares it: -1 for null (unknown). */
static long long said(const json_t *v)
{
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static void events_look_done(uv_work_t *w, int status)
{
    (void)status;
    struct events *e = w->data;
    struct ig_http_req *req = e->req;
    if (e->gone) {
        json_decref(e->r.doc);
        events_end(e);
        return;
    }
    if (!req->streaming) {
        if (e->r.rc) {
            req->on_client_gone = NULL; /* before the answer frees req */
            respond_read_failure(req, &e->r);
            uv_close((uv_handle_t *)&e->timer, events_closed_cb);
            return;
        }
        if (ig_http_stream_start(req, 200, "text/event-stream")) {
            json_decref(e->r.doc);
            events_end(e);
            return;
        }
    }
    uint64_t now = ig_now_us() / 1000;
    if (e->r.rc == 0) {
        json_t *progress = json_object_get(e->r.doc, "progress");
        char state[160];
        snprintf(state, sizeof state, "%s|%lld|%d|%d|%lld|%lld", e->r.status,
                 (long long)json_integer_value(json_object_get(progress, "attempts")),
                 json_is_true(json_object_get(progress, "provider_job")),
                 json_is_true(json_object_get(e->r.doc, "cancel_requested")),
                 said(json_object_get(progress, "queue_position")),
                 said(json_object_get(progress, "percent")));
        if (strcmp(state, e->last) != 0) {
            /* job.queued, job.running, …: a transition; job.progress: more
             * of the same status. */
            int moved = strcmp(e->last_status, e->r.status) != 0;
            size_t len;
            char *data = ig_json_dumps(e->r.doc, &len);
            char event[48];
            snprintf(event, sizeof event, "job.%s", moved ? e->r.status : "progress");
            if (data) {
                ig_http_stream_write(req, "event: ", 7);
                ig_http_stream_write(req, event, strlen(event));
                ig_http_stream_write(req, "\ndata: ", 7);
                ig_http_stream_write(req, data, len);
                ig_http_stream_write(req, "\n\n", 2);
                free(data);
                ig_strlcpy(e->last, state, sizeof e->last);
                ig_strlcpy(e->last_status, e->r.status, sizeof e->last_status);
                e->last_write_ms = now;
            }
        }
    }
    json_decref(e->r.doc);
    e->r.doc = NULL;
    if ((e->r.rc == 0 && terminal(e->r.status)) || now - e->started_ms > EVENTS_MAX_MS) {
        req->on_client_gone = NULL;
        events_end(e);
        return;
    }
    if (now - e->last_write_ms >= EVENTS_HEARTBEAT_MS) {
        ig_http_stream_write(req, ": keep-alive\n\n", 14);
        e->last_write_ms = now;
    }
    uv_timer_start(&e->timer, events_tick, EVENTS_POLL_MS, 0);
}

static void events_tick(uv_timer_t *t)
{
    struct events *e = t->data;
    if (e->gone) {
        events_end(e);
        return;
    }
    if (uv_queue_work(t->loop, &e->work, events_look_run, events_look_done))
        uv_timer_start(&e->timer, events_tick, EVENTS_POLL_MS, 0);
}

static void job_events(struct ig_app *app, struct ig_http_req *req, const char *id)
{
    struct events *e = read_ctx_new(sizeof *e, app, req, id);
    if (!e)
        return;
    e->req = req;
    e->work.data = e;
    e->started_ms = e->last_write_ms = ig_now_us() / 1000;
    uv_timer_init(req->loop, &e->timer);
    e->timer.data = e;
    req->on_client_gone = events_gone_cb;
    req->on_client_gone_arg = e;
    events_tick(&e->timer);
}

/* GET /v1/images/jobs/{id} and …/events; POST …/{id}/cancel. */
void ig_api_job(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    char id[IG_ID_MAX];
    const char *slash = strchr(param, '/');
    size_t n = slash ? (size_t)(slash - param) : strlen(param);
    const char *rest = slash ? slash + 1 : "";
    int get = req->method == HTTP_GET;
    if (n == 0 || n >= sizeof id || (get && rest[0] && strcmp(rest, "events") != 0) ||
        (!get && strcmp(rest, "cancel") != 0)) {
        ig_api_respond_error(req, 404, "invalid_request_error", "not_found", NULL,
                             "Unknown path: a job is /v1/images/jobs/{id}, with /events (GET) "
                             "and /cancel (POST).");
        return;
    }
    memcpy(id, param, n);
    id[n] = '\0';
    if (!get)
        job_cancel(app, req, id);
    else if (rest[0])
        job_events(app, req, id);
    else
        job_get(app, req, id);
}

/* ---- GET /v1/images/jobs ---- */

struct list_ctx {
    struct ig_app *app;
    char account_id[IG_ID_MAX];
    char status[16], cursor[IG_ID_MAX];
    struct ig_job_query q;
    json_t *items;
    struct ig_job_record rows[PAGE_MAX + 1];
    int nrows;
    int rc;
};

/* Under the store's lock: copies of the page's jobs, rendered after it
 * (a result is read from the store too). */
static int list_row(const struct ig_job_record *j, void *ud)
{
    struct list_ctx *c = ud;
    struct ig_job_record *copy = &c->rows[c->nrows];
    *copy = *j;
    copy->request = strdup(j->request);
    copy->webhook_url = j->webhook_url ? strdup(j->webhook_url) : NULL;
    copy->upstream = j->upstream ? strdup(j->upstream) : NULL;
    copy->error = j->error ? strdup(j->error) : NULL;
    copy->progress = j->progress ? strdup(j->progress) : NULL;
    c->nrows++;
    if (!copy->request || (j->webhook_url && !copy->webhook_url) ||
        (j->upstream && !copy->upstream) || (j->error && !copy->error) ||
        (j->progress && !copy->progress)) {
        c->rc = IG_ENOMEM;
        return 1;
    }
    return 0;
}

static void list_work(void *p)
{
    struct list_ctx *c = p;
    c->items = json_array();
    if (!c->items) {
        c->rc = IG_ENOMEM;
        return;
    }
    if (c->cursor[0]) {
        struct ig_job_record at;
        c->rc = ig_store_job_find(c->app->store, c->account_id, c->cursor, &at);
        if (c->rc)
            return;
        c->q.before_created_ms = at.created_ms;
        c->q.before_id = c->cursor;
        ig_job_record_release(&at);
    }
    int rc = ig_store_job_list(c->app->store, &c->q, list_row, c);
    c->rc = c->rc ? c->rc : rc;
    for (int i = 0; i < c->nrows; i++) {
        json_t *o = c->rc ? NULL : ig_api_job_json_read(c->app, &c->rows[i]);
        if (o)
            json_array_append_new(c->items, o);
        else if (!c->rc)
            c->rc = IG_ENOMEM;
        ig_job_record_release(&c->rows[i]);
    }
}

static void list_done(struct ig_http_req *req, void *p)
{
    struct list_ctx *c = p;
    if (c->rc == IG_ENOTFOUND) {
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", "cursor",
                             "Invalid 'cursor': no job of this account has id '%.64s'.", c->cursor);
    } else if (c->rc) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The job store is unavailable; try again.");
    } else {
        ig_app_respond_page(req, json_incref(c->items), c->q.limit - 1);
    }
    json_decref(c->items);
    free(c);
}

void ig_api_jobs_list(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct list_ctx *c = ig_app_calloc(req, sizeof *c);
    if (!c)
        return;
    c->app = app;
    ig_strlcpy(c->account_id, ig_api_req_of(req)->account.account_id, sizeof c->account_id);
    int64_t n;
    const char *bad =
        ig_app_page_query(req, PAGE_DEFAULT, PAGE_MAX, &n, c->cursor, sizeof c->cursor);
    int got;
    if (!bad && ((got = ig_app_query_param(req, "status", c->status, sizeof c->status)) < 0 ||
                 (got && strcmp(c->status, "queued") && strcmp(c->status, "running") &&
                  !terminal(c->status))))
        bad = "status";
    if (bad) {
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", bad,
                             "Invalid '%s': limit is 1 to %d, status one of queued, running, "
                             "succeeded, failed, canceled, each given once.",
                             bad, PAGE_MAX);
        free(c);
        return;
    }
    c->q.account_id = c->account_id;
    c->q.status = c->status[0] ? c->status : NULL;
    c->q.limit = (int)n + 1;
    if (ig_app_offload_or_refuse(req, list_work, list_done, c))
        free(c);
}
