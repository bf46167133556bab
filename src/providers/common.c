/* common.c — helpers shared by the network adapters; see common.h. */
#include "providers/common.h"
#include "util/crypto.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ig_provider_request(struct ig_upstream_request *out, const char *method,
                        const struct ig_deployment *d, const char *path, size_t max_answer)
{
    memset(out, 0, sizeof *out);
    size_t blen = strlen(d->api_base);
    while (blen && d->api_base[blen - 1] == '/')
        blen--;
    size_t ulen = blen + strlen(path) + 1;
    out->url = malloc(ulen);
    if (!out->url)
        return IG_ENOMEM;
    snprintf(out->url, ulen, "%.*s%s", (int)blen, d->api_base, path);
    snprintf(out->method, sizeof out->method, "%s", method);
    out->timeout_ms = d->timeout_ms;
    out->max_response_bytes = max_answer;
    return 0;
}

int ig_provider_json_body(struct ig_upstream_request *out, json_t *body)
{
    out->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!out->body)
        return IG_ENOMEM;
    out->body_len = strlen(out->body);
    return ig_upstream_request_header(out, "Content-Type", "application/json");
}

int ig_provider_b64_image(struct ig_provider_image *im, const char *b64)
{
    size_t n = strlen(b64);
    im->bytes = malloc(n / 4 * 3 + 3);
    long got = im->bytes ? ig_base64_decode(b64, n, im->bytes) : IG_ENOMEM;
    if (got <= 0) {
        free(im->bytes);
        im->bytes = NULL;
        return IG_EINVAL;
    }
    im->len = (size_t)got;
    return 0;
}

void ig_provider_malformed(struct ig_provider_result *out, const char *message)
{
    ig_provider_result_release(out);
    out->outcome = IG_OUTCOME_ERROR;
    out->error_class = IG_ERRC_RETRYABLE;
    out->retry_after_ms = -1;
    snprintf(out->message, sizeof out->message, "%s", message);
}
