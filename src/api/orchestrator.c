/* orchestrator.c — the orchestrator API of seed 001, for clients written
 * against it (its Python and TypeScript clients, its cURL examples):
 *
 *   POST /api/v1/generate        → {id, image_url, thumbnail_url, prompt, model, style, size,
 *                                   quality, metadata, created_at, processing_time, cost}
 *   POST /api/v1/generate/batch  {prompts, model, …} → [such answers, in order]
 *   GET  /api/v1/models          → [{name, description, max_resolution, supported_styles,
 *                                   pricing_per_image, average_time}]
 *   GET  /api/v1/models/{name}
 *   GET  /api/v1/generations?limit=&filter_by_model=
 *   GET  /api/v1/usage           (api/usage.c: total_generations, total_cost, …)
 *
 * A generation here is the pipeline's like any other (limits, credits,
 * cache, history); only the answer differs. Its images are given as
 * signed links, with a 256 px WebP thumbnail each (/v1/thumbnails/).
 * Errors are OpenAI's shape, as everywhere. */
#include "api/app.h"
#include "api/credits.h"
#include "api/handlers.h"
#include "api/history.h"
#include "api/images.h"
#include "core/signing.h"
#include "core/styles.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_MAX 16
#define PAGE_MAX  100

/* "2026-12-06T08:00:00Z" */
static json_t *iso_time(int64_t unix_s)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    char out[32];
    gmtime_r(&t, &tm);
    strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(out);
}

/* The thumbnail link of an image link (/v1/files/SHA.EXT?…), or null. */
static json_t *thumbnail_of(const struct ig_app *app, const char *url)
{
    const char *p = url ? strstr(url, "/v1/files/") : NULL;
    if (!p || strlen(p + 10) < 64)
        return json_null();
    char sha[65], base[300], link[700];
    memcpy(sha, p + 10, 64);
    sha[64] = '\0';
    size_t blen = (size_t)(p - url) < sizeof base ? (size_t)(p - url) : sizeof base - 1;
    memcpy(base, url, blen);
    base[blen] = '\0';
    ig_signed_thumbnail_url(app->secret, sizeof app->secret, base, sha,
                            ig_unix_time() + app->cfg->url_ttl_s, link, sizeof link);
    return json_string(link);
}

/* The answer of seed 001 for a generation: its links from the OpenAI
 * response the pipeline rendered (data[].url). */
static json_t *generation_json(const struct ig_app *app, const struct ig_generation *g)
{
    json_error_t jerr;
    json_t *doc = ig_json_loadb(g->result.body, g->result.body_len, 0, &jerr);
    json_t *images = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(doc, "data"), i, item)
    {
        const char *url = json_string_value(json_object_get(item, "url"));
        json_array_append_new(
            images, json_pack("{s:s?, s:o}", "url", url, "thumbnail_url", thumbnail_of(app, url)));
    }
    json_t *first = json_array_get(images, 0);
    const struct ig_gen_request *r = &g->req;
    json_t *o = json_pack(
        "{s:s, s:O, s:O, s:s, s:s, s:s?, s:s, s:s, s:o, s:o, s:f, s:o, s:o}", "id", g->id,
        "image_url", first ? json_object_get(first, "url") : json_null(), "thumbnail_url",
        first ? json_object_get(first, "thumbnail_url") : json_null(), "prompt", r->prompt, "model",
        r->model->id, "style", r->style, "size", r->size, "quality", r->quality, "metadata",
        r->metadata ? json_incref(r->metadata) : json_object(), "created_at", iso_time(g->created),
        "processing_time", (double)(ig_now_us() - g->t.start_us) / 1e6, "cost",
        ig_api_credits_json(g->acct.cost), "images", images);
    json_object_set(o, "cache", json_object_get(json_object_get(doc, "_metadata"), "cache"));
    if (json_is_null(json_object_get(o, "cache")))
        json_object_del(o, "cache");
    json_decref(doc);
    return o;
}

static void answer(struct ig_http_req *req, struct ig_generation *g)
{
    struct ig_app *app = ig_api_req_of(req)->app;
    ig_app_respond_json(req, 200, generation_json(app, g));
}

/* Parses body into a generation for req (a url answer, no stream); NULL
 * when it was refused (req answered). */
