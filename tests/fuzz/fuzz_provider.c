/* fuzz_provider.c — every network provider's answer parser. The first
 * byte picks the provider, the second the status, the third the poll
 * number; the rest is the body. Whatever the bytes, the result is one of
 * images, pending (with something to poll) or a classified error, and
 * every image is bytes, base64 text or a URL. */
#include "providers/common.h"
#include "providers/provider.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = {200, 201, 202, 400, 401, 402, 403, 404, 422, 429, 500, 503};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const struct ig_provider *net[16];
    size_t n = 0;
    for (size_t i = 0; ig_provider_at(i) && n < 16; i++)
        if (ig_provider_at(i)->parse)
            net[n++] = ig_provider_at(i);
    const struct ig_provider *p = net[data[0] % n];
    struct ig_deployment d = {.provider = p->name,
                              .model = p->models[0].id,
                              .api_base = "https://provider.example/v1",
                              .api_key = "k",
                              .weight = 1,
                              .timeout_ms = 1000};
    struct ig_upstream_result res;
    memset(&res, 0, sizeof res);
    res.status = statuses[data[1] % (sizeof statuses / sizeof statuses[0])];
    ig_buf_init(&res.body, 1 << 24);
    ig_buf_init(&res.headers, 1 << 12);
    ig_buf_append(&res.body, data + 3, size - 3);
    ig_buf_puts(&res.headers, "Content-Type: application/json\r\nRetry-After: 2\r\n");
    struct ig_provider_result out;
    p->parse(&d, &res, data[2] % 4, &out);
    if (out.outcome == IG_OUTCOME_IMAGES) {
        if (out.nimages == 0 || out.nimages > IG_MAX_IMAGES)
            abort();
        for (size_t i = 0; i < out.nimages; i++) {
            struct ig_provider_image *im = &out.images[i];
            if (!im->bytes && !im->b64 && !im->url)
                abort();
            (void)ig_provider_image_sniff(im);
            if (im->b64 && ig_provider_image_decode(im) == 0)
                (void)ig_provider_image_b64_canonical(im);
        }
    } else if (out.outcome == IG_OUTCOME_ERROR && out.nimages) {
        abort();
    }
    ig_provider_result_release(&out);
    ig_buf_release(&res.body);
    ig_buf_release(&res.headers);
    return 0;
}
