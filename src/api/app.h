/* app.h — the gateway application: everything a handler needs, and the
 * glue between the HTTP server and the pipeline stages.
 *
 * One struct ig_app per process, built by ig_app_init() before the server
 * starts and read-only afterwards except through its own thread-safe
 * members (store, key cache, metrics, counters, bus). */
#ifndef IG_APP_H
#define IG_APP_H

#include "api/cors.h"
#include "api/errors.h"
#include "config.h"
#include "core/breaker.h"
#include "core/bus.h"
#include "core/capacity.h"
#include "core/keycache.h"
#include "core/metrics.h"
#include "core/models.h"
#include "core/styles.h"
#include "pipeline/pipeline.h"

struct ig_generation;
#include "server/http.h"
#include "store/blobs.h"
#include "store/store.h"
#include "upstream/upstream.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define IG_WEBHOOK_DELAYS_MAX 16

struct ig_app {
    const struct ig_config *cfg;
    struct ig_store *store;
    struct ig_blobs blobs;
    uint8_t secret[32];
    struct ig_keycache *keys;
    struct ig_metrics metrics;
    struct ig_models *models;
    struct ig_moderation *moderation; /* moderation:, compiled */
    struct ig_styles *styles;         /* the style catalogue (core/styles.h) */
    struct ig_breakers *breakers;
    struct ig_capacity *capacity;
    struct ig_counters *counters;
    struct ig_balances *balances;        /* what the store last said of balances and spends */
    struct ig_imgcache *imgcache;        /* the exact cache (NULL: cache.ttl_s 0) */
    struct ig_flights *flights;          /* single flights of cacheable generations */
    struct ig_bytecache *b64cache;       /* cached images' base64, 64 MB at most */
    struct ig_bytecache *thumbnails;     /* thumbnails made, by image, 16 MB at most */
    struct ig_bus *bus;                  /* notices shared with the fleet: key revocations */
    struct ig_networks allow_networks;   /* upstream.allow_networks, parsed */
    struct ig_networks webhook_networks; /* webhooks.allow_networks (+ the variable) */
    int64_t webhook_delays[IG_WEBHOOK_DELAYS_MAX]; /* webhooks.retry_delays_ms, parsed */
    int nwebhook_delays;
    struct ig_tiers tiers;                     /* credits.markups, parsed */
    struct ig_tiers rate_tiers[IG_RATE_COUNT]; /* rate_limits.*, parsed */
    struct ig_cors cors;                       /* cors.allowed_origins, parsed */
    int64_t initial_grant;                     /* credits.initial_grant, millicredits */
    struct ig_upstream_options upstream_options;
    struct ig_http_server *server;
    struct ig_pipeline pipeline; /* what generations need, pointing at the above */
    /* The job runner (pipeline/runner.h), on the first worker to start;
     * NULL until then, or when jobs.runners is 0. */
    struct ig_job_runner *_Atomic runner;
    atomic_flag runner_taken;
    char listen_host[256];
    int listen_port;
    /* GET /api/v1/models' median latency by model over the last week
     * (api/orchestrator.c): a report over the history, made at most once
     * a minute and shared by every request in between. */
    struct {
        pthread_mutex_t lock;
        json_t *by_model; /* model id → seconds; NULL until the first report */
        int64_t made_ms;
        int making;
    } model_times;
};

/* Creates the data directory, opens and migrates the store, loads or makes
 * the instance secret, makes sure an admin key exists (printing a new one
 * once to announce), and builds the model registry. */
int ig_app_init(struct ig_app *app, const struct ig_config *cfg, FILE *announce);
void ig_app_release(struct ig_app *app);

/* The HTTP server's completion hook (ud is the app): the access log line
 * and the request metrics. The handler is the router's (api/router.h). */
void ig_app_complete(struct ig_http_req *req, void *ud);
/* Per-worker state, made and freed by the server's worker hooks. */
void ig_app_worker_start(struct ig_http_worker *w, void *ud);
void ig_app_worker_stop(struct ig_http_worker *w, void *ud);
/* The server drains: orphaned generations are cancelled. */
void ig_app_worker_drain(struct ig_http_worker *w, void *ud);
/* The pipeline's part of the worker serving req (never NULL while it
 * serves). */
struct ig_pipeline_worker *ig_app_pipeline_worker(const struct ig_http_req *req);

