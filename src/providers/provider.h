/* provider.h — what a provider is to the rest of the gateway.
 *
 * Two kinds, both driven by the dispatcher (pipeline/dispatcher.h), so every
 * generation takes the same path. An in-process provider (the built-in
 * local renderer) renders through generate(), which the dispatcher runs on
 * the thread pool. A network provider is a
 * pure translator: prepare() turns a normalized request and a deployment
 * into an upstream HTTP request, and parse() turns the upstream answer into
 * images, pending (poll later) or a classified error. Adapters never touch
 * a socket; the dispatcher does all I/O, so an adapter is tested by feeding
 * it bytes. */
#ifndef IG_PROVIDER_H
#define IG_PROVIDER_H

#include "core/models.h"
#include "core/request.h"
#include "upstream/upstream.h"
#include "util/buf.h"

#include <stdint.h>

struct ig_image_out {
    struct ig_buf data; /* encoded bytes, owned */
    enum ig_format format;
    int width, height;
    int64_t seed;
};

/* The error classes of the one classification table (providers/classify.h). */
enum ig_error_class {
    IG_ERRC_CLIENT,    /* the request is wrong: our 400, no fallback */
    IG_ERRC_AUTH,      /* upstream 401/403: the operator's problem; next deployment */
    IG_ERRC_QUOTA,     /* upstream 402 or quota: next deployment */
    IG_ERRC_NOT_FOUND, /* upstream 404 (model): next deployment */
    IG_ERRC_RETRYABLE, /* 408/409/425/429/5xx, timeouts, resets, bad bodies: retry, then next */
    IG_ERRC_CONTENT_POLICY, /* refused content: our 400, never retried elsewhere */
    IG_ERRC_REFUSED,        /* the gateway refused the answer (a private address, too
                             * large): asking the same place again cannot help; next */
    IG_ERRC_INTERNAL,       /* an in-process provider failed (out of memory, an encoder
                             * error): the gateway's own fault; next */
};

enum ig_outcome { IG_OUTCOME_IMAGES, IG_OUTCOME_PENDING, IG_OUTCOME_ERROR };

#define IG_MAX_IMAGES 16

/* An image an adapter found in an answer, as exactly one of: bytes (the
 * encoded image), b64 (the provider's base64 text, not yet decoded) or url
 * (to download at once). Dispatch downloads every url into bytes and
 * checks each image's magic bytes before it calls the answer good; the
 * store step, on the thread pool, decodes b64, reads the header and stores
 * the image, so the loop never spends time on a large image's bytes. All
 * strings are malloc'd and owned. */
struct ig_provider_image {
    uint8_t *bytes;
    size_t len;
    /* NUL-terminated; b64_len a multiple of 4. It is the text of the JSON
     * string b64_json (a reference held) or the copy b64_copy (owned). */
    const char *b64;
    size_t b64_len;
    json_t *b64_json;
    char *b64_copy;
    char *url;
    char *revised_prompt;
    int64_t seed; /* -1 when unknown */
};

struct ig_provider_result {
    enum ig_outcome outcome;
    struct ig_provider_image images[IG_MAX_IMAGES];
    size_t nimages;
    enum ig_error_class error_class;
    long upstream_status;
    long retry_after_ms; /* -1 when the upstream gave no hint */
    char message[256];   /* a provider's reason, cut to fit; one per result held */
    /* IG_OUTCOME_PENDING: what to ask next (url NULL: the same poll
     * again), and when. Owned. */
    struct ig_upstream_request poll;
    long poll_after_ms;
    /* IG_OUTCOME_PENDING, where the provider says: the job's place in its
     * queue (0: running) and how far it is, in percent; -1 when unknown. */
    int queue_position, percent;
    /* IG_OUTCOME_PENDING, optionally: how to cancel the job at the
     * provider when the gateway gives up on it (deadline, client gone). */
    struct ig_upstream_request cancel;
};

void ig_provider_result_release(struct ig_provider_result *r);

