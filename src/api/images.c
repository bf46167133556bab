/* images.c — POST /v1/images/generations, /v1/images/edits and
 * /v1/images/variations: adapters between HTTP and the generation
 * pipeline (pipeline/generation.h).
 *
 * Each handler parses its request into a normalized generation request
 * (the JSON body on the loop; an edit's or a variation's multipart form on
 * the thread pool, through GMime, bounded by limits.max_upload_bytes),
 * makes a generation, attaches itself as its waiter and starts it. The
 * pipeline does the rest. When the generation ends, the waiter answers:
 * the result's JSON as it is (the store step rendered it on the thread
 * pool, so the loop only sends bytes), or the error through api/errors.h.
 *
 * stream=true answers with an event stream: it starts with the first
 * partial image (or with the completed event when none came), partials are
 * written as they come, then the completed event, or an error event when
 * the generation failed after the stream began. A client that leaves
 * cancels the generation's upstream work; the request stays parked until
 * the generation has recorded what happened, then is answered into the
 * void. */
#include "api/app.h"
#include "api/handlers.h"
#include "api/idempotency.h"
#include "api/images.h"
#include "api/jobview.h"
#include "pipeline/generation.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/formdata.h"
#include "util/log.h"
#include "util/num.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One HTTP request waiting for its generation. */
struct http_waiter {
    struct ig_gen_waiter waiter; /* first */
    struct ig_http_req *req;
    struct ig_generation *g;
    int streaming; /* the event stream has begun */
};

static void write_event(struct ig_http_req *req, const char *name, size_t name_len,
                        const char *data, size_t data_len)
{
    ig_http_stream_write(req, "event: ", 7);
    ig_http_stream_write(req, name, name_len);
    ig_http_stream_write(req, "\ndata: ", 7);
    ig_http_stream_write(req, data, data_len);
    ig_http_stream_write(req, "\n\n", 2);
}

/* The key's rate limits and what is left of them, as OpenAI sends them,
 * on every answer of a generation whose limit stage looked. */
/* n (>= 0) in decimal, then suffix, into out (32 bytes). */
static const char *decimal(int64_t n, const char *suffix, char out[32])
{
    size_t o = ig_format_u64(n > 0 ? (uint64_t)n : 0, out);
    ig_strlcpy(out + o, suffix, 32 - o);
    return out;
}

/* The key's rate limits and what is left of them, as OpenAI sends them,
 * on every answer of a generation whose limit stage looked. */
static void add_ratelimit_headers(struct ig_http_req *req, const struct ig_generation *g)
{
    const struct ig_gen_limits *l = &g->limits;
    if (!l->known)
        return;
    char v[32];
    if (l->requests_limit) {
        ig_http_add_header(req, "x-ratelimit-limit-requests", decimal(l->requests_limit, "", v));
        ig_http_add_header(req, "x-ratelimit-remaining-requests",
                           decimal(l->requests_remaining, "", v));
        ig_http_add_header(req, "x-ratelimit-reset-requests",
                           decimal((l->requests_reset_ms + 999) / 1000, "s", v));
    }
    if (l->images_limit) {
        ig_http_add_header(req, "x-ratelimit-limit-images", decimal(l->images_limit, "", v));
        ig_http_add_header(req, "x-ratelimit-remaining-images",
                           decimal(l->images_remaining, "", v));
        ig_http_add_header(req, "x-ratelimit-reset-images",
                           decimal((l->images_reset_ms + 999) / 1000, "s", v));
    }
}

static int begin_stream(struct http_waiter *hw)
{
    if (!hw->streaming)
        add_ratelimit_headers(hw->req, hw->g);
    if (!hw->streaming && ig_http_stream_start(hw->req, 200, "text/event-stream") == 0)
        hw->streaming = 1;
    return hw->streaming;
}

static void on_partial(struct ig_gen_waiter *w, struct ig_generation *g,
                       const struct ig_gen_partial *p)
{
    (void)g;
    struct http_waiter *hw = (struct http_waiter *)w;
    if (hw->req->client_gone || !begin_stream(hw))
        return;
    write_event(hw->req, p->name, p->name_len, p->data, p->data_len);
}

