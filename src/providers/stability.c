/* stability.c — Stability AI's v2beta Stable Image generate endpoints.
 *
 * prepare: POST {api_base}/v2beta/stable-image/generate/{core|ultra|sd3} as
 * multipart/form-data, accepting any image type. The requested size maps to
 * the nearest aspect ratio Stability offers (it picks the pixels); sd3.5
 * models go to /sd3 with a `model` field. An edit is image-to-image on
 * the same endpoints: the image as a file part and a strength (SD3 also
 * mode=image-to-image), with no aspect ratio. parse: raw image bytes with
 * `finish-reason` and `seed` headers (CONTENT_FILTERED is a content
 * refusal), or the JSON form {image, finish_reason, seed}; errors
 * {"name", "errors": [...]}, 403 content_moderation a refusal too. */
#include "providers/classify.h"
#include "providers/common.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/multipart.h"
#include "util/num.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SD3's image-to-image needs a strength; this one when the client gave none. */
#define STABILITY_EDIT_STRENGTH 0.6

static int stability_prepare(const struct ig_gen_request *req, const struct ig_deployment *d,
                             struct ig_upstream_request *out)
{
    const char *endpoint = d->model;
    int sd3 = strncmp(d->model, "sd3", 3) == 0;
    if (sd3)
        endpoint = "sd3";
    char path[160];
    snprintf(path, sizeof path, "/v2beta/stable-image/generate/%s", endpoint);
    if (ig_provider_request(out, "POST", d, path, (size_t)64 << 20))
        return IG_ENOMEM;
    struct ig_multipart mp;
    char seed[24], strength[32];
    int edit = req->op == IG_OP_EDIT;
    int rc = ig_multipart_init(&mp, ((size_t)1 << 20) + (edit ? req->inputs[0].len : 0));
    /* A catalogue style is Stability's style_preset where it has one. */
    const struct ig_style *st = req->style_def;
    int preset = st && st->stability;
    rc = rc ? rc
            : ig_multipart_field(&mp, "prompt", preset ? req->prompt : ig_gen_request_prompt(req));
    if (rc == 0 && preset)
        rc = ig_multipart_field(&mp, "style_preset", st->stability);
    if (rc == 0 && req->negative_prompt)
        rc = ig_multipart_field(&mp, "negative_prompt", req->negative_prompt);
    if (rc == 0 && edit) {
        /* Image-to-image: the input sets the shape, so no aspect ratio; SD3
         * needs the mode and a strength, Ultra takes a strength if given. */
        if (req->strength >= 0 || sd3) {
            snprintf(strength, sizeof strength, "%.3f",
                     req->strength >= 0 ? req->strength : STABILITY_EDIT_STRENGTH);
            rc = ig_multipart_field(&mp, "strength", strength);
        }
        if (rc == 0 && sd3)
            rc = ig_multipart_field(&mp, "mode", "image-to-image");
        rc = rc ? rc : ig_provider_form_uploads(&mp, req, "image");
    } else if (rc == 0) {
        rc = ig_multipart_field(&mp, "aspect_ratio",
                                ig_stability_aspect_ratio(req->width, req->height));
    }
    rc = rc ? rc : ig_multipart_field(&mp, "output_format", ig_format_name(req->output_format));
    if (rc == 0 && req->seed >= 0) {
        snprintf(seed, sizeof seed, "%lld", (long long)req->seed);
        rc = ig_multipart_field(&mp, "seed", seed);
    }
    if (rc == 0 && sd3)
        rc = ig_multipart_field(&mp, "model", d->model);
    rc = rc ? rc : ig_provider_form_body(out, &mp);
    ig_multipart_release(&mp);
    rc = rc ? rc : ig_upstream_request_header(out, "Accept", "image/*");
    rc = rc ? rc : ig_provider_auth(out, "Bearer", d->api_key);
    if (rc)
        ig_upstream_request_release(out);
    return rc;
}

