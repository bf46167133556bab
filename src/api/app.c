/* app.c — start-up of the application state, offloading to the thread
 * pool, response helpers, and the per-request log line and metrics.
 *
 * Secrets: the instance secret comes from IMAGEGATE_SECRET or from
 * DATA/secret (32 random bytes, hex, mode 0600, made on first start). The
 * admin key comes from IMAGEGATE_ADMIN_KEY, or is generated on first start
 * and printed once; either way only its SHA-256 is stored. */
#include "server/server.h"
#include "api/app.h"
#include "core/pricing.h"
#include "pipeline/runner.h"
#include "providers/provider.h"
#include "providers/routes.h"
#include "store/ledger.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"
#include "util/num.h"
#include "upstream/upstream.h"
#include "util/json.h"
#include "util/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADMIN_KEY_ID "key_admin"

static int load_secret(struct ig_app *app, const char *data_dir)
{
    const char *env = ig_config_env("IMAGEGATE_SECRET");
    if (env) {
        /* Any operator string: stretch it to 32 bytes with SHA-256. */
        ig_sha256(env, strlen(env), app->secret);
        return 0;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/secret", data_dir);
    char hex[80] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, hex, sizeof hex - 1);
        close(fd);
        if (n >= 64 && ig_unhex(hex, 64, app->secret) == 0)
            return 0;
        ig_error("secret file '%s' is damaged: expected 64 hex digits", path);
        return IG_ECONFIG;
    }
    if (ig_random_bytes(app->secret, sizeof app->secret))
        return IG_ECRYPTO;
    ig_hex(app->secret, sizeof app->secret, hex);
    hex[64] = '\n';
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, hex, 65) != 65 || fsync(fd) < 0) {
        ig_error("cannot write secret file '%s': %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return IG_EIO;
    }
    close(fd);
    return 0;
}

/* The data directory holds every prompt, key hash and image: it is created
 * 0700 and its files 0600 whatever the umask. One an operator made wider
 * is left as it is, and said so. */
static void warn_if_readable(const char *path, const char *what, const char *want)
{
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        ig_warn("%s '%s' is readable by others (mode %o): it holds every prompt, key hash and "
                "image; chmod %s it",
                what, path, (unsigned)(st.st_mode & 0777), want);
}

/* The credit settings, checked; and the holds a dead process left open
 * released (their generations died with it). */
static int credits_setup(struct ig_app *app)
{
    const struct ig_config *cfg = app->cfg;
    char why[160];
    if (ig_tiers_parse(cfg->credits_markups, &app->tiers, why, sizeof why)) {
        ig_error("credits.markups: %s", why);
        return IG_ECONFIG;
    }
    if (ig_tiers_markup(&app->tiers, cfg->credits_default_tier) < 0) {
        ig_error("credits.default_tier: '%s' is not one of the tiers of credits.markups",
                 cfg->credits_default_tier);
        return IG_ECONFIG;
    }
    const char *rate_names[IG_RATE_COUNT] = {"rate_limits.requests_per_minute",
                                             "rate_limits.images_per_minute",
                                             "rate_limits.concurrent"};
    const char *rate_texts[IG_RATE_COUNT] = {cfg->rate_requests_per_minute,
                                             cfg->rate_images_per_minute, cfg->rate_concurrent};
    for (int i = 0; i < IG_RATE_COUNT; i++) {
        if (ig_tier_values_parse(rate_texts[i], 1000000000, &app->rate_tiers[i], why, sizeof why)) {
            ig_error("%s: %s", rate_names[i], why);
            return IG_ECONFIG;
        }
    }
    if (ig_credits_parse(cfg->credits_initial_grant, &app->initial_grant)) {
        ig_error("credits.initial_grant: '%s' is not a number of credits (at most three "
                 "decimals)",
                 cfg->credits_initial_grant);
        return IG_ECONFIG;
    }
    int released = 0;
    int rc = ig_ledger_release_stale(app->store, ig_unix_ms(), &released);
    if (rc)
        ig_error("releasing the holds of an earlier process failed: %s", ig_strerror(rc));
    else if (released)
        ig_warn("released %d credit hold(s) left open by an earlier process", released);
    return rc;
}