static void finish_stream(struct http_waiter *hw, struct ig_generation *g)
{
    struct ig_http_req *req = hw->req;
    if (g->state == IG_GEN_SUCCEEDED) {
        const char *name = ig_generation_event_name(g, 1);
        write_event(req, name, strlen(name), g->result.body, g->result.body_len);
    } else {
        const struct ig_gen_error *e = &g->error;
        size_t len = 0;
        char *err = ig_api_error_json(ig_api_error_type(e->kind), e->code,
                                      e->param[0] ? e->param : NULL, e->message, &len);
        /* {"type":"error","error":{…}}: the error document with a type. */
        if (err && len > 1) {
            ig_http_stream_write(req, "event: error\ndata: {\"type\":\"error\",", 35);
            ig_http_stream_write(req, err + 1, len - 1);
            ig_http_stream_write(req, "\n\n", 2);
        }
        free(err);
    }
    ig_http_stream_end(req);
}

static void add_cost_headers(struct ig_http_req *req, const struct ig_generation *g)
{
    if (!g->acct.accounted)
        return;
    char cost[32], left[32];
    ig_credits_format(g->acct.cost, cost, sizeof cost);
    ig_credits_format(g->acct.balance, left, sizeof left);
    ig_http_add_header(req, "x-imagegate-cost", cost);
    if (g->acct.metered)
        ig_http_add_header(req, "x-imagegate-credits-remaining", left);
}

static void on_done(struct ig_gen_waiter *w, struct ig_generation *g)
{
    struct http_waiter *hw = (struct http_waiter *)w;
    struct ig_http_req *req = hw->req;
    struct ig_api_req *ar = ig_api_req_of(req);
    req->on_client_gone = NULL;
    int ok = g->state == IG_GEN_SUCCEEDED;
    ar->images = ok ? g->result.images : 0;
    ar->provider = ig_generation_provider(g);
    ar->cache = ig_cache_outcome_name(g->cache.outcome);
    ar->costed = g->acct.accounted;
    ar->cost = g->acct.cost;
    if (!hw->streaming && !(g->req.stream && ok))
        add_ratelimit_headers(req, g);
    if (g->req.stream && (hw->streaming || ok)) {
        if (begin_stream(hw)) {
            finish_stream(hw, g);
        } else {
            ig_api_respond_error(req, 503, "server_error", "overloaded", NULL,
                                 "The server is overloaded; try again.");
        }
    } else if (ok && g->job.mode == IG_GEN_SUBMIT) {
        ig_api_job_queued(req, g);
    } else if (ok && ar->answer) {
        add_cost_headers(req, g);
        ar->answer(req, g);
    } else if (ok) {
        add_cost_headers(req, g);
        ig_http_respond(req, 200, "application/json", g->result.body, g->result.body_len,
                        IG_BODY_FREE);
        g->result.body = NULL;
    } else {
        ig_api_respond_gen_error(req, &g->error);
    }
    free(hw);
}

/* The client left: the generation runs on and is recorded (the work is
 * not lost: its images are in the history, and a retry with its
 * Idempotency-Key gets the answer); the answer itself goes nowhere. When
 * the server drains, it is cancelled instead. */
static void client_gone_cb(struct ig_http_req *req, void *arg)
{
    struct http_waiter *hw = arg;
    req->on_client_gone = NULL;
    if (ig_generation_orphan(hw->g))
        ig_info("generation %s: client gone; it runs on and will be recorded", hw->g->id);
    else
        ig_info("generation %s: client gone while draining: upstream work cancelled", hw->g->id);
}

/* Logs the prompt when the operator asked for prompts in the access log;
 * bounded to 1 KiB. */
static void log_prompt(struct ig_app *app, struct ig_api_req *ar, const char *prompt)
{
    if (!app->cfg->log_prompts)
        return;
    struct ig_buf extra;
    ig_buf_init(&extra, 8192);
    size_t n = strlen(prompt);
    if (ig_buf_puts(&extra, ",\"prompt\":\"") == 0 &&
        ig_buf_json_escape(&extra, prompt, n > 1024 ? 1024 : n) == 0 &&
        ig_buf_puts(&extra, "\"") == 0)
        ar->log_extra = ig_buf_detach(&extra, NULL);
    ig_buf_release(&extra);
}