static void stability_parse(const struct ig_deployment *d, const struct ig_upstream_result *res,
                            int poll, struct ig_provider_result *out)
{
    (void)d;
    (void)poll;
    json_t *root;
    int ok = ig_provider_parse_begin(res, out, &root);
    if (!ok && res->transport_error)
        return;
    char ctype[128] = "", finish[64] = "", seed[32] = "";
    ig_upstream_result_header(res, "content-type", ctype, sizeof ctype);
    ig_upstream_result_header(res, "finish-reason", finish, sizeof finish);
    ig_upstream_result_header(res, "seed", seed, sizeof seed);
    if (!ok) {
        /* Stability's own shape: {"name", "errors": ["…"]}. */
        const char *name = json_string_value(json_object_get(root, "name"));
        const char *msg = json_string_value(json_array_get(json_object_get(root, "errors"), 0));
        if (msg)
            snprintf(out->message, sizeof out->message, "%.250s", msg);
        if (name && (!strcmp(name, "content_moderation") || !strcmp(name, "public_figure")))
            out->error_class = IG_ERRC_CONTENT_POLICY;
        json_decref(root);
        return;
    }
    struct ig_provider_image *im = &out->images[0];
    im->seed = -1;
    if (strncmp(ctype, "application/json", 16) == 0) {
        json_t *b64 = json_object_get(root, "image");
        const char *fr = json_string_value(json_object_get(root, "finish_reason"));
        json_t *s = json_object_get(root, "seed");
        ig_strlcpy(finish, fr ? fr : "", sizeof finish);
        if (json_is_integer(s))
            im->seed = json_integer_value(s);
        int bad = ig_provider_b64_image(im, b64) != 0;
        json_decref(root);
        if (bad) {
            ig_provider_malformed(out, "the provider's JSON answer holds no image");
            return;
        }
    } else if (strncmp(ctype, "image/", 6) == 0 && res->body.len) {
        json_decref(root); /* raw bytes: nothing to read as JSON */
        im->bytes = malloc(res->body.len);
        if (!im->bytes) {
            ig_provider_malformed(out, "out of memory");
            return;
        }
        memcpy(im->bytes, res->body.data, res->body.len);
        im->len = res->body.len;
        int64_t v;
        if (seed[0] && ig_parse_i64(seed, strlen(seed), 0, INT64_MAX, &v) == 0)
            im->seed = v;
    } else {
        json_decref(root);
        ig_provider_malformed(out, "the provider's answer is neither an image nor JSON");
        return;
    }
    out->nimages = 1;
    if (strcmp(finish, "CONTENT_FILTERED") == 0) {
        ig_provider_result_release(out);
        out->outcome = IG_OUTCOME_ERROR;
        out->error_class = IG_ERRC_CONTENT_POLICY;
        snprintf(out->message, sizeof out->message,
                 "the output was filtered by the provider's content policy");
        return;
    }
    out->outcome = IG_OUTCOME_IMAGES;
    out->message[0] = '\0';
}

/* ---- what the provider serves ---- */

/* Stability's v2beta models: one image, the size becomes an aspect ratio. */
/* Stability's v2beta models differ only in name, date and whether they edit
 * (image-to-image, which keeps the input's shape: no size to give). */
#define STABILITY_MODEL(model_id, what, date, ops, price)                                          \
    {                                                                                              \
        .id = model_id, .provider = "stability", .owned_by = "stability-ai",                       \
        .description = what " (size is mapped to the nearest aspect ratio)", .min_side = 64,       \
        .max_side = 4096, .default_width = 1024, .default_height = 1024, .max_n = 1,               \
        .max_prompt_chars = 10000, .qualities = ig_plain_qualities,                                \
        .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP, .supports_negative_prompt = 1, \
        .supports_seed = 1, .created = date, .operations = ops, .max_input_images = 1,             \
        .supports_strength = 1, .edit_keeps_size = 1, IG_PRICES({NULL, NULL, price})               \
    }
static const struct ig_model stability_templates[] = {
    /* Core has no image input; Ultra and SD3 take one (image-to-image). */
    /* List prices: $0.03, $0.08 and $0.065 an image. */
    STABILITY_MODEL("core", "Stable Image Core", 1713744000, 0, 30000),
    STABILITY_MODEL("ultra", "Stable Image Ultra", 1713744000, IG_OPBIT_EDIT, 80000),
    STABILITY_MODEL("sd3.5-large", "Stable Diffusion 3.5 Large", 1729555200, IG_OPBIT_EDIT, 65000),
};
#undef STABILITY_MODEL

const struct ig_provider ig_provider_stability = {
    .name = "stability",
    .prepare = stability_prepare,
    .parse = stability_parse,
    .models = stability_templates,
    .nmodels = sizeof stability_templates / sizeof stability_templates[0],
    .fallback = &stability_templates[0],
    .key_env = "STABILITY_API_KEY",
    .base_env = "STABILITY_BASE_URL",
    .default_base = "https://api.stability.ai",
};
