/* models.c — the model registry. Built-in descriptions are static; models
 * made from the environment or the config are copies the registry owns
 * (struct, strings and deployments), freed with it. */
#include "core/models.h"
#include "providers/provider.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

#define MAX_MODELS 256

struct ig_models {
    const struct ig_model *list[MAX_MODELS];
    size_t n;
    void *owned[MAX_MODELS * 16];
    size_t nowned;
};

static const char *const local_qualities[] = {"auto",   "standard", "hd", "low",
                                              "medium", "high",     NULL};
static const char *const local_styles[] = {"vivid", "natural", NULL};

/* The local renderer is served in-process, through the dispatcher like
 * every provider. */
static const struct ig_deployment local_deployment = {
    .provider = "local",
    .model = "procedural",
    .weight = 1,
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
     .created = 1759363200},
};

/* Black Forest Labs' FLUX models (shared/providers.md §5). One image per
 * job; sizes in multiples of 32 (FLUX.2: 16). */
static const char *const bfl_qualities[] = {"auto", "standard", NULL};
static const struct ig_model bfl_templates[] = {
    {.id = "flux-pro-1.1",
     .provider = "bfl",
     .owned_by = "black-forest-labs",
     .description = "FLUX1.1 [pro]",
     .size_step = 32,
     .min_side = 256,
     .max_side = 1440,
     .default_width = 1024,
     .default_height = 768,
     .max_n = 1,
     .max_prompt_chars = 10000,
     .qualities = bfl_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_seed = 1,
     .created = 1727740800},
    {.id = "flux-dev",
     .provider = "bfl",
     .owned_by = "black-forest-labs",
     .description = "FLUX.1 [dev]",
     .size_step = 32,
     .min_side = 256,
     .max_side = 1440,
     .default_width = 1024,
     .default_height = 768,
     .max_n = 1,
     .max_prompt_chars = 10000,
     .qualities = bfl_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 50,
     .supports_guidance = 1,
     .max_guidance = 5.0,
     .created = 1722470400},
    {.id = "flux-2-pro",
     .provider = "bfl",
     .owned_by = "black-forest-labs",
     .description = "FLUX.2 [pro]",
     .size_step = 16,
     .min_side = 64,
     .max_side = 2048,
     .default_width = 1024,
     .default_height = 1024,
     .max_n = 1,
     .max_prompt_chars = 10000,
     .qualities = bfl_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_seed = 1,
     .created = 1764547200},
};

/* Stability's v2beta models: one image, the size becomes an aspect ratio. */
static const char *const plain_qualities[] = {"auto", "standard", NULL};
/* Stability's v2beta models differ only in name, date and whether they edit
 * (image-to-image, which keeps the input's shape: no size to give). */
#define STABILITY_MODEL(model_id, what, date, ops)                                                 \
    {                                                                                              \
        .id = model_id, .provider = "stability", .owned_by = "stability-ai",                       \
        .description = what " (size is mapped to the nearest aspect ratio)", .min_side = 64,       \
        .max_side = 4096, .default_width = 1024, .default_height = 1024, .max_n = 1,               \
        .max_prompt_chars = 10000, .qualities = plain_qualities,                                   \
        .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP, .supports_negative_prompt = 1, \
        .supports_seed = 1, .created = date, .operations = ops, .max_input_images = 1,             \
        .supports_strength = 1, .edit_keeps_size = 1                                               \
    }
static const struct ig_model stability_templates[] = {
    /* Core has no image input; Ultra and SD3 take one (image-to-image). */
    STABILITY_MODEL("core", "Stable Image Core", 1713744000, 0),
    STABILITY_MODEL("ultra", "Stable Image Ultra", 1713744000, IG_OPBIT_EDIT),
    STABILITY_MODEL("sd3.5-large", "Stable Diffusion 3.5 Large", 1729555200, IG_OPBIT_EDIT),
};
#undef STABILITY_MODEL

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
     .qualities = plain_qualities,
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
     .created = 1767225600},
};

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
     .qualities = plain_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 12,
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
     .qualities = plain_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 50,
     .supports_guidance = 1,
     .max_guidance = 20.0,
     .created = 1722470400},
};

