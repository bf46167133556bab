/* history.c — GET /v1/generations (the key's account's generations,
 * newest first, a page at a time) and GET /v1/generations/{id}: what was
 * asked, what it cost, how long it took, and fresh signed links to its
 * images. An account sees only its own: another account's id is 404, as
 * an unknown one is. Store calls run on the thread pool. */
#include "api/app.h"
#include "api/credits.h"
#include "api/handlers.h"
#include "api/history.h"
#include "core/signing.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"
#include "util/num.h"

#include <stdlib.h>
#include <string.h>

#define PAGE_DEFAULT 20
#define PAGE_MAX     100

struct history_ctx {
    struct ig_app *app;
    struct ig_history_query q;
    char account_id[IG_ID_MAX];
    char id[IG_ID_MAX], cursor[IG_ID_MAX], model[128], status[16];
    char base_url[300];
    int one; /* GET /v1/generations/{id} */
    json_t *items;
    int rc;
};

/* The params member name of the normalized request, or NULL. */
static json_t *param(json_t *params, const char *name)
{
    json_t *v = params ? json_object_get(params, name) : NULL;
    return v && !json_is_null(v) ? v : NULL;
}

static json_t *item_json(const struct history_ctx *c, const struct ig_history_row *r)
{
    json_error_t jerr;
    json_t *params = r->params_json ? json_loads(r->params_json, 0, &jerr) : NULL;
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:i}", "id", r->id, "object",
                          "image.generation", "created_at", (json_int_t)(r->created_ms / 1000),
                          "model", r->model, "provider", r->provider, "prompt",
                          r->prompt ? r->prompt : "", "status", r->status, "n", r->n);
    char size[32];
    snprintf(size, sizeof size, "%dx%d", r->width, r->height);
    json_object_set_new(o, "size", json_string(size));
    json_object_set(o, "quality",
                    param(params, "quality") ? param(params, "quality") : json_null());
    json_object_set(o, "style", param(params, "style") ? param(params, "style") : json_null());
    json_object_set(o, "metadata",
                    param(params, "metadata") ? param(params, "metadata") : json_null());
    json_object_set_new(o, "error", r->error ? json_string(r->error) : json_null());
    json_object_set_new(o, "processing_time", json_real((double)r->latency_us / 1e6));
    json_object_set_new(o, "cost", ig_api_credits_json(r->cost));
    json_object_set_new(o, "images", ig_api_image_links(c->app, c->base_url, r->images_json));
    json_decref(params);
    return o;
}

json_t *ig_api_image_links(const struct ig_app *app, const char *base_url, const char *images_json)
{
    json_error_t jerr;
    json_t *images = json_array();
    json_t *list = images_json ? json_loads(images_json, 0, &jerr) : NULL;
    int64_t expires = ig_unix_time() + app->cfg->url_ttl_s;
    size_t i;
    json_t *im;
    json_array_foreach(list, i, im)
    {
        const char *sha = json_string_value(json_object_get(im, "sha256"));
        const char *format = json_string_value(json_object_get(im, "format"));
        if (!sha || !format)
            continue;
        char url[700];
        ig_signed_file_url(app->secret, sizeof app->secret, base_url, sha, format, expires, url,
                           sizeof url);
        json_t *seed = json_object_get(im, "seed");
        json_array_append_new(
            images, json_pack("{s:s, s:O}", "url", url, "seed", seed ? seed : json_null()));
    }
    json_decref(list);
    return images;
}

static int collect(const struct ig_history_row *r, void *ud)
{
    struct history_ctx *c = ud;
    json_array_append_new(c->items, item_json(c, r));
    return 0;
}

static void history_work(void *p)
{
    struct history_ctx *c = p;
    c->items = json_array();
    c->rc = c->items ? ig_store_generation_history(c->app->store, &c->q, collect, c) : IG_ENOMEM;
}

static void history_done(struct ig_http_req *req, void *p)
{
    struct history_ctx *c = p;
    size_t n = json_array_size(c->items);
    if (c->rc) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The history is unavailable; try again.");
    } else if (c->one && n == 0) {
        ig_api_respond_error(req, 404, "invalid_request_error", "generation_not_found", "id",
                             "No generation of this account has id '%.64s'.", c->id);
    } else if (c->one) {
        ig_app_respond_json(req, 200, json_incref(json_array_get(c->items, 0)));
    } else {
        ig_app_respond_page(req, json_incref(c->items), c->q.limit - 1);
    }
    json_decref(c->items);
    free(c);
}

static struct history_ctx *new_ctx(struct ig_app *app, struct ig_http_req *req)
{
    struct history_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return NULL;
    }
    c->app = app;
    ig_strlcpy(c->account_id, ig_api_req_of(req)->account.account_id, sizeof c->account_id);
    c->q.account_id = c->account_id;
    ig_app_base_url(app, req, c->base_url, sizeof c->base_url);
    return c;
}

static void start(struct ig_http_req *req, struct history_ctx *c)
{
    if (ig_app_offload_or_refuse(req, history_work, history_done, c)) {
        free(c);
    }
}

void ig_api_history_list(struct ig_app *app, struct ig_http_req *req, const char *param_unused)
{
    (void)param_unused;
    struct history_ctx *c = new_ctx(app, req);
    if (!c)
        return;
    int64_t n;
    int got;
    const char *bad =
        ig_app_page_query(req, PAGE_DEFAULT, PAGE_MAX, &n, c->cursor, sizeof c->cursor);
    if (!bad && ig_app_query_param(req, "model", c->model, sizeof c->model) < 0)
        bad = "model";
    else if (!bad && ((got = ig_app_query_param(req, "status", c->status, sizeof c->status)) < 0 ||
                      (got && strcmp(c->status, "succeeded") && strcmp(c->status, "failed"))))
        bad = "status";
    if (bad) {
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", bad,
                             "Invalid '%s': limit is 1 to %d, status succeeded or failed, "
                             "each given once.",
                             bad, PAGE_MAX);
        free(c);
        return;
    }
    c->q.before_id = c->cursor[0] ? c->cursor : NULL;
    /* A model by any of its names: records carry its id. */
    const struct ig_model *m = c->model[0] ? ig_models_find(app->models, c->model) : NULL;
    if (m)
        ig_strlcpy(c->model, m->id, sizeof c->model);
    c->q.model = c->model[0] ? c->model : NULL;
    c->q.status = c->status[0] ? c->status : NULL;
    c->q.limit = (int)n + 1;
    start(req, c);
}

void ig_api_history_get(struct ig_app *app, struct ig_http_req *req, const char *id)
{
    struct history_ctx *c = new_ctx(app, req);
    if (!c)
        return;
    ig_strlcpy(c->id, id, sizeof c->id);
    c->q.id = c->id;
    c->q.limit = 1;
    c->one = 1;
    start(req, c);
}
