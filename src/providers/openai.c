/* openai.c — the OpenAI Images wire protocol: OpenAI itself and every
 * OpenAI-compatible server (LocalAI, stable-diffusion.cpp, Together, …).
 *
 * prepare: POST {api_base}/images/generations with the fields each model
 * family takes; edits and variations as multipart/form-data to
 * /images/edits and /images/variations, the uploads as file parts. With
 * stream=true (GPT image models) the answer is OpenAI's event stream: the
 * dispatcher relays its partial events as they come, and parse reads the
 * completed event from the whole. dall-e models are asked for
 * b64_json, so no provider URL (valid 60 minutes) ever has to be fetched; GPT image models answer
 * b64 anyway. parse: data[].b64_json (decoded) or data[].url (downloaded by the dispatcher),
 * revised_prompt; errors in OpenAI's shape and in the looser shapes of compatible servers
 * ({"error":"text"}, {"detail":…}). */
#include "providers/classify.h"
#include "providers/common.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/multipart.h"
#include "util/sse.h"
#include "util/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int gpt_image(const char *model)
{
    return strncmp(model, "gpt-image", 9) == 0 || strncmp(model, "chatgpt-image", 13) == 0;
}

/* The fields of the request, as OpenAI names them for this model, as a
 * JSON object written into body. */
static int openai_fields(const struct ig_gen_request *req, const struct ig_deployment *d,
                         struct ig_buf *body)
{
    struct ig_jw w;
    ig_jw_begin(&w, body);
    ig_jw_str(&w, "model", d->model);
    ig_jw_int(&w, "n", req->n);
    if (req->op != IG_OP_VARIATION)
        ig_jw_str(&w, "prompt", ig_gen_request_prompt(req));
    /* An edit whose size was left open leaves it to OpenAI (the input's). */
    if (req->op == IG_OP_GENERATE || !req->size_auto)
        ig_jw_str(&w, "size", req->size);
    if (strcmp(req->quality, "auto") != 0)
        ig_jw_str(&w, "quality", req->quality);
    if (req->style && !req->style_def) /* its own (vivid, natural); else in the prompt */
        ig_jw_str(&w, "style", req->style);
    if (req->user)
        ig_jw_str(&w, "user", req->user);
    if (gpt_image(d->model)) {
        ig_jw_str(&w, "output_format", ig_format_name(req->output_format));
        if (req->output_compression >= 0)
            ig_jw_int(&w, "output_compression", req->output_compression);
        if (req->background)
            ig_jw_str(&w, "background", req->background);
        if (req->moderation && req->op == IG_OP_GENERATE)
            ig_jw_str(&w, "moderation", req->moderation);
        if (req->input_fidelity)
            ig_jw_str(&w, "input_fidelity", req->input_fidelity);
        if (req->stream) {
            ig_jw_bool(&w, "stream", 1);
            ig_jw_int(&w, "partial_images", req->partial_images);
        }
    } else {
        ig_jw_str(&w, "response_format", "b64_json");
    }
    return ig_jw_end(&w);
}

/* Edits and variations: the same fields as multipart/form-data, with the
 * uploads as file parts. */
static int openai_form(const struct ig_gen_request *req, const struct ig_buf *fields,
                       struct ig_upstream_request *out)
{
    json_t *f = ig_json_loadb(fields->data, fields->len, 0, NULL);
    struct ig_multipart mp;
    size_t bytes = 1 << 20;
    for (size_t i = 0; i < req->ninputs; i++)
        bytes += req->inputs[i].len + 512;
    bytes += req->mask.len + 512;
    int rc = f ? ig_multipart_init(&mp, bytes) : IG_ENOMEM;
    if (rc == 0) {
        rc = ig_provider_form_fields(&mp, f);
        /* Several images (GPT image models) go as "image[]", as the SDK
         * sends them; one image as "image", which every server takes. */
        rc = rc ? rc : ig_provider_form_uploads(&mp, req, req->ninputs > 1 ? "image[]" : "image");
        rc = rc ? rc : ig_provider_form_body(out, &mp);
        ig_multipart_release(&mp);
    }
    json_decref(f);
    return rc;
}

