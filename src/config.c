/* config.c — the typed configuration table and its YAML reader.
 *
 * The YAML reader walks libyaml's event stream and keeps a stack of mapping
 * keys, so a scalar at "limits" → "max_body_bytes" is applied as
 * "limits.max_body_bytes". Sequences are not settings yet (model lists
 * arrive with the provider layer) and are rejected with their name. */
#include "config.h"
#include "util/err.h"
#include "util/num.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

enum setting_type { SET_STRING, SET_INT, SET_BOOL };

struct setting {
    const char *name;
    enum setting_type type;
    size_t offset;
    int64_t min, max;
    const char *def;
    const char *help;
};

#define F(field) offsetof(struct ig_config, field)

static const struct setting settings[] = {
    {"listen", SET_STRING, F(listen), 0, 0, "127.0.0.1:8080", "address and port to listen on"},
    {"workers", SET_INT, F(workers), 0, 256, "0", "I/O worker threads; 0 means one per core"},
    {"threadpool_size", SET_INT, F(threadpool_size), 0, 128, "0",
     "threads for blocking work (rendering, SQLite, disk); 0 means max(4, cores)"},
    {"threadpool_nice", SET_INT, F(threadpool_nice), 0, 19, "10",
     "how far thread-pool threads (storing, rendering) run below the I/O loops: a nice value, "
     "with SCHED_BATCH when above 0; 0 runs them as equals"},
    {"data_dir", SET_STRING, F(data_dir), 0, 0, "./data", "SQLite database, blobs and secret"},
    {"store.url", SET_STRING, F(store_url), 0, 0, "",
     "where keys and generations are kept: sqlite:PATH (postgres:// is not built in yet); "
     "empty: sqlite:DATA_DIR/imagegate.db"},
    {"public_url", SET_STRING, F(public_url), 0, 0, "",
     "base of image URLs (e.g. https://img.example.com); empty: taken from the Host header"},
    {"limits.max_header_bytes", SET_INT, F(max_header_bytes), 1024, 1 << 20, "16384",
     "request line and headers; larger answers 431"},
    {"limits.max_headers", SET_INT, F(max_headers), 8, 1000, "100",
     "header fields per request; more answers 431"},
    {"limits.max_body_bytes", SET_INT, F(max_body_bytes), 1024, 256 << 20, "1048576",
     "JSON request body; larger answers 413"},
    {"limits.max_upload_bytes", SET_INT, F(max_upload_bytes), 1024, 1 << 30, "52428800",
     "multipart body of an edit or variation (all images and fields); larger answers 413"},
    {"limits.max_body_bytes_in_flight", SET_INT, F(max_body_bytes_in_flight), 1 << 20,
     INT64_C(1) << 40, "268435456",
     "request bodies held at once, over all connections (read only after the key is checked); "
     "a body that would pass it answers 503 with Retry-After"},
    {"limits.max_input_pixels", SET_INT, F(max_input_pixels), 4096, 1 << 28, "16777216",
     "pixels of one uploaded image or mask (width x height); more answers 400"},
    {"limits.header_timeout_ms", SET_INT, F(header_timeout_ms), 10, 3600000, "10000",
     "time to receive a request's headers once it has begun"},
    {"limits.body_timeout_ms", SET_INT, F(body_timeout_ms), 10, 3600000, "30000",
     "time to receive a request's body"},
    {"limits.idle_timeout_ms", SET_INT, F(idle_timeout_ms), 10, 3600000, "60000",
     "idle keep-alive connections are closed after this"},
    {"limits.max_connections", SET_INT, F(max_connections), 1, 1000000, "16384",
     "open client connections; more are answered 503 and closed"},
    {"limits.max_pending_renders", SET_INT, F(max_pending_renders), 0, 100000, "0",
     "local renders (CPU-bound, on the thread pool) queued or running at once; 0 means 128 "
     "per core; more answer 503 with Retry-After"},
    {"limits.max_provider_generations", SET_INT, F(max_provider_generations), 1, 1000000, "20000",
     "generations waiting on providers at once (for a deployment's slot, at the provider, "
     "polling, downloading); each holds about 18.5 KB while it waits (20,000: about 370 MB); "
     "more answer 503 with Retry-After"},
    {"shutdown_timeout_ms", SET_INT, F(shutdown_timeout_ms), 0, 3600000, "10000",
     "on SIGTERM/SIGINT, how long in-flight requests may take to finish"},
    {"images.url_ttl_s", SET_INT, F(url_ttl_s), 1, 31536000, "3600",
     "lifetime of signed image URLs"},
    {"images.max_image_bytes", SET_INT, F(max_image_bytes), 1024, 1 << 30, "67108864",
     "largest image the store accepts or serves"},
    {"auth.key_cache_ttl_ms", SET_INT, F(key_cache_ttl_ms), 0, 3600000, "10000",
     "how long a looked-up API key is trusted before the store is asked again "
     "(revocations through this instance apply at once)"},
    {"upstream.max_attempts", SET_INT, F(upstream_max_attempts), 1, 10, "3",
     "tries of one deployment for a retryable failure (the first included) before the next"},
    {"upstream.base_delay_ms", SET_INT, F(upstream_base_delay_ms), 1, 60000, "250",
     "backoff base: retry k waits a random time up to base * 2^(k-1), or the upstream's "
     "Retry-After"},
    {"upstream.max_delay_ms", SET_INT, F(upstream_max_delay_ms), 1, 600000, "8000",
     "longest single backoff wait"},
    {"upstream.deadline_ms", SET_INT, F(upstream_deadline_ms), 100, 3600000, "120000",
     "the whole of one generation through providers, retries included; past it 504"},
    {"upstream.allow_networks", SET_STRING, F(upstream_allow_networks), 0, 0, "",
     "private networks the gateway may fetch from besides each deployment's own api_base host, "
     "as comma-separated CIDRs (\"10.0.0.0/8, fd00::/8\"); metadata addresses never"},
    {"upstream.builtin_http", SET_BOOL, F(upstream_builtin_http), 0, 1, "true",
     "plain http:// upstreams (self-hosted servers) through the built-in keep-alive HTTP/1.1 "
     "client; false: through libcurl, as https always is (libcurl is also used when "
     "http_proxy or ALL_PROXY is set)"},
    {"upstream.max_queue", SET_INT, F(upstream_max_queue), 0, 100000, "64",
     "generations that may wait for a deployment at its max_concurrency; more move on "
     "(next deployment, or 503 with Retry-After)"},
    {"breaker.failure_threshold", SET_INT, F(breaker_threshold), 0, 1000, "5",
     "consecutive failed requests that open a deployment's circuit breaker (a request's "
     "retries there count once); 0 disables"},
    {"breaker.cooldown_ms", SET_INT, F(breaker_cooldown_ms), 10, 3600000, "30000",
     "how long an open breaker refuses calls before one probe is let through"},
    {"jobs.runners", SET_INT, F(jobs_runners), 0, 100000, "64",
     "durable jobs (POST /v1/images/jobs) this instance runs at once; 0: it runs none (a "
     "fleet's API-only instances)"},
    {"jobs.lease_ms", SET_INT, F(jobs_lease_ms), 1000, 3600000, "30000",
     "how long a claimed job is this instance's without a renewal (renewed every third of it); "
     "a job whose instance died is taken over once it passes"},
    {"jobs.poll_ms", SET_INT, F(jobs_poll_ms), 10, 60000, "500",
     "how often the store is asked for due jobs, doubled while none is due up to 16 times "
     "this (jobs submitted here start at once); also the webhook deliverer's longest wait"},
    {"jobs.deadline_ms", SET_INT, F(jobs_deadline_ms), 100, 86400000, "600000",
     "the whole of one job's generation through providers, retries included"},
    {"webhooks.allow_networks", SET_STRING, F(webhooks_allow_networks), 0, 0, "",
     "private networks webhook deliveries may reach, as comma-separated CIDRs (tests: "
     "127.0.0.1); IMAGEGATE_WEBHOOK_ALLOW_NETWORKS adds to them; otherwise loopback, private, "
     "link-local and metadata addresses are refused"},
    {"webhooks.retry_delays_ms", SET_STRING, F(webhooks_retry_delays_ms), 0, 0,
     "5000,300000,1800000,7200000,18000000,36000000,50400000,72000000,86400000",
     "the wait before each retry of a delivery that failed (comma-separated milliseconds, 1 to "
     "16 of them, each with 10% jitter); after the last it fails"},
    {"webhooks.timeout_ms", SET_INT, F(webhooks_timeout_ms), 100, 600000, "15000",
     "one delivery attempt, connection to answer"},
    {"webhooks.rotation_window_ms", SET_INT, F(webhooks_rotation_window_ms), 0, INT64_C(2592000000),
     "86400000",
     "after POST /v1/webhooks/secret/rotate, how long deliveries carry the old secret's "
     "signature beside the new one's"},
    {"cache.ttl_s", SET_INT, F(cache_ttl_s), 0, 31536000, "86400",
     "how long a generation's images serve identical requests (seeded, or sent with "
     "x-imagegate-cache: use); 0 turns the cache and single flights off"},
    {"cache.hit_cost_percent", SET_INT, F(cache_hit_cost_percent), 0, 100, "0",
     "what a cache hit costs, in percent of the request's estimate"},
    {"cache.shared", SET_BOOL, F(cache_shared), 0, 1, "false",
     "whether identical requests of different accounts share cached images and flights "
     "(off: each account its own)"},
    {"log.access", SET_BOOL, F(access_log), 0, 1, "true", "one JSON line per request"},
    {"log.prompts", SET_BOOL, F(log_prompts), 0, 1, "false",
     "include prompts in log lines (off: prompts never reach logs)"},
    {"log.level", SET_STRING, F(log_level), 0, 0, "info", "debug, info, warn or error"},
    {"cors.allowed_origins", SET_STRING, F(cors_allowed_origins), 0, 0, "",
     "origins whose pages may call the API from a browser (comma-separated "
     "scheme://host[:port], or *); empty: none"},
    {"default_model", SET_STRING, F(default_model), 0, 0, "",
     "the model of a request that names none (an id or alias, e.g. dall-e-3); empty: the "
     "built-in local renderer"},
    {"credits.markups", SET_STRING, F(credits_markups), 0, 0,
     "free:50,managed:20,byok:0,vip:0,operator:0",
     "each tier's markup over list prices, in percent (name:percent, comma-separated; new "
     "tiers allowed)"},
    {"credits.default_tier", SET_STRING, F(credits_default_tier), 0, 0, "managed",
     "the tier of a new account"},
    {"credits.initial_grant", SET_STRING, F(credits_initial_grant), 0, 0, "0",
     "credits a new account starts with (a decimal, at most three places)"},
    {"rate_limits.requests_per_minute", SET_STRING, F(rate_requests_per_minute), 0, 0,
     "free:60,managed:600,byok:600,vip:6000",
     "each tier's default requests per minute per key (name:number, comma-separated); 0 or a "
     "tier not listed: no limit; a key's own limit (PATCH /admin/keys/{id}) wins"},
    {"rate_limits.images_per_minute", SET_STRING, F(rate_images_per_minute), 0, 0,
     "free:60,managed:600,byok:600,vip:6000",
     "each tier's default images per minute per key, as rate_limits.requests_per_minute"},
    {"rate_limits.concurrent", SET_STRING, F(rate_concurrent), 0, 0,
     "free:4,managed:32,byok:32,vip:256",
     "each tier's default generations in progress at once per key, as "
     "rate_limits.requests_per_minute"},
    {"credits.usd_per_credit", SET_STRING, F(credits_usd_per_credit), 0, 0, "0.001",
     "what a credit is worth in US dollars (shown by GET /v1/credits)"},
    {"provenance.prompt", SET_BOOL, F(provenance_prompt), 0, 1, "false",
     "write the prompt's text into the PNGs the local renderer makes (anyone holding a "
     "signed URL reads it); off: only its SHA-256, beside the model, seed and renderer"},
};

