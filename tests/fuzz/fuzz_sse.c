/* fuzz_sse.c — splitting a provider's event stream (util/sse.c), as the
 * relay does: whole, and fed in two pieces at every split point the
 * first byte chooses. Every event found lies inside the input. */
#include "util/sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t events(const char *p, size_t len)
{
    size_t off = 0, used, n = 0;
    struct ig_sse_event ev;
    while ((used = ig_sse_next(p + off, len - off, &ev)) > 0) {
        if (used > len - off)
            abort();
        if (ev.block < p + off || ev.block + ev.block_len > p + len)
            abort();
        if (ev.name_len && (ev.name < p || ev.name + ev.name_len > p + len))
            abort();
        if (ev.data_len && (ev.data < p || ev.data + ev.data_len > p + len))
            abort();
        (void)ig_sse_name_ends(&ev, ".partial_image");
        off += used;
        n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    events(copy, size);
    free(copy);
    return 0;
}