static struct ig_generation *parse(struct ig_app *app, struct ig_http_req *req, const char *body,
                                   size_t len)
{
    struct ig_generation *g = ig_api_generation_for(app, req);
    if (!g)
        return NULL;
    struct ig_gen_error err;
    if (ig_gen_request_parse(body, len, app->models, &g->req, &err)) {
        ig_api_generation_refuse(req, g, &err);
        return NULL;
    }
    if (g->req.stream || g->req.webhook_url) {
        ig_gen_error_set(&err, IG_GERR_INVALID, "unsupported_parameter",
                         g->req.stream ? "stream" : "webhook_url",
                         "/api/v1/generate answers when the images are ready; for streams and "
                         "webhooks use /v1/images/generations and /v1/images/jobs.");
        ig_api_generation_refuse(req, g, &err);
        return NULL;
    }
    g->req.response_format = IG_RESP_URL; /* its answer is links */
    return g;
}

void ig_api_orch_generate(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct ig_generation *g = parse(app, req, req->body.data ? req->body.data : "", req->body.len);
    if (!g)
        return;
    ig_api_req_of(req)->answer = answer;
    ig_api_generation_run(app, req, g);
}

/* ---- POST /api/v1/generate/batch ---- */

struct batch;

struct batch_waiter {
    struct ig_gen_waiter waiter; /* first */
    struct batch *b;
    int index;
};

struct batch {
    struct ig_app *app;
    struct ig_http_req *req;
    json_t *answers;
    int pending;
};

static void batch_settle(struct batch *b, int index, json_t *answer_doc)
{
    json_array_set_new(b->answers, (size_t)index, answer_doc);
    if (--b->pending > 0)
        return;
    ig_app_respond_json(b->req, 200, b->answers);
    free(b);
}

static json_t *error_doc(const struct ig_gen_error *e, const char *prompt)
{
    return json_pack("{s:s?, s:{s:s, s:s, s:s?, s:s?}}", "prompt", prompt, "error", "message",
                     e->message, "type", ig_api_error_type(e->kind), "param",
                     e->param[0] ? e->param : NULL, "code", e->code);
}

static void batch_done(struct ig_gen_waiter *w, struct ig_generation *g)
{
    struct batch_waiter *bw = (struct batch_waiter *)w;
    struct batch *b = bw->b;
    int index = bw->index;
    free(bw);
    batch_settle(b, index,
                 g->state == IG_GEN_SUCCEEDED ? generation_json(b->app, g)
                                              : error_doc(&g->error, g->req.prompt));
}

void ig_api_orch_generate_batch(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    static const char *const allowed[] = {"prompts", "model",    "style",      "size",
                                          "quality", "metadata", "batch_size", NULL};
    json_t *body = ig_app_json_body(req, allowed);
    if (!body)
        return;
    json_t *prompts = json_object_get(body, "prompts");
    size_t n = json_array_size(prompts);
    int ok = json_is_array(prompts) && n >= 1 && n <= BATCH_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = json_is_string(json_array_get(prompts, i));
    if (!ok) {
        json_decref(body);
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", "prompts",
                             "'prompts' must be an array of 1 to %d strings.", BATCH_MAX);
        return;
    }
    struct batch *b = calloc(1, sizeof *b);
    if (!b || !(b->answers = json_array())) {
        free(b);
        json_decref(body);
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    b->app = app;
    b->req = req;
    b->pending = (int)n;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(b->answers, json_null());
    json_object_del(body, "batch_size"); /* how many at once: all of them, here */
    json_t *one = json_deep_copy(body);
    json_object_del(one, "prompts");
    for (size_t i = 0; i < n; i++) {
        json_object_set(one, "prompt", json_array_get(prompts, i));
        size_t len;
        char *text = ig_json_dumps(one, &len);
        struct ig_generation *g = text ? ig_api_generation_for(app, req) : NULL;
        struct ig_gen_error err;
        struct batch_waiter *bw = g ? calloc(1, sizeof *bw) : NULL;
        if (!bw) {
            ig_generation_free(g);
            free(text);
            ig_gen_error_set(&err, IG_GERR_UNAVAILABLE, "overloaded", NULL,
                             "The server is overloaded; try again.");
            batch_settle(b, (int)i, error_doc(&err, json_string_value(json_array_get(prompts, i))));
            continue;
        }
        int bad = ig_gen_request_parse(text, len, app->models, &g->req, &err);
        free(text);
        if (bad) {
            ig_generation_free(g);
            free(bw);
            batch_settle(b, (int)i, error_doc(&err, json_string_value(json_array_get(prompts, i))));
            continue;
        }
        g->req.response_format = IG_RESP_URL;
        bw->b = b;
        bw->index = (int)i;
        bw->waiter.done = batch_done;
        ig_generation_watch(g, &bw->waiter);
        ig_generation_start(g);
    }
    json_decref(one);
    json_decref(body);
}

