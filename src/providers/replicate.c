/* replicate.c — Replicate predictions.
 *
 * prepare: an official model "owner/name" → POST
 * {base}/models/{owner}/{name}/predictions; "owner/name:<version>" or a bare
 * version id → POST {base}/predictions with "version". Prefer: wait=30
 * lets quick models answer in the same call. The input is the common
 * text-to-image set (prompt, aspect_ratio nearest the size, num_outputs,
 * output_format, seed, negative_prompt, num_inference_steps, guidance);
 * models with other inputs are configured through their own names later.
 * parse: a prediction; succeeded → output (a URL or a list of URLs);
 * starting/processing → poll urls.get, with urls.cancel kept so an
 * abandoned prediction is cancelled; failed → retryable (an NSFW error is a
 * content refusal); errors are RFC 7807 {title, detail, status}. */
#include "providers/classify.h"
#include "providers/common.h"
#include "util/err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int bearer(struct ig_upstream_request *r, const struct ig_deployment *d)
{
    return ig_provider_auth(r, "Bearer", d->api_key);
}

static int replicate_prepare(const struct ig_gen_request *req, const struct ig_deployment *d,
                             struct ig_upstream_request *out)
{
    const char *colon = strchr(d->model, ':');
    int official = !colon && strchr(d->model, '/');
    char path[400];
    if (official)
        snprintf(path, sizeof path, "/models/%s/predictions", d->model);
    else
        snprintf(path, sizeof path, "/predictions");
    if (ig_provider_request(out, "POST", d, path, (size_t)4 << 20))
        return IG_ENOMEM;
    json_t *input = json_pack(
        "{s:s, s:s, s:i, s:s}", "prompt", ig_gen_request_prompt(req), "aspect_ratio",
        ig_stability_aspect_ratio(req->width, req->height), "num_outputs", req->n, "output_format",
        req->output_format == IG_FMT_JPEG ? "jpg" : ig_format_name(req->output_format));
    if (input && req->seed >= 0)
        json_object_set_new(input, "seed", json_integer(req->seed));
    if (input && req->negative_prompt)
        json_object_set_new(input, "negative_prompt", json_string(req->negative_prompt));
    if (input && req->steps)
        json_object_set_new(input, "num_inference_steps", json_integer(req->steps));
    if (input && req->guidance >= 0)
        json_object_set_new(input, "guidance", json_real(req->guidance));
    json_t *b = json_pack("{s:o}", "input", input);
    if (b && !official)
        json_object_set_new(b, "version", json_string(colon ? colon + 1 : d->model));
    if (ig_provider_json_body(out, b) || bearer(out, d) ||
        ig_upstream_request_header(out, "Prefer", "wait=30")) {
        ig_upstream_request_release(out);
        return IG_ENOMEM;
    }
    /* Prefer: wait holds the call until the model is done (or 30 s). */
    if (out->timeout_ms < 45000)
        out->timeout_ms = 45000;
    return 0;
}

static int url_request(struct ig_upstream_request *r, const char *method,
                       const struct ig_deployment *d, const char *url)
{
    int rc = ig_provider_url_request(r, method, url, (size_t)4 << 20);
    if (rc == 0 && (rc = bearer(r, d)))
        ig_upstream_request_release(r);
    return rc;
}

/* The last "NN%" of a prediction's logs (its progress bars), or -1. */
static int log_percent(const char *logs)
{
    int found = -1;
    for (const char *p = logs ? strchr(logs, '%') : NULL; p; p = strchr(p + 1, '%')) {
        const char *q = p;
        int v = 0, scale = 1, digits = 0;
        while (q > logs && q[-1] >= '0' && q[-1] <= '9' && digits < 3) {
            v += (q[-1] - '0') * scale;
            scale *= 10;
            digits++;
            q--;
        }
        if (digits && v <= 100)
            found = v;
    }
    return found;
}

static int replicate_poll_request(const struct ig_deployment *d, const char *url,
                                  struct ig_upstream_request *out)
{
    return url_request(out, "GET", d, url);
}

