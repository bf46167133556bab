/* local.c — the built-in provider: the procedural renderer and the codecs.
 * Image i of a request uses seed + i, so a batch holds distinct images and
 * each one can be reproduced alone from its reported seed.
 *
 * Edits and variations start from the uploaded image (at its own size):
 * the picture the prompt renders replaces the input where the mask is
 * transparent, blended by the mask's alpha, so opaque areas come back
 * untouched. Without a mask the render is blended over the whole input by
 * `strength` (default 0.6 for an edit, 0.35 for a variation). */
#include "image/codec.h"
#include "image/render.h"
#include "core/models.h"
#include "providers/provider.h"
#include "util/crypto.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EDIT_STRENGTH      0.6
#define VARIATION_STRENGTH 0.35

/* Mixes render into the uploaded image in place of rgb. */
static int compose(const struct ig_gen_request *req, uint8_t *rgb)
{
    size_t npx = (size_t)req->width * (size_t)req->height;
    uint8_t *orig = NULL, *alpha = NULL;
    int w, h, rc = ig_decode_rgb(req->inputs[0].bytes, req->inputs[0].len, npx, &orig, &w, &h);
    if (rc == 0 && (w != req->width || h != req->height))
        rc = IG_EINVAL;
    if (rc == 0 && req->mask.bytes) {
        rc = ig_decode_png_alpha(req->mask.bytes, req->mask.len, npx, &alpha, &w, &h);
        if (rc == 0 && (w != req->width || h != req->height))
            rc = IG_EINVAL;
    }
    if (rc == 0 && alpha) {
        /* Transparent (0) takes the render, opaque (255) keeps the input. */
        for (size_t i = 0; i < npx; i++)
            for (int c = 0; c < 3; c++)
                rgb[i * 3 + c] = (uint8_t)((rgb[i * 3 + c] * (255u - alpha[i]) +
                                            orig[i * 3 + c] * (unsigned)alpha[i] + 127u) /
                                           255u);
    } else if (rc == 0) {
        double s = req->strength >= 0           ? req->strength
                   : req->op == IG_OP_VARIATION ? VARIATION_STRENGTH
                                                : EDIT_STRENGTH;
        unsigned k = (unsigned)(s * 256.0 + 0.5); /* of 256 */
        for (size_t i = 0; i < npx * 3; i++)
            rgb[i] = (uint8_t)((rgb[i] * k + orig[i] * (256u - k) + 128u) >> 8);
    }
    free(orig);
    free(alpha);
    return rc;
}

static int local_generate(const struct ig_gen_request *req, uint64_t seed, float progress,
                          size_t max_bytes, struct ig_image_out *out)
{
    size_t npx = (size_t)req->width * (size_t)req->height;
    uint8_t *rgb = malloc(npx * 3);
    if (!rgb)
        return IG_ENOMEM;
    struct ig_render_params p = {
        .prompt = req->prompt,
        .negative_prompt = req->negative_prompt,
        .seed = seed,
        .width = req->width,
        .height = req->height,
        .style =
            req->style && strcmp(req->style, "natural") == 0 ? IG_STYLE_NATURAL : IG_STYLE_VIVID,
        .detail = req->steps,
        .strength = (float)req->guidance,
        .progress = progress,
    };
    int rc = ig_render(&p, rgb);
    if (rc == 0 && req->op != IG_OP_GENERATE)
        rc = compose(req, rgb);
    if (rc == 0) {
        char seed_text[24], prompt_sha[IG_SHA256_HEX];
        uint8_t digest[IG_SHA256_LEN];
        snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)seed);
        ig_sha256(req->prompt, strlen(req->prompt), digest);
        ig_hex(digest, sizeof digest, prompt_sha);
        struct ig_provenance prov = {
            .prompt = req->provenance_prompt ? req->prompt : NULL,
            .prompt_sha256 = prompt_sha,
            .model = req->model->id,
            .seed = seed_text,
        };
        int quality = req->output_compression >= 0 ? req->output_compression : 90;
        rc = ig_encode(rgb, req->width, req->height, req->output_format, quality, &prov, max_bytes,
                       &out->data);
    }
    free(rgb);
    if (rc == 0) {
        out->format = req->output_format;
        out->width = req->width;
        out->height = req->height;
        out->seed = (int64_t)seed;
    }
    return rc;
}

/* ---- what the provider serves ---- */

static const char *const local_qualities[] = {"auto",   "standard", "hd", "low",
                                              "medium", "high",     NULL};
static const char *const local_styles[] = {"vivid", "natural", NULL};

/* The local renderer is served in-process, through the dispatcher like
 * every provider. */
static const struct ig_deployment local_deployment = {
    .provider = "local",
    .model = "procedural",
    .weight = 1,
    IG_PRICES({NULL, NULL, 0}), /* nothing leaves the machine */
};

static const struct ig_model local_procedural = {
    .id = "local/procedural",
    .aliases = {"local", NULL},
    .provider = "local",
    .owned_by = "imagegate",
    .description = "built-in procedural renderer (not a diffusion model): a deterministic "
                   "picture from the prompt's words, the seed and the size; works offline",
    .min_side = 64,
    .max_side = 2048,
    .default_width = 1024,
    .default_height = 1024,
    .max_n = 10,
    .max_prompt_chars = 32000,
    .qualities = local_qualities,
    .styles = local_styles,
    .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
    .supports_negative_prompt = 1,
    .supports_seed = 1,
    .supports_steps = 1,
    .supports_guidance = 1,
    .max_steps = 150,
    .max_guidance = 50.0,
    .supports_compression = 1,
    .supports_stream = 1,
    .operations = IG_OPBIT_EDIT | IG_OPBIT_VARIATION,
    .max_input_images = 1,
    .supports_mask = 1,
    .supports_strength = 1,
    .edit_keeps_size = 1,
    .created = 1767225600,
    .deployments = &local_deployment,
    .ndeployments = 1,
};

const struct ig_provider ig_provider_local = {
    .name = "local",
    .generate = local_generate,
    .models = &local_procedural,
    .nmodels = 1,
    .fallback = &local_procedural,
};
