/* router.c — route, auth and content-type stages of the pipeline.
 *
 * Routes are one table: method, path (exact, or a prefix whose rest is the
 * single path parameter), the scope a key needs (0: public), whether a JSON
 * body is expected, and the handler. An unknown path answers 404 and a
 * known path with another method 405 with Allow, both in the OpenAI error
 * shape.
 *
 * Auth: the key comes from "Authorization: Bearer <key>" or "x-api-key".
 * Its SHA-256 is looked up in the key cache; on a miss the store is asked
 * on the thread pool and the answer cached (negative answers too, in fixed
 * memory). Missing, unknown, revoked and malformed keys all get the same
 * 401 text, so the answer never says which part was wrong. */
#include "api/router.h"
#include "core/token.h"
#include "api/cors.h"
#include "api/handlers.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Route ids and their metric labels, in one list. */
#define ROUTE_IDS(X)                                                                               \
    X(ROUTE_UNMATCHED, "unmatched")                                                                \
    X(ROUTE_HEALTHZ, "healthz")                                                                    \
    X(ROUTE_READYZ, "readyz")                                                                      \
    X(ROUTE_METRICS, "metrics")                                                                    \
    X(ROUTE_MODELS, "models")                                                                      \
    X(ROUTE_MODEL, "model")                                                                        \
    X(ROUTE_GENERATIONS, "generations")                                                            \
    X(ROUTE_EDITS, "edits")                                                                        \
    X(ROUTE_VARIATIONS, "variations")                                                              \
    X(ROUTE_FILES, "files")                                                                        \
    X(ROUTE_ADMIN_KEYS, "admin_keys")                                                              \
    X(ROUTE_ADMIN_KEY, "admin_key")                                                                \
    X(ROUTE_ADMIN_ACCOUNTS, "admin_accounts")                                                      \
    X(ROUTE_ADMIN_ACCOUNT, "admin_account")                                                        \
    X(ROUTE_CREDITS, "credits")                                                                    \
    X(ROUTE_ESTIMATE, "estimate")                                                                  \
    X(ROUTE_OPS_GENERATIONS, "ops_generations")                                                    \
    X(ROUTE_OPS_CREDITS, "ops_credits")                                                            \
    X(ROUTE_HISTORY, "history")                                                                    \
    X(ROUTE_HISTORY_ONE, "history_one")                                                            \
    X(ROUTE_USAGE, "usage")                                                                        \
    X(ROUTE_ADMIN_AUDIT, "admin_audit")                                                            \
    X(ROUTE_BYOK, "byok")                                                                          \
    X(ROUTE_BYOK_ONE, "byok_one")                                                                  \
    X(ROUTE_ADMIN_USAGE, "admin_usage")                                                            \
    X(ROUTE_JOBS, "jobs")                                                                          \
    X(ROUTE_JOB, "job")                                                                            \
    X(ROUTE_TOKENS, "tokens")                                                                      \
    X(ROUTE_ORCH_GENERATE, "orch_generate")                                                        \
    X(ROUTE_ORCH_MODELS, "orch_models")                                                            \
    X(ROUTE_ORCH_GENERATIONS, "orch_generations")                                                  \
    X(ROUTE_ORCH_USAGE, "orch_usage")                                                              \
    X(ROUTE_BATCH, "batch")                                                                        \
    X(ROUTE_BATCH_ONE, "batch_one")                                                                \
    X(ROUTE_WEBHOOK_SECRET, "webhook_secret")                                                      \
    X(ROUTE_WEBHOOK_ENDPOINT, "webhook_endpoint")                                                  \
    X(ROUTE_WEBHOOK_DELIVERIES, "webhook_deliveries")                                              \
    X(ROUTE_WEBHOOK_DELIVERY, "webhook_delivery")

#define ROUTE_ENUM(id, name) id,
#define ROUTE_NAME(id, name) name,
enum route_id { ROUTE_IDS(ROUTE_ENUM) };
static const char *const route_names[] = {ROUTE_IDS(ROUTE_NAME)};