static void key_prefix(const char *key, char *out, size_t size)
{
    snprintf(out, size, "%.7s", key);
}

static int ensure_admin_key(struct ig_app *app, FILE *announce)
{
    const char *env = ig_config_env("IMAGEGATE_ADMIN_KEY");
    struct ig_key_record k;
    memset(&k, 0, sizeof k);
    snprintf(k.id, sizeof k.id, ADMIN_KEY_ID);
    snprintf(k.name, sizeof k.name, "admin");
    k.scopes = IG_SCOPE_ADMIN | IG_SCOPE_GENERATE;
    k.created_at = ig_unix_time();
    struct ig_key_record existing;
    int found = ig_store_key_find_by_id(app->store, ADMIN_KEY_ID, &existing);
    if (found != 0 && found != IG_ENOTFOUND)
        return found;
    if (env && *env) {
        if (strlen(env) < 16) {
            ig_error("IMAGEGATE_ADMIN_KEY is too short: use at least 16 characters");
            return IG_ECONFIG;
        }
        ig_sha256(env, strlen(env), k.hash);
        key_prefix(env, k.prefix, sizeof k.prefix);
        if (found == 0)
            return ig_store_key_update_hash(app->store, ADMIN_KEY_ID, k.hash, k.prefix, k.scopes);
        return ig_store_key_insert(app->store, &k);
    }
    if (found == 0)
        return 0;
    char key[IG_KEY_LEN + 1];
    if (ig_key_generate(key))
        return IG_ECRYPTO;
    ig_sha256(key, strlen(key), k.hash);
    key_prefix(key, k.prefix, sizeof k.prefix);
    int rc = ig_store_key_insert(app->store, &k);
    if (rc == 0 && announce) {
        fprintf(announce,
                "\n  imagegate admin key (shown once, stored only as a hash):\n\n    %s\n\n"
                "  Keep it: it creates API keys (POST /admin/keys or `imagegate keys create`).\n\n",
                key);
        fflush(announce);
    }
    explicit_bzero(key, sizeof key);
    return rc;
}

/* A key was revoked, or an account changed, somewhere in the fleet: drop
 * every cached answer (the cache is keyed by hash, not id, and both are
 * rare). */
static void forget_cached_keys(void *ud, const char *topic, const char *key_id)
{
    (void)topic;
    (void)key_id;
    ig_keycache_invalidate(ud);
}

/* A grant, an adjustment or a new budget changes what the balances cache
 * holds: it is emptied (and read again from the store when needed). */
static void forget_balances(void *ud, const char *topic, const char *account_id)
{
    (void)topic;
    (void)account_id;
    ig_balances_forget_all(ud);
}

/* webhooks.allow_networks with IMAGEGATE_WEBHOOK_ALLOW_NETWORKS added, and
 * webhooks.retry_delays_ms; IG_ECONFIG (logged) when one does not parse. */
static int webhook_settings(struct ig_app *app, char *why, size_t why_size)
{
    const struct ig_config *cfg = app->cfg;
    if (ig_networks_parse(cfg->webhooks_allow_networks, &app->webhook_networks, why, why_size)) {
        ig_error("webhooks.allow_networks: %s", why);
        return IG_ECONFIG;
    }
    const char *env = ig_config_env("IMAGEGATE_WEBHOOK_ALLOW_NETWORKS");
    struct ig_networks more;
    if (env && ig_networks_parse(env, &more, why, why_size)) {
        ig_error("IMAGEGATE_WEBHOOK_ALLOW_NETWORKS: %s", why);
        return IG_ECONFIG;
    }
    for (int i = 0; env && i < more.n; i++) {
        if (app->webhook_networks.n == IG_MAX_NETWORKS) {
            ig_error("webhook allow-lists: more than %d networks", IG_MAX_NETWORKS);
            return IG_ECONFIG;
        }
        app->webhook_networks.list[app->webhook_networks.n++] = more.list[i];
    }
    const char *p = cfg->webhooks_retry_delays_ms;
    app->nwebhook_delays = 0;
    while (*p) {
        char *end;
        long long v = strtoll(p, &end, 10);
        int n = app->nwebhook_delays;
        if (end == p || v < 1 || v > 7LL * 86400000 || n == IG_WEBHOOK_DELAYS_MAX) {
            ig_error("webhooks.retry_delays_ms: '%s' is not 1 to %d comma-separated numbers of "
                     "milliseconds (1 ms to 7 days each)",
                     cfg->webhooks_retry_delays_ms, IG_WEBHOOK_DELAYS_MAX);
            return IG_ECONFIG;
        }
        app->webhook_delays[app->nwebhook_delays++] = v;
        p = end;
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
        while (*p == ' ')
            p++;
    }
    return 0;
}