struct ig_generation *ig_api_generation_for(struct ig_app *app, struct ig_http_req *req)
{
    struct ig_generation *g = NULL;
    if (ig_generation_new(ig_app_pipeline_worker(req), NULL, &g)) {
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL,
                             "The server is overloaded; try again.");
        return NULL;
    }
    struct ig_gen_context *ctx = &g->ctx;
    ig_gen_context_for_key(ctx, ig_api_req_of(req)->key_id, &ig_api_req_of(req)->account);
    ig_strlcpy(ctx->request_id, req->request_id, sizeof ctx->request_id);
    ig_app_base_url(app, req, ctx->base_url, sizeof ctx->base_url);
    ctx->start_us = g->t.start_us = req->start_us;
    return g;
}

/* req's waiter on g; NULL (g freed, req answered) when out of memory. */
static struct http_waiter *waiter_for(struct ig_http_req *req, struct ig_generation *g)
{
    struct http_waiter *hw = calloc(1, sizeof *hw);
    if (!hw) {
        ig_generation_free(g);
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL,
                             "The server is overloaded; try again.");
        return NULL;
    }
    hw->req = req;
    hw->g = g;
    hw->waiter.done = on_done;
    ig_generation_watch(g, &hw->waiter);
    return hw;
}

/* Starts g, whose request has been parsed, with req waiting for it. */
static void start(struct ig_app *app, struct ig_http_req *req, struct ig_generation *g)
{
    struct ig_api_req *ar = ig_api_req_of(req);
    ar->model = g->req.model->id; /* static: outlives the request */
    log_prompt(app, ar, g->req.prompt);
    struct http_waiter *hw = waiter_for(req, g);
    if (!hw)
        return;
    hw->waiter.partial = g->req.stream ? on_partial : NULL;
    req->on_client_gone = client_gone_cb;
    req->on_client_gone_arg = hw;
    ig_generation_start(g);
}

/* ig_idem_run's two ends for a parsed generation. */
static void start_parsed(struct ig_app *app, struct ig_http_req *req, void *g)
{
    start(app, req, g);
}

static void drop_parsed(void *g)
{
    ig_generation_free(g); /* never started: nothing recorded, counted or held */
}

void ig_api_generation_refuse(struct ig_http_req *req, struct ig_generation *g,
                              const struct ig_gen_error *err)
{
    g->req.stream = 0; /* whatever the body said: the answer is one document */
    if (waiter_for(req, g))
        ig_generation_refuse(g, err);
}

/* x-imagegate-cache: use, skip or refresh (absent: the cache serves
 * requests that pin a seed). IG_EINVAL with err filled for another value. */
static int cache_mode(const struct ig_http_req *req, enum ig_cache_mode *out,
                      struct ig_gen_error *err)
{
    size_t n;
    const char *v = ig_http_header(req, "x-imagegate-cache", &n);
    static const struct {
        const char *name;
        enum ig_cache_mode mode;
    } modes[] = {{"use", IG_CACHE_USE}, {"skip", IG_CACHE_SKIP}, {"refresh", IG_CACHE_REFRESH}};
    if (!v)
        return 0;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (n == strlen(modes[i].name) && strncasecmp(v, modes[i].name, n) == 0) {
            *out = modes[i].mode;
            return 0;
        }
    }
    ig_gen_error_set(err, IG_GERR_INVALID, "invalid_value", "x-imagegate-cache",
                     "The x-imagegate-cache header is use, skip or refresh.");
    return IG_EINVAL;
}