void ig_router_attach(struct ig_app *app)
{
    ig_metrics_init(&app->metrics, route_names, sizeof route_names / sizeof route_names[0]);
}

typedef void (*handler_fn)(struct ig_app *, struct ig_http_req *, const char *);

enum body_kind { BODY_NONE, BODY_JSON, BODY_FORM };

struct route {
    enum route_id id;
    unsigned method; /* enum http_method */
    const char *path;
    int prefix; /* path is a prefix; the rest is the parameter */
    unsigned scope;
    enum body_kind body;
    handler_fn handler;
};

static const struct route routes[] = {
    {ROUTE_HEALTHZ, HTTP_GET, "/healthz", 0, 0, 0, ig_api_healthz},
    {ROUTE_HEALTHZ, HTTP_HEAD, "/healthz", 0, 0, 0, ig_api_healthz},
    {ROUTE_READYZ, HTTP_GET, "/readyz", 0, 0, 0, ig_api_readyz},
    {ROUTE_METRICS, HTTP_GET, "/metrics", 0, 0, 0, ig_api_metrics},
    {ROUTE_MODELS, HTTP_GET, "/v1/models", 0, IG_SCOPE_GENERATE, 0, ig_api_models_list},
    {ROUTE_MODEL, HTTP_GET, "/v1/models/", 1, IG_SCOPE_GENERATE, 0, ig_api_models_get},
    {ROUTE_GENERATIONS, HTTP_POST, "/v1/images/generations", 0, IG_SCOPE_GENERATE, BODY_JSON,
     ig_api_generations},
    {ROUTE_JOBS, HTTP_POST, "/v1/images/jobs", 0, IG_SCOPE_GENERATE, BODY_JSON, ig_api_jobs_create},
    {ROUTE_JOBS, HTTP_GET, "/v1/images/jobs", 0, IG_SCOPE_GENERATE, 0, ig_api_jobs_list},
    {ROUTE_JOB, HTTP_GET, "/v1/images/jobs/", 1, IG_SCOPE_GENERATE, 0, ig_api_job},
    {ROUTE_JOB, HTTP_POST, "/v1/images/jobs/", 1, IG_SCOPE_GENERATE, 0, ig_api_job},
    {ROUTE_TOKENS, HTTP_POST, "/v1/tokens", 0, IG_SCOPE_GENERATE | IG_SCOPE_ADMIN, BODY_JSON,
     ig_api_tokens_create},
    {ROUTE_ORCH_GENERATE, HTTP_POST, "/api/v1/generate", 0, IG_SCOPE_GENERATE, BODY_JSON,
     ig_api_orch_generate},
    {ROUTE_ORCH_GENERATE, HTTP_POST, "/api/v1/generate/batch", 0, IG_SCOPE_GENERATE, BODY_JSON,
     ig_api_orch_generate_batch},
    {ROUTE_ORCH_MODELS, HTTP_GET, "/api/v1/models", 0, IG_SCOPE_GENERATE, 0, ig_api_orch_models},
    {ROUTE_ORCH_MODELS, HTTP_GET, "/api/v1/models/", 1, IG_SCOPE_GENERATE, 0, ig_api_orch_model},
    {ROUTE_ORCH_GENERATIONS, HTTP_GET, "/api/v1/generations", 0, IG_SCOPE_GENERATE, 0,
     ig_api_orch_generations},
    {ROUTE_ORCH_USAGE, HTTP_GET, "/api/v1/usage", 0, IG_SCOPE_GENERATE, 0, ig_api_usage},
    {ROUTE_BATCH, HTTP_POST, "/v1/images/batch", 0, IG_SCOPE_GENERATE, BODY_JSON,
     ig_api_batch_create},
    {ROUTE_BATCH_ONE, HTTP_GET, "/v1/images/batch/", 1, IG_SCOPE_GENERATE, 0, ig_api_batch_get},
    {ROUTE_WEBHOOK_SECRET, HTTP_GET, "/v1/webhooks/secret", 0, IG_SCOPE_GENERATE, 0,
     ig_api_webhook_secret},
    {ROUTE_WEBHOOK_SECRET, HTTP_POST, "/v1/webhooks/secret/rotate", 0, IG_SCOPE_GENERATE, 0,
     ig_api_webhook_secret_rotate},
    {ROUTE_WEBHOOK_ENDPOINT, HTTP_GET, "/v1/webhooks/endpoint", 0, IG_SCOPE_GENERATE, 0,
     ig_api_webhook_endpoint},
    {ROUTE_WEBHOOK_ENDPOINT, HTTP_PUT, "/v1/webhooks/endpoint", 0, IG_SCOPE_GENERATE, BODY_JSON,
     ig_api_webhook_endpoint},
    {ROUTE_WEBHOOK_ENDPOINT, HTTP_DELETE, "/v1/webhooks/endpoint", 0, IG_SCOPE_GENERATE, 0,
     ig_api_webhook_endpoint},
    {ROUTE_WEBHOOK_DELIVERIES, HTTP_GET, "/v1/webhooks/deliveries", 0, IG_SCOPE_GENERATE, 0,
     ig_api_webhook_deliveries},
    {ROUTE_WEBHOOK_DELIVERY, HTTP_POST, "/v1/webhooks/deliveries/", 1, IG_SCOPE_GENERATE, 0,
     ig_api_webhook_delivery},
    {ROUTE_EDITS, HTTP_POST, "/v1/images/edits", 0, IG_SCOPE_GENERATE, BODY_FORM, ig_api_edits},
    {ROUTE_VARIATIONS, HTTP_POST, "/v1/images/variations", 0, IG_SCOPE_GENERATE, BODY_FORM,
     ig_api_variations},
    {ROUTE_FILES, HTTP_GET, "/v1/files/", 1, 0, 0, ig_api_files_get},
    {ROUTE_FILES, HTTP_GET, "/v1/thumbnails/", 1, 0, 0, ig_api_thumbnails_get},
    {ROUTE_FILES, HTTP_HEAD, "/v1/files/", 1, 0, 0, ig_api_files_get},
    {ROUTE_ADMIN_KEYS, HTTP_POST, "/admin/keys", 0, IG_SCOPE_ADMIN, BODY_JSON, ig_api_keys_create},
    {ROUTE_ADMIN_KEYS, HTTP_GET, "/admin/keys", 0, IG_SCOPE_ADMIN, 0, ig_api_keys_list},
    {ROUTE_ADMIN_KEY, HTTP_DELETE, "/admin/keys/", 1, IG_SCOPE_ADMIN, 0, ig_api_keys_revoke},
    {ROUTE_ADMIN_KEY, HTTP_PATCH, "/admin/keys/", 1, IG_SCOPE_ADMIN, BODY_JSON, ig_api_keys_update},
    {ROUTE_ADMIN_AUDIT, HTTP_GET, "/admin/audit", 0, IG_SCOPE_ADMIN, 0, ig_api_audit},
    {ROUTE_ADMIN_USAGE, HTTP_GET, "/admin/usage", 0, IG_SCOPE_ADMIN, 0, ig_api_admin_usage},
    {ROUTE_ADMIN_ACCOUNTS, HTTP_POST, "/admin/accounts", 0, IG_SCOPE_ADMIN, BODY_JSON,
     ig_api_accounts_create},
    {ROUTE_ADMIN_ACCOUNTS, HTTP_GET, "/admin/accounts", 0, IG_SCOPE_ADMIN, 0, ig_api_accounts_list},
    {ROUTE_ADMIN_ACCOUNT, HTTP_POST, "/admin/accounts/", 1, IG_SCOPE_ADMIN, BODY_JSON,
     ig_api_account_credits},
    {ROUTE_ADMIN_ACCOUNT, HTTP_PATCH, "/admin/accounts/", 1, IG_SCOPE_ADMIN, BODY_JSON,
     ig_api_account_update},
    {ROUTE_CREDITS, HTTP_GET, "/v1/credits", 0, IG_SCOPE_GENERATE, 0, ig_api_credits},
    {ROUTE_HISTORY, HTTP_GET, "/v1/generations", 0, IG_SCOPE_GENERATE, 0, ig_api_history_list},
    {ROUTE_HISTORY_ONE, HTTP_GET, "/v1/generations/", 1, IG_SCOPE_GENERATE, 0, ig_api_history_get},
    {ROUTE_USAGE, HTTP_GET, "/v1/usage", 0, IG_SCOPE_GENERATE, 0, ig_api_usage},
    {ROUTE_BYOK, HTTP_GET, "/v1/byok/keys", 0, IG_SCOPE_GENERATE, 0, ig_api_byok_keys},
    {ROUTE_BYOK, HTTP_POST, "/v1/byok/keys", 0, IG_SCOPE_GENERATE, BODY_JSON, ig_api_byok_keys},
    {ROUTE_BYOK_ONE, HTTP_DELETE, "/v1/byok/keys/", 1, IG_SCOPE_GENERATE, 0,
     ig_api_byok_key_delete},
    {ROUTE_ESTIMATE, HTTP_POST, "/v1/images/estimate", 0, IG_SCOPE_GENERATE, BODY_JSON,
     ig_api_estimate},
    /* The Ops-Center API of seed 003, as its clients call it (errors carry
     * `detail` there: api/errors.c). */
    {ROUTE_OPS_GENERATIONS, HTTP_POST, "/api/v1/llm/image/generations", 0, IG_SCOPE_GENERATE,
     BODY_JSON, ig_api_generations},
    {ROUTE_OPS_CREDITS, HTTP_GET, "/api/v1/llm/credits", 0, IG_SCOPE_GENERATE, 0, ig_api_credits},
    {ROUTE_BYOK, HTTP_GET, "/api/v1/llm/byok/keys", 0, IG_SCOPE_GENERATE, 0, ig_api_byok_keys},
    {ROUTE_BYOK, HTTP_POST, "/api/v1/llm/byok/keys", 0, IG_SCOPE_GENERATE, BODY_JSON,
     ig_api_byok_keys},
    {ROUTE_BYOK_ONE, HTTP_DELETE, "/api/v1/llm/byok/keys/", 1, IG_SCOPE_GENERATE, 0,
     ig_api_byok_key_delete},
};

