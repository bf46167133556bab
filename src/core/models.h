/* models.h — the registry of models a gateway serves: what each accepts
 * (sizes, n, qualities, styles, formats, prompt length, extra fields) and
 * where it is served (its deployments). Built once at start and read-only
 * afterwards, so lookups need no lock. It names no provider: each
 * provider's file describes its own models (providers/provider.h). */
#ifndef IG_MODELS_H
#define IG_MODELS_H

#include "core/pricing.h"

#include <stddef.h>

/* One place a model can be served from. Strings are owned by the registry. */
struct ig_deployment {
    const char *provider; /* "openai" */
    const char *model;    /* the provider's model name */
    const char *api_base; /* "https://api.openai.com/v1" */
    const char *api_key;  /* NULL: none */
    int priority;         /* lower is tried first */
    int weight;           /* among equal priorities */
    long timeout_ms;
    int max_concurrency; /* jobs at once across the gateway; 0: unlimited */
    /* What an image from here costs (core/pricing.h); none: not priced. */
    const struct ig_price *prices;
    size_t nprices;
};

#define IG_MAX_ALIASES 4

enum ig_format_bits { IG_FMTBIT_PNG = 1, IG_FMTBIT_JPEG = 2, IG_FMTBIT_WEBP = 4 };
enum ig_operation_bits { IG_OPBIT_EDIT = 1, IG_OPBIT_VARIATION = 2 };

struct ig_model {
    const char *id;                      /* "local/procedural" */
    const char *aliases[IG_MAX_ALIASES]; /* "local"; NULL-terminated */
    const char *provider;                /* "local" */
    const char *owned_by;
    const char *description;
    const char *const *sizes;          /* exact "WxH" list; NULL: any WxH in the range */
    int size_step;                     /* sides must be multiples of this; 0: any */
    int min_side, max_side;            /* any WxH within these */
    int default_width, default_height; /* for size "auto" or absent */
    int max_n;
    int max_prompt_chars;
    const char *const *qualities; /* NULL-terminated */
    const char *const *styles;    /* NULL-terminated; NULL: none */
    unsigned formats;             /* enum ig_format_bits */
    int supports_negative_prompt, supports_seed, supports_steps, supports_guidance;
    int max_steps;
    double max_guidance;
    int supports_transparent;
    int supports_compression; /* output_compression */
    int supports_moderation;  /* the moderation level field */
    int supports_stream;      /* stream=true with partial images */
    /* Edits and variations (/v1/images/edits, /variations). */
    unsigned operations;   /* enum ig_operation_bits */
    int max_input_images;  /* images per edit */
    int supports_mask;     /* a mask (transparent: the area to edit) */
    int supports_strength; /* how far to move from the input (image-to-image) */
    int supports_input_fidelity;
    int input_square_png; /* inputs must be square PNGs (dall-e-2) */
    long max_input_bytes; /* per uploaded image; 0: the upload limit only */
    int edit_keeps_size;  /* edits keep the input's size (local, Stability image-to-image):
                           * another size is refused */
    int created;          /* unix seconds, for /v1/models */
    /* The provider's list prices, given to each deployment of this model
     * that names none of its own; none: not priced. */
    const struct ig_price *prices;
    size_t nprices;
    /* Network models: where they are served, in routing order (priority,
     * then weight). Empty for the local renderer. */
    const struct ig_deployment *deployments;
    size_t ndeployments;
};

struct ig_models;
struct ig_styles;

int ig_models_new(struct ig_models **out);
void ig_models_free(struct ig_models *m);
/* Adds model as it is (it must outlive the registry). */
int ig_models_add(struct ig_models *m, const struct ig_model *model);
/* Adds a copy of model, with id and aliases (NULL-terminated, at most
 * IG_MAX_ALIASES; may be NULL) as given and its deployments
 * copied (strings and prices included); the registry owns the copies.
 * A deployment is priced by its own prices only. */
int ig_models_add_copy(struct ig_models *m, const struct ig_model *model, const char *id,
                       const char *const *aliases, const struct ig_deployment *deps, size_t ndeps);
/* Remembers that model names starting with prefix (copied) would be
 * served once setting ("OPENAI_API_KEY", which must outlive m) is given. */
int ig_models_add_hint(struct ig_models *m, const char *prefix, const char *setting);
/* For an unknown model name: the setting that would enable it; NULL when
 * no hint matches. */
const char *ig_models_enabling_setting(const struct ig_models *m, const char *name);
/* By id or alias; NULL when unknown. */
const struct ig_model *ig_models_find(const struct ig_models *m, const char *name);
size_t ig_models_count(const struct ig_models *m);
const struct ig_model *ig_models_at(const struct ig_models *m, size_t i);
/* The model used when a request names none. */
const struct ig_model *ig_models_default(const struct ig_models *m);
/* The style catalogue requests may name (core/styles.h), besides a
 * model's own styles; it must outlive m. NULL: none. */
void ig_models_set_styles(struct ig_models *m, const struct ig_styles *styles);
const struct ig_styles *ig_models_styles(const struct ig_models *m);
/* Makes the model named (an id or an alias) the default: 0, or
 * IG_ENOTFOUND. */
int ig_models_set_default(struct ig_models *m, const char *name);

#endif
