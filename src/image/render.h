/* render.h — the built-in procedural renderer.
 *
 * Makes a picture from (prompt, negative prompt, seed, width, height,
 * style): the prompt's words choose the palette (colour words map to their
 * colours, other words to a hue of their hash), the shapes and the
 * composition; the seed varies the layout. It is deterministic — the same
 * inputs give the same pixels on every machine (integer and IEEE float
 * arithmetic only, no libm calls whose rounding varies) — and it is what it
 * says: a procedural renderer, not a diffusion model. Pure and thread-safe. */
#ifndef IG_RENDER_H
#define IG_RENDER_H

#include <stdint.h>

#define IG_RENDER_MIN_SIDE 64
#define IG_RENDER_MAX_SIDE 2048

enum ig_render_style { IG_STYLE_VIVID, IG_STYLE_NATURAL };

struct ig_render_params {
    const char *prompt;
    const char *negative_prompt; /* may be NULL: its colours are avoided */
    uint64_t seed;
    int width, height;
    enum ig_render_style style;
    int detail;     /* 1–150 (a request's steps): more shapes; 0: one per word */
    float strength; /* a request's guidance, 0–50: bolder shapes; < 0: default */
    float progress; /* 0 or 1: the whole picture; in (0, 1): a partial with that share
                     * of the shapes (streamed partial images) */
};

/* Renders into rgb (width*height*3 bytes, row-major, no padding).
 * 0, or IG_EINVAL for sizes outside [64, 2048]. */
int ig_render(const struct ig_render_params *p, uint8_t *rgb);

#endif