#define NSETTINGS (sizeof settings / sizeof settings[0])

static const struct setting *find_setting(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].name, name) == 0)
            return &settings[i];
    return NULL;
}

static int apply(struct ig_config *c, const struct setting *s, const char *value, char *err,
                 size_t err_size)
{
    char *base = (char *)c + s->offset;
    switch (s->type) {
    case SET_STRING: {
        char *copy = strdup(value);
        if (!copy)
            return IG_ENOMEM;
        char **slot = (char **)(void *)base;
        free(*slot);
        *slot = copy;
        if (strcmp(s->name, "log.level") == 0 && strcmp(value, "debug") && strcmp(value, "info") &&
            strcmp(value, "warn") && strcmp(value, "error")) {
            snprintf(err, err_size, "setting 'log.level': '%s' is not debug, info, warn or error",
                     value);
            return IG_ECONFIG;
        }
        return 0;
    }
    case SET_INT: {
        int64_t v;
        int rc = ig_parse_i64(value, strlen(value), s->min, s->max, &v);
        if (rc) {
            snprintf(err, err_size, "setting '%s': '%s' is not a whole number from %lld to %lld",
                     s->name, value, (long long)s->min, (long long)s->max);
            return IG_ECONFIG;
        }
        *(int64_t *)(void *)base = v;
        return 0;
    }
    case SET_BOOL: {
        int v;
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcasecmp(value, "on") ||
            !strcmp(value, "1"))
            v = 1;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") ||
                 !strcasecmp(value, "off") || !strcmp(value, "0"))
            v = 0;
        else {
            snprintf(err, err_size, "setting '%s': '%s' is not true or false", s->name, value);
            return IG_ECONFIG;
        }
        *(int *)(void *)base = v;
        return 0;
    }
    }
    return IG_EINVAL;
}

