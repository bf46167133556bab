/* render.c — the procedural renderer; see render.h for the contract.
 *
 * Composition: a two-colour diagonal gradient, then one shape per word
 * (cycling when there are few words): discs, rings, rounded boxes, soft
 * glows and waves, each alpha-blended with anti-aliased edges over its own
 * bounding box only. sqrt and the small sine table are the only
 * non-trivial maths, both exactly specified by IEEE 754, so output is
 * byte-identical across machines. */
#include "image/render.h"
#include "util/err.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define MAX_WORDS  48
#define MAX_SHAPES 24

struct rgb {
    float r, g, b;
};

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A float in [0, 1) from 24 random bits: exact in single precision. */
static float unit(uint64_t *state)
{
    return (float)(splitmix(state) >> 40) / 16777216.0f;
}

struct colour_word {
    const char *word;
    float hue, sat, val;
};

static const struct colour_word colour_words[] = {
    {"red", 0, .85f, .9f},       {"crimson", 350, .85f, .75f}, {"orange", 30, .9f, .95f},
    {"yellow", 55, .85f, .95f},  {"gold", 45, .8f, .85f},      {"golden", 45, .8f, .85f},
    {"green", 120, .7f, .75f},   {"forest", 135, .65f, .45f},  {"grass", 100, .7f, .7f},
    {"mint", 150, .45f, .9f},    {"teal", 175, .7f, .6f},      {"cyan", 185, .75f, .9f},
    {"blue", 220, .8f, .85f},    {"sky", 205, .55f, .95f},     {"ocean", 200, .8f, .6f},
    {"sea", 195, .75f, .65f},    {"water", 195, .6f, .8f},     {"purple", 275, .7f, .7f},
    {"violet", 270, .6f, .8f},   {"lavender", 265, .35f, .9f}, {"pink", 330, .5f, .95f},
    {"magenta", 300, .85f, .9f}, {"rose", 345, .6f, .9f},      {"sunset", 20, .85f, .95f},
    {"fire", 15, .95f, .95f},    {"desert", 35, .55f, .85f},   {"sand", 40, .4f, .9f},
    {"brown", 25, .6f, .45f},    {"night", 235, .6f, .25f},    {"dark", 240, .3f, .2f},
    {"snow", 200, .06f, .97f},   {"ice", 190, .25f, .95f},     {"white", 0, 0, .97f},
    {"black", 0, 0, .08f},       {"grey", 0, 0, .55f},         {"gray", 0, 0, .55f},
    {"silver", 210, .06f, .8f},  {"mountain", 215, .3f, .55f}, {"mountains", 215, .3f, .55f},
};

static const struct colour_word *find_colour(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof colour_words / sizeof colour_words[0]; i++)
        if (strlen(colour_words[i].word) == n && memcmp(colour_words[i].word, w, n) == 0)
            return &colour_words[i];
    return NULL;
}

static struct rgb hsv(float h, float s, float v)
{
    while (h >= 360.0f)
        h -= 360.0f;
    while (h < 0.0f)
        h += 360.0f;
    float c = v * s, hp = h / 60.0f;
    int sector = (int)hp;
    float f = hp - (float)sector;
    float x = c * (sector % 2 ? 1.0f - f : f);
    float m = v - c;
    struct rgb o;
    switch (sector) {
    case 0:
        o = (struct rgb){c, x, 0};
        break;
    case 1:
        o = (struct rgb){x, c, 0};
        break;
    case 2:
        o = (struct rgb){0, c, x};
        break;
    case 3:
        o = (struct rgb){0, x, c};
        break;
    case 4:
        o = (struct rgb){x, 0, c};
        break;
    default:
        o = (struct rgb){c, 0, x};
        break;
    }
    o.r = (o.r + m) * 255.0f;
    o.g = (o.g + m) * 255.0f;
    o.b = (o.b + m) * 255.0f;
    return o;
}

struct word {
    const char *p;
    size_t n;
    uint64_t hash;
};