/* Replicate: the official FLUX models (aspect ratios, up to 4 outputs). */
static const struct ig_model replicate_templates[] = {
    {.id = "black-forest-labs/flux-schnell",
     .provider = "replicate",
     .owned_by = "black-forest-labs",
     .description = "FLUX.1 [schnell] on Replicate (size is mapped to the nearest aspect ratio)",
     .min_side = 64,
     .max_side = 2048,
     .default_width = 1024,
     .default_height = 1024,
     .max_n = 4,
     .max_prompt_chars = 10000,
     .qualities = plain_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 4,
     .created = 1722470400},
    {.id = "black-forest-labs/flux-dev",
     .provider = "replicate",
     .owned_by = "black-forest-labs",
     .description = "FLUX.1 [dev] on Replicate (size is mapped to the nearest aspect ratio)",
     .min_side = 64,
     .max_side = 2048,
     .default_width = 1024,
     .default_height = 1024,
     .max_n = 4,
     .max_prompt_chars = 10000,
     .qualities = plain_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 50,
     .supports_guidance = 1,
     .max_guidance = 10.0,
     .created = 1722470400},
};

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
     .qualities = plain_qualities,
     .formats = IG_FMTBIT_PNG | IG_FMTBIT_JPEG | IG_FMTBIT_WEBP,
     .supports_negative_prompt = 1,
     .supports_seed = 1,
     .supports_steps = 1,
     .max_steps = 60,
     .supports_guidance = 1,
     .max_guidance = 20.0,
     .created = 1767225600},
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

const struct ig_model *ig_models_template(const char *provider, const char *model)
{
    if (strcmp(provider, "openai") == 0)
        for (size_t i = 0; i < sizeof openai_templates / sizeof openai_templates[0]; i++)
            if (strcmp(openai_templates[i].id, model) == 0)
                return &openai_templates[i];
    if (strcmp(provider, "stability") == 0) {
        for (size_t i = 0; i < sizeof stability_templates / sizeof stability_templates[0]; i++)
            if (strcmp(stability_templates[i].id, model) == 0)
                return &stability_templates[i];
        return &stability_templates[0];
    }
    if (strcmp(provider, "a1111") == 0)
        return &a1111_templates[0];
    if (strcmp(provider, "leonardo") == 0)
        return &leonardo_templates[0];
    if (strcmp(provider, "fal") == 0) {
        for (size_t i = 0; i < sizeof fal_templates / sizeof fal_templates[0]; i++)
            if (strcmp(fal_templates[i].id, model) == 0)
                return &fal_templates[i];
        return &fal_templates[1];
    }
    if (strcmp(provider, "replicate") == 0) {
        for (size_t i = 0; i < sizeof replicate_templates / sizeof replicate_templates[0]; i++)
            if (strcmp(replicate_templates[i].id, model) == 0)
                return &replicate_templates[i];
        return &replicate_templates[1];
    }
    if (strcmp(provider, "bfl") == 0) {
        for (size_t i = 0; i < sizeof bfl_templates / sizeof bfl_templates[0]; i++)
            if (strcmp(bfl_templates[i].id, model) == 0)
                return &bfl_templates[i];
        return &bfl_templates[0];
    }
    return &generic_template;
}

