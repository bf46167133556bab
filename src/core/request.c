/* request.c — decode/validate stage of the pipeline.
 *
 * The body is parsed by jansson with duplicate keys rejected, then checked
 * field by field against a table of known fields (unknown ones are refused
 * as OpenAI does) and against the model's capabilities. JSON null stands for
 * "not given" on optional fields, as it does for OpenAI. Messages follow
 * OpenAI's wording where it has one, so SDK users see familiar errors.
 *
 * Edits and variations arrive as multipart forms: their text parts become
 * a JSON object of the same fields (numbers and booleans read from their
 * text), which then goes through the same validate(); the image parts are
 * checked against the model's limits afterwards. */
#include "core/request.h"
#include "core/webhook.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/num.h"
#include "util/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields each operation takes: OpenAI's, and ours beside them
 * (negative_prompt, seed, steps, guidance, metadata, strength, webhook_url
 * — which only a job takes: api/jobs.c). An edit's
 * "image", "image[]" and "mask" are file parts, not fields. */
#define OP_GEN  (1u << IG_OP_GENERATE)
#define OP_EDIT (1u << IG_OP_EDIT)
#define OP_VAR  (1u << IG_OP_VARIATION)
/* X(the enum's suffix, the name, the operations that take it) */
#define KNOWN_FIELDS(X)                                                                            \
    X(PROMPT, "prompt", OP_GEN | OP_EDIT)                                                          \
    X(MODEL, "model", OP_GEN | OP_EDIT | OP_VAR)                                                   \
    X(N, "n", OP_GEN | OP_EDIT | OP_VAR)                                                           \
    X(SIZE, "size", OP_GEN | OP_EDIT | OP_VAR)                                                     \
    X(QUALITY, "quality", OP_GEN | OP_EDIT)                                                        \
    X(STYLE, "style", OP_GEN | OP_EDIT)                                                            \
    X(RESPONSE_FORMAT, "response_format", OP_GEN | OP_EDIT | OP_VAR)                               \
    X(OUTPUT_FORMAT, "output_format", OP_GEN | OP_EDIT | OP_VAR)                                   \
    X(OUTPUT_COMPRESSION, "output_compression", OP_GEN | OP_EDIT)                                  \
    X(BACKGROUND, "background", OP_GEN | OP_EDIT)                                                  \
    X(MODERATION, "moderation", OP_GEN | OP_EDIT)                                                  \
    X(STREAM, "stream", OP_GEN | OP_EDIT)                                                          \
    X(PARTIAL_IMAGES, "partial_images", OP_GEN | OP_EDIT)                                          \
    X(USER, "user", OP_GEN | OP_EDIT | OP_VAR)                                                     \
    X(NEGATIVE_PROMPT, "negative_prompt", OP_GEN | OP_EDIT)                                        \
    X(SEED, "seed", OP_GEN | OP_EDIT | OP_VAR)                                                     \
    X(STEPS, "steps", OP_GEN | OP_EDIT)                                                            \
    X(GUIDANCE, "guidance", OP_GEN | OP_EDIT)                                                      \
    X(METADATA, "metadata", OP_GEN)                                                                \
    X(WEBHOOK_URL, "webhook_url", OP_GEN)                                                          \
    X(STRENGTH, "strength", OP_EDIT)                                                               \
    X(INPUT_FIDELITY, "input_fidelity", OP_EDIT)

enum field {
#define FIELD_ENUM(id, name, ops) F_##id,
    KNOWN_FIELDS(FIELD_ENUM)
#undef FIELD_ENUM
        NFIELDS
};
static const struct {
    const char *name;
    size_t len;
    unsigned ops;
} known_fields[NFIELDS] = {
#define FIELD_ROW(id, name, ops) [F_##id] = {name, sizeof name - 1, ops},
    KNOWN_FIELDS(FIELD_ROW)
#undef FIELD_ROW
};

/* The request's members by field, read in one pass over the object (a
 * lookup by name per field would hash every name the request could have).
 * NULL: absent. */
struct fields {
    json_t *v[NFIELDS];
};

/* The field a member's name is, for op; NFIELDS when op does not take it. */
static enum field field_of(const char *name, size_t len, enum ig_operation op)
{
    for (int i = 0; i < NFIELDS; i++)
        if (known_fields[i].len == len && memcmp(known_fields[i].name, name, len) == 0)
            return (known_fields[i].ops & (1u << op)) ? (enum field)i : NFIELDS;
    return NFIELDS;
}

