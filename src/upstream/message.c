/* message.c — a call's request, result and header lines; see message.h. */
#include "upstream/message.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ig_upstream_request_release(struct ig_upstream_request *req)
{
    free(req->url);
    free(req->body);
    ig_buf_release(&req->headers);
    req->url = NULL;
    req->body = NULL;
}

int ig_upstream_request_dup(struct ig_upstream_request *dst, const struct ig_upstream_request *src)
{
    *dst = *src;
    dst->url = NULL;
    dst->body = NULL;
    ig_buf_init(&dst->headers, src->headers.max);
    dst->url = src->url ? strdup(src->url) : NULL;
    if (src->url && !dst->url)
        goto fail;
    if (src->body) {
        dst->body = malloc(src->body_len + 1);
        if (!dst->body)
            goto fail;
        memcpy(dst->body, src->body, src->body_len);
        dst->body[src->body_len] = '\0';
    }
    if (src->headers.len && ig_buf_append(&dst->headers, src->headers.data, src->headers.len))
        goto fail;
    return 0;
fail:
    ig_upstream_request_release(dst);
    return IG_ENOMEM;
}

int ig_upstream_request_header(struct ig_upstream_request *req, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (nl + vl + 2 >= IG_HEADER_LINE_MAX || strpbrk(name, "\r\n") || strpbrk(value, "\r\n"))
        return IG_EINVAL;
    struct ig_buf *b = &req->headers;
    if (b->max == 0)
        ig_buf_init(b, 64 * 1024);
    size_t mark = b->len;
    int rc = ig_buf_reserve(b, nl + vl + 4 > 256 ? nl + vl + 4 : 256);
    rc = rc ? rc : ig_buf_append(b, name, nl);
    rc = rc ? rc : ig_buf_append(b, ": ", 2);
    rc = rc ? rc : ig_buf_append(b, value, vl);
    rc = rc ? rc : ig_buf_append(b, "\r\n", 2);
    if (rc) {
        b->len = mark; /* no half line */
        if (b->data)
            b->data[mark] = '\0';
        return rc == IG_ETOOBIG ? IG_EINVAL : IG_ENOMEM;
    }
    return 0;
}

const char *ig_upstream_result_header(const struct ig_upstream_result *r, const char *name,
                                      char *out, size_t out_size)
{
    size_t len;
    const char *v = ig_header_lines_find(&r->headers, name, &len);
    if (!v)
        return NULL;
    snprintf(out, out_size, "%.*s", (int)len, v);
    return out;
}

const char *ig_header_lines_find(const struct ig_buf *lines, const char *name, size_t *len)
{
    size_t n = strlen(name);
    const char *p = lines->data, *end = p ? p + lines->len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        if ((size_t)(line_end - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = line_end;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *len = (size_t)(ve - v);
            return v;
        }
        p = eol ? eol + 1 : end;
    }
    return NULL;
}