int ig_app_init(struct ig_app *app, const struct ig_config *cfg, FILE *announce)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    pthread_mutex_init(&app->model_times.lock, NULL);
    if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
        ig_error("cannot create data directory '%s': %s", cfg->data_dir, strerror(errno));
        return IG_EIO;
    }
    warn_if_readable(cfg->data_dir, "data directory", "700");
    char path[4200], why[512];
    if (cfg->store_url && cfg->store_url[0]) {
        snprintf(path, sizeof path, "%s", cfg->store_url);
    } else {
        snprintf(path, sizeof path, "sqlite:%s/imagegate.db", cfg->data_dir);
        warn_if_readable(path + 7, "database", "600");
    }
    int rc = ig_store_open(path, &app->store, why, sizeof why);
    if (rc) {
        ig_error("%s", why);
        return rc;
    }
    snprintf(path, sizeof path, "%s/blobs", cfg->data_dir);
    rc = ig_blobs_init(&app->blobs, path);
    if (rc == 0)
        rc = load_secret(app, cfg->data_dir);
    if (rc == 0)
        rc = ensure_admin_key(app, announce);
    if (rc == 0)
        rc = credits_setup(app);
    if (rc == 0)
        rc = ig_keycache_new(&app->keys, 14, (uint64_t)cfg->key_cache_ttl_ms);
    if (rc == 0)
        rc = ig_breakers_new(&app->breakers, (int)cfg->breaker_threshold,
                             (uint64_t)cfg->breaker_cooldown_ms);
    if (rc == 0)
        rc = ig_capacity_new(&app->capacity, (int)cfg->upstream_max_queue);
    if (rc == 0 && !(app->counters = ig_counters_local_new()))
        rc = IG_ENOMEM;
    if (rc == 0 && !(app->bus = ig_bus_local_new()))
        rc = IG_ENOMEM;
    if (rc == 0)
        rc = ig_bus_subscribe(app->bus, IG_TOPIC_KEY_REVOKED, forget_cached_keys, app->keys);
    /* Keys are cached with their account's tier: a changed account empties
     * the caches too. */
    if (rc == 0)
        rc = ig_bus_subscribe(app->bus, IG_TOPIC_ACCOUNT_CHANGED, forget_cached_keys, app->keys);
    if (rc == 0)
        rc = ig_balances_new(&app->balances);
    if (rc == 0)
        rc = ig_bus_subscribe(app->bus, IG_TOPIC_ACCOUNT_CHANGED, forget_balances, app->balances);
    if (rc == 0) {
        rc = ig_networks_parse(cfg->upstream_allow_networks, &app->allow_networks, why, sizeof why);
        if (rc)
            ig_error("upstream.allow_networks: %s", why);
    }
    if (rc == 0)
        rc = webhook_settings(app, why, sizeof why);
    if (rc == 0 && cfg->cache_ttl_s > 0 &&
        (ig_imgcache_new(&app->imgcache, 16) || ig_flights_new(&app->flights) ||
         ig_bytecache_new(&app->b64cache, (size_t)64 << 20)))
        rc = IG_ENOMEM;
    if (rc == 0 && ig_bytecache_new(&app->thumbnails, (size_t)16 << 20))
        rc = IG_ENOMEM;
    if (rc == 0 && (rc = ig_cors_parse(cfg->cors_allowed_origins, &app->cors, why, sizeof why)))
        ig_error("cors.allowed_origins: %s", why);
    app->upstream_options.allow = &app->allow_networks;
    /* An operator's proxy for plain http is honoured by libcurl alone. */
    app->upstream_options.builtin_http = cfg->upstream_builtin_http &&
                                         !ig_config_env("http_proxy") &&
                                         !ig_config_env("all_proxy") && !ig_config_env("ALL_PROXY");
    if (rc == 0)
        rc = ig_models_new(&app->models);
    if (rc == 0)
        rc = ig_providers_add_builtin(app->models);
    char err[512];
    if (rc == 0 && (rc = ig_providers_add_from_env(app->models, err, sizeof err)))
        ig_error("%s", err);
    if (rc == 0 && cfg->models_file &&
        (rc = ig_routes_load(app->models, cfg->models_file, err, sizeof err)))
        ig_error("%s", err);
    if (rc == 0 &&
        (rc = ig_moderation_load(cfg->moderation_file, &app->moderation, err, sizeof err)))
        ig_error("%s", err);
    if (rc == 0 && (rc = ig_styles_load(cfg->styles_file, &app->styles, err, sizeof err)))
        ig_error("%s", err);
    if (rc == 0)
        ig_models_set_styles(app->models, app->styles);
    if (rc == 0 && cfg->default_model[0] &&
        (rc = ig_models_set_default(app->models, cfg->default_model))) {
        ig_error("default_model: '%s' is not a model this gateway serves (GET /v1/models lists "
                 "them)",
                 cfg->default_model);
        rc = IG_ECONFIG;
    }
    if (rc) {
        ig_app_release(app);
        return rc;
    }
    /* The metrics start zeroed with app; ig_router_attach() names their routes. */
    app->pipeline = (struct ig_pipeline){
        .cfg = cfg,
        .store = app->store,
        .blobs = &app->blobs.base,
        .secret = app->secret,
        .secret_len = sizeof app->secret,
        .models = app->models,
        .breakers = app->breakers,
        .capacity = app->capacity,
        .metrics = &app->metrics,
        .counters = app->counters,
        .balances = app->balances,
        .tiers = &app->tiers,
        .rate_tiers = app->rate_tiers,
        .moderation = app->moderation,
        .webhook_networks = &app->webhook_networks,
        .cache = app->imgcache,
        .flights = app->flights,
        .b64cache = app->b64cache,
        .webhook_delays = app->webhook_delays,
        .nwebhook_delays = app->nwebhook_delays,
    };
    ig_pipeline_init(&app->pipeline);
    return 0;
}