int ig_config_set(struct ig_config *c, const char *name, const char *value, char *err,
                  size_t err_size)
{
    const struct setting *s = find_setting(name);
    if (!s) {
        snprintf(err, err_size, "unknown setting '%s'", name);
        return IG_ECONFIG;
    }
    return apply(c, s, value, err, err_size);
}

const char *ig_config_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int ig_config_init(struct ig_config *c)
{
    char err[256];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NSETTINGS; i++) {
        int rc = apply(c, &settings[i], settings[i].def, err, sizeof err);
        if (rc)
            return rc;
    }
    return 0;
}

void ig_config_release(struct ig_config *c)
{
    free(c->models_file);
    c->models_file = NULL;
    free(c->moderation_file);
    c->moderation_file = NULL;
    free(c->styles_file);
    c->styles_file = NULL;
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].type == SET_STRING) {
            char **slot = (char **)(void *)((char *)c + settings[i].offset);
            free(*slot);
            *slot = NULL;
        }
    }
}

#define MAX_DEPTH 8

/* The sections that are trees, not settings (`models:`, `moderation:`,
 * `styles:`):
 * the reader notes which file holds each, for its own reader
 * (providers/routes.c, core/moderation.c). NULL for other keys. */
static char **tree_section(struct ig_config *c, const char *key)
{
    if (!key)
        return NULL;
    if (strcmp(key, "models") == 0)
        return &c->models_file;
    if (strcmp(key, "moderation") == 0)
        return &c->moderation_file;
    if (strcmp(key, "styles") == 0)
        return &c->styles_file;
    return NULL;
}