#define NROUTES (sizeof routes / sizeof routes[0])

/* Percent-decodes a path parameter; refuses NUL and over-long input. */
static int decode_param(const char *in, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= n)
                return IG_EINVAL;
            int hi = ig_hex_value(in[i + 1]), lo = ig_hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return IG_EINVAL;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0' || o + 1 >= size)
            return IG_EINVAL;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

static int path_matches(const struct route *r, const struct ig_http_req *req)
{
    size_t n = strlen(r->path);
    if (r->prefix)
        return req->path_len > n && strncmp(req->path, r->path, n) == 0;
    return req->path_len == n && strncmp(req->path, r->path, n) == 0;
}

static void respond_not_found(struct ig_http_req *req)
{
    ig_api_respond_error(req, 404, "invalid_request_error", "not_found", NULL,
                         "Unknown request URL: %s %.*s.", ig_http_method_name(req),
                         (int)(req->path_len > 200 ? 200 : req->path_len), req->path);
}

static void respond_unauthorized(struct ig_http_req *req, int missing)
{
    ig_http_add_header(req, "WWW-Authenticate", "Bearer realm=\"imagegate\"");
    if (missing)
        ig_api_respond_error(req, 401, "invalid_request_error", "missing_api_key", NULL,
                             "You didn't provide an API key. Send it as 'Authorization: Bearer "
                             "YOUR_KEY' or in the 'x-api-key' header.");
    else
        ig_api_respond_error(req, 401, "invalid_request_error", "invalid_api_key", NULL,
                             "Incorrect API key provided.");
}