static void replicate_parse(const struct ig_deployment *d, const struct ig_upstream_result *res,
                            int poll, struct ig_provider_result *out)
{
    json_t *root;
    if (!ig_provider_parse_begin(res, out, &root)) {
        json_decref(root);
        return;
    }
    const char *status = json_string_value(json_object_get(root, "status"));
    json_t *urls = json_object_get(root, "urls");
    if (!status) {
        ig_provider_malformed(out, "the provider's answer is not a prediction");
    } else if (!strcmp(status, "succeeded")) {
        json_t *output = json_object_get(root, "output");
        json_t *list = json_is_array(output) ? output : NULL;
        size_t n = list ? json_array_size(list) : (json_is_string(output) ? 1 : 0);
        if (n == 0 || n > IG_MAX_IMAGES) {
            ig_provider_malformed(out, "a succeeded prediction without image output");
        } else {
            for (size_t i = 0; i < n; i++) {
                const char *url = json_string_value(list ? json_array_get(list, i) : output);
                if (!url) {
                    ig_provider_malformed(out, "a prediction output that is not a URL");
                    json_decref(root);
                    return;
                }
                out->images[i].url = strdup(url);
                out->images[i].seed = -1;
                out->nimages++;
            }
            out->outcome = IG_OUTCOME_IMAGES;
            out->message[0] = '\0';
        }
    } else if (!strcmp(status, "starting") || !strcmp(status, "processing")) {
        const char *get = json_string_value(json_object_get(urls, "get"));
        const char *cancel = json_string_value(json_object_get(urls, "cancel"));
        if (url_request(&out->poll, "GET", d, get)) {
            ig_provider_malformed(out, "a running prediction without urls.get");
        } else {
            if (cancel)
                url_request(&out->cancel, "POST", d, cancel);
            ig_provider_pending(out, poll < 10 ? 500 : 2000);
            out->queue_position = !strcmp(status, "processing") ? 0 : -1;
            out->percent = log_percent(json_string_value(json_object_get(root, "logs")));
        }
    } else {
        const char *err = json_string_value(json_object_get(root, "error"));
        snprintf(out->message, sizeof out->message, "the prediction ended '%s'%s%.180s", status,
                 err ? ": " : "", err ? err : "");
        if (err && strcasestr(err, "nsfw"))
            out->error_class = IG_ERRC_CONTENT_POLICY;
    }
    json_decref(root);
}

/* ---- what the provider serves ---- */

/* Replicate: the official FLUX models (aspect ratios, up to 4 outputs). */
static const struct ig_model replicate_templates[] = {
    {.id = "black-forest-labs/flux-schnell",
     .provider = "replicate",
     .owned_by = "black-forest-labs",
     .description = "FLUX.1 [schnell] on Replicate (size is mapped to the nearest aspect ratio)",
     .min_side = 64,
     .max_side = 2048,
     .default_width = 1024,
     .default_height = 1024,
     .max_n = 4,
     .max_prompt_chars = 10000,
     .qualities = ig_plain_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 4,
     IG_PRICES({NULL, NULL, 3000}),
     .created = 1722470400},
    {.id = "black-forest-labs/flux-dev",
     .provider = "replicate",
     .owned_by = "black-forest-labs",
     .description = "FLUX.1 [dev] on Replicate (size is mapped to the nearest aspect ratio)",
     .min_side = 64,
     .max_side = 2048,
     .default_width = 1024,
     .default_height = 1024,
     .max_n = 4,
     .max_prompt_chars = 10000,
     .qualities = ig_plain_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 50,
     .supports_guidance = 1,
     .max_guidance = 10.0,
     IG_PRICES({NULL, NULL, 25000}),
     .created = 1722470400},
};

const struct ig_provider ig_provider_replicate = {
    .name = "replicate",
    .prepare = replicate_prepare,
    .parse = replicate_parse,
    .poll_request = replicate_poll_request,
    .models = replicate_templates,
    .nmodels = sizeof replicate_templates / sizeof replicate_templates[0],
    .fallback = &replicate_templates[1],
    .key_env = "REPLICATE_API_TOKEN",
    .base_env = "REPLICATE_BASE_URL",
    .default_base = "https://api.replicate.com/v1",
};
