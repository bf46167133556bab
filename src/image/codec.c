/* codec.c — PNG (libpng, with provenance iTXt chunks), JPEG (libjpeg-turbo)
 * and WebP (libwebp) encoders; header probes and decoders.
 *
 * libpng and libjpeg report errors by longjmp; each function keeps the
 * setjmp in the frame that owns the codec state and frees it on both
 * paths. PNGs use zlib level 3 and the Sub filter: the renderer's smooth
 * gradients compress almost as well as at level 6, several times faster. */
#include "image/codec.h"
#include "util/err.h"

#include <stdio.h>

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/encode.h>

const char *ig_format_name(enum ig_format f)
{
    switch (f) {
    case IG_FMT_PNG:
        return "png";
    case IG_FMT_JPEG:
        return "jpeg";
    case IG_FMT_WEBP:
        return "webp";
    default:
        return "unknown";
    }
}

const char *ig_format_mime(enum ig_format f)
{
    switch (f) {
    case IG_FMT_PNG:
        return "image/png";
    case IG_FMT_JPEG:
        return "image/jpeg";
    case IG_FMT_WEBP:
        return "image/webp";
    default:
        return "application/octet-stream";
    }
}

enum ig_format ig_format_parse(const char *name, size_t n)
{
    if (n == 3 && memcmp(name, "png", 3) == 0)
        return IG_FMT_PNG;
    if ((n == 4 && memcmp(name, "jpeg", 4) == 0) || (n == 3 && memcmp(name, "jpg", 3) == 0))
        return IG_FMT_JPEG;
    if (n == 4 && memcmp(name, "webp", 4) == 0)
        return IG_FMT_WEBP;
    return IG_FMT_UNKNOWN;
}

/* ---- PNG ---- */

struct png_sink {
    struct ig_buf *out;
    int failed;
};

static void png_write_cb(png_structp png, png_bytep data, size_t len)
{
    struct png_sink *s = png_get_io_ptr(png);
    if (!s->failed && ig_buf_append(s->out, data, len))
        s->failed = 1;
}

static void png_flush_cb(png_structp png)
{
    (void)png;
}

static int encode_png(const uint8_t *rgb, int w, int h, const struct ig_provenance *prov,
                      struct ig_buf *out)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = NULL;
    struct png_sink sink = {out, 0};
    int rc = IG_ECODEC;
    if (!png || !info)
        goto out;
    rows = malloc(sizeof *rows * (size_t)h);
    if (!rows)
        goto out;
    if (setjmp(png_jmpbuf(png)))
        goto out;
    png_set_write_fn(png, &sink, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 3);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
    png_text text[6];
    int nt = 0;
    const char *keys[] = {"Software", "imagegate:renderer", "prompt", "prompt-sha256", "model",
                          "seed"};
    const char *vals[] = {"imagegate",
                          "procedural (a built-in procedural renderer, not a diffusion model)",
                          prov ? prov->prompt : NULL,
                          prov ? prov->prompt_sha256 : NULL,
                          prov ? prov->model : NULL,
                          prov ? prov->seed : NULL};
    for (int i = 0; i < 6; i++) {
        if (!vals[i] || (i == 1 && !(prov && prov->model)))
            continue;
        memset(&text[nt], 0, sizeof text[nt]);
        text[nt].compression = PNG_ITXT_COMPRESSION_NONE;
        text[nt].key = ig_mutable(keys[i]);
        text[nt].text = ig_mutable(vals[i]);
        text[nt].itxt_length = strlen(vals[i]);
        nt++;
    }
    if (nt)
        png_set_text(png, info, text, nt);
    for (int y = 0; y < h; y++)
        rows[y] = ig_mutable(rgb + (size_t)y * (size_t)w * 3);
    png_set_rows(png, info, rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    rc = sink.failed ? IG_ETOOBIG : 0;
out:
    png_destroy_write_struct(&png, &info);
    free(rows);
    return rc;
}

/* ---- JPEG ---- */

struct jpeg_error_ctx {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
};

static void jpeg_error_exit_cb(j_common_ptr cinfo)
{
    struct jpeg_error_ctx *e = (struct jpeg_error_ctx *)cinfo->err;
    longjmp(e->jump, 1);
}

static void jpeg_silence_cb(j_common_ptr cinfo, int level)
{
    (void)cinfo;
    (void)level;
}