/* Each provider's environment: key variable, base URL variable, public URL. */
static const struct {
    const char *provider, *key_env, *base_env, *base;
} provider_env[] = {
    {"openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1"},
    {"bfl", "BFL_API_KEY", "BFL_BASE_URL", "https://api.bfl.ai/v1"},
    {"stability", "STABILITY_API_KEY", "STABILITY_BASE_URL", "https://api.stability.ai"},
    {"a1111", "A1111_AUTH", "A1111_URL", "http://127.0.0.1:7860"},
    {"fal", "FAL_KEY", "FAL_QUEUE_URL", "https://queue.fal.run"},
    {"replicate", "REPLICATE_API_TOKEN", "REPLICATE_BASE_URL", "https://api.replicate.com/v1"},
    {"leonardo", "LEONARDO_API_KEY", "LEONARDO_BASE_URL", "https://cloud.leonardo.ai/api/rest/v1"},
};

const char *ig_models_default_base(const char *provider)
{
    for (size_t i = 0; i < sizeof provider_env / sizeof provider_env[0]; i++) {
        if (strcmp(provider, provider_env[i].provider) == 0) {
            const char *b = getenv(provider_env[i].base_env);
            return b && *b ? b : provider_env[i].base;
        }
    }
    return "";
}

const char *ig_models_default_key_env(const char *provider)
{
    for (size_t i = 0; i < sizeof provider_env / sizeof provider_env[0]; i++)
        if (strcmp(provider, provider_env[i].provider) == 0)
            return provider_env[i].key_env;
    return NULL;
}

/* Adds provider/<template> (and, when alias_bare, the bare name) for
 * every template, served by one deployment from the environment. */
static int add_env_provider(struct ig_models *m, const char *provider,
                            const struct ig_model *templates, size_t n, int alias_bare)
{
    const char *key_env = ig_models_default_key_env(provider);
    const char *key = key_env ? getenv(key_env) : NULL;
    struct ig_deployment d = {
        .provider = provider,
        .api_base = ig_models_default_base(provider),
        .api_key = key && *key ? key : NULL,
        .weight = 1,
        .timeout_ms = 120000,
    };
    for (size_t i = 0; i < n; i++) {
        char id[128];
        snprintf(id, sizeof id, "%s/%s", provider, templates[i].id);
        d.model = templates[i].id;
        int rc =
            ig_models_add_copy(m, &templates[i], id, alias_bare ? templates[i].id : NULL, &d, 1);
        if (rc)
            return rc;
    }
    return 0;
}

int ig_models_create(struct ig_models **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : IG_ENOMEM;
}

void ig_models_free(struct ig_models *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nowned; i++)
        free(m->owned[i]);
    free(m);
}

static int add(struct ig_models *m, const struct ig_model *model)
{
    if (m->n >= MAX_MODELS)
        return IG_ETOOBIG;
    if (ig_models_find(m, model->id))
        return IG_EEXISTS;
    m->list[m->n++] = model;
    return 0;
}

int ig_models_add_builtin(struct ig_models *m)
{
    return add(m, &local_procedural);
}

/* Remembers p to free with the registry; NULL stays NULL. */
static void *own(struct ig_models *m, void *p)
{
    if (!p)
        return NULL;
    if (m->nowned >= sizeof m->owned / sizeof m->owned[0]) {
        free(p);
        return NULL;
    }
    m->owned[m->nowned++] = p;
    return p;
}

static const char *own_str(struct ig_models *m, const char *s)
{
    return s ? own(m, strdup(s)) : NULL;
}

int ig_models_add_copy(struct ig_models *m, const struct ig_model *model, const char *id,
                       const char *alias, const struct ig_deployment *deps, size_t ndeps)
{
    if (ig_models_find(m, id) || (alias && ig_models_find(m, alias)))
        return IG_EEXISTS;
    struct ig_model *copy = own(m, malloc(sizeof *copy));
    struct ig_deployment *dcopy = ndeps ? own(m, calloc(ndeps, sizeof *dcopy)) : NULL;
    if (!copy || (ndeps && !dcopy))
        return IG_ENOMEM;
    *copy = *model;
    memset(copy->aliases, 0, sizeof copy->aliases);
    if (ndeps)
        copy->provider = own_str(m, deps[0].provider);
    copy->id = own_str(m, id);
    copy->aliases[0] = own_str(m, alias);
    for (size_t i = 0; i < ndeps; i++) {
        dcopy[i] = deps[i];
        dcopy[i].provider = own_str(m, deps[i].provider);
        dcopy[i].model = own_str(m, deps[i].model);
        dcopy[i].api_base = own_str(m, deps[i].api_base);
        dcopy[i].api_key = own_str(m, deps[i].api_key);
    }
    copy->deployments = dcopy;
    copy->ndeployments = ndeps;
    if (!copy->id)
        return IG_ENOMEM;
    return add(m, copy);
}

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

