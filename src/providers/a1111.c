/* a1111.c — AUTOMATIC1111's stable-diffusion-webui API (and servers that
 * copy it, such as stable-diffusion.cpp's /sdapi).
 *
 * prepare: POST {api_base}/sdapi/v1/txt2img with prompt, negative_prompt,
 * width, height, batch_size (n), seed (-1: random), steps and cfg_scale
 * (guidance) when given. An edit goes to /sdapi/v1/img2img with the input
 * in init_images, strength as denoising_strength, and the mask turned from
 * OpenAI's convention (transparent: edit) into A1111's (white: edit). An api_key "user:password"
 * becomes HTTP Basic auth (--api-auth). parse: images[] base64, the seeds from the `info` JSON
 * string (all_seeds); errors {"error","detail",…}. */
#include "providers/classify.h"
#include "providers/common.h"
#include "util/crypto.h"
#include "image/codec.h"
#include "util/err.h"
#include "util/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A1111's default img2img denoising strength. */
#define A1111_EDIT_STRENGTH 0.75

/* A base64 JSON string of bytes; NULL when out of memory. */
static json_t *b64_string(const uint8_t *bytes, size_t len)
{
    size_t n = ig_base64_len(len);
    char *text = malloc(n + 1);
    if (!text)
        return NULL;
    ig_base64_encode(bytes, len, text);
    json_t *s = json_stringn_nocheck(text, n);
    free(text);
    return s;
}

/* OpenAI's mask (transparent: edit here) as A1111's (white: edit here),
 * a black and white PNG in base64. */
static json_t *a1111_mask(const struct ig_gen_request *req)
{
    const struct ig_upload *m = &req->mask;
    uint8_t *alpha = NULL, *rgb = NULL;
    int w, h;
    json_t *out = NULL;
    if (ig_decode_png_alpha(m->bytes, m->len, (size_t)m->width * (size_t)m->height, &alpha, &w, &h))
        return NULL;
    size_t npx = (size_t)w * (size_t)h;
    rgb = malloc(npx * 3);
    struct ig_buf png;
    ig_buf_init(&png, npx * 4 + 4096);
    if (rgb) {
        for (size_t i = 0; i < npx; i++)
            memset(rgb + i * 3, alpha[i] < 128 ? 255 : 0, 3);
        if (ig_encode(rgb, w, h, IG_FMT_PNG, 0, NULL, npx * 4 + 4096, &png) == 0)
            out = b64_string((const uint8_t *)png.data, png.len);
    }
    ig_buf_release(&png);
    free(rgb);
    free(alpha);
    return out;
}

/* img2img's additions: the input, the strength, the mask. */
static int a1111_edit_fields(const struct ig_gen_request *req, json_t *b)
{
    json_t *init = json_array();
    json_t *img = b64_string(req->inputs[0].bytes, req->inputs[0].len);
    if (!init || !img || json_array_append_new(init, img)) {
        json_decref(init);
        return IG_ENOMEM;
    }
    json_object_set_new(b, "init_images", init);
    json_object_set_new(b, "denoising_strength",
                        json_real(req->strength >= 0 ? req->strength : A1111_EDIT_STRENGTH));
    if (req->mask.bytes) {
        json_t *mask = a1111_mask(req);
        if (!mask)
            return IG_ENOMEM;
        json_object_set_new(b, "mask", mask);
    }
    return 0;
}

