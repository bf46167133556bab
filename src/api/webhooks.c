/* webhooks.c — an account's webhooks over HTTP:
 *
 *   GET  /v1/webhooks/secret                     the signing secret (whsec_…)
 *   POST /v1/webhooks/secret/rotate              a new secret; the old one signs too for a while
 *   GET  /v1/webhooks/deliveries                 deliveries, newest first (limit, cursor)
 *   POST /v1/webhooks/deliveries/{id}/redeliver  send one again (and enable its endpoint)
 *
 * Secrets are derived from the instance secret and the account's version
 * (core/webhook.h): nothing secret is stored. Deliveries are made by
 * pipeline/webhooks.c. Store calls run on the pool. */
#include "api/app.h"
#include "api/handlers.h"
#include "core/webhook.h"
#include "util/clock.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

#define PAGE_DEFAULT 20
#define PAGE_MAX     100

/* ---- the secret ---- */

struct secret_ctx {
    struct ig_app *app;
    char account_id[IG_ID_MAX];
    int rotate;
    int64_t version, previous_until_ms;
    int rc;
};

static void secret_work(void *p)
{
    struct secret_ctx *c = p;
    struct ig_store *s = c->app->store;
    if (c->rotate) {
        c->previous_until_ms = ig_unix_ms() + c->app->cfg->webhooks_rotation_window_ms;
        c->rc = ig_store_webhook_secret_rotate(s, c->account_id, c->previous_until_ms, &c->version);
    } else {
        c->rc =
            ig_store_webhook_secret_version(s, c->account_id, &c->version, &c->previous_until_ms);
    }
}

static void secret_done(struct ig_http_req *req, void *p)
{
    struct secret_ctx *c = p;
    if (c->rc) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The store is unavailable; try again.");
        free(c);
        return;
    }
    char secret[IG_WEBHOOK_SECRET_MAX];
    ig_webhook_secret(c->app->secret, sizeof c->app->secret, c->account_id, c->version, secret);
    int previous = c->version > 1 && c->previous_until_ms > ig_unix_ms();
    json_t *o = json_pack("{s:s, s:s, s:I, s:o}", "object", "webhook.secret", "secret", secret,
                          "version", (json_int_t)c->version, "previous_valid_until",
                          previous ? json_integer(c->previous_until_ms / 1000) : json_null());
    explicit_bzero(secret, sizeof secret);
    ig_http_add_header(req, "Cache-Control", "no-store");
    ig_app_respond_json(req, 200, o);
    free(c);
}

static void secret(struct ig_app *app, struct ig_http_req *req, int rotate)
{
    struct secret_ctx *c = ig_app_calloc(req, sizeof *c);
    if (!c)
        return;
    c->app = app;
    c->rotate = rotate;
    ig_strlcpy(c->account_id, ig_api_req_of(req)->account.account_id, sizeof c->account_id);
    if (ig_app_offload_or_refuse(req, secret_work, secret_done, c))
        free(c);
}

void ig_api_webhook_secret(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    secret(app, req, 0);
}

void ig_api_webhook_secret_rotate(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    secret(app, req, 1);
}

/* ---- deliveries ---- */

static json_t *time_or_null(int64_t ms)
{
    return ms ? json_integer(ms / 1000) : json_null();
}

static json_t *delivery_json(const struct ig_webhook_record *w)
{
    int pending = strcmp(w->status, "pending") == 0;
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:I, s:o, s:o}", "id", w->id,
                  "object", "webhook.delivery", "event_type", w->event_type, "url", w->url,
                  "status", w->status, "attempts", w->attempts, "next_attempt_at",
                  pending ? time_or_null(w->next_attempt_ms) : json_null(), "last_status",
                  w->last_status ? json_integer(w->last_status) : json_null(), "last_error",
                  w->last_error[0] ? json_string(w->last_error) : json_null(), "created_at",
                  (json_int_t)(w->created_ms / 1000), "finished_at", time_or_null(w->finished_ms),
                  "job_id", w->job_id[0] ? json_string(w->job_id) : json_null());
    return o;
}

struct list_ctx {
    struct ig_app *app;
    char account_id[IG_ID_MAX];
    char cursor[IG_ID_MAX];
    int limit;
    json_t *items;
    int rc;
};

static int list_row(const struct ig_webhook_record *w, void *ud)
{
    struct list_ctx *c = ud;
    json_t *o = delivery_json(w);
    if (!o || json_array_append_new(c->items, o)) {
        c->rc = IG_ENOMEM;
        return 1;
    }
    return 0;
}

static void list_work(void *p)
{
    struct list_ctx *c = p;
    c->items = json_array();
    int rc = c->items ? ig_store_webhook_list(c->app->store, c->account_id, c->cursor, c->limit,
                                              list_row, c)
                      : IG_ENOMEM;
    c->rc = c->rc ? c->rc : rc;
}

static void list_done(struct ig_http_req *req, void *p)
{
    struct list_ctx *c = p;
    if (c->rc)
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The store is unavailable; try again.");
    else
        ig_app_respond_page(req, json_incref(c->items), c->limit - 1);
    json_decref(c->items);
    free(c);
}