static int encode_jpeg(const uint8_t *rgb, int w, int h, int quality, struct ig_buf *out)
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_ctx err;
    unsigned char *mem = NULL;
    unsigned long mem_len = 0;
    int rc = IG_ECODEC;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_error_exit_cb;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(mem);
        return IG_ECODEC;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &mem, &mem_len);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = ig_mutable(rgb + (size_t)cinfo.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    rc = ig_buf_append(out, mem, mem_len);
    free(mem);
    return rc;
}

/* ---- WebP ---- */

static int encode_webp(const uint8_t *rgb, int w, int h, int quality, struct ig_buf *out)
{
    uint8_t *mem = NULL;
    size_t n = WebPEncodeRGB(rgb, w, h, w * 3, (float)quality, &mem);
    if (n == 0)
        return IG_ECODEC;
    int rc = ig_buf_append(out, mem, n);
    WebPFree(mem);
    return rc;
}

int ig_encode(const uint8_t *rgb, int w, int h, enum ig_format fmt, int quality,
              const struct ig_provenance *prov, size_t max, struct ig_buf *out)
{
    ig_buf_init(out, max);
    if (quality < 1)
        quality = 1;
    if (quality > 100)
        quality = 100;
    int rc;
    switch (fmt) {
    case IG_FMT_PNG:
        rc = encode_png(rgb, w, h, prov, out);
        break;
    case IG_FMT_JPEG:
        rc = encode_jpeg(rgb, w, h, quality, out);
        break;
    case IG_FMT_WEBP:
        rc = encode_webp(rgb, w, h, quality, out);
        break;
    default:
        rc = IG_EINVAL;
        break;
    }
    if (rc)
        ig_buf_release(out);
    return rc;
}

/* ---- probing and decoding ---- */

struct png_source {
    const uint8_t *data;
    size_t len, pos;
};

static void png_read_cb(png_structp png, png_bytep out, size_t n)
{
    struct png_source *src = png_get_io_ptr(png);
    if (n > src->len - src->pos)
        png_error(png, "truncated");
    memcpy(out, src->data + src->pos, n);
    src->pos += n;
}

/* Decodes a PNG into channels (3: RGB, 4: RGBA, alpha 255 where the image
 * has none) per pixel; header_only reads just the size and, when has_alpha
 * is not NULL, whether the image carries transparency. */
static int png_decode_into(const void *data, size_t len, int header_only, size_t max_pixels,
                           int channels, uint8_t **rgb, int *w, int *h, int *has_alpha)
{
    if (len < 8 || png_sig_cmp((png_const_bytep)data, 0, 8))
        return IG_ECODEC;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    struct png_source src = {data, len, 0};
    /* volatile: set after setjmp and read after libpng's longjmp, which
     * otherwise may see a stale copy (NULL) and leak them (found by
     * fuzz_multipart: a PNG truncated inside its image data). */
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    int rc = IG_ECODEC;
    if (!png || !info)
        goto out;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        pixels = NULL;
        rc = IG_ECODEC;
        goto out;
    }
    png_set_read_fn(png, &src, png_read_cb);
    png_read_info(png, info);
    png_uint_32 pw = png_get_image_width(png, info), phh = png_get_image_height(png, info);
    *w = (int)pw;
    *h = (int)phh;
    if (has_alpha)
        *has_alpha = (png_get_color_type(png, info) & PNG_COLOR_MASK_ALPHA) ||
                     png_get_valid(png, info, PNG_INFO_tRNS);
    if (header_only) {
        rc = 0;
        goto out;
    }
    if ((size_t)pw * phh > max_pixels) {
        rc = IG_ETOOBIG;
        goto out;
    }
    png_set_expand(png);
    png_set_strip_16(png);
    if (channels == 4)
        png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
    else
        png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_read_update_info(png, info);
    pixels = malloc((size_t)pw * phh * (size_t)channels);
    rows = malloc(sizeof *rows * phh);
    if (!pixels || !rows)
        png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < phh; y++)
        rows[y] = pixels + (size_t)y * pw * (size_t)channels;
    png_read_image(png, rows);
    *rgb = pixels;
    pixels = NULL;
    rc = 0;
out:
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    free(pixels);
    return rc;
}

static int png_decode(const void *data, size_t len, int header_only, size_t max_pixels,
                      uint8_t **rgb, int *w, int *h)
{
    return png_decode_into(data, len, header_only, max_pixels, 3, rgb, w, h, NULL);
}

int ig_png_has_alpha(const void *data, size_t len)
{
    int w, h, alpha = 0;
    return png_decode_into(data, len, 1, 0, 3, NULL, &w, &h, &alpha) == 0 && alpha;
}