static int openai_prepare(const struct ig_gen_request *req, const struct ig_deployment *d,
                          struct ig_upstream_request *out)
{
    static const char *const paths[] = {"/images/generations", "/images/edits",
                                        "/images/variations"};
    if (ig_provider_request(out, "POST", d, paths[req->op], (size_t)256 << 20))
        return IG_ENOMEM;
    struct ig_buf fields;
    ig_buf_init(&fields, (size_t)1 << 20);
    const char *prompt = ig_gen_request_prompt(req);
    int rc = ig_buf_reserve(&fields, 512 + strlen(prompt ? prompt : ""));
    rc = rc ? rc : openai_fields(req, d, &fields);
    if (rc == 0 && req->op == IG_OP_GENERATE) {
        out->body = ig_buf_detach(&fields, &out->body_len);
        rc = ig_upstream_request_header(out, "Content-Type", "application/json");
    } else if (rc == 0) {
        rc = openai_form(req, &fields, out);
    }
    ig_buf_release(&fields);
    rc = rc ? rc
            : ig_upstream_request_header(out, "Accept",
                                         req->stream ? "text/event-stream" : "application/json");
    rc = rc ? rc : ig_provider_auth(out, "Bearer", d->api_key);
    if (rc)
        ig_upstream_request_release(out);
    return rc;
}

/* A streamed answer (stream=true): the image is in the last event,
 * image_generation.completed (image_edit.completed for edits); an "error"
 * event is the provider's failure. Partials were relayed as they came. */
static void parse_stream(const struct ig_upstream_result *res, struct ig_provider_result *out)
{
    const char *p = res->body.data;
    size_t left = res->body.len, used;
    struct ig_sse_event ev;
    out->error_class = IG_ERRC_RETRYABLE;
    snprintf(out->message, sizeof out->message,
             "the provider's stream ended without a completed image");
    while ((used = ig_sse_next(p, left, &ev)) > 0) {
        p += used;
        left -= used;
        int done = ig_sse_name_ends(&ev, ".completed");
        int error = ev.name_len == 5 && memcmp(ev.name, "error", 5) == 0;
        if (!done && !error)
            continue;
        json_t *doc = ig_json_loadb(ev.data, ev.data_len, 0, NULL);
        json_t *e = json_object_get(doc, "error");
        json_t *b64 = json_object_get(doc, "b64_json");
        if (done && ig_provider_b64_image(&out->images[0], b64) == 0) {
            out->images[0].seed = -1;
            out->nimages = 1;
            out->outcome = IG_OUTCOME_IMAGES;
            out->message[0] = '\0';
        } else if (error) {
            const char *msg = json_string_value(json_object_get(e, "message"));
            const char *code = json_string_value(json_object_get(e, "code"));
            snprintf(out->message, sizeof out->message, "%.250s",
                     msg ? msg : "the provider's stream reported an error");
            if (code &&
                (!strcmp(code, "content_policy_violation") || !strcmp(code, "moderation_blocked")))
                out->error_class = IG_ERRC_CONTENT_POLICY;
        }
        json_decref(doc);
        return;
    }
}