/* The size a route's body may have: uploads take limits.max_upload_bytes,
 * everything else limits.max_body_bytes. */
static size_t route_body_limit(const struct ig_app *app, const struct route *r)
{
    return (size_t)(r->body == BODY_FORM ? app->cfg->max_upload_bytes : app->cfg->max_body_bytes);
}

/* The last checks a request passes with its headers alone (scope, content
 * type); then its body is read (when it is still with the server's admit
 * hook) or its handler runs. */
static void proceed(struct ig_app *app, struct ig_http_req *req, struct ig_api_req *rc)
{
    const struct route *r = rc->route;
    if (r->scope && !(rc->key_scopes & r->scope)) {
        ig_api_respond_error(req, 403, "permission_error", "insufficient_scope", NULL,
                             "This API key is not allowed to use %s %s.", ig_http_method_name(req),
                             r->path);
        return;
    }
    if (r->body != BODY_NONE) {
        const char *want = r->body == BODY_JSON ? "application/json" : "multipart/form-data";
        size_t n, wn = strlen(want);
        const char *ct = ig_http_header(req, "content-type", &n);
        if (!ct || n < wn || strncasecmp(ct, want, wn) != 0 ||
            (n > wn && ct[wn] != ';' && ct[wn] != ' ')) {
            ig_api_respond_error(req, 415, "invalid_request_error", "unsupported_media_type", NULL,
                                 "Content-Type must be %s.", want);
            return;
        }
    }
    if (ig_http_admitting(req)) {
        ig_http_admit(req, route_body_limit(app, r));
        return;
    }
    r->handler(app, req, r->prefix ? rc->param : NULL);
}

