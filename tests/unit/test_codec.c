#include "image/codec.h"
#include "image/render.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *pixels(int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    struct ig_render_params p = {
        .prompt = "teal rings", .seed = 5, .width = w, .height = h, .strength = -1.0f};
    cr_assert_eq(ig_render(&p, px), 0);
    return px;
}

Test(codec, png_roundtrip_is_lossless_and_carries_provenance)
{
    uint8_t *px = pixels(96, 64);
    struct ig_buf out;
    struct ig_provenance prov = {.prompt = "a prompt \xc3\xa9",
                                 .prompt_sha256 = "00ab",
                                 .model = "local/procedural",
                                 .seed = "5"};
    cr_assert_eq(ig_encode(px, 96, 64, IG_FMT_PNG, 90, &prov, 1 << 20, &out), 0);
    enum ig_format f;
    int w, h;
    cr_assert_eq(ig_probe(out.data, out.len, &f, &w, &h), 0);
    cr_assert_eq(f, IG_FMT_PNG);
    cr_assert_eq(w, 96);
    cr_assert_eq(h, 64);
    uint8_t *back;
    cr_assert_eq(ig_decode_rgb(out.data, out.len, 1 << 20, &back, &w, &h), 0);
    cr_assert_eq(memcmp(back, px, 96 * 64 * 3), 0);
    cr_assert(memmem(out.data, out.len, "iTXtprompt", 10));
    cr_assert(memmem(out.data, out.len, "iTXtseed", 8));
    cr_assert(memmem(out.data, out.len, "iTXtprompt-sha256", 17));
    cr_assert(memmem(out.data, out.len, "not a diffusion model", 21));
    free(back);
    free(px);
    ig_buf_release(&out);
}

Test(codec, jpeg_and_webp_probe_and_decode)
{
    uint8_t *px = pixels(80, 64);
    enum ig_format fmts[] = {IG_FMT_JPEG, IG_FMT_WEBP};
    for (int i = 0; i < 2; i++) {
        struct ig_buf out;
        cr_assert_eq(ig_encode(px, 80, 64, fmts[i], 85, NULL, 1 << 20, &out), 0);
        enum ig_format f;
        int w, h;
        cr_assert_eq(ig_probe(out.data, out.len, &f, &w, &h), 0);
        cr_assert_eq(f, fmts[i]);
        cr_assert_eq(ig_sniff(out.data, IG_SNIFF_BYTES), fmts[i]);
        cr_assert_eq(w, 80);
        cr_assert_eq(h, 64);
        uint8_t *back;
        cr_assert_eq(ig_decode_rgb(out.data, out.len, 1 << 20, &back, &w, &h), 0);
        free(back);
        ig_buf_release(&out);
    }
    free(px);
}

Test(codec, encode_respects_max)
{
    uint8_t *px = pixels(128, 128);
    struct ig_buf out;
    cr_assert_eq(ig_encode(px, 128, 128, IG_FMT_PNG, 90, NULL, 100, &out), IG_ETOOBIG);
    cr_assert_null(out.data);
    free(px);
}

Test(codec, probe_rejects_garbage_and_truncation)
{
    enum ig_format f;
    int w, h;
    cr_assert_eq(ig_probe("hello world, not an image", 25, &f, &w, &h), IG_ECODEC);
    cr_assert_eq(f, IG_FMT_UNKNOWN);
    cr_assert_eq(ig_probe("\x89PNG\r\n\x1a\n\0\0", 10, &f, &w, &h), IG_ECODEC);
    cr_assert_eq(ig_probe("\xff\xd8\xff", 3, &f, &w, &h), IG_ECODEC);
    cr_assert_eq(ig_probe("RIFF\0\0\0\0WEBP", 12, &f, &w, &h), IG_ECODEC);
    cr_assert_eq(ig_probe("", 0, &f, &w, &h), IG_ECODEC);
}

Test(codec, sniff_reads_magic_bytes_only)
{
    cr_assert_eq(ig_sniff("\x89PNG\r\n\x1a\n", 8), IG_FMT_PNG);
    cr_assert_eq(ig_sniff("\x89PNG\r\n\x1a", 7), IG_FMT_UNKNOWN); /* one byte short */
    cr_assert_eq(ig_sniff("\x89PNG\r\n\x1a\r", 8), IG_FMT_UNKNOWN);
    cr_assert_eq(ig_sniff("\xff\xd8\xff", 3), IG_FMT_JPEG);
    cr_assert_eq(ig_sniff("\xff\xd8\xfe", 3), IG_FMT_UNKNOWN);
    cr_assert_eq(ig_sniff("RIFF\x10\0\0\0WEBP", 12), IG_FMT_WEBP);
    cr_assert_eq(ig_sniff("RIFF\x10\0\0\0WAVE", 12), IG_FMT_UNKNOWN);
    cr_assert_eq(ig_sniff("<html>", 6), IG_FMT_UNKNOWN);
    cr_assert_eq(ig_sniff("", 0), IG_FMT_UNKNOWN);
    /* A signature alone sniffs as the format but does not probe. */
    enum ig_format f;
    int w, h;
    cr_assert_eq(ig_probe("\x89PNG\r\n\x1a\n", 8, &f, &w, &h), IG_ECODEC);
    cr_assert_eq(f, IG_FMT_UNKNOWN);
}

Test(codec, decode_refuses_too_many_pixels_before_allocating)
{
    uint8_t *px = pixels(100, 100);
    struct ig_buf out;
    cr_assert_eq(ig_encode(px, 100, 100, IG_FMT_PNG, 90, NULL, 1 << 20, &out), 0);
    uint8_t *back = NULL;
    int w, h;
    cr_assert_eq(ig_decode_rgb(out.data, out.len, 9999, &back, &w, &h), IG_ETOOBIG);
    cr_assert_null(back);
    free(px);
    ig_buf_release(&out);
}

Test(codec, format_names)
{
    cr_assert_eq(ig_format_parse("png", 3), IG_FMT_PNG);
    cr_assert_eq(ig_format_parse("jpg", 3), IG_FMT_JPEG);
    cr_assert_eq(ig_format_parse("webp", 4), IG_FMT_WEBP);
    cr_assert_eq(ig_format_parse("gif", 3), IG_FMT_UNKNOWN);
    cr_assert_str_eq(ig_format_mime(IG_FMT_WEBP), "image/webp");
}