/* The application's state of one request (req->app), made by the router
 * for every request it sees; NULL for requests the server refused itself. */
struct ig_api_req {
    struct ig_app *app;
    int route_id;
    char key_id[48];
    struct ig_key_identity account; /* the key's account: id, tier, metered */
    unsigned key_scopes;
    const char *model; /* static or owned by the registry */
    int images;
    /* A generation's outcome for the access log: the provider that
     * answered (static), the cache's outcome (static; NULL: not
     * cacheable), and the cost when the request was accounted. */
    const char *provider, *cache;
    int64_t cost;
    int costed;
    char *log_extra; /* owned: ",\"field\":…" JSON appended to the access log line */
    void *idem;      /* owned: its Idempotency-Key claim until its answer (api/idempotency.c) */
    /* Optional: answers a successful generation instead of the images
     * endpoint's OpenAI answer (api/orchestrator.c). */
    void (*answer)(struct ig_http_req *req, struct ig_generation *g);
    /* The router's own. */
    const void *route;
    char param[512];
    uint8_t key_hash[32];
    int via_token;         /* authenticated by a bearer token (core/token.h) */
    unsigned token_scopes; /* what the token allows (within its key's) */
    char token_key_id[48];
    int store_rc;
    struct ig_key_record found;
};

static inline struct ig_api_req *ig_api_req_of(const struct ig_http_req *req)
{
    return (struct ig_api_req *)req->app;
}

/* size zeroed bytes for a request's work, or NULL after answering 503
 * overloaded (out of memory). */
void *ig_app_calloc(struct ig_http_req *req, size_t size);
/* Runs work(ctx) on the thread pool, then done(req, ctx) on req's loop.
 * The request stays parked meanwhile. IG_ENOMEM when it cannot start. */
typedef void (*ig_work_fn)(void *ctx);
typedef void (*ig_done_fn)(struct ig_http_req *req, void *ctx);
int ig_app_offload(struct ig_http_req *req, ig_work_fn work, ig_done_fn done, void *ctx);
/* The same, answering 503 overloaded when it cannot start (the caller
 * then frees ctx). */
int ig_app_offload_or_refuse(struct ig_http_req *req, ig_work_fn work, ig_done_fn done, void *ctx);
/* The request's body as a JSON object whose members are all in allowed
 * (NULL-terminated); NULL after answering 400 (invalid_json or
 * unknown_parameter). The caller releases it. */
json_t *ig_app_json_body(struct ig_http_req *req, const char *const *allowed);
/* The first member of the object obj not in allowed (NULL-terminated), or
 * NULL when there is none. */
const char *ig_app_json_unknown(json_t *obj, const char *const *allowed);
/* The string member name of j (1 to size-1 characters, no NUL) into out;
 * def when absent or null. 0, or IG_EINVAL. */
int ig_app_json_string(json_t *j, const char *name, const char *def, char *out, size_t size);

/* A list's paging query: limit (1 to max, def when absent) and cursor
 * (into cursor, "" when absent). NULL, or the name of the parameter that
 * is malformed, out of range or given twice. */
const char *ig_app_page_query(const struct ig_http_req *req, int def, int max, int64_t *limit,
                              char *cursor, size_t cursor_size);
/* Responds 200 with a page of a list: items (the reference is taken)
 * holds up to limit + 1 items, one more than the page was asked for, to
 * tell whether there is a next; the page's last "id" is the next cursor. */
void ig_app_respond_page(struct ig_http_req *req, json_t *items, int limit);
/* Scope bits from a JSON array of scope names ("generate", "admin"):
 * 0, or IG_EINVAL for anything else. And the names of bits as an array. */
int ig_app_json_scopes(json_t *names, unsigned *bits);
json_t *ig_app_scopes_json(unsigned bits);
/* Responds with a JSON value (the reference is stolen). */
void ig_app_respond_json(struct ig_http_req *req, int status, json_t *body);
/* The query parameter name of req, percent-decoded into out: 1 when it is
 * there (once), 0 when absent, -1 when repeated, malformed or too long. */
int ig_app_query_param(const struct ig_http_req *req, const char *name, char *out, size_t size);
/* The scheme://host[:port] image URLs start with: public_url, else the
 * request's Host header when it is a plain host[:port], else the listen
 * address. */
void ig_app_base_url(const struct ig_app *app, const struct ig_http_req *req, char *out,
                     size_t size);

#endif