void ig_app_release(struct ig_app *app)
{
    json_decref(app->model_times.by_model);
    app->model_times.by_model = NULL;
    pthread_mutex_destroy(&app->model_times.lock);
    ig_job_runner_free(atomic_load(&app->runner));
    atomic_store(&app->runner, NULL);
    if (app->store)
        ig_store_close(app->store);
    ig_keycache_free(app->keys);
    ig_balances_free(app->balances);
    app->balances = NULL;
    ig_imgcache_free(app->imgcache);
    app->imgcache = NULL;
    ig_flights_free(app->flights);
    app->flights = NULL;
    ig_bytecache_free(app->b64cache);
    app->b64cache = NULL;
    ig_bytecache_free(app->thumbnails);
    app->thumbnails = NULL;
    ig_models_free(app->models);
    ig_moderation_free(app->moderation);
    app->moderation = NULL;
    ig_styles_free(app->styles);
    app->styles = NULL;
    ig_breakers_free(app->breakers);
    app->breakers = NULL;
    ig_capacity_free(app->capacity);
    app->capacity = NULL;
    if (app->counters)
        ig_counters_free(app->counters);
    app->counters = NULL;
    if (app->bus)
        ig_bus_free(app->bus);
    app->bus = NULL;
    explicit_bzero(app->secret, sizeof app->secret);
    app->store = NULL;
    app->keys = NULL;
    app->models = NULL;
}

/* ---- per-worker state ---- */