struct ig_provider {
    const char *name;
    /* In-process providers: renders one image with the given seed; progress
     * in (0, 1) renders a partial (that share of the picture) for
     * streaming, 0 the whole. Blocking (the dispatcher runs it on the
     * thread pool); thread-safe. out->data is bounded by max_bytes. */
    int (*generate)(const struct ig_gen_request *req, uint64_t seed, float progress,
                    size_t max_bytes, struct ig_image_out *out);
    /* Network providers: builds the upstream request. 0 or IG_E*. */
    int (*prepare)(const struct ig_gen_request *req, const struct ig_deployment *d,
                   struct ig_upstream_request *out);
    /* Network providers: reads an upstream answer (transport errors
     * included). poll is 0 for the answer to prepare()'s request and n for
     * the answer to the n-th poll. Pure, and it sees only the answer (not
     * the request), so the dispatcher runs it on the thread pool even
     * while the request it belongs to is being cancelled. */
    void (*parse)(const struct ig_deployment *d, const struct ig_upstream_result *res, int poll,
                  struct ig_provider_result *out);
    /* Async network providers: a request that polls url (a poll URL one
     * of parse()'s answers gave, kept by a durable job) with the
     * deployment's credentials, so a job taken over after a crash follows
     * the provider's job instead of paying for a new one; its answer is
     * parsed as a poll. NULL: the provider's jobs cannot be followed. */
    int (*poll_request)(const struct ig_deployment *d, const char *url,
                        struct ig_upstream_request *out);

    /* What it serves: its known models, which are also the templates of a
     * configured deployment's capabilities, and the template for a model
     * it does not know (NULL: OpenAI's generic one). */
    const struct ig_model *models;
    size_t nmodels;
    const struct ig_model *fallback;
    /* How the environment configures it: its key's variable, its base
     * URL's variable and the public default. Either variable set enables
     * it (only base_env when env_needs_base), adding its first env_models
     * models (0: all) as "<name>/<model>", and their bare names too when
     * alias_bare. */
    const char *key_env, *base_env, *default_base;
    const char *key_env_also; /* another name for key_env's variable (FAL_API_KEY), or NULL */
    int env_needs_base;
    size_t env_models;
    int alias_bare;
    /* Model names it would serve once configured ("<name>/" always
     * counts), and the setting that does it (NULL: key_env). */
    const char *const *hint_prefixes;
    const char *enabling_setting;
};

/* The qualities of a model without quality levels: "auto", "standard". */
extern const char *const ig_plain_qualities[];

/* By name ("local", "openai"); NULL when there is none. */
const struct ig_provider *ig_provider_find(const char *name);
/* Every provider, in table order; NULL past the last. */
const struct ig_provider *ig_provider_at(size_t i);

/* The registry's part of the providers (providers.c). */
/* Adds the in-process providers' models (the local renderer's) and every
 * provider's hints for models it would serve once configured. */
int ig_providers_add_builtin(struct ig_models *m);
/* Adds the models of the providers the environment configures:
 * OPENAI_API_KEY and/or OPENAI_BASE_URL → openai/dall-e-2, dall-e-2, … */
int ig_providers_add_from_env(struct ig_models *m, char *err, size_t err_size);
/* IG_ECONFIG with the reason in err ("WHERE: api_base … resolves to …")
 * when base resolves to a cloud metadata service; else 0. Blocking (name
 * resolution): for start-up. */
int ig_provider_base_check(const char *base, const char *where, char *err, size_t err_size);
/* The capabilities of a provider's model: a known model's own, else the
 * provider's fallback. Never NULL. */
const struct ig_model *ig_provider_template(const char *provider, const char *model);
/* A provider's api_base (its base URL variable, else its public URL; ""
 * when unknown) and its key's variable (NULL when none). */
const char *ig_provider_default_base(const char *provider);
/* The provider's key from the environment (key_env, else key_env_also),
 * or NULL when neither is set. */
const char *ig_provider_env_key(const char *provider);

extern const struct ig_provider ig_provider_local;
extern const struct ig_provider ig_provider_openai;
extern const struct ig_provider ig_provider_bfl;
extern const struct ig_provider ig_provider_a1111;
extern const struct ig_provider ig_provider_stability;
extern const struct ig_provider ig_provider_fal;
extern const struct ig_provider ig_provider_replicate;
extern const struct ig_provider ig_provider_leonardo;
extern const struct ig_provider ig_provider_openrouter;

#endif