static void openai_parse(const struct ig_deployment *d, const struct ig_upstream_result *res,
                         int poll, struct ig_provider_result *out)
{
    (void)poll;
    (void)d;
    json_t *root;
    if (!ig_provider_parse_begin(res, out, &root)) {
        json_t *e = json_object_get(root, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *type = json_string_value(json_object_get(e, "type"));
        if ((code &&
             (!strcmp(code, "content_policy_violation") || !strcmp(code, "moderation_blocked"))) ||
            (type && !strcmp(type, "image_generation_user_error") && code &&
             strstr(code, "moderation")))
            out->error_class = IG_ERRC_CONTENT_POLICY;
        else if ((code && (!strcmp(code, "insufficient_quota") ||
                           !strcmp(code, "billing_hard_limit_reached"))) ||
                 (type && !strcmp(type, "insufficient_quota")))
            out->error_class = IG_ERRC_QUOTA;
        json_decref(root);
        return;
    }
    if (!root) {
        char ctype[64] = "";
        ig_upstream_result_header(res, "content-type", ctype, sizeof ctype);
        if (strncmp(ctype, "text/event-stream", 17) == 0) {
            parse_stream(res, out);
            return;
        }
    }
    json_t *data = root ? json_object_get(root, "data") : NULL;
    if (!json_is_array(data) || json_array_size(data) == 0 ||
        json_array_size(data) > IG_MAX_IMAGES) {
        out->error_class = IG_ERRC_RETRYABLE;
        snprintf(out->message, sizeof out->message,
                 "the provider's answer has no images (malformed body)");
        json_decref(root);
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach(data, i, item)
    {
        struct ig_provider_image *im = &out->images[out->nimages];
        json_t *b64 = json_object_get(item, "b64_json");
        const char *url = json_string_value(json_object_get(item, "url"));
        const char *rp = json_string_value(json_object_get(item, "revised_prompt"));
        im->seed = -1;
        if (json_is_string(b64)) {
            if (ig_provider_b64_image(im, b64))
                goto malformed;
        } else if (url) {
            im->url = strdup(url);
        } else {
            goto malformed;
        }
        if (rp)
            im->revised_prompt = strdup(rp);
        out->nimages++;
    }
    json_decref(root);
    out->outcome = IG_OUTCOME_IMAGES;
    out->message[0] = '\0';
    return;
malformed:
    json_decref(root);
    ig_provider_result_release(out);
    out->outcome = IG_OUTCOME_ERROR;
    out->error_class = IG_ERRC_RETRYABLE;
    out->upstream_status = res->status;
    out->retry_after_ms = -1;
    snprintf(out->message, sizeof out->message,
             "the provider's answer holds an image that is neither base64 nor a URL");
}

/* ---- what the provider serves ---- */

/* OpenAI's models, from the SDK's types (shared/providers.md §1). */
static const char *const dalle2_sizes[] = {"256x256", "512x512", "1024x1024", NULL};
static const char *const dalle2_qualities[] = {"auto", "standard", NULL};
static const char *const dalle3_sizes[] = {"1024x1024", "1792x1024", "1024x1792", NULL};
static const char *const dalle3_qualities[] = {"auto", "standard", "hd", NULL};
static const char *const dalle3_styles[] = {"vivid", "natural", NULL};
static const char *const gpt_sizes[] = {"1024x1024", "1536x1024", "1024x1536", NULL};
static const char *const gpt_qualities[] = {"auto", "low", "medium", "high", NULL};

static const struct ig_model openai_templates[] = {
    {.id = "dall-e-2",
     .provider = "openai",
     .owned_by = "openai",
     .description = "OpenAI DALL·E 2",
     .sizes = dalle2_sizes,
     .min_side = 256,
     .max_side = 1024,
     .default_width = 1024,
     .default_height = 1024,
     .max_n = 10,
     .max_prompt_chars = 1000,
     .qualities = dalle2_qualities,
     .formats = IG_FMTBIT_PNG,
     .operations = IG_OPBIT_EDIT | IG_OPBIT_VARIATION,
     .max_input_images = 1,
     .supports_mask = 1,
     .input_square_png = 1,
     .max_input_bytes = 4L << 20,
     IG_PRICES({"256x256", NULL, 16000}, {"512x512", NULL, 18000}, {"1024x1024", NULL, 18000}),
     .created = 1698798177},
    {.id = "dall-e-3",
     .provider = "openai",
     .owned_by = "openai",
     .description = "OpenAI DALL·E 3",
     .sizes = dalle3_sizes,
     .min_side = 1024,
     .max_side = 1792,
     .default_width = 1024,
     .default_height = 1024,
     .max_n = 1,
     .max_prompt_chars = 4000,
     .qualities = dalle3_qualities,
     .styles = dalle3_styles,
     .formats = IG_FMTBIT_PNG,
     IG_PRICES({NULL, NULL, 40000}, {NULL, "hd", 80000}, {"1792x1024", NULL, 80000},
               {"1024x1792", NULL, 80000}, {"1792x1024", "hd", 120000},
               {"1024x1792", "hd", 120000}),
     .created = 1698785189},
    {.id = "gpt-image-1",
     .provider = "openai",
     .owned_by = "openai",
     .description = "OpenAI GPT Image 1",
     .sizes = gpt_sizes,
     .min_side = 1024,
     .max_side = 1536,
     .default_width = 1024,
     .default_height = 1024,
     .max_n = 10,
     .max_prompt_chars = 32000,
     .qualities = gpt_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_transparent = 1,
     .supports_compression = 1,
     .supports_moderation = 1,
     .supports_stream = 1,
     .operations = IG_OPBIT_EDIT,
     .max_input_images = 16,
     .supports_mask = 1,
     .supports_input_fidelity = 1,
     .max_input_bytes = 50L << 20,
     /* auto is priced as high: the most it can cost */
     IG_PRICES({NULL, "low", 11000}, {NULL, "medium", 42000}, {NULL, "high", 167000},
               {NULL, "auto", 167000}, {"1536x1024", "low", 16000}, {"1536x1024", "medium", 63000},
               {"1536x1024", "high", 250000}, {"1536x1024", "auto", 250000},
               {"1024x1536", "low", 16000}, {"1024x1536", "medium", 63000},
               {"1024x1536", "high", 250000}, {"1024x1536", "auto", 250000}),
     .created = 1745366400},
    {.id = "gpt-image-1-mini",
     .provider = "openai",
     .owned_by = "openai",
     .description = "OpenAI GPT Image 1 mini",
     .sizes = gpt_sizes,
     .min_side = 1024,
     .max_side = 1536,
     .default_width = 1024,
     .default_height = 1024,
     .max_n = 10,
     .max_prompt_chars = 32000,
     .qualities = gpt_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_transparent = 1,
     .supports_compression = 1,
     .supports_moderation = 1,
     .supports_stream = 1,
     .operations = IG_OPBIT_EDIT,
     .max_input_images = 16,
     .supports_mask = 1,
     .max_input_bytes = 50L << 20,
     IG_PRICES({NULL, "low", 5000}, {NULL, "medium", 11000}, {NULL, "high", 36000},
               {NULL, "auto", 36000}, {"1536x1024", "low", 6000}, {"1536x1024", "medium", 15000},
               {"1536x1024", "high", 52000}, {"1536x1024", "auto", 52000},
               {"1024x1536", "low", 6000}, {"1024x1536", "medium", 15000},
               {"1024x1536", "high", 52000}, {"1024x1536", "auto", 52000}),
     .created = 1759363200},
};

/* Any model of an OpenAI-compatible server (or of a provider without a
 * table of its own yet): any WxH, the common fields. */
static const char *const generic_qualities[] = {"auto",   "standard", "hd", "low",
                                                "medium", "high",     NULL};
static const struct ig_model generic_template = {.id = "generic",
                                                 .provider = "openai",
                                                 .owned_by = "imagegate",
                                                 .description = "an OpenAI-compatible image model",
                                                 .min_side = 64,
                                                 .supports_compression = 1,
                                                 .max_side = 4096,
                                                 .default_width = 1024,
                                                 .default_height = 1024,
                                                 .max_n = 10,
                                                 .max_prompt_chars = 32000,
                                                 .qualities = generic_qualities,
                                                 .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG |
                                                            IG_FMTBIT_WEBP,
                                                 .operations = IG_OPBIT_EDIT,
                                                 .max_input_images = 16,
                                                 .supports_mask = 1,
                                                 .created = 1767225600};

static const char *const openai_hints[] = {"openai/", "dall-e", "gpt-image", NULL};

const struct ig_provider ig_provider_openai = {
    .name = "openai",
    .prepare = openai_prepare,
    .parse = openai_parse,
    .models = openai_templates,
    .nmodels = sizeof openai_templates / sizeof openai_templates[0],
    .fallback = &generic_template,
    .key_env = "OPENAI_API_KEY",
    .base_env = "OPENAI_BASE_URL",
    .default_base = "https://api.openai.com/v1",
    .alias_bare = 1,
    .hint_prefixes = openai_hints,
    .enabling_setting = "OPENAI_API_KEY (or OPENAI_BASE_URL for an OpenAI-compatible server)",
};