void ig_app_worker_start(struct ig_http_worker *w, void *ud)
{
    struct ig_app *app = ud;
    struct ig_pipeline_worker *pw =
        ig_pipeline_worker_new(&app->pipeline, ig_http_worker_loop(w), &app->upstream_options);
    if (!pw) {
        /* A worker without its state cannot serve: stop the start. */
        ig_error("cannot create the state of a worker");
        abort();
    }
    ig_http_worker_set_data(w, pw);
    if (app->cfg->jobs_runners > 0 && !atomic_flag_test_and_set(&app->runner_taken)) {
        struct ig_job_runner *r = NULL;
        if (ig_job_runner_start(pw, &r)) {
            ig_error("cannot start the job runner");
            abort();
        }
        atomic_store(&app->runner, r);
    }
}

void ig_app_worker_stop(struct ig_http_worker *w, void *ud)
{
    struct ig_app *app = ud;
    struct ig_job_runner *r = atomic_load(&app->runner);
    if (r && ig_job_runner_worker(r) == ig_http_worker_data(w))
        ig_job_runner_stop(r);
    ig_pipeline_worker_free(ig_http_worker_data(w));
    ig_http_worker_set_data(w, NULL);
}

void ig_app_worker_drain(struct ig_http_worker *w, void *ud)
{
    (void)ud;
    ig_pipeline_worker_drain(ig_http_worker_data(w));
}

struct ig_pipeline_worker *ig_app_pipeline_worker(const struct ig_http_req *req)
{
    return ig_http_worker_data(req->worker);
}

/* ---- offload ---- */

struct offload {
    uv_work_t work;
    struct ig_http_req *req;
    ig_work_fn fn;
    ig_done_fn done;
    void *ctx;
};

static void offload_work_cb(uv_work_t *w)
{
    ig_pool_thread_enter();
    struct offload *o = w->data;
    o->fn(o->ctx);
}

static void offload_after_cb(uv_work_t *w, int status)
{
    (void)status;
    struct offload *o = w->data;
    o->done(o->req, o->ctx);
    free(o);
}

int ig_app_offload(struct ig_http_req *req, ig_work_fn work, ig_done_fn done, void *ctx)
{
    struct offload *o = calloc(1, sizeof *o);
    if (!o)
        return IG_ENOMEM;
    o->work.data = o;
    o->req = req;
    o->fn = work;
    o->done = done;
    o->ctx = ctx;
    if (uv_queue_work(req->loop, &o->work, offload_work_cb, offload_after_cb) < 0) {
        free(o);
        return IG_ENOMEM;
    }
    return 0;
}

/* ---- responses ---- */

void ig_app_respond_json(struct ig_http_req *req, int status, json_t *body)
{
    char *text = body ? ig_json_dumps(body, NULL) : NULL;
    json_decref(body);
    if (!text) {
        ig_api_respond_error(req, 500, "server_error", NULL, NULL, "cannot encode response");
        return;
    }
    ig_http_respond(req, status, "application/json", text, strlen(text), IG_BODY_FREE);
}

static int plain_host(const char *h, size_t n)
{
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
            return 0;
    }
    return 1;
}

void ig_app_base_url(const struct ig_app *app, const struct ig_http_req *req, char *out,
                     size_t size)
{
    /* Built by copies, not printf: every generation asks. */
    if (size == 0)
        return;
    size_t n, used = 0;
    const char *host = NULL;
    if (app->cfg->public_url[0]) {
        n = strlen(app->cfg->public_url);
        while (n && app->cfg->public_url[n - 1] == '/')
            n--;
        host = app->cfg->public_url;
    } else if ((host = ig_http_header(req, "host", &n)) && plain_host(host, n)) {
        used = size > 7 ? 7 : size - 1;
        memcpy(out, "http://", used);
    } else {
        snprintf(out, size, "http://%s:%d", app->listen_host, app->listen_port);
        return;
    }
    if (n > size - 1 - used)
        n = size - 1 - used;
    memcpy(out + used, host, n);
    out[used + n] = '\0';
}

/* ---- the per-request log line and metrics ---- */