static void key_lookup_work(void *ctx)
{
    struct ig_api_req *rc = ctx;
    rc->store_rc = rc->via_token
                       ? ig_store_key_find_by_id(rc->app->store, rc->token_key_id, &rc->found)
                       : ig_store_key_find_by_hash(rc->app->store, rc->key_hash, &rc->found);
}

/* The request is now the key's. */
static void take_identity(struct ig_api_req *rc, const struct ig_key_identity *who)
{
    ig_strlcpy(rc->key_id, who->id, sizeof rc->key_id);
    rc->account = *who;
    rc->key_scopes = who->scopes;
}

static void key_lookup_done(struct ig_http_req *req, void *ctx)
{
    struct ig_api_req *rc = ctx;
    struct ig_app *app = rc->app;
    uint64_t now = ig_now_us() / 1000;
    if (rc->store_rc == 0 && rc->found.revoked_at == 0) {
        struct ig_key_identity who;
        ig_key_identity_of(&rc->found, &who);
        if (rc->via_token)
            who.scopes &= rc->token_scopes; /* a token narrows its key */
        ig_keycache_put(app->keys, rc->key_hash, now, &who);
        take_identity(rc, &who);
        proceed(app, req, rc);
        return;
    }
    if (rc->store_rc == 0 || rc->store_rc == IG_ENOTFOUND) {
        ig_keycache_put(app->keys, rc->key_hash, now, NULL);
        respond_unauthorized(req, 0);
        return;
    }
    ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                         "The key store is unavailable; try again.");
}

/* Extracts the presented key; NULL when there is none. */
static const char *presented_key(const struct ig_http_req *req, size_t *len)
{
    size_t n;
    const char *v = ig_http_header(req, "authorization", &n);
    if (v) {
        if (n > 7 && strncasecmp(v, "Bearer ", 7) == 0) {
            v += 7;
            n -= 7;
            while (n && *v == ' ') {
                v++;
                n--;
            }
            *len = n;
            return n ? v : NULL;
        }
        *len = 0;
        return v; /* present but not Bearer: treated as an invalid key */
    }
    v = ig_http_header(req, "x-api-key", &n);
    if (v && n) {
        *len = n;
        return v;
    }
    return NULL;
}

static void api_req_free(void *p)
{
    struct ig_api_req *ar = p;
    free(ar->log_extra);
    free(ar->idem); /* a claim whose request ended unanswered: it lapses with its lock */
    free(ar);
}

/* Routes req and checks its key, with its headers alone: called by the
 * admit hook for a request with a body (so a body is read only for a
 * known key, on a route that takes it) and by the handler for one
 * without. */
