/* cors.c — see cors.h. */
#include "api/cors.h"
#include "api/errors.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdio.h>
#include <string.h>

#define EXPOSED                                                                                    \
    "x-request-id, x-imagegate-cost, x-imagegate-credits-remaining, "                              \
    "x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, "     \
    "x-ratelimit-limit-images, x-ratelimit-remaining-images, x-ratelimit-reset-images, "           \
    "retry-after"
#define ALLOWED_HEADERS                                                                            \
    "authorization, content-type, x-api-key, idempotency-key, x-imagegate-cache, x-request-id"
#define ALLOWED_METHODS "GET, HEAD, POST, PATCH, DELETE, OPTIONS"

int ig_cors_parse(const char *text, struct ig_cors *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    const char *cursor = text, *p;
    size_t n;
    while ((p = ig_list_next(&cursor, &n))) {
        /* An origin is scheme://host[:port]: no path, not even "/". */
        size_t scheme = !strncmp(p, "http://", 7) ? 7 : !strncmp(p, "https://", 8) ? 8 : 0;
        if (n == 1 && *p == '*') {
            out->any = 1;
        } else if (n >= sizeof out->origins[0] || out->n == IG_CORS_MAX_ORIGINS || !scheme ||
                   n <= scheme || memchr(p + scheme, '/', n - scheme)) {
            snprintf(err, err_size,
                     "'%.*s': origins are scheme://host[:port] (at most %d of them), or *",
                     (int)(n > 60 ? 60 : n), p, IG_CORS_MAX_ORIGINS);
            return IG_EINVAL;
        } else {
            memcpy(out->origins[out->n++], p, n);
        }
    }
    return 0;
}

/* The request's Origin when it is allowed (NUL-terminated in buf). */
static const char *allowed_origin(const struct ig_cors *c, const struct ig_http_req *req, char *buf,
                                  size_t size)
{
    size_t n;
    const char *o = ig_http_header(req, "origin", &n);
    if (!o || n == 0 || n >= size || (!c->any && c->n == 0))
        return NULL;
    memcpy(buf, o, n);
    buf[n] = '\0';
    if (strpbrk(buf, "\r\n"))
        return NULL;
    if (c->any)
        return buf;
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->origins[i], buf) == 0)
            return buf;
    return NULL;
}

void ig_cors_apply(const struct ig_cors *c, struct ig_http_req *req)
{
    char buf[256];
    const char *origin = allowed_origin(c, req, buf, sizeof buf);
    if (!origin)
        return;
    ig_http_add_header(req, "Access-Control-Allow-Origin", origin);
    ig_http_add_header(req, "Vary", "Origin");
    ig_http_add_header(req, "Access-Control-Expose-Headers", EXPOSED);
}

int ig_cors_preflight(const struct ig_cors *c, struct ig_http_req *req)
{
    size_t n;
    if (req->method != HTTP_OPTIONS || !ig_http_header(req, "origin", &n) ||
        !ig_http_header(req, "access-control-request-method", &n))
        return 0;
    char buf[256];
    if (!allowed_origin(c, req, buf, sizeof buf)) {
        ig_api_respond_error(req, 403, "permission_error", "cors_origin_not_allowed", NULL,
                             "This origin may not call the API (cors.allowed_origins).");
        return 1;
    }
    ig_http_add_header(req, "Access-Control-Allow-Methods", ALLOWED_METHODS);
    ig_http_add_header(req, "Access-Control-Allow-Headers", ALLOWED_HEADERS);
    ig_http_add_header(req, "Access-Control-Max-Age", "600");
    ig_http_respond(req, 204, NULL, NULL, 0, IG_BODY_STATIC);
    return 1;
}
