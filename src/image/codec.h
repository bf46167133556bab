/* codec.h — image encoding and probing through libpng, libjpeg-turbo and
 * libwebp. Encoders write into a bounded buffer; the prober reads only
 * headers and checks magic bytes, so it is safe on untrusted bytes; the
 * decoders bound pixels before they allocate. */
#ifndef IG_CODEC_H
#define IG_CODEC_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

enum ig_format { IG_FMT_PNG, IG_FMT_JPEG, IG_FMT_WEBP, IG_FMT_UNKNOWN };

/* Text chunks written into PNGs (iTXt, UTF-8). Any field may be NULL.
 * Only what follows from the inputs: the same inputs give the same bytes,
 * so identical images are stored once (the generation id is in the
 * record and the answer, never in the file). The prompt's text is there
 * only when the operator asks (provenance.prompt): anyone holding a
 * signed URL reads it; its hex SHA-256 lets its owner recognise it. */
struct ig_provenance {
    const char *prompt;
    const char *prompt_sha256;
    const char *model;
    const char *seed;
};

const char *ig_format_name(enum ig_format f); /* "png" */
const char *ig_format_mime(enum ig_format f); /* "image/png" */
/* "png", "jpeg" (or "jpg") and "webp"; IG_FMT_UNKNOWN otherwise. */
enum ig_format ig_format_parse(const char *name, size_t n);

/* Encodes w*h RGB pixels. quality (1–100) applies to JPEG and WebP. out is
 * initialised by the call and bounded by max bytes. */
int ig_encode(const uint8_t *rgb, int w, int h, enum ig_format fmt, int quality,
              const struct ig_provenance *prov, size_t max, struct ig_buf *out);

/* The format an encoded image's magic bytes claim (PNG's signature, JPEG's
 * SOI marker, WebP's RIFF header), without reading further: a cheap first
 * check. IG_FMT_UNKNOWN for anything else. */
#define IG_SNIFF_BYTES 12 /* enough leading bytes for every signature */
enum ig_format ig_sniff(const void *data, size_t len);

/* Reads the format and dimensions from an encoded image's header.
 * IG_ECODEC when the bytes are not a complete PNG, JPEG or WebP header. */
int ig_probe(const void *data, size_t len, enum ig_format *fmt, int *w, int *h);

/* Decodes a PNG, JPEG or WebP into RGB (malloc'd, w*h*3). Refuses images over max_pixels before
 * allocating. */
int ig_decode_rgb(const void *data, size_t len, size_t max_pixels, uint8_t **rgb, int *w, int *h);

/* Whether the whole image decodes (not just its header), within
 * max_pixels: for uploads, checked before anything runs. */
int ig_image_decodes(const void *data, size_t len, size_t max_pixels);
/* Whether a PNG carries transparency (an alpha channel or tRNS); 0 for
 * anything else. Header only. */
int ig_png_has_alpha(const void *data, size_t len);
/* Decodes a PNG's alpha plane (w*h bytes, malloc'd; 255 where the image
 * has no alpha). Refuses images over max_pixels before allocating. */
int ig_decode_png_alpha(const void *data, size_t len, size_t max_pixels, uint8_t **alpha, int *w,
                        int *h);

#endif