static size_t split_words(const char *text, struct word *out, size_t max, char *scratch,
                          size_t scratch_size)
{
    size_t nw = 0, used = 0;
    const char *p = text ? text : "";
    while (*p && nw < max) {
        while (*p && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                       (*p >= '0' && *p <= '9') || (unsigned char)*p >= 0x80))
            p++;
        size_t start = used;
        while (*p && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || (unsigned char)*p >= 0x80)) {
            if (used + 1 < scratch_size) {
                char ch = *p;
                scratch[used++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
            }
            p++;
        }
        if (used > start) {
            out[nw].p = scratch + start;
            out[nw].n = used - start;
            out[nw].hash = fnv1a(out[nw].p, out[nw].n);
            nw++;
        }
    }
    return nw;
}

static float hue_distance(float a, float b)
{
    float d = a > b ? a - b : b - a;
    return d > 180.0f ? 360.0f - d : d;
}

static inline void blend(uint8_t *px, struct rgb c, float a)
{
    if (a <= 0.0f)
        return;
    if (a > 1.0f)
        a = 1.0f;
    px[0] = (uint8_t)((float)px[0] + (c.r - (float)px[0]) * a + 0.5f);
    px[1] = (uint8_t)((float)px[1] + (c.g - (float)px[1]) * a + 0.5f);
    px[2] = (uint8_t)((float)px[2] + (c.b - (float)px[2]) * a + 0.5f);
}