static void route_request(struct ig_app *app, struct ig_http_req *req)
{
    struct ig_api_req *rc = calloc(1, sizeof *rc);
    if (!rc) {
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    rc->app = app;
    rc->route_id = ROUTE_UNMATCHED;
    req->app = rc;
    req->app_free = api_req_free;
    atomic_fetch_add_explicit(&app->metrics.in_flight, 1, memory_order_relaxed);
    ig_cors_apply(&app->cors, req); /* on every answer, errors included */
    if (ig_cors_preflight(&app->cors, req))
        return;

    const struct route *r = NULL;
    int path_known = 0;
    char allow[64] = "";
    for (size_t i = 0; i < NROUTES; i++) {
        if (!path_matches(&routes[i], req))
            continue;
        path_known = 1;
        if (routes[i].method == req->method) {
            r = &routes[i];
            break;
        }
        size_t used = strlen(allow);
        snprintf(allow + used, sizeof allow - used, "%s%s", used ? ", " : "",
                 http_method_str((enum http_method)routes[i].method));
    }
    if (!r) {
        if (path_known) {
            ig_http_add_header(req, "Allow", allow);
            ig_api_respond_error(
                req, 405, "invalid_request_error", "method_not_allowed", NULL,
                "Method %s is not allowed on %.*s; use %s.", ig_http_method_name(req),
                (int)(req->path_len > 200 ? 200 : req->path_len), req->path, allow);
        } else {
            respond_not_found(req);
        }
        return;
    }
    rc->route_id = (int)r->id;
    rc->route = r;
    if (r->prefix) {
        size_t n = strlen(r->path);
        if (decode_param(req->path + n, req->path_len - n, rc->param, sizeof rc->param)) {
            respond_not_found(req);
            return;
        }
    }
    if (!r->scope) {
        proceed(app, req, rc);
        return;
    }

    if (ig_http_header_count(req, "authorization") + ig_http_header_count(req, "x-api-key") > 1) {
        ig_api_respond_error(req, 400, "invalid_request_error", "multiple_api_keys", NULL,
                             "Send one API key, in 'Authorization: Bearer' or in 'x-api-key', "
                             "not several.");
        return;
    }
    size_t klen = 0;
    const char *key = presented_key(req, &klen);
    if (!key) {
        respond_unauthorized(req, 1);
        return;
    }
    if (klen == 0 || klen > 512) {
        respond_unauthorized(req, 0);
        return;
    }
    if (ig_token_like(key, klen)) {
        /* A bearer token: signed by this gateway, for a key, until it
         * expires (core/token.h); cached under its own hash. */
        int64_t expires;
        int v = ig_token_verify(app->secret, sizeof app->secret, key, klen, ig_unix_time(),
                                rc->token_key_id, &rc->token_scopes, &expires);
        if (v == IG_ERANGE) {
            ig_http_add_header(req, "WWW-Authenticate", "Bearer realm=\"imagegate\"");
            ig_api_respond_error(req, 401, "invalid_request_error", "token_expired", NULL,
                                 "This token has expired; mint a new one with POST /v1/tokens.");
            return;
        }
        if (v) {
            respond_unauthorized(req, 0);
            return;
        }
        rc->via_token = 1;
    }
    ig_sha256(key, klen, rc->key_hash);
    struct ig_key_identity who;
    switch (ig_keycache_get(app->keys, rc->key_hash, ig_now_us() / 1000, &who)) {
    case IG_KEY_LIVE:
        take_identity(rc, &who);
        proceed(app, req, rc);
        return;
    case IG_KEY_UNKNOWN:
        respond_unauthorized(req, 0);
        return;
    case IG_KEY_MISS:
        break;
    }
    if (ig_app_offload(req, key_lookup_work, key_lookup_done, rc))
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL,
                             "The server is overloaded; try again.");
}

void ig_router_admit(struct ig_http_req *req, void *ud)
{
    route_request(ud, req);
}

void ig_router_handle(struct ig_http_req *req, void *ud)
{
    struct ig_api_req *rc = req->app;
    if (!rc) {
        route_request(ud, req);
        return;
    }
    /* Admitted with its headers; now its body is in too. */
    const struct route *r = rc->route;
    r->handler(rc->app, req, r->prefix ? rc->param : NULL);
}