int ig_config_load_file(struct ig_config *c, const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "cannot open '%s'", path);
        return IG_EIO;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);

    /* `models:` is routing, read by providers/routes.c; here it is skipped whole. */
    int skip_depth = 0; /* > 0 while inside the models subtree */
    /* keys[d] is the key of the mapping entry open at depth d. */
    char *keys[MAX_DEPTH] = {0};
    int depth = 0; /* mappings open */
    int expecting_key[MAX_DEPTH + 1] = {0};
    int rc = 0, done = 0;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(err, err_size, "%s:%zu: %s", path, parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "YAML syntax error");
            rc = IG_ECONFIG;
            break;
        }
        int line = (int)ev.start_mark.line + 1;
        if (skip_depth) {
            /* Inside the models value: count containers until it closes. */
            if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT)
                skip_depth++;
            else if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT)
                skip_depth--;
            if (skip_depth == 0)
                expecting_key[depth] = 1;
            yaml_event_delete(&ev);
            continue;
        }
        char **tree = depth == 1 && !expecting_key[depth] ? tree_section(c, keys[0]) : NULL;
        if (tree) {
            free(*tree);
            *tree = strdup(path);
            if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT)
                skip_depth = 1;
            else
                expecting_key[depth] = 1; /* `models:` with a scalar (empty) value */
            yaml_event_delete(&ev);
            continue;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_MAPPING_START_EVENT:
            if (depth >= MAX_DEPTH) {
                snprintf(err, err_size, "%s:%d: nested too deeply", path, line);
                rc = IG_ECONFIG;
                break;
            }
            depth++;
            expecting_key[depth] = 1;
            break;
        case YAML_MAPPING_END_EVENT:
            if (depth > 0) {
                free(keys[depth - 1]);
                keys[depth - 1] = NULL;
                depth--;
                /* The mapping was the value of its parent's key. */
                expecting_key[depth] = 1;
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
            snprintf(err, err_size, "%s:%d: setting '%s' takes no list", path, line,
                     depth > 0 && keys[depth - 1] ? keys[depth - 1] : "(top)");
            rc = IG_ECONFIG;
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (depth == 0) {
                /* A bare scalar document: only an empty file is allowed. */
                if (v[0]) {
                    snprintf(err, err_size, "%s:%d: expected a mapping of settings", path, line);
                    rc = IG_ECONFIG;
                }
                break;
            }
            if (expecting_key[depth]) {
                free(keys[depth - 1]);
                keys[depth - 1] = strdup(v);
                if (!keys[depth - 1])
                    rc = IG_ENOMEM;
                expecting_key[depth] = 0;
                break;
            }
            char name[256] = "";
            size_t used = 0;
            for (int d = 0; d < depth; d++) {
                int n = snprintf(name + used, sizeof name - used, "%s%s", d ? "." : "", keys[d]);
                if (n < 0 || (size_t)n >= sizeof name - used) {
                    rc = IG_ECONFIG;
                    break;
                }
                used += (size_t)n;
            }
            if (rc == 0) {
                char inner[256];
                rc = ig_config_set(c, name, v, inner, sizeof inner);
                if (rc)
                    snprintf(err, err_size, "%s:%d: %s", path, line, inner);
            }
            expecting_key[depth] = 1;
            break;
        }
        case YAML_ALIAS_EVENT:
            snprintf(err, err_size, "%s:%d: YAML aliases are not supported", path, line);
            rc = IG_ECONFIG;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    for (int d = 0; d < MAX_DEPTH; d++)
        free(keys[d]);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

static void print_value(const struct ig_config *c, const struct setting *s, FILE *out)
{
    const char *base = (const char *)c + s->offset;
    switch (s->type) {
    case SET_STRING:
        fprintf(out, "\"%s\"", *(char *const *)(const void *)base);
        break;
    case SET_INT:
        fprintf(out, "%lld", (long long)*(const int64_t *)(const void *)base);
        break;
    case SET_BOOL:
        fputs(*(const int *)(const void *)base ? "true" : "false", out);
        break;
    }
}

void ig_config_dump(const struct ig_config *c, FILE *out)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        fprintf(out, "%s: ", settings[i].name);
        print_value(c, &settings[i], out);
        fprintf(out, "  # %s\n", settings[i].help);
    }
}

void ig_config_document(FILE *out)
{
    static const char *const type_names[] = {"string", "integer", "boolean"};
    fputs("| setting | type | default | range | meaning |\n|---|---|---|---|---|\n", out);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        fprintf(out, "| `%s` | %s | `%s` | ", s->name, type_names[s->type], s->def);
        if (s->type == SET_INT)
            fprintf(out, "%lld–%lld", (long long)s->min, (long long)s->max);
        fprintf(out, " | %s |\n", s->help);
    }
}