static inline float clamp01(float v)
{
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

/* sin over [0, 2pi) by a 256-entry table filled with exact products, then
 * linear interpolation: deterministic without relying on libm's sin. */
static float table_sin(float t)
{
    static const float quarter[65] = {
        0.0000000f, 0.0245412f, 0.0490677f, 0.0735646f, 0.0980171f, 0.1224107f, 0.1467305f,
        0.1709619f, 0.1950903f, 0.2191012f, 0.2429802f, 0.2667128f, 0.2902847f, 0.3136818f,
        0.3368899f, 0.3598950f, 0.3826834f, 0.4052413f, 0.4275551f, 0.4496113f, 0.4713967f,
        0.4928982f, 0.5141027f, 0.5349976f, 0.5555702f, 0.5758082f, 0.5956993f, 0.6152316f,
        0.6343933f, 0.6531728f, 0.6715590f, 0.6895405f, 0.7071068f, 0.7242471f, 0.7409511f,
        0.7572088f, 0.7730105f, 0.7883464f, 0.8032075f, 0.8175848f, 0.8314696f, 0.8448536f,
        0.8577286f, 0.8700870f, 0.8819213f, 0.8932243f, 0.9039893f, 0.9142098f, 0.9238795f,
        0.9329928f, 0.9415441f, 0.9495282f, 0.9569403f, 0.9637761f, 0.9700313f, 0.9757021f,
        0.9807853f, 0.9852776f, 0.9891765f, 0.9924795f, 0.9951847f, 0.9972905f, 0.9987955f,
        0.9996988f, 1.0000000f};
    float pos = t * (256.0f / 6.2831853f);
    long whole = (long)pos;
    float frac = pos - (float)whole;
    if (pos < 0.0f) {
        whole -= 1;
        frac += 1.0f;
    }
    int i = (int)(((whole % 256) + 256) % 256);
    int j = (i + 1) % 256;
    float vi, vj;
#define SIN_AT(k)                                                                                  \
    ((k) < 64    ? quarter[(k)]                                                                    \
     : (k) < 128 ? quarter[128 - (k)]                                                              \
     : (k) < 192 ? -quarter[(k)-128]                                                               \
                 : -quarter[256 - (k)])
    vi = SIN_AT(i);
    vj = SIN_AT(j);
#undef SIN_AT
    return vi + (vj - vi) * frac;
}

enum shape_kind { SHAPE_DISC, SHAPE_RING, SHAPE_BOX, SHAPE_GLOW, SHAPE_WAVE, SHAPE_KINDS };

static void draw_shape(uint8_t *rgb, int w, int h, enum shape_kind kind, float cx, float cy,
                       float size, struct rgb col, float alpha, float phase)
{
    int x0, x1, y0, y1;
    float reach = kind == SHAPE_GLOW ? size * 1.6f : size + 1.0f;
    if (kind == SHAPE_WAVE) {
        x0 = 0;
        x1 = w - 1;
        y0 = (int)(cy - size * 0.6f - 2.0f);
        y1 = (int)(cy + size * 0.6f + 2.0f);
    } else {
        x0 = (int)(cx - reach);
        x1 = (int)(cx + reach) + 1;
        y0 = (int)(cy - reach);
        y1 = (int)(cy + reach) + 1;
    }
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > w - 1)
        x1 = w - 1;
    if (y1 > h - 1)
        y1 = h - 1;
    float ring_w = size * 0.18f + 1.0f;
    float wave_len = size * 2.5f + 8.0f, wave_amp = size * 0.35f, wave_th = size * 0.12f + 1.5f;
    float box_r = size * 0.25f;
    for (int y = y0; y <= y1; y++) {
        uint8_t *row = rgb + (size_t)y * (size_t)w * 3;
        float fy = (float)y + 0.5f - cy;
        for (int x = x0; x <= x1; x++) {
            float fx = (float)x + 0.5f - cx;
            float cover;
            switch (kind) {
            case SHAPE_DISC: {
                float d = sqrtf(fx * fx + fy * fy);
                cover = clamp01(size - d + 0.5f);
                break;
            }
            case SHAPE_RING: {
                float d = sqrtf(fx * fx + fy * fy);
                float off = d > size ? d - size : size - d;
                cover = clamp01(ring_w - off + 0.5f);
                break;
            }
            case SHAPE_BOX: {
                float ax = (fx < 0 ? -fx : fx) - (size - box_r);
                float ay = (fy < 0 ? -fy : fy) * 0.7f - (size * 0.7f - box_r);
                float ox = ax > 0 ? ax : 0, oy = ay > 0 ? ay : 0;
                float d = sqrtf(ox * ox + oy * oy) - box_r;
                cover = clamp01(0.5f - d);
                break;
            }
            case SHAPE_GLOW: {
                float d2 = (fx * fx + fy * fy) / (size * size * 2.56f);
                cover = d2 >= 1.0f ? 0.0f : (1.0f - d2) * (1.0f - d2);
                break;
            }
            default: {
                float centre = wave_amp * table_sin((float)x / wave_len * 6.2831853f + phase);
                float off = fy - centre;
                if (off < 0)
                    off = -off;
                cover = clamp01(wave_th - off + 0.5f);
                break;
            }
            }
            if (cover > 0.0f)
                blend(row + (size_t)x * 3, col, cover * alpha);
        }
    }
}