void ig_api_generations(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct ig_generation *g = ig_api_generation_for(app, req);
    if (!g)
        return;
    struct ig_gen_error err;
    if (ig_gen_request_parse(req->body.data ? req->body.data : "", req->body.len, app->models,
                             &g->req, &err)) {
        ig_api_generation_refuse(req, g, &err); /* nothing recorded, nothing counted or held */
        return;
    }
    size_t n;
    if (g->req.stream && ig_http_header(req, "idempotency-key", &n)) {
        ig_gen_error_set(&err, IG_GERR_INVALID, "unsupported_parameter", "stream",
                         "Idempotency-Key is not supported with stream=true: an event stream "
                         "cannot be replayed.");
        ig_api_generation_refuse(req, g, &err);
        return;
    }
    if (cache_mode(req, &g->cache.mode, &err)) {
        ig_api_generation_refuse(req, g, &err);
        return;
    }
    if (g->req.webhook_url) {
        ig_gen_error_set(&err, IG_GERR_INVALID, "unsupported_parameter", "webhook_url",
                         "'webhook_url' is for jobs: submit the request to POST "
                         "/v1/images/jobs, which answers at once and calls the webhook when "
                         "the images are ready.");
        ig_api_generation_refuse(req, g, &err);
        return;
    }
    ig_api_generation_run(app, req, g);
}

void ig_api_generation_run(struct ig_app *app, struct ig_http_req *req, struct ig_generation *g)
{
    ig_idem_run(app, req, start_parsed, drop_parsed, g, 0);
}

/* ---- uploads: edits and variations ---- */

/* Most parts a form may have: 16 images, a mask and every text field. */
#define MAX_FORM_FIELDS 48

struct upload {
    struct ig_app *app;
    struct ig_http_req *req;
    struct ig_gen_request greq;
    int rc;
    struct ig_gen_error err;
};

static void upload_parse_work(void *p)
{
    struct upload *u = p;
    struct ig_http_req *req = u->req;
    struct ig_form form;
    char why[256];
    size_t ct_len = 0;
    const char *ct = ig_http_header(req, "content-type", &ct_len);
    u->rc = ig_formdata_parse(ct ? ct : "", ct_len, req->body.data ? req->body.data : "",
                              req->body.len, MAX_FORM_FIELDS, &form, why, sizeof why);
    if (u->rc) {
        int bad = u->rc == IG_EINVAL;
        ig_gen_error_set(&u->err, bad ? IG_GERR_INVALID : IG_GERR_UNAVAILABLE,
                         bad ? "invalid_multipart" : "overloaded", NULL,
                         "The multipart form cannot be read: %s.", bad ? why : "out of memory");
        return;
    }
    u->rc = ig_edit_request_parse(&form, u->greq.op, (size_t)u->app->cfg->max_input_pixels,
                                  u->app->models, &u->greq, &u->err);
    ig_form_release(&form);
}

static void upload_parse_done(struct ig_http_req *req, void *p)
{
    struct upload *u = p;
    struct ig_generation *g = NULL;
    if (u->rc) {
        if ((g = ig_api_generation_for(u->app, req)) != NULL)
            ig_api_generation_refuse(req, g, &u->err);
    } else if ((g = ig_api_generation_for(u->app, req)) != NULL) {
        g->req = u->greq;
        memset(&u->greq, 0, sizeof u->greq);
        size_t n;
        if (g->req.stream && ig_http_header(req, "idempotency-key", &n)) {
            struct ig_gen_error err;
            ig_gen_error_set(&err, IG_GERR_INVALID, "unsupported_parameter", "stream",
                             "Idempotency-Key is not supported with stream=true: an event "
                             "stream cannot be replayed.");
            ig_buf_release(&req->body); /* the uploads live in the generation now */
            ig_api_generation_refuse(req, g, &err);
        } else {
            ig_idem_run(u->app, req, start_parsed, drop_parsed, g, 1); /* hashed, released */
        }
    }
    ig_gen_request_release(&u->greq);
    free(u);
}

static void start_upload(struct ig_app *app, struct ig_http_req *req, enum ig_operation op)
{
    struct upload *u = calloc(1, sizeof *u);
    if (u) {
        u->app = app;
        u->req = req;
        u->greq.op = op;
    }
    if (!u || ig_app_offload(req, upload_parse_work, upload_parse_done, u)) {
        free(u);
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL,
                             "The server is overloaded; try again.");
    }
}

void ig_api_edits(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    start_upload(app, req, IG_OP_EDIT);
}

void ig_api_variations(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    start_upload(app, req, IG_OP_VARIATION);
}