void ig_api_webhook_deliveries(struct ig_app *app, struct ig_http_req *req, const char *param)
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
    if (bad) {
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", bad,
                             "Invalid '%s': limit is 1 to %d, each given once.", bad, PAGE_MAX);
        free(c);
        return;
    }
    c->limit = (int)n + 1;
    if (ig_app_offload_or_refuse(req, list_work, list_done, c))
        free(c);
}

struct redeliver_ctx {
    struct ig_app *app;
    char account_id[IG_ID_MAX];
    char id[IG_ID_MAX];
    json_t *doc;
    int rc;
};

static void redeliver_work(void *p)
{
    struct redeliver_ctx *c = p;
    struct ig_webhook_record w;
    c->rc = ig_store_webhook_redeliver(c->app->store, c->account_id, c->id, ig_unix_ms(), &w);
    if (c->rc == 0 || c->rc == IG_EEXISTS) {
        c->doc = delivery_json(&w);
        ig_webhook_record_release(&w);
    }
}

static void redeliver_done(struct ig_http_req *req, void *p)
{
    struct redeliver_ctx *c = p;
    if (c->rc == IG_ENOTFOUND)
        ig_api_respond_error(req, 404, "invalid_request_error", "delivery_not_found", "id",
                             "No webhook delivery of this account has id '%.64s'.", c->id);
    else if (c->rc == IG_EEXISTS)
        ig_api_respond_error(req, 409, "invalid_request_error", "delivery_pending", "id",
                             "Delivery '%.64s' is waiting to be sent already.", c->id);
    else if (c->rc || !c->doc)
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The store is unavailable; try again.");
    else
        ig_app_respond_json(req, 202, json_incref(c->doc));
    json_decref(c->doc);
    free(c);
}

/* POST /v1/webhooks/deliveries/{id}/redeliver */
void ig_api_webhook_delivery(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    const char *slash = strchr(param, '/');
    size_t n = slash ? (size_t)(slash - param) : 0;
    struct redeliver_ctx *c = NULL;
    if (n == 0 || n >= IG_ID_MAX || strcmp(slash + 1, "redeliver") != 0) {
        ig_api_respond_error(req, 404, "invalid_request_error", "not_found", NULL,
                             "Unknown path: a delivery is sent again with POST "
                             "/v1/webhooks/deliveries/{id}/redeliver.");
        return;
    }
    if (!(c = calloc(1, sizeof *c))) {
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    c->app = app;
    ig_strlcpy(c->account_id, ig_api_req_of(req)->account.account_id, sizeof c->account_id);
    memcpy(c->id, param, n);
    c->id[n] = '\0';
    if (ig_app_offload_or_refuse(req, redeliver_work, redeliver_done, c))
        free(c);
}

/* ---- the account's endpoint (budget.threshold) ---- */

struct endpoint_ctx {
    struct ig_app *app;
    char account_id[IG_ID_MAX];
    int op; /* 0 get, 1 set, 2 delete */
    char url[IG_WEBHOOK_URL_MAX + 1];
    char *found;
    int rc;
};

static void endpoint_work(void *p)
{
    struct endpoint_ctx *c = p;
    struct ig_store *s = c->app->store;
    if (c->op == 0)
        c->rc = ig_store_webhook_endpoint_get(s, c->account_id, &c->found);
    else
        c->rc = ig_store_webhook_endpoint_set(s, c->account_id, c->op == 1 ? c->url : NULL,
                                              ig_unix_ms());
}

static void endpoint_done(struct ig_http_req *req, void *p)
{
    struct endpoint_ctx *c = p;
    if (c->rc && c->rc != IG_ENOTFOUND) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The store is unavailable; try again.");
    } else {
        const char *url = c->op == 1 ? c->url : c->op == 0 ? c->found : NULL;
        ig_app_respond_json(req, 200,
                            json_pack("{s:s, s:s?, s:[s]}", "object", "webhook.endpoint", "url",
                                      url, "events", "budget.threshold"));
    }
    free(c->found);
    free(c);
}

/* GET, PUT {url} and DELETE /v1/webhooks/endpoint: where the account's
 * own events (budget.threshold) are sent. */
void ig_api_webhook_endpoint(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct endpoint_ctx *c = ig_app_calloc(req, sizeof *c);
    if (!c)
        return;
    c->app = app;
    ig_strlcpy(c->account_id, ig_api_req_of(req)->account.account_id, sizeof c->account_id);
    c->op = req->method == HTTP_PUT ? 1 : req->method == HTTP_DELETE ? 2 : 0;
    if (c->op == 1) {
        static const char *const allowed[] = {"url", NULL};
        json_t *j = ig_app_json_body(req, allowed);
        if (!j) {
            free(c);
            return;
        }
        const char *url = json_string_value(json_object_get(j, "url"));
        int ok = url && ig_webhook_url_valid(url);
        if (ok)
            ig_strlcpy(c->url, url, sizeof c->url);
        json_decref(j);
        if (!ok) {
            free(c);
            ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", "url",
                                 "'url' must be an http or https URL of at most %d characters, "
                                 "without spaces.",
                                 IG_WEBHOOK_URL_MAX);
            return;
        }
    }
    if (ig_app_offload_or_refuse(req, endpoint_work, endpoint_done, c))
        free(c);
}
