/* common.c — helpers shared by the network adapters; see common.h. */
#include "providers/common.h"
#include "providers/classify.h"
#include "image/codec.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/multipart.h"
#include "util/json.h"

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
    size_t plen = strlen(path), mlen = strlen(method);
    if (mlen >= sizeof out->method)
        return IG_EINVAL;
    out->url = malloc(blen + plen + 1);
    if (!out->url)
        return IG_ENOMEM;
    memcpy(out->url, d->api_base, blen);
    memcpy(out->url + blen, path, plen + 1);
    memcpy(out->method, method, mlen + 1);
    out->timeout_ms = d->timeout_ms;
    out->max_response_bytes = max_answer;
    return 0;
}

int ig_provider_url_request(struct ig_upstream_request *r, const char *method, const char *url,
                            size_t max_answer)
{
    memset(r, 0, sizeof *r);
    if (!url || (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)))
        return IG_EINVAL;
    ig_strlcpy(r->method, method, sizeof r->method);
    r->url = strdup(url);
    r->timeout_ms = 30000;
    r->max_response_bytes = max_answer;
    return r->url ? 0 : IG_ENOMEM;
}

void ig_provider_pending(struct ig_provider_result *out, long after_ms)
{
    out->outcome = IG_OUTCOME_PENDING;
    out->poll_after_ms = after_ms;
    out->queue_position = out->percent = -1; /* the adapter says, when it knows */
    out->message[0] = '\0';
}

int ig_provider_json_body(struct ig_upstream_request *out, json_t *body)
{
    out->body = body ? ig_json_dumps(body, &out->body_len) : NULL;
    json_decref(body);
    if (!out->body)
        return IG_ENOMEM;
    return ig_upstream_request_header(out, "Content-Type", "application/json");
}

int ig_provider_form_fields(struct ig_multipart *mp, json_t *fields)
{
    const char *k;
    json_t *v;
    json_object_foreach(fields, k, v)
    {
        char text[64];
        const char *value = text;
        if (json_is_string(v))
            value = json_string_value(v);
        else if (json_is_integer(v))
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            snprintf(text, sizeof text, "%.17g", json_real_value(v));
        else if (json_is_boolean(v))
            value = json_is_true(v) ? "true" : "false";
        else
            return IG_EINVAL;
        int rc = ig_multipart_field(mp, k, value);
        if (rc)
            return rc;
    }
    return 0;
}

int ig_provider_form_uploads(struct ig_multipart *mp, const struct ig_gen_request *req,
                             const char *image_name)
{
    for (size_t i = 0; i < req->ninputs; i++) {
        const struct ig_upload *in = &req->inputs[i];
        char filename[32];
        snprintf(filename, sizeof filename, "image-%zu.%s", i + 1, ig_format_name(in->format));
        int rc = ig_multipart_file(mp, image_name, filename, ig_format_mime(in->format), in->bytes,
                                   in->len);
        if (rc)
            return rc;
    }
    if (!req->mask.bytes)
        return 0;
    return ig_multipart_file(mp, "mask", "mask.png", "image/png", req->mask.bytes, req->mask.len);
}

int ig_provider_form_body(struct ig_upstream_request *out, struct ig_multipart *mp)
{
    int rc = ig_multipart_finish(mp);
    rc = rc ? rc : ig_upstream_request_header(out, "Content-Type", mp->content_type);
    if (rc == 0)
        out->body = ig_buf_detach(&mp->body, &out->body_len);
    return rc;
}

int ig_provider_auth(struct ig_upstream_request *r, const char *scheme, const char *key)
{
    if (!key || !key[0])
        return 0;
    char v[4200];
    size_t sl = strlen(scheme), kl = strlen(key);
    if (sl + 1 + kl >= sizeof v)
        return IG_EINVAL;
    memcpy(v, scheme, sl);
    v[sl] = ' ';
    memcpy(v + sl + 1, key, kl + 1);
    int rc = ig_upstream_request_header(r, "Authorization", v);
    explicit_bzero(v, sl + 1 + kl); /* what held the key, not all of v */
    return rc;
}

int ig_provider_parse_begin(const struct ig_upstream_result *res, struct ig_provider_result *out,
                            json_t **root)
{
    memset(out, 0, sizeof *out);
    *root = NULL;
    if (!res->transport_error && res->status >= 200 && res->status < 300) {
        /* What a malformed success would be, until the adapter reads it. */
        out->outcome = IG_OUTCOME_ERROR;
        out->error_class = IG_ERRC_RETRYABLE;
        out->upstream_status = res->status;
        out->retry_after_ms = -1;
        ig_strlcpy(out->message, "the provider's answer is malformed", sizeof out->message);
        *root = ig_json_loadb(res->body.data ? res->body.data : "", res->body.len, 0, NULL);
        return 1;
    }
    ig_classify_failure(res, out);
    if (res->transport_error)
        return 0;
    *root = ig_json_loadb(res->body.data ? res->body.data : "", res->body.len, 0, NULL);
    json_t *err = json_object_get(*root, "error");
    json_t *det = json_object_get(*root, "detail");
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (!msg)
        msg = json_string_value(err);
    if (!msg)
        msg = json_string_value(det);
    if (!msg && json_is_array(det))
        msg = json_string_value(json_object_get(json_array_get(det, 0), "msg"));
    if (!msg)
        msg = json_string_value(json_object_get(*root, "message"));
    if (!msg)
        msg = json_string_value(json_object_get(*root, "title"));
    if (msg)
        snprintf(out->message, sizeof out->message, "%.250s", msg);
    return 0;
}

