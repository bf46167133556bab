/* config.h — the gateway's configuration as one typed table.
 *
 * Every setting is a row of (dotted name, type, bounds, default, help). The
 * same table parses the YAML file, validates, fills defaults, prints
 * `imagegate config dump`, and documents (docs/CONFIG.md is checked against
 * it by a test). Nested YAML mappings are addressed by dotted names:
 * `limits: {max_body_bytes: 2048}` sets "limits.max_body_bytes". */
#ifndef IG_CONFIG_H
#define IG_CONFIG_H

#include <stdint.h>
#include <stdio.h>

struct ig_config {
    char *listen;    /* HOST:PORT */
    int64_t workers; /* 0: one per core */
    int64_t threadpool_size;
    int64_t threadpool_nice;
    char *data_dir;
    char *store_url;  /* "sqlite:PATH", "postgres://…"; empty: sqlite:DATA_DIR/imagegate.db */
    char *public_url; /* base for image URLs; empty: from the Host header */
    int64_t max_header_bytes;
    int64_t max_headers;
    int64_t max_body_bytes;
    int64_t max_upload_bytes;
    int64_t max_body_bytes_in_flight;
    int64_t max_input_pixels;
    int64_t header_timeout_ms;
    int64_t body_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t max_connections;
    int64_t max_pending_renders;      /* local renders; 0: 128 per core */
    int64_t max_provider_generations; /* generations waiting on providers */
    int64_t shutdown_timeout_ms;
    int64_t url_ttl_s;
    int64_t max_image_bytes;
    int64_t key_cache_ttl_ms;
    int64_t upstream_max_attempts;
    int64_t upstream_base_delay_ms;
    int64_t upstream_max_delay_ms;
    int64_t upstream_deadline_ms;
    int64_t upstream_max_queue;
    char *upstream_allow_networks;
    int upstream_builtin_http;
    int64_t jobs_runners;  /* jobs run at once by this instance */
    int64_t jobs_lease_ms; /* a claim's lease */
    int64_t jobs_poll_ms;  /* how often due jobs are looked for */
    int64_t jobs_deadline_ms;
    char *webhooks_allow_networks;  /* CIDRs deliveries may reach although private */
    char *webhooks_retry_delays_ms; /* "5000,300000,…" */
    int64_t webhooks_timeout_ms;
    int64_t webhooks_rotation_window_ms;
    int64_t cache_ttl_s; /* 0: no cache */
    int64_t cache_hit_cost_percent;
    int cache_shared;
    int64_t breaker_threshold;
    int64_t breaker_cooldown_ms;
    char *models_file;     /* the YAML file whose `models:` section defines routing; NULL: none */
    char *moderation_file; /* the YAML file whose `moderation:` section has categories */
    char *styles_file;     /* the YAML file whose `styles:` section adds to the catalogue */
    int access_log;
    int log_prompts;
    int provenance_prompt;       /* the prompt's text in PNG provenance, not only its hash */
    char *default_model;         /* empty: the first model (the local renderer) */
    char *cors_allowed_origins;  /* api/cors.h */
    char *credits_markups;       /* "free:50,managed:20,…" (core/pricing.h: ig_tiers_parse) */
    char *credits_default_tier;  /* of a new account */
    char *credits_initial_grant; /* credits, decimal */
    char *credits_usd_per_credit;
    char *rate_requests_per_minute; /* tier defaults, "free:60,…" (core/pricing.h) */
    char *rate_images_per_minute;
    char *rate_concurrent;
    char *log_level;
};

/* Fills every field with its default. Strings are heap copies. */
int ig_config_init(struct ig_config *c);
/* The one place the process reads its environment (provider keys and
 * URLs, IMAGEGATE_SECRET, IMAGEGATE_ADMIN_KEY, proxies): the value of
 * name, or NULL when it is unset or empty. */
const char *ig_config_env(const char *name);
void ig_config_release(struct ig_config *c);
/* Reads a YAML file over the current values. On failure, err (err_size
 * bytes) says which file, line or setting was wrong. */
int ig_config_load_file(struct ig_config *c, const char *path, char *err, size_t err_size);
/* Sets one setting by dotted name from its text form, with bounds checks. */
int ig_config_set(struct ig_config *c, const char *name, const char *value, char *err,
                  size_t err_size);
/* Prints every setting as YAML-compatible "name: value  # help" lines. */
void ig_config_dump(const struct ig_config *c, FILE *out);
/* Prints the settings as a Markdown table (for docs/CONFIG.md). */
void ig_config_document(FILE *out);

#endif
