/* bfl.c — Black Forest Labs' FLUX API (asynchronous).
 *
 * prepare: POST {api_base}/{model} with x-key and the JSON fields the FLUX
 * models take (prompt, width, height, seed, output_format, steps and
 * guidance where the model has them). parse(poll 0): {id, polling_url} →
 * pending: GET polling_url (never built by hand: it is region-specific).
 * parse(poll n): status Pending/… → pending again; Ready → result.sample,
 * a signed URL valid for ten minutes that the dispatcher downloads at once;
 * Request/Content Moderated → content refusal; Error, Failed, Task not found
 * → a failed job (retryable: a new submit). Errors are FastAPI-style
 * {"detail": "…" | [{"msg": …}]}. */
#include "providers/classify.h"
#include "providers/common.h"
#include "util/buf.h"
#include "util/err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_key(struct ig_upstream_request *r, const struct ig_deployment *d)
{
    if (!d->api_key || !d->api_key[0])
        return 0;
    return ig_upstream_request_header(r, "x-key", d->api_key);
}

static int bfl_prepare(const struct ig_gen_request *req, const struct ig_deployment *d,
                       struct ig_upstream_request *out)
{
    memset(out, 0, sizeof *out);
    size_t blen = strlen(d->api_base);
    while (blen && d->api_base[blen - 1] == '/')
        blen--;
    size_t ulen = blen + strlen(d->model) + 2;
    out->url = malloc(ulen);
    if (!out->url)
        return IG_ENOMEM;
    snprintf(out->url, ulen, "%.*s/%s", (int)blen, d->api_base, d->model);
    snprintf(out->method, sizeof out->method, "POST");
    out->timeout_ms = d->timeout_ms;
    out->max_response_bytes = (size_t)1 << 20;
    json_t *b =
        json_pack("{s:s, s:i, s:i, s:s}", "prompt", ig_gen_request_prompt(req), "width", req->width,
                  "height", req->height, "output_format", ig_format_name(req->output_format));
    if (!b)
        goto fail;
    if (req->seed >= 0)
        json_object_set_new(b, "seed", json_integer(req->seed));
    if (req->steps)
        json_object_set_new(b, "steps", json_integer(req->steps));
    if (req->guidance >= 0)
        json_object_set_new(b, "guidance", json_real(req->guidance));
    if (ig_provider_json_body(out, b) ||
        ig_upstream_request_header(out, "Accept", "application/json") || add_key(out, d))
        goto fail;
    return 0;
fail:
    ig_upstream_request_release(out);
    return IG_ENOMEM;
}

static int bfl_poll_request(const struct ig_deployment *d, const char *url,
                            struct ig_upstream_request *out)
{
    int rc = ig_provider_url_request(out, "GET", url, (size_t)1 << 20);
    if (rc == 0 &&
        (add_key(out, d) || ig_upstream_request_header(out, "Accept", "application/json")))
        rc = IG_ENOMEM;
    if (rc)
        ig_upstream_request_release(out);
    return rc;
}

static void pending(struct ig_provider_result *out, const struct ig_deployment *d, const char *url,
                    long after_ms)
{
    if (bfl_poll_request(d, url, &out->poll)) {
        ig_provider_malformed(out, "the provider gave no usable polling_url");
        return;
    }
    ig_provider_pending(out, after_ms);
}

static void bfl_parse(const struct ig_deployment *d, const struct ig_upstream_result *res, int poll,
                      struct ig_provider_result *out)
{
    json_t *root;
    if (!ig_provider_parse_begin(res, out, &root)) {
        json_decref(root);
        return;
    }
    if (!json_is_object(root)) {
        snprintf(out->message, sizeof out->message, "the provider's answer is not JSON");
        json_decref(root);
        return;
    }
    if (poll == 0) {
        pending(out, d, json_string_value(json_object_get(root, "polling_url")), 500);
        json_decref(root);
        return;
    }
    const char *status = json_string_value(json_object_get(root, "status"));
    json_t *result = json_object_get(root, "result");
    if (!status) {
        snprintf(out->message, sizeof out->message, "the provider's poll answer has no status");
    } else if (!strcmp(status, "Ready")) {
        const char *sample = json_string_value(json_object_get(result, "sample"));
        if (!sample) {
            snprintf(out->message, sizeof out->message, "a Ready job without result.sample");
        } else {
            out->outcome = IG_OUTCOME_IMAGES;
            out->nimages = 1;
            out->images[0].url = strdup(sample);
            json_t *seed = json_object_get(result, "seed");
            out->images[0].seed = json_is_integer(seed) ? json_integer_value(seed) : -1;
            out->message[0] = '\0';
        }
    } else if (!strcmp(status, "Request Moderated") || !strcmp(status, "Content Moderated")) {
        out->error_class = IG_ERRC_CONTENT_POLICY;
        ig_strlcpy(out->message, status, sizeof out->message);
    } else if (!strcmp(status, "Error") || !strcmp(status, "Failed") ||
               !strcmp(status, "Task not found")) {
        snprintf(out->message, sizeof out->message, "the job ended with status '%s'", status);
    } else {
        /* Pending, and the in-between states some clients see: poll the
         * same URL again (no new poll request: the dispatcher keeps its). */
        ig_provider_pending(out, poll < 10 ? 500 : 1500);
    }
    json_decref(root);
}

/* ---- what the provider serves ---- */

/* Black Forest Labs' FLUX models (shared/providers.md §5). One image per
 * job; sizes in multiples of 32 (FLUX.2: 16). */
static const char *const bfl_qualities[] = {"auto", "standard", NULL};
static const struct ig_model bfl_templates[] = {
    {.id = "flux-pro-1.1",
     .provider = "bfl",
     .owned_by = "black-forest-labs",
     .description = "FLUX1.1 [pro]",
     .size_step = 32,
     .min_side = 256,
     .max_side = 1440,
     .default_width = 1024,
     .default_height = 768,
     .max_n = 1,
     .max_prompt_chars = 10000,
     .qualities = bfl_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_seed = 1,
     IG_PRICES({NULL, NULL, 40000}),
     .created = 1727740800},
    {.id = "flux-dev",
     .provider = "bfl",
     .owned_by = "black-forest-labs",
     .description = "FLUX.1 [dev]",
     .size_step = 32,
     .min_side = 256,
     .max_side = 1440,
     .default_width = 1024,
     .default_height = 768,
     .max_n = 1,
     .max_prompt_chars = 10000,
     .qualities = bfl_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 50,
     .supports_guidance = 1,
     .max_guidance = 5.0,
     IG_PRICES({NULL, NULL, 25000}),
     .created = 1722470400},
    {.id = "flux-2-pro",
     .provider = "bfl",
     .owned_by = "black-forest-labs",
     .description = "FLUX.2 [pro]",
     .size_step = 16,
     .min_side = 64,
     .max_side = 2048,
     .default_width = 1024,
     .default_height = 1024,
     .max_n = 1,
     .max_prompt_chars = 10000,
     .qualities = bfl_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_seed = 1,
     IG_PRICES({NULL, NULL, 30000}),
     .created = 1764547200},
};

const struct ig_provider ig_provider_bfl = {
    .name = "bfl",
    .prepare = bfl_prepare,
    .parse = bfl_parse,
    .poll_request = bfl_poll_request,
    .models = bfl_templates,
    .nmodels = sizeof bfl_templates / sizeof bfl_templates[0],
    .fallback = &bfl_templates[0],
    .key_env = "BFL_API_KEY",
    .base_env = "BFL_BASE_URL",
    .default_base = "https://api.bfl.ai/v1",
};