void ig_app_complete(struct ig_http_req *req, void *ud)
{
    struct ig_app *app = ud;
    static const struct ig_api_req refused = {.route_id = -1};
    const struct ig_api_req *ar = req->app ? ig_api_req_of(req) : &refused;
    uint64_t latency = ig_now_us() - req->start_us;
    if (ar->route_id >= 0)
        atomic_fetch_sub_explicit(&app->metrics.in_flight, 1, memory_order_relaxed);
    ig_metrics_request(&app->metrics, ar->route_id, req->status, latency);
    if (!app->cfg->access_log || !ig_log_enabled(IG_LOG_INFO))
        return;
    char line[8192];
    struct ig_buf b;
    ig_buf_init_fixed(&b, line, sizeof line);
    int rc = ig_log_begin(&b, "info");
    rc = rc ? rc
            : ig_buf_printf(
                  &b, ",\"msg\":\"request\",\"request_id\":\"%s\",\"key_id\":", req->request_id);
    if (rc == 0)
        rc = ar->key_id[0] ? ig_buf_printf(&b, "\"%s\"", ar->key_id) : ig_buf_puts(&b, "null");
    rc = rc ? rc : ig_buf_printf(&b, ",\"method\":\"%s\",\"path\":\"", ig_http_method_name(req));
    rc = rc ? rc
            : ig_buf_json_escape(&b, req->path ? req->path : "",
                                 req->path_len > 256 ? 256 : req->path_len);
    rc = rc ? rc
            : ig_buf_printf(&b, "\",\"status\":%d,\"latency_us\":%llu,\"model\":", req->status,
                            (unsigned long long)latency);
    if (rc == 0 && ar->model) {
        rc = ig_buf_puts(&b, "\"");
        rc = rc ? rc : ig_buf_json_escape(&b, ar->model, strlen(ar->model));
        rc = rc ? rc : ig_buf_puts(&b, "\"");
    } else if (rc == 0) {
        rc = ig_buf_puts(&b, "null");
    }
    /* provider and cache are fixed names and config words: no escapes. */
    rc = rc ? rc : ig_buf_puts(&b, ",\"provider\":");
    if (rc == 0)
        rc = ar->provider ? ig_buf_printf(&b, "\"%s\"", ar->provider) : ig_buf_puts(&b, "null");
    rc = rc ? rc : ig_buf_puts(&b, ",\"cache\":");
    if (rc == 0)
        rc = ar->cache ? ig_buf_printf(&b, "\"%s\"", ar->cache) : ig_buf_puts(&b, "null");
    rc = rc ? rc : ig_buf_puts(&b, ",\"cost\":");
    if (rc == 0 && ar->costed) {
        char cost[32];
        ig_credits_format(ar->cost, cost, sizeof cost);
        rc = ig_buf_puts(&b, cost);
    } else if (rc == 0) {
        rc = ig_buf_puts(&b, "null");
    }
    rc = rc ? rc
            : ig_buf_printf(&b, ",\"images\":%d,\"bytes\":%zu%s", ar->images, req->bytes_out,
                            req->client_gone ? ",\"client_gone\":true" : "");
    if (rc == 0 && ar->log_extra)
        rc = ig_buf_puts(&b, ar->log_extra);
    rc = rc ? rc : ig_buf_puts(&b, "}");
    if (rc == 0) {
        ig_log_line(b.data, b.len);
        return;
    }
    /* Too long for one line (a long logged prompt): log without extras. */
    b.len = 0;
    if (ig_log_begin(&b, "info") == 0 &&
        ig_buf_printf(&b,
                      ",\"msg\":\"request\",\"request_id\":\"%s\",\"status\":%d,"
                      "\"latency_us\":%llu,\"truncated\":true}",
                      req->request_id, req->status, (unsigned long long)latency) == 0)
        ig_log_line(b.data, b.len);
}

