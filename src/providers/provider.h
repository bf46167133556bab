/* provider.h — what a provider is to the rest of the gateway.
 *
 * Two kinds. An in-process provider (the built-in local renderer)
 * generates on the thread pool through generate(). A network provider
 * (OpenAI, Stability, … — the provider layer) will be a pure translator
 * with prepare(request) → upstream request and parse(upstream response) →
 * images | pending | error, while the dispatcher does all I/O; its hooks
 * join this struct then. Either way the result is a list of encoded
 * images handed to the store stage. */
#ifndef IG_PROVIDER_H
#define IG_PROVIDER_H

#include "core/request.h"
#include "util/buf.h"

#include <stdint.h>

struct ig_image_out {
    struct ig_buf data; /* encoded bytes, owned */
    enum ig_format format;
    int width, height;
    int64_t seed;
};

struct ig_provider {
    const char *name;
    /* In-process generation of image `index` of req with the given seed.
     * Blocking (runs on the thread pool); thread-safe. out->data is bounded
     * by max_bytes. 0 or a negative IG_E* code. */
    int (*generate)(const struct ig_gen_request *req, int index, uint64_t seed,
                    const char *generation_id, size_t max_bytes, struct ig_image_out *out);
};

/* By name ("local"); NULL when there is none. */
const struct ig_provider *ig_provider_find(const char *name);

extern const struct ig_provider ig_provider_local;

#endif
