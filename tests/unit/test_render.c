#include "image/render.h"
#include "util/crypto.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *render(const char *prompt, uint64_t seed, int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    struct ig_render_params p = {
        .prompt = prompt, .seed = seed, .width = w, .height = h, .strength = -1.0f};
    cr_assert_eq(ig_render(&p, px), 0);
    return px;
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d += abs((int)a[i] - (int)b[i]);
    return d / (double)n;
}

Test(render, deterministic)
{
    uint8_t *a = render("a red fox in snow", 7, 200, 120);
    uint8_t *b = render("a red fox in snow", 7, 200, 120);
    cr_assert_eq(memcmp(a, b, 200 * 120 * 3), 0);
    free(a);
    free(b);
}

Test(render, pinned_digest)
{
    /* Pins the renderer's output: a change here changes every user's
     * reproducible images, so it must be deliberate. */
    uint8_t *a = render("a red sunset over blue ocean", 42, 256, 256);
    uint8_t d[32];
    char hex[65];
    ig_sha256(a, 256 * 256 * 3, d);
    ig_hex(d, 32, hex);
    free(a);
    cr_log_info("digest %s", hex);
    cr_assert_str_eq(hex, RENDER_DIGEST);
}

Test(render, prompt_and_seed_change_the_picture)
{
    size_t n = 128 * 128 * 3;
    uint8_t *a = render("a red sunset over blue ocean", 1, 128, 128);
    uint8_t *b = render("a green forest at night", 1, 128, 128);
    uint8_t *c = render("a red sunset over blue ocean", 2, 128, 128);
    cr_assert_gt(mean_abs_diff(a, b, n), 10.0, "different prompts must look different");
    cr_assert_gt(mean_abs_diff(a, c, n), 3.0, "different seeds must differ");
    free(a);
    free(b);
    free(c);
}

Test(render, colour_words_set_the_palette)
{
    size_t n = 128 * 128;
    uint8_t *red = render("red red red", 3, 128, 128);
    uint8_t *blue = render("blue blue blue", 3, 128, 128);
    double rr = 0, rb = 0, br = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        rr += red[3 * i];
        rb += red[3 * i + 2];
        br += blue[3 * i];
        bb += blue[3 * i + 2];
    }
    cr_assert_gt(rr, rb * 1.5, "a red prompt is mostly red");
    cr_assert_gt(bb, br * 1.5, "a blue prompt is mostly blue");
    free(red);
    free(blue);
}

Test(render, sizes_bounded)
{
    uint8_t px[3];
    struct ig_render_params p = {.prompt = "x", .width = 63, .height = 64};
    cr_assert_eq(ig_render(&p, px), IG_EINVAL);
    p.width = 64;
    p.height = 2049;
    cr_assert_eq(ig_render(&p, px), IG_EINVAL);
}

Test(render, extremes_and_odd_prompts)
{
    uint8_t *a = render("", 0, 64, 2048);
    free(a);
    a = render("\xe7\x8c\xab \xf0\x9f\x90\x88 !!! ...", 4294967295u, 2048, 64);
    free(a);
}
