/* thumbnail.c — WebP thumbnails; see thumbnail.h. */
#include "image/thumbnail.h"
#include "image/codec.h"
#include "util/err.h"

#include <stdlib.h>
#include <webp/encode.h>

int ig_thumbnail_webp(const void *data, size_t len, int max_side, size_t max_pixels,
                      struct ig_buf *out)
{
    ig_buf_init(out, (size_t)8 << 20);
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    int rc = ig_decode_rgb(data, len, max_pixels, &rgb, &w, &h);
    if (rc)
        return rc;
    WebPConfig config;
    WebPPicture pic;
    if (!WebPConfigInit(&config) || !WebPPictureInit(&pic)) {
        free(rgb);
        return IG_ECODEC;
    }
    config.quality = 80;
    pic.width = w;
    pic.height = h;
    int ok = WebPPictureImportRGB(&pic, rgb, w * 3);
    free(rgb);
    if (ok && (w > max_side || h > max_side)) {
        int tw = w >= h ? max_side : (int)((long)w * max_side / h);
        int th = w >= h ? (int)((long)h * max_side / w) : max_side;
        ok = WebPPictureRescale(&pic, tw > 0 ? tw : 1, th > 0 ? th : 1);
    }
    WebPMemoryWriter mem;
    WebPMemoryWriterInit(&mem);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &mem;
    ok = ok && WebPEncode(&config, &pic);
    WebPPictureFree(&pic);
    rc = ok ? ig_buf_append(out, mem.mem, mem.size) : IG_ENOMEM;
    WebPMemoryWriterClear(&mem);
    return rc;
}