static int a1111_prepare(const struct ig_gen_request *req, const struct ig_deployment *d,
                         struct ig_upstream_request *out)
{
    const char *path = req->op == IG_OP_EDIT ? "/sdapi/v1/img2img" : "/sdapi/v1/txt2img";
    if (ig_provider_request(out, "POST", d, path, (size_t)256 << 20))
        return IG_ENOMEM;
    json_t *b = json_pack(
        "{s:s, s:i, s:i, s:i, s:I, s:b, s:b}", "prompt", ig_gen_request_prompt(req), "width",
        req->width, "height", req->height, "batch_size", req->n, "seed",
        (json_int_t)(req->seed >= 0 ? req->seed : -1), "send_images", 1, "save_images", 0);
    if (b && req->negative_prompt)
        json_object_set_new(b, "negative_prompt", json_string(req->negative_prompt));
    if (b && req->steps)
        json_object_set_new(b, "steps", json_integer(req->steps));
    if (b && req->guidance >= 0)
        json_object_set_new(b, "cfg_scale", json_real(req->guidance));
    if (b && req->op == IG_OP_EDIT && a1111_edit_fields(req, b)) {
        json_decref(b);
        b = NULL;
    }
    if (ig_provider_json_body(out, b))
        goto fail;
    if (d->api_key && strchr(d->api_key, ':')) {
        size_t n = strlen(d->api_key);
        char enc[1200], auth[1300];
        if (n > 800)
            goto fail;
        ig_base64_encode(d->api_key, n, enc);
        snprintf(auth, sizeof auth, "Basic %s", enc);
        int rc = ig_upstream_request_header(out, "Authorization", auth);
        explicit_bzero(auth, sizeof auth);
        if (rc)
            goto fail;
    }
    return 0;
fail:
    ig_upstream_request_release(out);
    return IG_ENOMEM;
}

static void a1111_parse(const struct ig_deployment *d, const struct ig_upstream_result *res,
                        int poll, struct ig_provider_result *out)
{
    (void)d;
    (void)poll;
    json_t *root;
    if (!ig_provider_parse_begin(res, out, &root)) {
        json_decref(root);
        return;
    }
    json_t *images = json_object_get(root, "images");
    if (!json_is_array(images) || json_array_size(images) == 0 ||
        json_array_size(images) > IG_MAX_IMAGES) {
        json_decref(root);
        ig_provider_malformed(out, "the server's answer has no images");
        return;
    }
    /* info is a JSON document inside a string. */
    json_t *info_text = json_object_get(root, "info");
    json_t *info =
        ig_json_loadb(json_string_value(info_text) ? json_string_value(info_text) : "{}",
                      json_string_value(info_text) ? json_string_length(info_text) : 2, 0, NULL);
    json_t *seeds = json_object_get(info, "all_seeds");
    size_t i;
    json_t *img;
    json_array_foreach(images, i, img)
    {
        struct ig_provider_image *im = &out->images[out->nimages];
        if (ig_provider_b64_image(im, img)) {
            json_decref(info);
            json_decref(root);
            ig_provider_malformed(out, "an image in the server's answer is not base64");
            return;
        }
        json_t *s = json_array_get(seeds, i);
        im->seed = json_is_integer(s) ? json_integer_value(s) : -1;
        out->nimages++;
    }
    json_decref(info);
    json_decref(root);
    out->outcome = IG_OUTCOME_IMAGES;
    out->message[0] = '\0';
}

/* ---- what the provider serves ---- */

/* An AUTOMATIC1111 server: whatever checkpoint it has loaded. */
static const struct ig_model a1111_templates[] = {
    {.id = "sd",
     .provider = "a1111",
     .owned_by = "self-hosted",
     .description = "the checkpoint loaded in an AUTOMATIC1111 server",
     .size_step = 8,
     .min_side = 64,
     .max_side = 2048,
     .default_width = 512,
     .default_height = 512,
     .max_n = 8,
     .max_prompt_chars = 10000,
     .qualities = ig_plain_qualities,
     .formats = IG_FMTBIT_PNG,
     .supports_negative_prompt = 1,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 150,
     .supports_guidance = 1,
     .max_guidance = 30.0,
     .operations = IG_OPBIT_EDIT, /* img2img, with an inpainting mask */
     .max_input_images = 1,
     .supports_mask = 1,
     .supports_strength = 1,
     IG_PRICES({NULL, NULL, 0}) /* self-hosted: free on purpose */,
     .created = 1767225600},
};

const struct ig_provider ig_provider_a1111 = {
    .name = "a1111",
    .prepare = a1111_prepare,
    .parse = a1111_parse,
    .models = a1111_templates,
    .nmodels = sizeof a1111_templates / sizeof a1111_templates[0],
    .fallback = &a1111_templates[0],
    .key_env = "A1111_AUTH",
    .base_env = "A1111_URL",
    .default_base = "http://127.0.0.1:7860",
    .env_needs_base = 1,
    .env_models = 1,
    .enabling_setting = "A1111_URL",
};
