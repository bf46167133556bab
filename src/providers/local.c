/* local.c — the built-in provider: the procedural renderer and the codecs.
 * Image i of a request uses seed + i, so a batch holds distinct images and
 * each one can be reproduced alone from its reported seed. */
#include "image/codec.h"
#include "image/render.h"
#include "providers/provider.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ig_local_render(const struct ig_gen_request *req, uint64_t seed, float progress,
                    const char *generation_id, size_t max_bytes, struct ig_image_out *out)
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
    if (rc == 0) {
        char seed_text[24];
        snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)seed);
        struct ig_provenance prov = {
            .prompt = req->prompt,
            .model = req->model->id,
            .seed = seed_text,
            .generation_id = generation_id,
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

static int local_generate(const struct ig_gen_request *req, int index, uint64_t seed,
                          const char *generation_id, size_t max_bytes, struct ig_image_out *out)
{
    (void)index;
    return ig_local_render(req, seed, 0.0f, generation_id, max_bytes, out);
}

const struct ig_provider ig_provider_local = {
    .name = "local",
    .generate = local_generate,
};