int ig_models_add_from_env(struct ig_models *m)
{
    int rc = 0;
    if (env_set("OPENAI_API_KEY") || env_set("OPENAI_BASE_URL"))
        rc = add_env_provider(m, "openai", openai_templates,
                              sizeof openai_templates / sizeof openai_templates[0], 1);
    if (rc == 0 && (env_set("BFL_API_KEY") || env_set("BFL_BASE_URL")))
        rc = add_env_provider(m, "bfl", bfl_templates,
                              sizeof bfl_templates / sizeof bfl_templates[0], 0);
    if (rc == 0 && (env_set("STABILITY_API_KEY") || env_set("STABILITY_BASE_URL")))
        rc = add_env_provider(m, "stability", stability_templates,
                              sizeof stability_templates / sizeof stability_templates[0], 0);
    if (rc == 0 && (env_set("FAL_KEY") || env_set("FAL_QUEUE_URL")))
        rc = add_env_provider(m, "fal", fal_templates,
                              sizeof fal_templates / sizeof fal_templates[0], 0);
    if (rc == 0 && (env_set("REPLICATE_API_TOKEN") || env_set("REPLICATE_BASE_URL")))
        rc = add_env_provider(m, "replicate", replicate_templates,
                              sizeof replicate_templates / sizeof replicate_templates[0], 0);
    if (rc == 0 && (env_set("LEONARDO_API_KEY") || env_set("LEONARDO_BASE_URL")))
        rc = add_env_provider(m, "leonardo", leonardo_templates, 1, 0);
    if (rc == 0 && env_set("A1111_URL"))
        rc = add_env_provider(m, "a1111", a1111_templates, 1, 0);
    return rc;
}

const char *ig_models_enabling_setting(const char *name)
{
    static const struct {
        const char *prefix;
        const char *setting;
    } hints[] = {
        {"openai/", "OPENAI_API_KEY (or OPENAI_BASE_URL for an OpenAI-compatible server)"},
        {"dall-e", "OPENAI_API_KEY"},
        {"gpt-image", "OPENAI_API_KEY"},
        {"stability/", "STABILITY_API_KEY"},
        {"replicate/", "REPLICATE_API_TOKEN"},
        {"fal/", "FAL_KEY"},
        {"bfl/", "BFL_API_KEY"},
        {"leonardo/", "LEONARDO_API_KEY"},
        {"a1111/", "A1111_URL"},
    };
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (strncmp(name, hints[i].prefix, strlen(hints[i].prefix)) == 0)
            return hints[i].setting;
    return NULL;
}

const struct ig_model *ig_models_find(const struct ig_models *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct ig_model *model = m->list[i];
        if (strcmp(model->id, name) == 0)
            return model;
        for (int a = 0; a < IG_MAX_ALIASES && model->aliases[a]; a++)
            if (strcmp(model->aliases[a], name) == 0)
                return model;
    }
    return NULL;
}

size_t ig_models_count(const struct ig_models *m)
{
    return m->n;
}

const struct ig_model *ig_models_at(const struct ig_models *m, size_t i)
{
    return i < m->n ? m->list[i] : NULL;
}

const struct ig_model *ig_models_default(const struct ig_models *m)
{
    return m->n ? m->list[0] : NULL;
}