/* ---- GET /api/v1/models ---- */

struct models_ctx {
    struct ig_app *app;
    json_t *average; /* model id → median seconds, over the last week */
    char name[256];
    int rc;
};

static int average_row(const struct ig_usage_row *r, void *ud)
{
    struct models_ctx *c = ud;
    if (r->generations > r->failed)
        json_object_set_new(c->average, r->group, json_real((double)r->p50_latency_us / 1e6));
    return 0;
}

/* How long one report of the models' latencies serves. */
#define MODEL_TIMES_MS 60000

/* c->average: a copy of the last report of latencies, made again when
 * older than MODEL_TIMES_MS (by one request at a time; the others take
 * the older report meanwhile). */
static void models_work(void *p)
{
    struct models_ctx *c = p;
    struct ig_app *app = c->app;
    int64_t now = ig_unix_ms();
    pthread_mutex_lock(&app->model_times.lock);
    json_t *last = app->model_times.by_model;
    int fresh = last && now - app->model_times.made_ms < MODEL_TIMES_MS;
    if (fresh || (last && app->model_times.making)) {
        /* A deep copy: the values are not shared across threads. */
        json_object_update_new(c->average, json_deep_copy(last));
        pthread_mutex_unlock(&app->model_times.lock);
        return;
    }
    app->model_times.making = 1;
    pthread_mutex_unlock(&app->model_times.lock);
    c->rc = ig_store_usage(app->store, NULL, now - 7 * 86400000LL, now + 1, IG_USAGE_MODEL,
                           average_row, c);
    pthread_mutex_lock(&app->model_times.lock);
    app->model_times.making = 0;
    json_t *copy = c->rc == 0 ? json_deep_copy(c->average) : NULL;
    if (copy) {
        json_decref(app->model_times.by_model);
        app->model_times.by_model = copy;
        app->model_times.made_ms = now;
    }
    pthread_mutex_unlock(&app->model_times.lock);
}

static json_t *model_info(const struct ig_app *app, const struct ig_model *m, json_t *average)
{
    char res[32], size[32];
    snprintf(res, sizeof res, "%dx%d", m->max_side, m->max_side);
    snprintf(size, sizeof size, "%dx%d", m->default_width, m->default_height);
    const char *quality = m->qualities && m->qualities[0] ? m->qualities[0] : "auto";
    int64_t price = -1;
    for (size_t i = 0; i < m->ndeployments; i++) {
        int64_t unit;
        const struct ig_deployment *d = &m->deployments[i];
        if (ig_price_lookup(d->prices, d->nprices, size, quality, &unit) == 0 && unit > price)
            price = unit;
    }
    json_t *styles = json_array();
    for (size_t i = 0; m->styles && m->styles[i]; i++)
        json_array_append_new(styles, json_string(m->styles[i]));
    const struct ig_style *st;
    for (size_t i = 0; (st = ig_styles_at(app->styles, i)) != NULL; i++)
        json_array_append_new(styles, json_string(st->name));
    json_t *avg = json_object_get(average, m->id);
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:O, s:s}", "name", m->id, "description",
                     m->description ? m->description : "", "max_resolution", res,
                     "supported_styles", styles, "pricing_per_image",
                     price >= 0 ? ig_api_credits_json(price) : json_null(), "average_time",
                     avg ? avg : json_null(), "provider", m->provider);
}

static void models_done(struct ig_http_req *req, void *p)
{
    struct models_ctx *c = p;
    struct ig_app *app = c->app;
    if (c->name[0]) {
        const struct ig_model *m = ig_models_find(app->models, c->name);
        if (m)
            ig_app_respond_json(req, 200, model_info(app, m, c->average));
        else
            ig_api_respond_error(req, 404, "invalid_request_error", "model_not_found", "model",
                                 "No model is named '%.128s'.", c->name);
    } else {
        json_t *list = json_array();
        for (size_t i = 0; i < ig_models_count(app->models); i++)
            json_array_append_new(list, model_info(app, ig_models_at(app->models, i), c->average));
        ig_app_respond_json(req, 200, list);
    }
    json_decref(c->average);
    free(c);
}

