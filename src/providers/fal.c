/* fal.c — fal.ai's queue API.
 *
 * prepare: POST {queue_base}/{model} with "Authorization: Key …" and the
 * FLUX-style input (prompt, image_size {width, height}, num_images, seed,
 * num_inference_steps, guidance_scale, output_format, the safety checker
 * on). parse(0): {request_id, status_url, response_url, cancel_url} →
 * pending: GET status_url. parse(n): a status body (IN_QUEUE, IN_PROGRESS;
 * 202 or 200) → poll again; COMPLETED → pending: GET response_url; a result
 * body {images: [{url}], seed, has_nsfw_concepts} → images (URLs downloaded,
 * data URIs decoded), any flagged image → content refusal. The URLs fal
 * returns are used as given, never built; cancel_url (a PUT) is handed to
 * the dispatcher so an abandoned request is cancelled at fal. */
#include "providers/classify.h"
#include "providers/common.h"
#include "util/crypto.h"
#include "util/err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int auth(struct ig_upstream_request *r, const struct ig_deployment *d)
{
    return ig_provider_auth(r, "Key", d->api_key);
}

static int fal_prepare(const struct ig_gen_request *req, const struct ig_deployment *d,
                       struct ig_upstream_request *out)
{
    char path[300];
    snprintf(path, sizeof path, "/%s", d->model);
    if (ig_provider_request(out, "POST", d, path, (size_t)1 << 20))
        return IG_ENOMEM;
    json_t *b = json_pack(
        "{s:s, s:{s:i, s:i}, s:i, s:s, s:b}", "prompt", ig_gen_request_prompt(req), "image_size",
        "width", req->width, "height", req->height, "num_images", req->n, "output_format",
        req->output_format == IG_FMT_PNG ? "png" : "jpeg", "enable_safety_checker", 1);
    if (b && req->seed >= 0)
        json_object_set_new(b, "seed", json_integer(req->seed));
    if (b && req->steps)
        json_object_set_new(b, "num_inference_steps", json_integer(req->steps));
    if (b && req->guidance >= 0)
        json_object_set_new(b, "guidance_scale", json_real(req->guidance));
    if (ig_provider_json_body(out, b) || auth(out, d)) {
        ig_upstream_request_release(out);
        return IG_ENOMEM;
    }
    return 0;
}

static int fal_poll_request(const struct ig_deployment *d, const char *url,
                            struct ig_upstream_request *out)
{
    int rc = ig_provider_url_request(out, "GET", url, (size_t)64 << 20);
    if (rc == 0 && (rc = auth(out, d)))
        ig_upstream_request_release(out);
    return rc;
}

static int poll_request(struct ig_provider_result *out, const struct ig_deployment *d,
                        const char *url, long after_ms)
{
    int rc = fal_poll_request(d, url, &out->poll);
    if (rc == 0)
        ig_provider_pending(out, after_ms);
    return rc;
}

static void result_images(json_t *root, struct ig_provider_result *out)
{
    json_t *images = json_object_get(root, "images");
    json_t *nsfw = json_object_get(root, "has_nsfw_concepts");
    json_t *seed = json_object_get(root, "seed");
    size_t i;
    json_t *flag;
    json_array_foreach(nsfw, i, flag)
    {
        if (json_is_true(flag)) {
            out->error_class = IG_ERRC_CONTENT_POLICY;
            snprintf(out->message, sizeof out->message,
                     "the provider's safety checker flagged image %zu", i);
            return;
        }
    }
    if (!json_is_array(images) || json_array_size(images) == 0 ||
        json_array_size(images) > IG_MAX_IMAGES) {
        ig_provider_malformed(out, "the provider's result has no images");
        return;
    }
    json_t *img;
    json_array_foreach(images, i, img)
    {
        struct ig_provider_image *im = &out->images[out->nimages];
        const char *url = json_string_value(json_object_get(img, "url"));
        im->seed = json_is_integer(seed) ? json_integer_value(seed) + (json_int_t)i : -1;
        if (!url) {
            ig_provider_malformed(out, "an image in the provider's result has no url");
            return;
        }
        if (ig_provider_url_image(im, url)) {
            ig_provider_malformed(out, "an image data URI is not base64");
            return;
        }
        out->nimages++;
    }
    out->outcome = IG_OUTCOME_IMAGES;
    out->message[0] = '\0';
}

