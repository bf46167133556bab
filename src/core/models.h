/* models.h — the registry of models a gateway serves: what each accepts
 * (sizes, n, qualities, styles, formats, prompt length, extra fields) and
 * which provider serves it. Built once at start and read-only afterwards,
 * so lookups need no lock. Providers configured later (issue: providers)
 * add their models through ig_models_add(). */
#ifndef IG_MODELS_H
#define IG_MODELS_H

#include <stddef.h>

struct ig_deployment;

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
    /* Network models: where they are served, in routing order (priority,
     * then weight). Empty for the local renderer. */
    const struct ig_deployment *deployments;
    size_t ndeployments;
};

struct ig_models;

int ig_models_create(struct ig_models **out);
void ig_models_free(struct ig_models *m);
/* Adds the built-in local renderer's models. */
int ig_models_add_builtin(struct ig_models *m);
/* Adds a copy of model, with id and alias as given and its deployments
 * copied (strings included); the registry owns the copies. */
int ig_models_add_copy(struct ig_models *m, const struct ig_model *model, const char *id,
                       const char *alias, const struct ig_deployment *deps, size_t ndeps);
/* Adds the models of the providers the environment configures:
 * OPENAI_API_KEY and/or OPENAI_BASE_URL → openai/dall-e-2, openai/dall-e-3,
 * openai/gpt-image-1 (…) and their bare names. */
int ig_models_add_from_env(struct ig_models *m);
/* For an unknown model name that a provider would serve once configured:
 * the setting that enables it ("OPENAI_API_KEY"); NULL otherwise. */
const char *ig_models_enabling_setting(const char *name);
/* The capabilities a provider's model has: a known model's own, else the
 * provider's generic ones. Never NULL. */
const struct ig_model *ig_models_template(const char *provider, const char *model);
/* A provider's default api_base (from its *_BASE_URL variable or its
 * public URL) and the variable its key comes from; NULL when none. */
const char *ig_models_default_base(const char *provider);
const char *ig_models_default_key_env(const char *provider);
/* By id or alias; NULL when unknown. */
const struct ig_model *ig_models_find(const struct ig_models *m, const char *name);
size_t ig_models_count(const struct ig_models *m);
const struct ig_model *ig_models_at(const struct ig_models *m, size_t i);
/* The model used when a request names none. */
const struct ig_model *ig_models_default(const struct ig_models *m);

#endif