#define METADATA_MAX_KEYS  16
#define METADATA_KEY_MAX   64
#define METADATA_VALUE_MAX 512
#define USER_MAX           256

static int fail(struct ig_gen_error *err, enum ig_gen_error_kind kind, const char *code,
                const char *param, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct ig_gen_error *err, enum ig_gen_error_kind kind, const char *code,
                const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ig_gen_error_vset(err, kind, code, param, fmt, ap);
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

static int wrong_type(struct ig_gen_error *err, const char *param, const char *want,
                      const json_t *got)
{
    return fail(err, IG_GERR_INVALID, "invalid_type", param,
                "Invalid type for '%s': expected %s, but got %s.", param, want,
                json_type_name(got));
}

/* Optional string field: NULL when absent or null. */
static int get_string(const struct fields *f, enum field which, const char **out,
                      struct ig_gen_error *err)
{
    const char *name = known_fields[which].name;
    json_t *v = f->v[which];
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return wrong_type(err, name, "a string", v);
    *out = json_string_value(v);
    if (strlen(*out) != json_string_length(v))
        return fail(err, IG_GERR_INVALID, "invalid_value", name,
                    "'%s' must not contain NUL characters.", name);
    return 0;
}

/* Optional integer: *present says whether it was given. Integral reals
 * (4.0) are accepted, as JSON does not distinguish them. */
static int get_int(const struct fields *f, enum field which, int64_t min, int64_t max, int64_t *out,
                   int *present, struct ig_gen_error *err)
{
    const char *name = known_fields[which].name;
    json_t *v = f->v[which];
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
        return fail(err, IG_GERR_INVALID, "invalid_value", name,
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

static int get_enum(const struct fields *f, enum field which, const char *const *allowed,
                    const char **out, struct ig_gen_error *err)
{
    const char *name = known_fields[which].name;
    int rc = get_string(f, which, out, err);
    if (rc || !*out)
        return rc;
    if (!one_of(*out, allowed)) {
        char list[256];
        join_list(allowed, list, sizeof list);
        return fail(err, IG_GERR_INVALID, "invalid_value", name,
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

/* An http(s) URL of printable ASCII; where it may point is checked when
 * a delivery resolves it. */
static int check_webhook_url(const struct fields *f, struct ig_gen_request *req,
                             struct ig_gen_error *err)
{
    int rc = get_string(f, F_WEBHOOK_URL, &req->webhook_url, err);
    const char *u = req->webhook_url;
    if (rc || !u)
        return rc;
    if (!ig_webhook_url_valid(u))
        return fail(err, IG_GERR_INVALID, "invalid_value", "webhook_url",
                    "'webhook_url' must be an http or https URL of at most %d characters, "
                    "without spaces.",
                    IG_WEBHOOK_URL_MAX);
    return 0;
}

/* style: one of the model's own (OpenAI's vivid and natural), or a name of
 * the catalogue (core/styles.h), which each provider gets as it takes it
 * (a preset, or a suffix of the prompt: req->styled_prompt). */
static int check_style(const struct fields *f, const struct ig_models *models,
                       const struct ig_model *m, struct ig_gen_request *req,
                       struct ig_gen_error *err)
{
    const char *name;
    int rc = get_string(f, F_STYLE, &name, err);
    if (rc || !name)
        return rc;
    for (size_t i = 0; m->styles && m->styles[i]; i++) {
        if (strcmp(m->styles[i], name) == 0) {
            req->style = m->styles[i];
            return 0;
        }
    }
    const struct ig_styles *cat = ig_models_styles(models);
    const struct ig_style *st = ig_styles_find(cat, name);
    if (!st) {
        char known[1024] = "", own[128] = "";
        ig_styles_names(cat, known, sizeof known);
        for (size_t i = 0, used = 0; m->styles && m->styles[i] && used < sizeof own; i++)
            used += (size_t)snprintf(own + used, sizeof own - used, "%s, ", m->styles[i]);
        return fail(err, IG_GERR_INVALID, "invalid_value", "style",
                    "Unknown style '%.64s'; '%s' takes %s%s.", name, m->id, own,
                    known[0] ? known : "none");
    }
    req->style = st->name;
    req->style_def = st;
    size_t n = strlen(req->prompt) + 2 + strlen(st->suffix) + 1;
    if (!(req->styled_prompt = malloc(n)))
        return fail(err, IG_GERR_UNAVAILABLE, "overloaded", NULL, "out of memory");
    snprintf(req->styled_prompt, n, "%s, %s", req->prompt, st->suffix);
    return 0;
}

static int check_metadata(json_t *v, struct ig_gen_error *err)
{
    if (!json_is_object(v))
        return wrong_type(err, "metadata", "an object of strings", v);
    if (json_object_size(v) > METADATA_MAX_KEYS)
        return fail(err, IG_GERR_INVALID, "invalid_value", "metadata",
                    "'metadata' may have at most %d keys.", METADATA_MAX_KEYS);
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val)
    {
        if (strlen(k) == 0 || strlen(k) > METADATA_KEY_MAX)
            return fail(err, IG_GERR_INVALID, "invalid_value", "metadata",
                        "metadata keys must be 1 to %d characters.", METADATA_KEY_MAX);
        if (!json_is_string(val))
            return fail(err, IG_GERR_INVALID, "invalid_type", "metadata",
                        "metadata value for '%.64s' must be a string, not %s.", k,
                        json_type_name(val));
        if (json_string_length(val) > METADATA_VALUE_MAX)
            return fail(err, IG_GERR_INVALID, "invalid_value", "metadata",
                        "metadata value for '%.64s' is longer than %d characters.", k,
                        METADATA_VALUE_MAX);
    }
    return 0;
}

static const char *const response_formats[] = {"url", "b64_json", NULL};
static const char *const output_formats[] = {"png", "jpeg", "webp", NULL};
static const char *const backgrounds[] = {"auto", "opaque", "transparent", NULL};
static const char *const moderations[] = {"auto", "low", NULL};

static const char *const fidelities[] = {"high", "low", NULL};

/* The size of an edit left to the model: the input's own where the model
 * edits at the input's size. */
static int edit_size(const struct ig_model *m, struct ig_gen_request *req, int given_w, int given_h,
                     struct ig_gen_error *err)
{
    const struct ig_upload *in = &req->inputs[0];
    if (req->op == IG_OP_GENERATE || !m->edit_keeps_size || !req->ninputs)
        return 0;
    if (in->width < m->min_side || in->height < m->min_side || in->width > m->max_side ||
        in->height > m->max_side)
        return fail(err, IG_GERR_INVALID, "invalid_value", "image",
                    "'%s' edits images from %d to %d pixels a side; this one is %dx%d.", m->id,
                    m->min_side, m->max_side, in->width, in->height);
    if (!req->size_auto && (given_w != in->width || given_h != in->height))
        return fail(err, IG_GERR_INVALID, "invalid_value", "size",
                    "'%s' edits at the input image's size (%dx%d); omit 'size' or give that.",
                    m->id, in->width, in->height);
    req->width = in->width;
    req->height = in->height;
    return 0;
}

static int validate(json_t *root, const struct ig_models *models, struct ig_gen_request *req,
                    struct ig_gen_error *err)
{
    struct fields fs = {{NULL}};
    const struct fields *f = &fs;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        enum field which = field_of(key, strlen(key), req->op);
        if (which == NFIELDS)
            return fail(err, IG_GERR_INVALID, "unknown_parameter", key,
                        "Unrecognized request argument supplied: %.64s", key);
        fs.v[which] = val;
    }

    /* model first: the other checks depend on it. */
    const char *model_name;
    int rc = get_string(f, F_MODEL, &model_name, err);
    if (rc)
        return rc;
    req->model = model_name ? ig_models_find(models, model_name) : ig_models_default(models);
    if (!req->model) {
        if (!model_name)
            return fail(err, IG_GERR_UNAVAILABLE, "no_provider", "model",
                        "No model is configured.");
        const char *setting = ig_models_enabling_setting(models, model_name);
        if (setting) {
            return fail(err, IG_GERR_UNAVAILABLE, "no_provider", "model",
                        "No provider is configured for '%.128s'. Set %s to enable it.", model_name,
                        setting);
        }
        return fail(err, IG_GERR_NOT_FOUND, "model_not_found", "model",
                    "The model '%.128s' does not exist or you do not have access to it.",
                    model_name);
    }
    const struct ig_model *m = req->model;
    if (req->op == IG_OP_EDIT && !(m->operations & IG_OPBIT_EDIT))
        return fail(err, IG_GERR_INVALID, "unsupported_operation", "model",
                    "'%s' does not edit images; see GET /v1/models for the models that do.", m->id);
    if (req->op == IG_OP_VARIATION && !(m->operations & IG_OPBIT_VARIATION))
        return fail(err, IG_GERR_INVALID, "unsupported_operation", "model",
                    "'%s' does not make variations; see GET /v1/models for the models that do.",
                    m->id);

    if (req->op != IG_OP_VARIATION) {
        json_t *pv = f->v[F_PROMPT];
        if (!pv || json_is_null(pv))
            return fail(err, IG_GERR_INVALID, "missing_required_parameter", "prompt",
                        "Missing required parameter: 'prompt'.");
        if ((rc = get_string(f, F_PROMPT, &req->prompt, err)))
            return rc;
        if (req->prompt[0] == '\0' || only_space(req->prompt))
            return fail(err, IG_GERR_INVALID, "invalid_value", "prompt",
                        "'prompt' must not be empty.");
        size_t chars = utf8_chars(req->prompt);
        if (chars > (size_t)m->max_prompt_chars)
            return fail(err, IG_GERR_INVALID, "string_above_max_length", "prompt",
                        "'prompt' is %zu characters; the maximum for '%s' is %d.", chars, m->id,
                        m->max_prompt_chars);
    } else {
        req->prompt = ""; /* a variation has none */
    }

    int64_t v;
    int present;
    if ((rc = get_int(f, F_N, 1, m->max_n, &v, &present, err))) {
        if (strcmp(err->code, "invalid_value") == 0)
            snprintf(err->message, sizeof err->message,
                     "Invalid value for 'n': '%s' generates 1 to %d images per request.", m->id,
                     m->max_n);
        return rc;
    }
    req->n = present ? (int)v : 1;

    const char *size;
    if ((rc = get_string(f, F_SIZE, &size, err)))
        return rc;
    req->size_auto = !size || strcmp(size, "auto") == 0;
    if (req->size_auto) {
        req->width = m->default_width;
        req->height = m->default_height;
    } else if (m->sizes) {
        if (!one_of(size, m->sizes)) {
            char list[256];
            join_list(m->sizes, list, sizeof list);
            return fail(err, IG_GERR_INVALID, "invalid_value", "size",
                        "Invalid value for 'size': '%.32s'. '%s' supports 'auto', %s.", size, m->id,
                        list);
        }
        ig_parse_size(size, 1, 100000, &req->width, &req->height);
    } else if (ig_parse_size(size, m->min_side, m->max_side, &req->width, &req->height)) {
        return fail(err, IG_GERR_INVALID, "invalid_value", "size",
                    "Invalid value for 'size': '%.32s'. '%s' supports 'auto' or WIDTHxHEIGHT "
                    "with each side from %d to %d.",
                    size, m->id, m->min_side, m->max_side);
    }
    if (m->size_step > 1 && (req->width % m->size_step || req->height % m->size_step))
        return fail(err, IG_GERR_INVALID, "invalid_value", "size",
                    "Invalid value for 'size': '%s' takes sides that are multiples of %d.", m->id,
                    m->size_step);
    if ((rc = edit_size(m, req, req->width, req->height, err)))
        return rc;
    snprintf(req->size, sizeof req->size, "%dx%d", req->width, req->height);

    const char *quality;
    if ((rc = get_enum(f, F_QUALITY, m->qualities, &quality, err)))
        return rc;
    req->quality = quality ? quality : "auto";

    if ((rc = check_style(f, models, m, req, err)))
        return rc;

    const char *rf;
    if ((rc = get_enum(f, F_RESPONSE_FORMAT, response_formats, &rf, err)))
        return rc;
    req->response_format = rf && strcmp(rf, "b64_json") == 0 ? IG_RESP_B64 : IG_RESP_URL;

    const char *of;
    if ((rc = get_enum(f, F_OUTPUT_FORMAT, output_formats, &of, err)))
        return rc;
    req->output_format = of ? ig_format_parse(of, strlen(of)) : IG_FMT_PNG;
    if (!(m->formats & (1u << req->output_format)))
        return fail(err, IG_GERR_INVALID, "invalid_value", "output_format",
                    "'%s' cannot produce '%s' images.", m->id, of);

    if ((rc = get_int(f, F_OUTPUT_COMPRESSION, 0, 100, &v, &present, err)))
        return rc;
    req->output_compression = present ? (int)v : -1;
    if (present && !m->supports_compression)
        return fail(err, IG_GERR_INVALID, "unsupported_parameter", "output_compression",
                    "'output_compression' is not supported by '%s'.", m->id);

    const char *bg;
    if ((rc = get_enum(f, F_BACKGROUND, backgrounds, &bg, err)))
        return rc;
    req->background = bg;
    if (bg && strcmp(bg, "transparent") == 0 && !m->supports_transparent)
        return fail(err, IG_GERR_INVALID, "unsupported_value", "background",
                    "'%s' does not render transparent backgrounds.", m->id);
    if ((rc = get_enum(f, F_MODERATION, moderations, &req->moderation, err)))
        return rc;
    if (req->moderation && !m->supports_moderation && strcmp(req->moderation, "auto") != 0)
        return fail(err, IG_GERR_INVALID, "unsupported_parameter", "moderation",
                    "'%s' has no moderation level to set.", m->id);

    json_t *stream = f->v[F_STREAM];
    if (stream && !json_is_null(stream)) {
        if (!json_is_boolean(stream))
            return wrong_type(err, "stream", "a boolean", stream);
        req->stream = json_is_true(stream);
        if (req->stream && !m->supports_stream)
            return fail(err, IG_GERR_INVALID, "unsupported_value", "stream",
                        "Streaming from '%s' is not available yet; omit 'stream'.", m->id);
        if (req->stream && req->n != 1)
            return fail(err, IG_GERR_INVALID, "invalid_value", "n",
                        "Streaming generates one image (n: 1).");
    }
    if ((rc = get_int(f, F_PARTIAL_IMAGES, 0, 3, &v, &present, err)))
        return rc;
    if (present && v > 0 && !req->stream)
        return fail(err, IG_GERR_INVALID, "invalid_value", "partial_images",
                    "'partial_images' requires 'stream': true.");
    req->partial_images = present ? (int)v : 0;

    if ((rc = get_string(f, F_USER, &req->user, err)))
        return rc;
    if (req->user && strlen(req->user) > USER_MAX)
        return fail(err, IG_GERR_INVALID, "string_above_max_length", "user",
                    "'user' is longer than %d characters.", USER_MAX);

    if ((rc = get_string(f, F_NEGATIVE_PROMPT, &req->negative_prompt, err)))
        return rc;
    if (req->negative_prompt) {
        if (!m->supports_negative_prompt)
            return fail(err, IG_GERR_INVALID, "unsupported_parameter", "negative_prompt",
                        "'negative_prompt' is not supported by '%s'.", m->id);
        if (utf8_chars(req->negative_prompt) > (size_t)m->max_prompt_chars)
            return fail(err, IG_GERR_INVALID, "string_above_max_length", "negative_prompt",
                        "'negative_prompt' is longer than %d characters.", m->max_prompt_chars);
    }

    if ((rc = get_int(f, F_SEED, 0, 4294967295LL, &v, &present, err)))
        return rc;
    if (present && !m->supports_seed)
        return fail(err, IG_GERR_INVALID, "unsupported_parameter", "seed",
                    "'seed' is not supported by '%s'.", m->id);
    req->seed = present ? v : -1;

    if ((rc = get_int(f, F_STEPS, 1, m->max_steps ? m->max_steps : 1, &v, &present, err)))
        return rc;
    if (present && !m->supports_steps)
        return fail(err, IG_GERR_INVALID, "unsupported_parameter", "steps",
                    "'steps' is not supported by '%s'.", m->id);
    req->steps = present ? (int)v : 0;

    req->guidance = -1.0;
    json_t *gv = f->v[F_GUIDANCE];
    if (gv && !json_is_null(gv)) {
        if (!json_is_number(gv))
            return wrong_type(err, "guidance", "a number", gv);
        if (!m->supports_guidance)
            return fail(err, IG_GERR_INVALID, "unsupported_parameter", "guidance",
                        "'guidance' is not supported by '%s'.", m->id);
        double g = json_number_value(gv);
        if (!(g >= 0.0 && g <= m->max_guidance))
            return fail(err, IG_GERR_INVALID, "invalid_value", "guidance",
                        "Invalid value for 'guidance': must be from 0 to %g.", m->max_guidance);
        req->guidance = g;
    }

    req->strength = -1.0;
    json_t *st = f->v[F_STRENGTH];
    if (st && !json_is_null(st)) {
        if (!json_is_number(st))
            return wrong_type(err, "strength", "a number", st);
        if (!m->supports_strength)
            return fail(err, IG_GERR_INVALID, "unsupported_parameter", "strength",
                        "'strength' is not supported by '%s'.", m->id);
        double x = json_number_value(st);
        if (!(x >= 0.0 && x <= 1.0))
            return fail(err, IG_GERR_INVALID, "invalid_value", "strength",
                        "Invalid value for 'strength': must be from 0 to 1.");
        req->strength = x;
    }
    if ((rc = get_enum(f, F_INPUT_FIDELITY, fidelities, &req->input_fidelity, err)))
        return rc;
    if (req->input_fidelity && !m->supports_input_fidelity)
        return fail(err, IG_GERR_INVALID, "unsupported_parameter", "input_fidelity",
                    "'input_fidelity' is not supported by '%s'.", m->id);

    json_t *md = f->v[F_METADATA];
    if (md && !json_is_null(md)) {
        if ((rc = check_metadata(md, err)))
            return rc;
        req->metadata = md;
    }
    return check_webhook_url(f, req, err);
}

int ig_gen_request_parse(const char *body, size_t len, const struct ig_models *models,
                         struct ig_gen_request *req, struct ig_gen_error *err)
{
    memset(req, 0, sizeof *req); /* err is set only on failure, whole */
    json_error_t jerr;
    json_t *root = ig_json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fail(err, IG_GERR_INVALID, "invalid_json", NULL,
                    "We could not parse the JSON body of your request: %s (line %d, column %d).",
                    jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(err, IG_GERR_INVALID, "invalid_json", NULL,
                    "The request body must be a JSON object.");
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

/* ---- edits and variations: multipart forms ---- */

/* Fields whose text is a JSON scalar (a number or a boolean). */
static const char *const scalar_fields[] = {
    "n",        "output_compression", "partial_images", "seed", "steps",
    "guidance", "strength",           "stream",         NULL,
};

/* The text parts as a JSON object of the fields a JSON body would have. */
static int form_to_json(const struct ig_form *form, json_t *root, struct ig_gen_error *err)
{
    for (size_t i = 0; i < form->n; i++) {
        const struct ig_form_field *f = &form->fields[i];
        if (f->filename || !strcmp(f->name, "image") || !strcmp(f->name, "image[]") ||
            !strcmp(f->name, "mask"))
            continue;
        if (json_object_get(root, f->name))
            return fail(err, IG_GERR_INVALID, "invalid_value", f->name,
                        "'%s' is given more than once.", f->name);
        json_t *v;
        if (one_of(f->name, scalar_fields)) {
            v = ig_json_loadb((const char *)f->data, f->len, JSON_DECODE_ANY, NULL);
            if (!v || json_is_object(v) || json_is_array(v)) {
                json_decref(v);
                return fail(err, IG_GERR_INVALID, "invalid_type", f->name,
                            "Invalid value for '%s': '%.32s' is not a number or boolean.", f->name,
                            (const char *)f->data);
            }
        } else {
            v = json_stringn((const char *)f->data, f->len);
            if (!v)
                return fail(err, IG_GERR_INVALID, "invalid_value", f->name,
                            "'%s' is not valid UTF-8.", f->name);
        }
        json_object_set_new(root, f->name, v);
    }
    return 0;
}

/* Moves the image parts into req, each probed and bounded. */
static int take_images(struct ig_form *form, size_t max_pixels, struct ig_gen_request *req,
                       struct ig_gen_error *err)
{
    for (size_t i = 0; i < form->n; i++) {
        struct ig_form_field *f = &form->fields[i];
        int is_mask = strcmp(f->name, "mask") == 0;
        int is_image = !strcmp(f->name, "image") || !strcmp(f->name, "image[]");
        if (!is_mask && !is_image) {
            if (f->filename)
                return fail(err, IG_GERR_INVALID, "unknown_parameter", f->name,
                            "Unrecognized file part supplied: %.64s", f->name);
            continue;
        }
        if (is_mask && req->op != IG_OP_EDIT)
            return fail(err, IG_GERR_INVALID, "unknown_parameter", "mask",
                        "Unrecognized request argument supplied: mask");
        if (is_mask && req->mask.bytes)
            return fail(err, IG_GERR_INVALID, "invalid_value", "mask",
                        "'mask' is given more than once.");
        if (is_image && req->ninputs == IG_MAX_INPUT_IMAGES)
            return fail(err, IG_GERR_INVALID, "invalid_value", "image",
                        "At most %d images may be sent.", IG_MAX_INPUT_IMAGES);
        const char *param = is_mask ? "mask" : "image";
        struct ig_upload *up = is_mask ? &req->mask : &req->inputs[req->ninputs];
        if (ig_probe(f->data, f->len, &up->format, &up->width, &up->height))
            return fail(err, IG_GERR_INVALID, "invalid_image_format", param,
                        "Invalid %s: the upload is not a PNG, JPEG or WebP image%s.", param,
                        f->len ? " (or its header is damaged)" : " (it is empty)");
        if ((size_t)up->width * (size_t)up->height > max_pixels)
            return fail(err, IG_GERR_INVALID, "image_too_large", param,
                        "The %s is %dx%d pixels; at most %zu pixels are accepted.", param,
                        up->width, up->height, max_pixels);
        if (!ig_image_decodes(f->data, f->len, max_pixels))
            return fail(err, IG_GERR_INVALID, "invalid_image_format", param,
                        "Invalid %s: its header reads as a %dx%d %s but the image data is "
                        "damaged or truncated.",
                        param, up->width, up->height, ig_format_name(up->format));
        up->bytes = f->data;
        up->len = f->len;
        f->data = NULL;
        if (is_image)
            req->ninputs++;
    }
    if (!req->ninputs)
        return fail(err, IG_GERR_INVALID, "missing_required_parameter", "image",
                    "Missing required parameter: 'image' (a file part).");
    return 0;
}

/* What the chosen model asks of the images. */
static int check_images(const struct ig_gen_request *req, struct ig_gen_error *err)
{
    const struct ig_model *m = req->model;
    if (req->ninputs > (size_t)m->max_input_images)
        return fail(err, IG_GERR_INVALID, "invalid_value", "image",
                    "'%s' takes at most %d image%s; %zu were sent.", m->id, m->max_input_images,
                    m->max_input_images == 1 ? "" : "s", req->ninputs);
    for (size_t i = 0; i < req->ninputs; i++) {
        const struct ig_upload *in = &req->inputs[i];
        if (m->input_square_png && (in->format != IG_FMT_PNG || in->width != in->height))
            return fail(err, IG_GERR_INVALID, "invalid_image_format", "image",
                        "'%s' takes a square PNG image; this one is a %dx%d %s.", m->id, in->width,
                        in->height, ig_format_name(in->format));
        if (m->max_input_bytes && in->len > (size_t)m->max_input_bytes)
            return fail(err, IG_GERR_INVALID, "image_too_large", "image",
                        "'%s' takes images of at most %ld bytes; this one has %zu.", m->id,
                        m->max_input_bytes, in->len);
    }
    const struct ig_upload *mask = &req->mask;
    if (!mask->bytes)
        return 0;
    if (!m->supports_mask)
        return fail(err, IG_GERR_INVALID, "unsupported_parameter", "mask",
                    "'mask' is not supported by '%s'.", m->id);
    if (mask->format != IG_FMT_PNG || !ig_png_has_alpha(mask->bytes, mask->len))
        return fail(err, IG_GERR_INVALID, "invalid_image_format", "mask",
                    "The mask must be a PNG with an alpha channel: fully transparent pixels "
                    "mark the area to edit.");
    if (mask->width != req->inputs[0].width || mask->height != req->inputs[0].height)
        return fail(err, IG_GERR_INVALID, "invalid_value", "mask",
                    "The mask (%dx%d) must have the same dimensions as the image (%dx%d).",
                    mask->width, mask->height, req->inputs[0].width, req->inputs[0].height);
    if (m->max_input_bytes && mask->len > (size_t)m->max_input_bytes)
        return fail(err, IG_GERR_INVALID, "image_too_large", "mask",
                    "'%s' takes a mask of at most %ld bytes; this one has %zu.", m->id,
                    m->max_input_bytes, mask->len);
    return 0;
}

int ig_edit_request_parse(struct ig_form *form, enum ig_operation op, size_t max_pixels,
                          const struct ig_models *models, struct ig_gen_request *req,
                          struct ig_gen_error *err)
{
    memset(req, 0, sizeof *req);
    memset(err, 0, sizeof *err);
    req->op = op;
    json_t *root = json_object();
    if (!root)
        return fail(err, IG_GERR_UNAVAILABLE, "overloaded", NULL, "out of memory");
    req->json = root;
    int rc = form_to_json(form, root, err);
    rc = rc ? rc : take_images(form, max_pixels, req, err);
    rc = rc ? rc : validate(root, models, req, err);
    rc = rc ? rc : check_images(req, err);
    if (rc)
        ig_gen_request_release(req);
    return rc;
}

const char *ig_gen_request_prompt(const struct ig_gen_request *req)
{
    return req->styled_prompt ? req->styled_prompt : req->prompt;
}

void ig_gen_request_release(struct ig_gen_request *req)
{
    free(req->styled_prompt);
    json_decref(req->json);
    for (size_t i = 0; i < req->ninputs; i++)
        free(req->inputs[i].bytes);
    free(req->mask.bytes);
    memset(req, 0, sizeof *req);
}

const char *ig_operation_name(enum ig_operation op)
{
    static const char *const names[] = {"generation", "edit", "variation"};
    return op <= IG_OP_VARIATION ? names[op] : "generation";
}

char *ig_gen_request_normalized_json(const struct ig_gen_request *req)
{
    struct ig_buf text;
    struct ig_jw w;
    ig_buf_init(&text, SIZE_MAX / 2);
    if (ig_buf_reserve(&text, 512)) /* one allocation for most */
        return NULL;
    ig_jw_begin(&w, &text);
    ig_jw_str(&w, "model", req->model->id);
    if (req->op != IG_OP_GENERATE) {
        ig_jw_str(&w, "operation", ig_operation_name(req->op));
        ig_jw_int(&w, "input_images", (long long)req->ninputs);
        ig_jw_bool(&w, "mask", req->mask.bytes != NULL);
        if (req->strength >= 0)
            ig_jw_real(&w, "strength", req->strength);
    }
    ig_jw_int(&w, "n", req->n);
    ig_jw_str(&w, "size", req->size);
    ig_jw_str(&w, "quality", req->quality);
    if (req->style)
        ig_jw_str(&w, "style", req->style);
    ig_jw_str(&w, "response_format", req->response_format == IG_RESP_B64 ? "b64_json" : "url");
    ig_jw_str(&w, "output_format", ig_format_name(req->output_format));
    if (req->output_compression >= 0)
        ig_jw_int(&w, "output_compression", req->output_compression);
    if (req->negative_prompt)
        ig_jw_str(&w, "negative_prompt", req->negative_prompt);
    if (req->seed >= 0)
        ig_jw_int(&w, "seed", req->seed);
    if (req->steps)
        ig_jw_int(&w, "steps", req->steps);
    if (req->guidance >= 0)
        ig_jw_real(&w, "guidance", req->guidance);
    if (req->user)
        ig_jw_str(&w, "user", req->user);
    if (req->metadata)
        ig_jw_value(&w, "metadata", req->metadata);
    if (ig_jw_end(&w)) {
        ig_buf_release(&text);
        return NULL;
    }
    return ig_buf_detach(&text, NULL);
}

static int listed(const char *const *names, const char *name)
{
    for (; names && *names; names++)
        if (strcmp(*names, name) == 0)
            return 1;
    return 0;
}

int ig_gen_request_price(const struct ig_gen_request *req, const char *const *free_providers,
                         int64_t *unit)
{
    int64_t most = 0;
    if (!req->model || req->model->ndeployments == 0)
        return IG_ENOTFOUND;
    for (size_t i = 0; i < req->model->ndeployments; i++) {
        const struct ig_deployment *d = &req->model->deployments[i];
        int64_t p;
        if (listed(free_providers, d->provider))
            continue; /* the account's own key pays there */
        if (ig_price_lookup(d->prices, d->nprices, req->size, req->quality, &p))
            return IG_ENOTFOUND;
        if (p > most)
            most = p;
    }
    *unit = most;
    return 0;
}