static void fal_parse(const struct ig_deployment *d, const struct ig_upstream_result *res, int poll,
                      struct ig_provider_result *out)
{
    json_t *root;
    if (!ig_provider_parse_begin(res, out, &root)) {
        json_decref(root);
        return;
    }
    if (!json_is_object(root)) {
        ig_provider_malformed(out, "the provider's answer is not JSON");
    } else if (json_object_get(root, "images")) {
        result_images(root, out);
    } else {
        const char *status = json_string_value(json_object_get(root, "status"));
        const char *status_url = json_string_value(json_object_get(root, "status_url"));
        const char *response_url = json_string_value(json_object_get(root, "response_url"));
        if (status && !strcmp(status, "COMPLETED")) {
            if (poll_request(out, d, response_url, 0))
                ig_provider_malformed(out, "a completed request without response_url");
        } else if (status && (!strcmp(status, "IN_QUEUE") || !strcmp(status, "IN_PROGRESS"))) {
            if (poll == 0) {
                const char *cancel_url = json_string_value(json_object_get(root, "cancel_url"));
                if (poll_request(out, d, status_url, 500)) {
                    ig_provider_malformed(out, "the provider gave no status_url");
                } else if (ig_provider_url_request(&out->cancel, "PUT", cancel_url, 65536) == 0) {
                    /* Cancelling an abandoned request is a PUT to its cancel_url. */
                    out->cancel.timeout_ms = 10000;
                    if (auth(&out->cancel, d))
                        ig_upstream_request_release(&out->cancel);
                }
            } else {
                ig_provider_pending(out, poll < 10 ? 500 : 1500); /* same status_url */
            }
            json_t *qp = json_object_get(root, "queue_position");
            if (out->outcome == IG_OUTCOME_PENDING)
                out->queue_position = !strcmp(status, "IN_PROGRESS") ? 0
                                      : json_is_integer(qp) && json_integer_value(qp) >= 0
                                          ? (int)json_integer_value(qp)
                                          : -1;
        } else {
            ig_provider_malformed(out, "the provider's answer has neither status nor images");
        }
    }
    json_decref(root);
}

/* ---- what the provider serves ---- */

/* fal.ai FLUX endpoints. */
static const struct ig_model fal_templates[] = {
    {.id = "fal-ai/flux/schnell",
     .provider = "fal",
     .owned_by = "fal-ai",
     .description = "FLUX.1 [schnell] on fal",
     .size_step = 8,
     .min_side = 64,
     .max_side = 2048,
     .default_width = 1024,
     .default_height = 768,
     .max_n = 4,
     .max_prompt_chars = 10000,
     .qualities = ig_plain_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 12,
     IG_PRICES({NULL, NULL, 3000}),
     .created = 1722470400},
    {.id = "fal-ai/flux/dev",
     .provider = "fal",
     .owned_by = "fal-ai",
     .description = "FLUX.1 [dev] on fal",
     .size_step = 8,
     .min_side = 64,
     .max_side = 2048,
     .default_width = 1024,
     .default_height = 768,
     .max_n = 4,
     .max_prompt_chars = 10000,
     .qualities = ig_plain_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 50,
     .supports_guidance = 1,
     .max_guidance = 20.0,
     IG_PRICES({NULL, NULL, 25000}),
     .created = 1722470400},
};

const struct ig_provider ig_provider_fal = {
    .name = "fal",
    .prepare = fal_prepare,
    .parse = fal_parse,
    .poll_request = fal_poll_request,
    .models = fal_templates,
    .nmodels = sizeof fal_templates / sizeof fal_templates[0],
    .fallback = &fal_templates[1],
    .key_env = "FAL_KEY",
    .key_env_also = "FAL_API_KEY", /* seed 002's name */
    .base_env = "FAL_QUEUE_URL",
    .default_base = "https://queue.fal.run",
};