static void models(struct ig_app *app, struct ig_http_req *req, const char *name)
{
    struct models_ctx *c = calloc(1, sizeof *c);
    if (!c || !(c->average = json_object())) {
        free(c);
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    c->app = app;
    if (name && strlen(name) >= sizeof c->name) {
        json_decref(c->average);
        free(c);
        ig_api_respond_error(req, 404, "invalid_request_error", "model_not_found", "model",
                             "No model has so long a name.");
        return;
    }
    if (name)
        strcpy(c->name, name);
    if (ig_app_offload_or_refuse(req, models_work, models_done, c)) {
        json_decref(c->average);
        free(c);
    }
}

void ig_api_orch_models(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    models(app, req, NULL);
}

void ig_api_orch_model(struct ig_app *app, struct ig_http_req *req, const char *name)
{
    models(app, req, name);
}

/* ---- GET /api/v1/generations ---- */

struct history_ctx {
    struct ig_app *app;
    char account_id[IG_ID_MAX];
    char model[128];
    char base_url[300];
    int limit;
    json_t *items;
    int rc;
};

static int history_row(const struct ig_history_row *r, void *ud)
{
    struct history_ctx *c = ud;
    json_error_t jerr;
    json_t *params = r->params_json ? json_loads(r->params_json, 0, &jerr) : NULL;
    json_t *links = ig_api_image_links(c->app, c->base_url, r->images_json);
    json_t *first = json_array_get(links, 0);
    const char *url = json_string_value(json_object_get(first, "url"));
    char size[32];
    snprintf(size, sizeof size, "%dx%d", r->width, r->height);
    json_t *style = json_object_get(params, "style"), *quality = json_object_get(params, "quality");
    json_t *md = json_object_get(params, "metadata");
    json_array_append_new(
        c->items,
        json_pack("{s:s, s:s?, s:o, s:s, s:s, s:O, s:s, s:O, s:O, s:o, s:f, s:o, s:s}", "id", r->id,
                  "image_url", url, "thumbnail_url", thumbnail_of(c->app, url), "prompt",
                  r->prompt ? r->prompt : "", "model", r->model, "style",
                  style ? style : json_null(), "size", size, "quality",
                  quality ? quality : json_null(), "metadata", md ? md : json_null(), "created_at",
                  iso_time(r->created_ms / 1000), "processing_time", (double)r->latency_us / 1e6,
                  "cost", ig_api_credits_json(r->cost), "status", r->status));
    json_decref(links);
    json_decref(params);
    return 0;
}

static void history_work(void *p)
{
    struct history_ctx *c = p;
    struct ig_history_query q = {
        .account_id = c->account_id, .model = c->model[0] ? c->model : NULL, .limit = c->limit};
    c->items = json_array();
    c->rc = c->items ? ig_store_generation_history(c->app->store, &q, history_row, c) : IG_ENOMEM;
}

static void history_done(struct ig_http_req *req, void *p)
{
    struct history_ctx *c = p;
    if (c->rc)
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The history is unavailable; try again.");
    else
        ig_app_respond_json(req, 200, json_incref(c->items));
    json_decref(c->items);
    free(c);
}

void ig_api_orch_generations(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct history_ctx *c = ig_app_calloc(req, sizeof *c);
    if (!c)
        return;
    c->app = app;
    ig_strlcpy(c->account_id, ig_api_req_of(req)->account.account_id, sizeof c->account_id);
    ig_app_base_url(app, req, c->base_url, sizeof c->base_url);
    char cursor[8];
    int64_t n;
    const char *bad = ig_app_page_query(req, 20, PAGE_MAX, &n, cursor, sizeof cursor);
    if (!bad && ig_app_query_param(req, "filter_by_model", c->model, sizeof c->model) < 0)
        bad = "filter_by_model";
    if (bad) {
        free(c);
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", bad,
                             "Invalid '%s': limit is 1 to %d; filter_by_model a model's name.", bad,
                             PAGE_MAX);
        return;
    }
    const struct ig_model *m = c->model[0] ? ig_models_find(app->models, c->model) : NULL;
    if (m)
        ig_strlcpy(c->model, m->id, sizeof c->model); /* records carry its id */
    c->limit = (int)n;
    if (ig_app_offload_or_refuse(req, history_work, history_done, c))
        free(c);
}