int ig_provider_b64_image(struct ig_provider_image *im, json_t *str)
{
    size_t n = json_string_length(str);
    if (!json_is_string(str) || n == 0 || n % 4)
        return IG_EINVAL;
    im->b64_json = json_incref(str);
    im->b64 = json_string_value(str);
    im->b64_len = n;
    return 0;
}

int ig_provider_b64_text(struct ig_provider_image *im, const char *b64)
{
    size_t n = strlen(b64);
    if (n == 0 || n % 4)
        return IG_EINVAL;
    im->b64_copy = malloc(n + 1);
    if (!im->b64_copy)
        return IG_ENOMEM;
    memcpy(im->b64_copy, b64, n + 1);
    im->b64 = im->b64_copy;
    im->b64_len = n;
    return 0;
}

enum ig_format ig_provider_image_sniff(const struct ig_provider_image *im)
{
    if (im->bytes)
        return ig_sniff(im->bytes, im->len);
    if (!im->b64)
        return IG_FMT_UNKNOWN;
    /* 16 characters are 12 bytes: every signature ig_sniff knows. */
    uint8_t head[IG_SNIFF_BYTES + 3];
    size_t chars = im->b64_len < 16 ? im->b64_len : 16;
    long got = ig_base64_decode(im->b64, chars, head);
    return got > 0 ? ig_sniff(head, (size_t)got) : IG_FMT_UNKNOWN;
}

int ig_provider_image_decode(struct ig_provider_image *im)
{
    if (im->bytes)
        return 0;
    if (!im->b64)
        return IG_EINVAL;
    im->bytes = malloc(im->b64_len / 4 * 3 + 1);
    long got = im->bytes ? ig_base64_decode(im->b64, im->b64_len, im->bytes) : IG_ENOMEM;
    if (got <= 0) {
        free(im->bytes);
        im->bytes = NULL;
        return got == IG_ENOMEM ? IG_ENOMEM : IG_EINVAL;
    }
    im->len = (size_t)got;
    return 0;
}

int ig_provider_image_b64_canonical(const struct ig_provider_image *im)
{
    if (!im->b64 || !im->bytes || im->len == 0 || im->b64_len != ig_base64_len(im->len))
        return 0;
    /* The decoder takes '=' anywhere (as zero bits) and nothing else
     * outside the alphabet, and any space it trimmed would show in the
     * length. So with no '=' before the last group, every group before it
     * stands for exactly its 3 bytes; only the last can carry stray bits. */
    if (memchr(im->b64, '=', im->b64_len - 4))
        return 0;
    size_t tail = im->len % 3 ? im->len % 3 : 3;
    char last[5];
    ig_base64_encode(im->bytes + im->len - tail, tail, last);
    return memcmp(last, im->b64 + im->b64_len - 4, 4) == 0;
}

int ig_provider_url_image(struct ig_provider_image *im, const char *url)
{
    if (strncmp(url, "data:", 5) == 0) {
        const char *b64 = strstr(url, ";base64,");
        return b64 ? ig_provider_b64_text(im, b64 + 8) : IG_EINVAL;
    }
    im->url = strdup(url);
    return im->url ? 0 : IG_ENOMEM;
}

void ig_provider_malformed(struct ig_provider_result *out, const char *message)
{
    ig_provider_result_release(out);
    out->outcome = IG_OUTCOME_ERROR;
    out->error_class = IG_ERRC_RETRYABLE;
    out->retry_after_ms = -1;
    ig_strlcpy(out->message, message, sizeof out->message);
}

static const struct ig_aspect_ratio ratios[] = {{"1:1", 1, 1}, {"16:9", 16, 9}, {"21:9", 21, 9},
                                                {"2:3", 2, 3}, {"3:2", 3, 2},   {"4:5", 4, 5},
                                                {"5:4", 5, 4}, {"9:16", 9, 16}, {"9:21", 9, 21}};

const char *ig_nearest_aspect_ratio(int width, int height, const struct ig_aspect_ratio *list,
                                    size_t n)
{
    double want = (double)width / (double)height, best = 1e9;
    const char *name = list[0].name;
    for (size_t i = 0; i < n; i++) {
        double r = (double)list[i].w / (double)list[i].h;
        double diff = r > want ? r / want : want / r;
        if (diff < best) {
            best = diff;
            name = list[i].name;
        }
    }
    return name;
}

const char *ig_stability_aspect_ratio(int width, int height)
{
    return ig_nearest_aspect_ratio(width, height, ratios, sizeof ratios / sizeof ratios[0]);
}