int ig_app_query_param(const struct ig_http_req *req, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);
    const char *p = req->query, *end = req->query ? req->query + req->query_len : NULL;
    int found = 0;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
            if (found++)
                return -1;
            size_t o = 0;
            for (const char *v = p + nlen + 1; v < stop; v++) {
                int c = (unsigned char)*v;
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int hi = v + 2 < stop ? ig_hex_value(v[1]) : -1;
                    int lo = hi >= 0 ? ig_hex_value(v[2]) : -1;
                    if (lo < 0)
                        return -1;
                    c = hi << 4 | lo;
                    v += 2;
                }
                if (c == 0 || o + 1 >= size)
                    return -1;
                out[o++] = (char)c;
            }
            out[o] = '\0';
        }
        p = stop + 1;
    }
    return found;
}

/* The body as a JSON object whose members are all in allowed; NULL after
 * answering 400. */
json_t *ig_app_json_body(struct ig_http_req *req, const char *const *allowed)
{
    json_error_t jerr;
    json_t *j = ig_json_loadb(req->body.data ? req->body.data : "", req->body.len,
                              JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_json", NULL,
                             "The body must be a JSON object.");
        return NULL;
    }
    const char *k = ig_app_json_unknown(j, allowed);
    if (k) {
        ig_api_respond_error(req, 400, "invalid_request_error", "unknown_parameter", k,
                             "Unrecognized request argument supplied: %.64s", k);
        json_decref(j);
        return NULL;
    }
    return j;
}

const char *ig_app_json_unknown(json_t *obj, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            ok |= strcmp(*a, k) == 0;
        if (!ok)
            return k;
    }
    return NULL;
}

/* A string member of 1 to size-1 characters into out (absent: def). */
int ig_app_json_string(json_t *j, const char *name, const char *def, char *out, size_t size)
{
    json_t *v = json_object_get(j, name);
    if (!v || json_is_null(v)) {
        ig_strlcpy(out, def, size);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= size ||
        strlen(json_string_value(v)) != json_string_length(v))
        return IG_EINVAL;
    ig_strlcpy(out, json_string_value(v), size);
    return 0;
}

int ig_app_offload_or_refuse(struct ig_http_req *req, ig_work_fn work, ig_done_fn done, void *ctx)
{
    int rc = ig_app_offload(req, work, done, ctx);
    if (rc)
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "overloaded");
    return rc;
}

void ig_app_respond_page(struct ig_http_req *req, json_t *items, int limit)
{
    size_t n = json_array_size(items);
    int more = (int)n > limit;
    if (more)
        json_array_remove(items, n - 1);
    size_t last = json_array_size(items);
    json_t *o = json_pack("{s:s, s:o, s:b}", "object", "list", "data", items, "has_more", more);
    json_t *tail = last ? json_object_get(json_array_get(items, last - 1), "id") : NULL;
    json_object_set(o, "next_cursor", more && tail ? tail : json_null());
    ig_app_respond_json(req, 200, o);
}

const char *ig_app_page_query(const struct ig_http_req *req, int def, int max, int64_t *limit,
                              char *cursor, size_t cursor_size)
{
    char text[16];
    *limit = def;
    int got = ig_app_query_param(req, "limit", text, sizeof text);
    if (got < 0 || (got && ig_parse_i64(text, strlen(text), 1, max, limit)))
        return "limit";
    if (ig_app_query_param(req, "cursor", cursor, cursor_size) < 0)
        return "cursor";
    return NULL;
}

int ig_app_json_scopes(json_t *names, unsigned *bits)
{
    size_t i;
    json_t *s;
    *bits = 0;
    json_array_foreach(names, i, s)
    {
        unsigned bit;
        if (!json_is_string(s) || strchr(json_string_value(s), ',') ||
            ig_scopes_parse(json_string_value(s), &bit) || bit == 0)
            return IG_EINVAL;
        *bits |= bit;
    }
    return 0;
}

json_t *ig_app_scopes_json(unsigned bits)
{
    char scopes[64];
    ig_scopes_format(bits, scopes, sizeof scopes);
    json_t *sc = json_array();
    for (char *p = scopes; *p;) {
        char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        json_array_append_new(sc, json_stringn(p, n));
        p += n + (comma ? 1 : 0);
    }
    return sc;
}

void *ig_app_calloc(struct ig_http_req *req, size_t size)
{
    void *p = calloc(1, size);
    if (!p)
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
    return p;
}