int ig_render(const struct ig_render_params *p, uint8_t *rgb)
{
    int w = p->width, h = p->height;
    if (w < IG_RENDER_MIN_SIDE || h < IG_RENDER_MIN_SIDE || w > IG_RENDER_MAX_SIDE ||
        h > IG_RENDER_MAX_SIDE)
        return IG_EINVAL;

    char scratch[2048], nscratch[1024];
    struct word words[MAX_WORDS], neg[MAX_WORDS];
    size_t nw = split_words(p->prompt, words, MAX_WORDS, scratch, sizeof scratch);
    size_t nn = split_words(p->negative_prompt, neg, MAX_WORDS, nscratch, sizeof nscratch);
    uint64_t ph = fnv1a(p->prompt ? p->prompt : "", p->prompt ? strlen(p->prompt) : 0);
    uint64_t state = ph ^ (p->seed * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)w << 32 | (uint64_t)h);

    /* Hues to avoid: those of the negative prompt's colour words. */
    float avoid[MAX_WORDS];
    size_t navoid = 0;
    for (size_t i = 0; i < nn; i++) {
        const struct colour_word *cw = find_colour(neg[i].p, neg[i].n);
        if (cw && cw->sat > 0.1f)
            avoid[navoid++] = cw->hue;
    }

    /* Palette: five colours, from colour words first, then word hashes. */
    struct rgb palette[5];
    float sat_scale = p->style == IG_STYLE_NATURAL ? 0.55f : 1.0f;
    size_t pick = 0;
    for (int i = 0; i < 5; i++) {
        float hue, sat, val;
        const struct colour_word *cw = NULL;
        while (pick < nw && !(cw = find_colour(words[pick].p, words[pick].n)))
            pick++;
        if (cw) {
            hue = cw->hue + (unit(&state) - 0.5f) * 16.0f;
            sat = cw->sat;
            val = cw->val * (0.85f + unit(&state) * 0.15f);
            pick++;
        } else {
            uint64_t wh = nw ? words[(size_t)i % nw].hash : ph;
            hue = (float)(wh % 360u) + (float)i * 47.0f;
            sat = 0.45f + unit(&state) * 0.5f;
            val = 0.45f + unit(&state) * 0.5f;
        }
        for (size_t a = 0; a < navoid; a++)
            if (hue_distance(hue, avoid[a]) < 35.0f)
                hue += 180.0f;
        palette[i] = hsv(hue, sat * sat_scale, val);
    }

    /* Background: diagonal gradient between palette[0] and a darker palette[1]. */
    float gx = unit(&state) * 2.0f - 1.0f, gy = unit(&state) * 2.0f - 1.0f;
    float glen = sqrtf(gx * gx + gy * gy);
    if (glen < 0.05f) {
        gx = 1.0f;
        gy = 0.0f;
        glen = 1.0f;
    }
    gx /= glen;
    gy /= glen;
    float span = (float)(w > h ? w : h);
    struct rgb c0 = palette[0], c1 = palette[1];
    c1.r *= 0.45f;
    c1.g *= 0.45f;
    c1.b *= 0.45f;
    for (int y = 0; y < h; y++) {
        uint8_t *row = rgb + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w; x++) {
            float t = clamp01(
                0.5f +
                (((float)x - (float)w * 0.5f) * gx + ((float)y - (float)h * 0.5f) * gy) / span);
            row[3 * x] = (uint8_t)(c0.r + (c1.r - c0.r) * t + 0.5f);
            row[3 * x + 1] = (uint8_t)(c0.g + (c1.g - c0.g) * t + 0.5f);
            row[3 * x + 2] = (uint8_t)(c0.b + (c1.b - c0.b) * t + 0.5f);
        }
    }

    /* Shapes: one per word (at least five), each shaped by its word. */
    size_t nshapes = nw < 5 ? 5 : (nw > MAX_SHAPES ? MAX_SHAPES : nw);
    if (p->detail > 0)
        nshapes = 3 + (size_t)(p->detail > 150 ? 150 : p->detail) * (MAX_SHAPES - 3) / 150;
    float boldness = p->strength < 0.0f ? 1.0f : 0.4f + p->strength / 25.0f;
    float minside = (float)(w < h ? w : h);
    size_t drawn = nshapes;
    if (p->progress > 0.0f && p->progress < 1.0f)
        drawn = (size_t)((float)nshapes * p->progress);
    for (size_t i = 0; i < drawn; i++) {
        uint64_t wh = nw ? words[i % nw].hash : ph + i;
        uint64_t local = wh ^ state;
        enum shape_kind kind = (enum shape_kind)(wh % SHAPE_KINDS);
        float cx = unit(&local) * (float)w;
        float cy = unit(&local) * (float)h;
        float size = minside * (0.05f + unit(&local) * 0.3f);
        struct rgb col = palette[2 + (wh >> 8) % 3];
        float alpha = (0.35f + unit(&local) * 0.55f) * boldness;
        if (alpha > 1.0f)
            alpha = 1.0f;
        float phase = unit(&local) * 6.2831853f;
        draw_shape(rgb, w, h, kind, cx, cy, size, col, alpha, phase);
        (void)splitmix(&state);
    }
    return 0;
}
