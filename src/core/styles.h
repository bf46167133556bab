/* styles.h — the style catalogue: free-form style names clients send
 * ("photorealistic", "anime", "cinematic", …), each mapped to what each
 * provider takes: Stability's style_preset, Leonardo's presetStyle, and a
 * prompt suffix for providers without styles of their own. Built-in
 * entries, which the config's `styles:` section adds to or replaces:
 *
 *   styles:
 *     - name: noir
 *       stability: cinematic        # style_preset
 *       leonardo: CINEMATIC         # presetStyle
 *       prompt_suffix: "film noir, high contrast black and white"
 *
 * Read-only once loaded. */
#ifndef IG_STYLES_H
#define IG_STYLES_H

#include <stddef.h>

struct ig_style {
    const char *name;
    const char *stability; /* NULL: none (the suffix is used) */
    const char *leonardo;  /* NULL: none */
    const char *suffix;    /* never NULL */
};

struct ig_styles;

/* The built-in catalogue with path's `styles:` section applied (path NULL:
 * the built-ins alone). IG_ECONFIG with "file:line: reason" in err. */
int ig_styles_load(const char *path, struct ig_styles **out, char *err, size_t err_size);
void ig_styles_free(struct ig_styles *s);
/* By name (case-sensitive); NULL when unknown or s is NULL. */
const struct ig_style *ig_styles_find(const struct ig_styles *s, const char *name);
/* The i-th entry in name order; NULL past the last. */
const struct ig_style *ig_styles_at(const struct ig_styles *s, size_t i);
/* The names, comma-separated, into out (for error messages). */
void ig_styles_names(const struct ig_styles *s, char *out, size_t size);

#endif
