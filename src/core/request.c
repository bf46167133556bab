/* request.c — decode/validate stage of the pipeline.
 *
 * The body is parsed by jansson with duplicate keys rejected, then checked
 * field by field against a table of known fields (unknown ones are refused
 * as OpenAI does) and against the model's capabilities. JSON null stands for
 * "not given" on optional fields, as it does for OpenAI. Messages follow
 * OpenAI's wording where it has one, so SDK users see familiar errors. */
#include "core/request.h"
#include "util/err.h"
#include "util/num.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_fields[] = {
    "prompt",
    "model",
    "n",
    "size",
    "quality",
    "style",
    "response_format",
    "output_format",
    "output_compression",
    "background",
    "moderation",
    "stream",
    "partial_images",
    "user",
    "negative_prompt",
    "seed",
    "steps",
    "guidance",
    "metadata",
    NULL,
};

#define METADATA_MAX_KEYS  16
#define METADATA_KEY_MAX   64
#define METADATA_VALUE_MAX 512
#define USER_MAX           256

static int fail(struct ig_api_error *err, int status, const char *code, const char *param,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct ig_api_error *err, int status, const char *code, const char *param,
                const char *fmt, ...)
{
    err->status = status;
    err->type = "invalid_request_error";
    err->code = code;
    snprintf(err->param, sizeof err->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return IG_EINVAL;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static int wrong_type(struct ig_api_error *err, const char *param, const char *want,
                      const json_t *got)
{
    return fail(err, 400, "invalid_type", param, "Invalid type for '%s': expected %s, but got %s.",
                param, want, json_type_name(got));
}

/* Optional string field: NULL when absent or null. */
static int get_string(json_t *root, const char *name, const char **out, struct ig_api_error *err)
{
    json_t *v = json_object_get(root, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return wrong_type(err, name, "a string", v);
    *out = json_string_value(v);
    if (strlen(*out) != json_string_length(v))
        return fail(err, 400, "invalid_value", name, "'%s' must not contain NUL characters.", name);
    return 0;
}

/* Optional integer: *present says whether it was given. Integral reals
 * (4.0) are accepted, as JSON does not distinguish them. */
static int get_int(json_t *root, const char *name, int64_t min, int64_t max, int64_t *out,
                   int *present, struct ig_api_error *err)
{
    json_t *v = json_object_get(root, name);
    *present = 0;
    if (!v || json_is_null(v))
        return 0;
    int64_t x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
               fabs(json_real_value(v)) < 9.0e15) {
        x = (int64_t)json_real_value(v);
    } else {
        return wrong_type(err, name, "an integer", v);
    }
    if (x < min || x > max)
        return fail(err, 400, "invalid_value", name,
                    "Invalid value for '%s': %lld is outside the allowed range %lld to %lld.", name,
                    (long long)x, (long long)min, (long long)max);
    *out = x;
    *present = 1;
    return 0;
}

static int one_of(const char *v, const char *const *list)
{
    for (; list && *list; list++)
        if (strcmp(v, *list) == 0)
            return 1;
    return 0;
}

static void join_list(const char *const *list, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (; list && *list && used < size; list++) {
        int n = snprintf(out + used, size - used, "%s'%s'", used ? ", " : "", *list);
        if (n < 0)
            return;
        used += (size_t)n;
    }
}

static int get_enum(json_t *root, const char *name, const char *const *allowed, const char **out,
                    struct ig_api_error *err)
{
    int rc = get_string(root, name, out, err);
    if (rc || !*out)
        return rc;
    if (!one_of(*out, allowed)) {
        char list[256];
        join_list(allowed, list, sizeof list);
        return fail(err, 400, "invalid_value", name,
                    "Invalid value for '%s': '%.100s'. Supported values are: %s.", name, *out,
                    list);
    }
    return 0;
}

/* Counts UTF-8 code points (jansson has already validated the encoding). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static int only_space(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

static int check_metadata(json_t *v, struct ig_api_error *err)
{
    if (!json_is_object(v))
        return wrong_type(err, "metadata", "an object of strings", v);
    if (json_object_size(v) > METADATA_MAX_KEYS)
        return fail(err, 400, "invalid_value", "metadata", "'metadata' may have at most %d keys.",
                    METADATA_MAX_KEYS);
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val)
    {
        if (strlen(k) == 0 || strlen(k) > METADATA_KEY_MAX)
            return fail(err, 400, "invalid_value", "metadata",
                        "metadata keys must be 1 to %d characters.", METADATA_KEY_MAX);
        if (!json_is_string(val))
            return fail(err, 400, "invalid_type", "metadata",
                        "metadata value for '%.64s' must be a string, not %s.", k,
                        json_type_name(val));
        if (json_string_length(val) > METADATA_VALUE_MAX)
            return fail(err, 400, "invalid_value", "metadata",
                        "metadata value for '%.64s' is longer than %d characters.", k,
                        METADATA_VALUE_MAX);
    }
    return 0;
}

static const char *const response_formats[] = {"url", "b64_json", NULL};
static const char *const output_formats[] = {"png", "jpeg", "webp", NULL};
static const char *const backgrounds[] = {"auto", "opaque", "transparent", NULL};
static const char *const moderations[] = {"auto", "low", NULL};

static int validate(json_t *root, const struct ig_models *models, struct ig_gen_request *req,
                    struct ig_api_error *err)
{
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (!one_of(key, known_fields))
            return fail(err, 400, "unknown_parameter", key,
                        "Unrecognized request argument supplied: %.64s", key);
    }

    /* model first: the other checks depend on it. */
    const char *model_name;
    int rc = get_string(root, "model", &model_name, err);
    if (rc)
        return rc;
    req->model = model_name ? ig_models_find(models, model_name) : ig_models_default(models);
    if (!req->model) {
        if (!model_name)
            return fail(err, 503, "no_provider", "model", "No model is configured.");
        const char *setting = ig_models_enabling_setting(model_name);
        if (setting) {
            fail(err, 503, "no_provider", "model",
                 "No provider is configured for '%.128s'. Set %s to enable it.", model_name,
                 setting);
            err->type = "server_error";
            return IG_EINVAL;
        }
        return fail(err, 404, "model_not_found", "model",
                    "The model '%.128s' does not exist or you do not have access to it.",
                    model_name);
    }
    const struct ig_model *m = req->model;

    json_t *pv = json_object_get(root, "prompt");
    if (!pv || json_is_null(pv))
        return fail(err, 400, "missing_required_parameter", "prompt",
                    "Missing required parameter: 'prompt'.");
    if ((rc = get_string(root, "prompt", &req->prompt, err)))
        return rc;
    if (req->prompt[0] == '\0' || only_space(req->prompt))
        return fail(err, 400, "invalid_value", "prompt", "'prompt' must not be empty.");
    size_t chars = utf8_chars(req->prompt);
    if (chars > (size_t)m->max_prompt_chars)
        return fail(err, 400, "string_above_max_length", "prompt",
                    "'prompt' is %zu characters; the maximum for '%s' is %d.", chars, m->id,
                    m->max_prompt_chars);

    int64_t v;
    int present;
    if ((rc = get_int(root, "n", 1, m->max_n, &v, &present, err))) {
        if (strcmp(err->code, "invalid_value") == 0)
            snprintf(err->message, sizeof err->message,
                     "Invalid value for 'n': '%s' generates 1 to %d images per request.", m->id,
                     m->max_n);
        return rc;
    }
    req->n = present ? (int)v : 1;

    const char *size;
    if ((rc = get_string(root, "size", &size, err)))
        return rc;
    if (!size || strcmp(size, "auto") == 0) {
        req->width = m->default_width;
        req->height = m->default_height;
    } else if (m->sizes) {
        if (!one_of(size, m->sizes)) {
            char list[256];
            join_list(m->sizes, list, sizeof list);
            return fail(err, 400, "invalid_value", "size",
                        "Invalid value for 'size': '%.32s'. '%s' supports 'auto', %s.", size, m->id,
                        list);
        }
        ig_parse_size(size, 1, 100000, &req->width, &req->height);
    } else if (ig_parse_size(size, m->min_side, m->max_side, &req->width, &req->height)) {
        return fail(err, 400, "invalid_value", "size",
                    "Invalid value for 'size': '%.32s'. '%s' supports 'auto' or WIDTHxHEIGHT "
                    "with each side from %d to %d.",
                    size, m->id, m->min_side, m->max_side);
    }
    if (m->size_step > 1 && (req->width % m->size_step || req->height % m->size_step))
        return fail(err, 400, "invalid_value", "size",
                    "Invalid value for 'size': '%s' takes sides that are multiples of %d.", m->id,
                    m->size_step);
    snprintf(req->size, sizeof req->size, "%dx%d", req->width, req->height);

    const char *quality;
    if ((rc = get_enum(root, "quality", m->qualities, &quality, err)))
        return rc;
    req->quality = quality ? quality : "auto";

    json_t *sv = json_object_get(root, "style");
    if (sv && !json_is_null(sv) && !m->styles)
        return fail(err, 400, "unsupported_parameter", "style", "'style' is not supported by '%s'.",
                    m->id);
    if ((rc = get_enum(root, "style", m->styles, &req->style, err)))
        return rc;

    const char *rf;
    if ((rc = get_enum(root, "response_format", response_formats, &rf, err)))
        return rc;
    req->response_format = rf && strcmp(rf, "b64_json") == 0 ? IG_RESP_B64 : IG_RESP_URL;

    const char *of;
    if ((rc = get_enum(root, "output_format", output_formats, &of, err)))
        return rc;
    req->output_format = of ? ig_format_parse(of, strlen(of)) : IG_FMT_PNG;
    if (!(m->formats & (1u << req->output_format)))
        return fail(err, 400, "invalid_value", "output_format", "'%s' cannot produce '%s' images.",
                    m->id, of);

    if ((rc = get_int(root, "output_compression", 0, 100, &v, &present, err)))
        return rc;
    req->output_compression = present ? (int)v : -1;
    if (present && !m->supports_compression)
        return fail(err, 400, "unsupported_parameter", "output_compression",
                    "'output_compression' is not supported by '%s'.", m->id);

    const char *bg;
    if ((rc = get_enum(root, "background", backgrounds, &bg, err)))
        return rc;
    req->background = bg;
    if (bg && strcmp(bg, "transparent") == 0 && !m->supports_transparent)
        return fail(err, 400, "unsupported_value", "background",
                    "'%s' does not render transparent backgrounds.", m->id);
    if ((rc = get_enum(root, "moderation", moderations, &req->moderation, err)))
        return rc;
    if (req->moderation && !m->supports_moderation && strcmp(req->moderation, "auto") != 0)
        return fail(err, 400, "unsupported_parameter", "moderation",
                    "'%s' has no moderation level to set.", m->id);

    json_t *stream = json_object_get(root, "stream");
    if (stream && !json_is_null(stream)) {
        if (!json_is_boolean(stream))
            return wrong_type(err, "stream", "a boolean", stream);
        req->stream = json_is_true(stream);
        if (req->stream && !m->supports_stream)
            return fail(err, 400, "unsupported_value", "stream",
                        "Streaming from '%s' is not available yet; omit 'stream'.", m->id);
        if (req->stream && req->n != 1)
            return fail(err, 400, "invalid_value", "n", "Streaming generates one image (n: 1).");
    }
    if ((rc = get_int(root, "partial_images", 0, 3, &v, &present, err)))
        return rc;
    if (present && v > 0 && !req->stream)
        return fail(err, 400, "invalid_value", "partial_images",
                    "'partial_images' requires 'stream': true.");
    req->partial_images = present ? (int)v : 0;

    if ((rc = get_string(root, "user", &req->user, err)))
        return rc;
    if (req->user && strlen(req->user) > USER_MAX)
        return fail(err, 400, "string_above_max_length", "user",
                    "'user' is longer than %d characters.", USER_MAX);

    if ((rc = get_string(root, "negative_prompt", &req->negative_prompt, err)))
        return rc;
    if (req->negative_prompt) {
        if (!m->supports_negative_prompt)
            return fail(err, 400, "unsupported_parameter", "negative_prompt",
                        "'negative_prompt' is not supported by '%s'.", m->id);
        if (utf8_chars(req->negative_prompt) > (size_t)m->max_prompt_chars)
            return fail(err, 400, "string_above_max_length", "negative_prompt",
                        "'negative_prompt' is longer than %d characters.", m->max_prompt_chars);
    }

    if ((rc = get_int(root, "seed", 0, 4294967295LL, &v, &present, err)))
        return rc;
    if (present && !m->supports_seed)
        return fail(err, 400, "unsupported_parameter", "seed", "'seed' is not supported by '%s'.",
                    m->id);
    req->seed = present ? v : -1;

    if ((rc = get_int(root, "steps", 1, m->max_steps ? m->max_steps : 1, &v, &present, err)))
        return rc;
    if (present && !m->supports_steps)
        return fail(err, 400, "unsupported_parameter", "steps", "'steps' is not supported by '%s'.",
                    m->id);
    req->steps = present ? (int)v : 0;

    req->guidance = -1.0;
    json_t *gv = json_object_get(root, "guidance");
    if (gv && !json_is_null(gv)) {
        if (!json_is_number(gv))
            return wrong_type(err, "guidance", "a number", gv);
        if (!m->supports_guidance)
            return fail(err, 400, "unsupported_parameter", "guidance",
                        "'guidance' is not supported by '%s'.", m->id);
        double g = json_number_value(gv);
        if (!(g >= 0.0 && g <= m->max_guidance))
            return fail(err, 400, "invalid_value", "guidance",
                        "Invalid value for 'guidance': must be from 0 to %g.", m->max_guidance);
        req->guidance = g;
    }

    json_t *md = json_object_get(root, "metadata");
    if (md && !json_is_null(md)) {
        if ((rc = check_metadata(md, err)))
            return rc;
        req->metadata = md;
    }
    return 0;
}

int ig_gen_request_parse(const char *body, size_t len, const struct ig_models *models,
                         struct ig_gen_request *req, struct ig_api_error *err)
{
    memset(req, 0, sizeof *req);
    memset(err, 0, sizeof *err);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fail(err, 400, "invalid_json", NULL,
                    "We could not parse the JSON body of your request: %s (line %d, column %d).",
                    jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(err, 400, "invalid_json", NULL, "The request body must be a JSON object.");
    }
    int rc = validate(root, models, req, err);
    if (rc) {
        json_decref(root);
        memset(req, 0, sizeof *req);
        return rc;
    }
    req->json = root;
    return 0;
}

void ig_gen_request_release(struct ig_gen_request *req)
{
    json_decref(req->json);
    memset(req, 0, sizeof *req);
}

char *ig_gen_request_normalized_json(const struct ig_gen_request *req)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "model", json_string(req->model->id));
    json_object_set_new(o, "n", json_integer(req->n));
    json_object_set_new(o, "size", json_string(req->size));
    json_object_set_new(o, "quality", json_string(req->quality));
    if (req->style)
        json_object_set_new(o, "style", json_string(req->style));
    json_object_set_new(o, "response_format",
                        json_string(req->response_format == IG_RESP_B64 ? "b64_json" : "url"));
    json_object_set_new(o, "output_format", json_string(ig_format_name(req->output_format)));
    if (req->output_compression >= 0)
        json_object_set_new(o, "output_compression", json_integer(req->output_compression));
    if (req->negative_prompt)
        json_object_set_new(o, "negative_prompt", json_string(req->negative_prompt));
    if (req->seed >= 0)
        json_object_set_new(o, "seed", json_integer(req->seed));
    if (req->steps)
        json_object_set_new(o, "steps", json_integer(req->steps));
    if (req->guidance >= 0)
        json_object_set_new(o, "guidance", json_real(req->guidance));
    if (req->user)
        json_object_set_new(o, "user", json_string(req->user));
    if (req->metadata)
        json_object_set(o, "metadata", req->metadata);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
