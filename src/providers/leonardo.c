/* leonardo.c — Leonardo.ai generations (asynchronous).
 *
 * prepare: POST {api_base}/generations with prompt, negative_prompt,
 * modelId (omitted for the model named "default", letting Leonardo pick),
 * width, height, num_images, num_inference_steps, guidance_scale and seed.
 * parse(0): {"sdGenerationJob": {"generationId"}} → pending: GET
 * {api_base}/generations/{id}. parse(n): generations_by_pk.status PENDING →
 * poll again; COMPLETE → generated_images[].url (any nsfw flag → content
 * refusal); FAILED → a failed job. */
#include "providers/classify.h"
#include "providers/common.h"
#include "util/err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bearer(struct ig_upstream_request *r, const struct ig_deployment *d)
{
    return ig_provider_auth(r, "Bearer", d->api_key);
}

static int leonardo_poll_request(const struct ig_deployment *d, const char *url,
                                 struct ig_upstream_request *out)
{
    int rc = ig_provider_url_request(out, "GET", url, (size_t)4 << 20);
    if (rc == 0 && (rc = bearer(out, d)))
        ig_upstream_request_release(out);
    return rc;
}

static int leonardo_prepare(const struct ig_gen_request *req, const struct ig_deployment *d,
                            struct ig_upstream_request *out)
{
    if (ig_provider_request(out, "POST", d, "/generations", (size_t)1 << 20))
        return IG_ENOMEM;
    /* A catalogue style is Leonardo's presetStyle where it has one. */
    const struct ig_style *st = req->style_def;
    int preset = st && st->leonardo;
    json_t *b = json_pack("{s:s, s:i, s:i, s:i}", "prompt",
                          preset ? req->prompt : ig_gen_request_prompt(req), "width", req->width,
                          "height", req->height, "num_images", req->n);
    if (b && preset)
        json_object_set_new(b, "presetStyle", json_string(st->leonardo));
    if (b && strcmp(d->model, "default") != 0)
        json_object_set_new(b, "modelId", json_string(d->model));
    if (b && req->negative_prompt)
        json_object_set_new(b, "negative_prompt", json_string(req->negative_prompt));
    if (b && req->steps)
        json_object_set_new(b, "num_inference_steps", json_integer(req->steps));
    if (b && req->guidance >= 0)
        json_object_set_new(b, "guidance_scale", json_real(req->guidance));
    if (b && req->seed >= 0)
        json_object_set_new(b, "seed", json_integer(req->seed));
    if (ig_provider_json_body(out, b) || bearer(out, d) ||
        ig_upstream_request_header(out, "Accept", "application/json")) {
        ig_upstream_request_release(out);
        return IG_ENOMEM;
    }
    return 0;
}

static void leonardo_parse(const struct ig_deployment *d, const struct ig_upstream_result *res,
                           int poll, struct ig_provider_result *out)
{
    json_t *root;
    if (!ig_provider_parse_begin(res, out, &root)) {
        json_decref(root);
        return;
    }
    if (poll == 0) {
        const char *id = json_string_value(
            json_object_get(json_object_get(root, "sdGenerationJob"), "generationId"));
        char path[200];
        if (!id || strlen(id) > 100 || strpbrk(id, "/?#")) {
            ig_provider_malformed(out, "the provider gave no generationId");
        } else {
            snprintf(path, sizeof path, "/generations/%s", id);
            if (ig_provider_request(&out->poll, "GET", d, path, (size_t)4 << 20) ||
                bearer(&out->poll, d)) {
                ig_upstream_request_release(&out->poll);
                ig_provider_malformed(out, "out of memory");
            } else {
                out->poll.timeout_ms = 30000;
                ig_provider_pending(out, 1000);
            }
        }
        json_decref(root);
        return;
    }
    json_t *g = json_object_get(root, "generations_by_pk");
    const char *status = json_string_value(json_object_get(g, "status"));
    if (!status) {
        ig_provider_malformed(out, "the provider's poll answer has no status");
    } else if (!strcmp(status, "PENDING")) {
        ig_provider_pending(out, poll < 10 ? 1000 : 2000);
    } else if (!strcmp(status, "COMPLETE")) {
        json_t *images = json_object_get(g, "generated_images");
        json_t *seed = json_object_get(g, "seed");
        size_t i;
        json_t *img;
        if (!json_is_array(images) || json_array_size(images) == 0 ||
            json_array_size(images) > IG_MAX_IMAGES) {
            ig_provider_malformed(out, "a complete generation without images");
        } else {
            json_array_foreach(images, i, img)
            {
                if (json_is_true(json_object_get(img, "nsfw"))) {
                    ig_provider_result_release(out);
                    out->error_class = IG_ERRC_CONTENT_POLICY;
                    snprintf(out->message, sizeof out->message,
                             "the provider flagged image %zu as NSFW", i);
                    json_decref(root);
                    return;
                }
                const char *url = json_string_value(json_object_get(img, "url"));
                if (!url) {
                    ig_provider_malformed(out, "a generated image without url");
                    json_decref(root);
                    return;
                }
                out->images[i].url = strdup(url);
                out->images[i].seed = json_is_integer(seed) ? json_integer_value(seed) : -1;
                out->nimages++;
            }
            out->outcome = IG_OUTCOME_IMAGES;
            out->message[0] = '\0';
        }
    } else {
        snprintf(out->message, sizeof out->message, "the generation ended '%.40s'", status);
    }
    json_decref(root);
}

/* ---- what the provider serves ---- */

/* Leonardo: "default" lets Leonardo choose; other names are modelIds. */
static const struct ig_model leonardo_templates[] = {
    {.id = "default",
     .provider = "leonardo",
     .owned_by = "leonardo-ai",
     .description = "Leonardo.ai (name a modelId in the config for a specific model)",
     .size_step = 8,
     .min_side = 32,
     .max_side = 1536,
     .default_width = 1024,
     .default_height = 768,
     .max_n = 8,
     .max_prompt_chars = 1500,
     .qualities = ig_plain_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_negative_prompt = 1,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 60,
     .supports_guidance = 1,
     .max_guidance = 20.0,
     .created = 1767225600},
};

const struct ig_provider ig_provider_leonardo = {
    .name = "leonardo",
    .prepare = leonardo_prepare,
    .parse = leonardo_parse,
    .poll_request = leonardo_poll_request,
    .models = leonardo_templates,
    .nmodels = sizeof leonardo_templates / sizeof leonardo_templates[0],
    .fallback = &leonardo_templates[0],
    .key_env = "LEONARDO_API_KEY",
    .base_env = "LEONARDO_BASE_URL",
    .default_base = "https://cloud.leonardo.ai/api/rest/v1",
    .env_models = 1,
};
