/* models.c — the model registry. Entries are pointers to static or
 * long-lived descriptions; the registry only indexes them. */
#include "core/models.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

#define MAX_MODELS 256

struct ig_models {
    const struct ig_model *list[MAX_MODELS];
    size_t n;
};

static const char *const local_qualities[] = {"auto",   "standard", "hd", "low",
                                              "medium", "high",     NULL};
static const char *const local_styles[] = {"vivid", "natural", NULL};

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
    .created = 1767225600,
};

int ig_models_create(struct ig_models **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : IG_ENOMEM;
}

void ig_models_free(struct ig_models *m)
{
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
