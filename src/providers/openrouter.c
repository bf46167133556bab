/* openrouter.c — OpenRouter: images through chat completions
 * (shared/providers.md §12).
 *
 * There is no images endpoint. A generation is POST /chat/completions with
 * the prompt as the user's message, "modalities": ["image", "text"] and
 * the size as an aspect ratio ("image_config"); the answer is a chat
 * completion whose choices[0].message.images[] carry data-URI images. An
 * answer with text and no image (a refusal, or a model that cannot draw)
 * is a failed generation, never an empty success: its text becomes the
 * message. One image per request: n is 1. */
#include "core/models.h"
#include "providers/common.h"
#include "providers/provider.h"
#include "util/err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The aspect ratios OpenRouter's image_config takes. */
static const struct ig_aspect_ratio ratios[] = {
    {"1:1", 1, 1}, {"2:3", 2, 3}, {"3:2", 3, 2},   {"3:4", 3, 4},   {"4:3", 4, 3},
    {"4:5", 4, 5}, {"5:4", 5, 4}, {"9:16", 9, 16}, {"16:9", 16, 9}, {"21:9", 21, 9},
};

static int openrouter_prepare(const struct ig_gen_request *req, const struct ig_deployment *d,
                              struct ig_upstream_request *out)
{
    if (ig_provider_request(out, "POST", d, "/chat/completions", (size_t)64 << 20))
        return IG_ENOMEM;
    json_t *body = json_pack("{s:s, s:[{s:s, s:s}], s:[s, s], s:b}", "model", d->model, "messages",
                             "role", "user", "content", ig_gen_request_prompt(req), "modalities",
                             "image", "text", "stream", 0);
    if (body && !req->size_auto)
        json_object_set_new(body, "image_config",
                            json_pack("{s:s}", "aspect_ratio",
                                      ig_nearest_aspect_ratio(req->width, req->height, ratios,
                                                              sizeof ratios / sizeof ratios[0])));
    if (body && req->user)
        json_object_set_new(body, "user", json_string(req->user));
    int rc = body ? ig_provider_json_body(out, body) : IG_ENOMEM;
    rc = rc ? rc : ig_provider_auth(out, "Bearer", d->api_key);
    if (rc)
        ig_upstream_request_release(out);
    return rc;
}

/* The first choice's message text, cut to fit the result's message. */
static void text_answer(json_t *message, struct ig_provider_result *out)
{
    const char *text = json_string_value(json_object_get(message, "content"));
    json_t *refusal = json_object_get(message, "refusal");
    if (json_is_string(refusal))
        text = json_string_value(refusal);
    snprintf(out->message, sizeof out->message, "the model answered without an image%s%.200s",
             text && *text ? ": " : "", text ? text : "");
}

static void openrouter_parse(const struct ig_deployment *d, const struct ig_upstream_result *res,
                             int poll, struct ig_provider_result *out)
{
    (void)d;
    (void)poll;
    json_t *root;
    if (!ig_provider_parse_begin(res, out, &root)) {
        json_decref(root);
        return;
    }
    json_t *choices = json_object_get(root, "choices");
    json_t *message = json_object_get(json_array_get(choices, 0), "message");
    json_t *images = json_object_get(message, "images");
    if (!json_is_object(message)) {
        ig_provider_malformed(out, "the provider's answer has no message");
    } else if (!json_is_array(images) || json_array_size(images) == 0) {
        /* Text only: a failure of this model, which asking again will
         * not mend; another deployment may draw it. */
        ig_provider_malformed(out, "");
        out->error_class = IG_ERRC_REFUSED;
        text_answer(message, out);
    } else {
        size_t i;
        json_t *img;
        int ok = 1;
        json_array_foreach(images, i, img)
        {
            if (out->nimages == IG_MAX_IMAGES)
                break;
            struct ig_provider_image *im = &out->images[out->nimages];
            json_t *u = json_object_get(img, "image_url");
            const char *url = json_string_value(json_is_object(u) ? json_object_get(u, "url") : u);
            im->seed = -1;
            if (!url || ig_provider_url_image(im, url)) {
                ig_provider_malformed(out, url ? "an image data URI is not base64"
                                               : "an image in the provider's answer has no url");
                ok = 0;
                break;
            }
            out->nimages++;
        }
        if (ok) {
            out->outcome = IG_OUTCOME_IMAGES;
            out->message[0] = '\0';
        }
    }
    json_decref(root);
}

/* ---- what the provider serves ---- */

static const char *const openrouter_qualities[] = {"auto", "standard", NULL};

/* Image models on OpenRouter; any other vendor/model of a configured
 * deployment takes the first one's rules. The size is an aspect ratio. */
#define OPENROUTER_MODEL(model_id, what, date, price)                                              \
    {                                                                                              \
        .id = model_id, .provider = "openrouter", .owned_by = "openrouter",                        \
        .description = what " through OpenRouter (size is mapped to the nearest aspect ratio)",    \
        .min_side = 64, .max_side = 4096, .default_width = 1024, .default_height = 1024,           \
        .max_n = 1, .max_prompt_chars = 32000, .qualities = openrouter_qualities,                  \
        .formats = IG_FMTBIT_PNG, .created = date, IG_PRICES({NULL, NULL, price})                  \
    }
static const struct ig_model openrouter_templates[] = {
    /* List prices: about $0.039 and $0.03 an image. */
    OPENROUTER_MODEL("google/gemini-2.5-flash-image", "Gemini 2.5 Flash Image", 1756166400, 39000),
    OPENROUTER_MODEL("black-forest-labs/flux.2-pro", "FLUX.2 [pro]", 1764115200, 30000),
};
#undef OPENROUTER_MODEL

const struct ig_provider ig_provider_openrouter = {
    .name = "openrouter",
    .prepare = openrouter_prepare,
    .parse = openrouter_parse,
    .models = openrouter_templates,
    .nmodels = sizeof openrouter_templates / sizeof openrouter_templates[0],
    .fallback = &openrouter_templates[0],
    .key_env = "OPENROUTER_API_KEY",
    .base_env = "OPENROUTER_BASE_URL",
    .default_base = "https://openrouter.ai/api/v1",
};