int ig_decode_png_alpha(const void *data, size_t len, size_t max_pixels, uint8_t **alpha, int *w,
                        int *h)
{
    uint8_t *rgba = NULL;
    int rc = png_decode_into(data, len, 0, max_pixels, 4, &rgba, w, h, NULL);
    if (rc)
        return rc;
    size_t n = (size_t)*w * (size_t)*h;
    for (size_t i = 0; i < n; i++) /* compact in place: the alpha plane */
        rgba[i] = rgba[i * 4 + 3];
    uint8_t *shrunk = realloc(rgba, n ? n : 1);
    *alpha = shrunk ? shrunk : rgba;
    return 0;
}

static int jpeg_decode(const void *data, size_t len, int header_only, size_t max_pixels,
                       uint8_t **rgb, int *w, int *h)
{
    const uint8_t *b = data;
    if (len < 3 || b[0] != 0xff || b[1] != 0xd8 || b[2] != 0xff)
        return IG_ECODEC;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_ctx err;
    uint8_t *volatile pixels = NULL;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_error_exit_cb;
    err.mgr.emit_message = jpeg_silence_cb;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return IG_ECODEC;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    *w = (int)cinfo.image_width;
    *h = (int)cinfo.image_height;
    if (header_only) {
        jpeg_destroy_decompress(&cinfo);
        return 0;
    }
    if ((size_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        jpeg_destroy_decompress(&cinfo);
        return IG_ETOOBIG;
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    pixels = malloc((size_t)cinfo.output_width * cinfo.output_height * 3);
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        return IG_ENOMEM;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * cinfo.output_width * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *rgb = pixels;
    return 0;
}

static int webp_decode(const void *data, size_t len, int header_only, size_t max_pixels,
                       uint8_t **rgb, int *w, int *h)
{
    const uint8_t *b = data;
    if (len < 12 || memcmp(b, "RIFF", 4) || memcmp(b + 8, "WEBP", 4))
        return IG_ECODEC;
    if (!WebPGetInfo(data, len, w, h))
        return IG_ECODEC;
    if (header_only)
        return 0;
    if ((size_t)*w * (size_t)*h > max_pixels)
        return IG_ETOOBIG;
    uint8_t *px = WebPDecodeRGB(data, len, w, h);
    if (!px)
        return IG_ECODEC;
    /* Hand back malloc'd memory so callers free() every decoder's output. */
    size_t n = (size_t)*w * (size_t)*h * 3;
    *rgb = malloc(n);
    if (*rgb)
        memcpy(*rgb, px, n);
    WebPFree(px);
    return *rgb ? 0 : IG_ENOMEM;
}

enum ig_format ig_sniff(const void *data, size_t len)
{
    const uint8_t *b = data;
    if (len >= 8 && png_sig_cmp((png_const_bytep)data, 0, 8) == 0)
        return IG_FMT_PNG;
    if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return IG_FMT_JPEG;
    if (len >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return IG_FMT_WEBP;
    return IG_FMT_UNKNOWN;
}

int ig_probe(const void *data, size_t len, enum ig_format *fmt, int *w, int *h)
{
    int rc = IG_ECODEC;
    *fmt = ig_sniff(data, len);
    switch (*fmt) {
    case IG_FMT_PNG:
        rc = png_decode(data, len, 1, 0, NULL, w, h);
        break;
    case IG_FMT_JPEG:
        rc = jpeg_decode(data, len, 1, 0, NULL, w, h);
        break;
    case IG_FMT_WEBP:
        rc = webp_decode(data, len, 1, 0, NULL, w, h);
        break;
    default:
        break;
    }
    if (rc)
        *fmt = IG_FMT_UNKNOWN;
    return rc ? IG_ECODEC : 0;
}

int ig_image_decodes(const void *data, size_t len, size_t max_pixels)
{
    uint8_t *rgb = NULL;
    int w, h;
    int rc = ig_decode_rgb(data, len, max_pixels, &rgb, &w, &h);
    free(rgb);
    return rc == 0;
}

int ig_decode_rgb(const void *data, size_t len, size_t max_pixels, uint8_t **rgb, int *w, int *h)
{
    enum ig_format fmt;
    int rc = ig_probe(data, len, &fmt, w, h);
    if (rc)
        return rc;
    switch (fmt) {
    case IG_FMT_PNG:
        return png_decode(data, len, 0, max_pixels, rgb, w, h);
    case IG_FMT_JPEG:
        return jpeg_decode(data, len, 0, max_pixels, rgb, w, h);
    case IG_FMT_WEBP:
        return webp_decode(data, len, 0, max_pixels, rgb, w, h);
    default:
        return IG_ECODEC;
    }
}
