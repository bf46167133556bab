/* byok.c — an account's own provider keys: POST /v1/byok/keys {provider,
 * api_key}, GET /v1/byok/keys (provider, last four characters, created),
 * DELETE /v1/byok/keys/{provider}; mirrored at /api/v1/llm/byok/keys for
 * the Ops-Center clients of seed 003. A key is sealed before it is stored
 * (store/byok.h) and never returned or logged. A change empties the key
 * caches (through the bus), so the account's next request uses it. Store
 * calls run on the thread pool. */
#include "api/app.h"
#include "api/audit.h"
#include "api/handlers.h"
#include "providers/provider.h"
#include "store/byok.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

enum byok_op { BYOK_PUT, BYOK_LIST, BYOK_DELETE };

struct byok_ctx {
    struct ig_app *app;
    enum byok_op op;
    char account_id[IG_ID_MAX], actor[IG_ID_MAX];
    char provider[32];
    char api_key[IG_BYOK_KEY_MAX + 1];
    json_t *list;
    int rc;
};

static int collect(const struct ig_byok_record *r, void *ud)
{
    json_array_append_new(ud, json_pack("{s:s, s:s, s:s, s:I}", "object", "byok_key", "provider",
                                        r->provider, "last4", r->last4, "created_at",
                                        (json_int_t)r->created_at));
    return 0;
}

static void byok_work(void *p)
{
    struct byok_ctx *c = p;
    struct ig_app *app = c->app;
    switch (c->op) {
    case BYOK_PUT:
        c->rc = ig_byok_put(app->store, app->secret, sizeof app->secret, c->account_id, c->provider,
                            c->api_key, ig_unix_time());
        break;
    case BYOK_DELETE:
        c->rc = ig_store_byok_delete(app->store, c->account_id, c->provider);
        break;
    case BYOK_LIST:
        c->list = json_array();
        c->rc =
            c->list ? ig_store_byok_list(app->store, c->account_id, collect, c->list) : IG_ENOMEM;
        break;
    }
    if (c->rc == 0 && c->op != BYOK_LIST)
        ig_app_audit(app, c->actor, c->account_id, c->op == BYOK_PUT ? "byok.put" : "byok.delete",
                     c->provider, NULL);
}

static void byok_done(struct ig_http_req *req, void *p)
{
    struct byok_ctx *c = p;
    if (c->rc == IG_ENOTFOUND) {
        ig_api_respond_error(req, 404, "invalid_request_error", "byok_key_not_found", "provider",
                             "This account has no key of its own for '%s'.", c->provider);
    } else if (c->rc) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The key store is unavailable; try again.");
    } else if (c->op == BYOK_LIST) {
        ig_app_respond_json(req, 200, json_pack("{s:s, s:O}", "object", "list", "data", c->list));
    } else {
        /* The key caches say whether an account has keys of its own. */
        ig_bus_publish(c->app->bus, IG_TOPIC_ACCOUNT_CHANGED, c->account_id);
        if (c->op == BYOK_PUT) {
            size_t n = strlen(c->api_key);
            ig_app_respond_json(req, 201,
                                json_pack("{s:s, s:s, s:s, s:I}", "object", "byok_key", "provider",
                                          c->provider, "last4", c->api_key + (n > 4 ? n - 4 : 0),
                                          "created_at", (json_int_t)ig_unix_time()));
        } else {
            ig_app_respond_json(req, 200,
                                json_pack("{s:s, s:s, s:b}", "object", "byok_key", "provider",
                                          c->provider, "deleted", 1));
        }
    }
    json_decref(c->list);
    explicit_bzero(c->api_key, sizeof c->api_key);
    free(c);
}

static struct byok_ctx *new_ctx(struct ig_app *app, struct ig_http_req *req, enum byok_op op)
{
    struct byok_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return NULL;
    }
    c->app = app;
    c->op = op;
    const struct ig_api_req *ar = ig_api_req_of(req);
    ig_strlcpy(c->account_id, ar->account.account_id, sizeof c->account_id);
    ig_strlcpy(c->actor, ar->key_id, sizeof c->actor);
    return c;
}

static void start(struct ig_http_req *req, struct byok_ctx *c)
{
    if (ig_app_offload_or_refuse(req, byok_work, byok_done, c)) {
        explicit_bzero(c->api_key, sizeof c->api_key);
        free(c);
    }
}

/* A provider an account may bring a key for: one that takes a key. */
static int keyed_provider(const char *name)
{
    const struct ig_provider *p = ig_provider_find(name);
    return p && p->prepare && p->key_env;
}

void ig_api_byok_keys(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    if (req->method == HTTP_GET) {
        struct byok_ctx *c = new_ctx(app, req, BYOK_LIST);
        if (c)
            start(req, c);
        return;
    }
    static const char *const allowed[] = {"provider", "api_key", NULL};
    json_t *j = ig_app_json_body(req, allowed);
    if (!j)
        return;
    struct byok_ctx *c = new_ctx(app, req, BYOK_PUT);
    if (!c) {
        json_decref(j);
        return;
    }
    const char *bad = NULL;
    if (ig_app_json_string(j, "provider", "", c->provider, sizeof c->provider) ||
        !keyed_provider(c->provider))
        bad = "provider";
    else if (ig_app_json_string(j, "api_key", "", c->api_key, sizeof c->api_key) || !c->api_key[0])
        bad = "api_key";
    json_decref(j);
    if (bad) {
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", bad,
                             strcmp(bad, "provider") == 0
                                 ? "'provider' must be a provider that takes a key: openai, "
                                   "stability, replicate, fal, bfl, leonardo, openrouter or "
                                   "a1111."
                                 : "'api_key' is required: the provider's key, 1 to 512 "
                                   "characters.");
        explicit_bzero(c->api_key, sizeof c->api_key);
        free(c);
        return;
    }
    start(req, c);
}

void ig_api_byok_key_delete(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    struct byok_ctx *c = new_ctx(app, req, BYOK_DELETE);
    if (!c)
        return;
    if (!param[0] || strlen(param) >= sizeof c->provider) {
        free(c);
        ig_api_respond_error(req, 404, "invalid_request_error", "byok_key_not_found", "provider",
                             "This account has no key of its own for that provider.");
        return;
    }
    ig_strlcpy(c->provider, param, sizeof c->provider);
    start(req, c);
}
