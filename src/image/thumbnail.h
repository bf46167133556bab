/* thumbnail.h — small previews of stored images: WebP, at most max_side
 * pixels on the longer side (aspect kept), scaled by libwebp's rescaler. */
#ifndef IG_THUMBNAIL_H
#define IG_THUMBNAIL_H

#include "util/buf.h"

#include <stddef.h>

#define IG_THUMBNAIL_SIDE 256

/* Decodes a PNG, JPEG or WebP (at most max_pixels, checked before
 * decoding) and encodes its thumbnail into out (initialised here).
 * IG_ECODEC for an image that does not decode, IG_ETOOBIG, IG_ENOMEM. */
int ig_thumbnail_webp(const void *data, size_t len, int max_side, size_t max_pixels,
                      struct ig_buf *out);

#endif
