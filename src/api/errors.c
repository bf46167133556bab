/* errors.c — domain errors as HTTP answers; see errors.h. */
#include "api/errors.h"

#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    int status;
    const char *type;
} kinds[IG_GERR_COUNT] = {
    [IG_GERR_NONE] = {500, "server_error"},
    [IG_GERR_INVALID] = {400, "invalid_request_error"},
    [IG_GERR_AUTH] = {401, "invalid_request_error"},
    [IG_GERR_PERMISSION] = {403, "permission_error"},
    [IG_GERR_NOT_FOUND] = {404, "invalid_request_error"},
    [IG_GERR_QUOTA] = {402, "insufficient_quota"},
    [IG_GERR_RATE_LIMITED] = {429, "rate_limit_error"},
    [IG_GERR_REFUSED] = {400, "invalid_request_error"},
    [IG_GERR_UPSTREAM] = {502, "server_error"},
    [IG_GERR_TIMEOUT] = {504, "server_error"},
    [IG_GERR_UNAVAILABLE] = {503, "server_error"},
    [IG_GERR_CANCELED] = {499, "invalid_request_error"},
    [IG_GERR_INTERNAL] = {500, "server_error"},
};

int ig_api_error_status(enum ig_gen_error_kind kind)
{
    return (unsigned)kind < IG_GERR_COUNT ? kinds[kind].status : 500;
}

const char *ig_api_error_type(enum ig_gen_error_kind kind)
{
    return (unsigned)kind < IG_GERR_COUNT ? kinds[kind].type : "server_error";
}

static int quoted_or_null(struct ig_buf *b, const char *s)
{
    if (!s)
        return ig_buf_puts(b, "null");
    int rc = ig_buf_puts(b, "\"");
    rc = rc ? rc : ig_buf_json_escape(b, s, strlen(s));
    return rc ? rc : ig_buf_puts(b, "\"");
}

char *ig_api_error_json(const char *type, const char *code, const char *param, const char *message,
                        size_t *len)
{
    struct ig_buf b;
    ig_buf_init(&b, 8192);
    int rc = ig_buf_puts(&b, "{\"error\":{\"message\":");
    rc = rc ? rc : quoted_or_null(&b, message ? message : "");
    rc = rc ? rc : ig_buf_puts(&b, ",\"type\":");
    rc = rc ? rc : quoted_or_null(&b, type);
    rc = rc ? rc : ig_buf_puts(&b, ",\"param\":");
    rc = rc ? rc : quoted_or_null(&b, param);
    rc = rc ? rc : ig_buf_puts(&b, ",\"code\":");
    rc = rc ? rc : quoted_or_null(&b, code);
    rc = rc ? rc : ig_buf_puts(&b, "}}");
    if (rc) {
        ig_buf_release(&b);
        return NULL;
    }
    return ig_buf_detach(&b, len);
}

/* The paths of the Ops-Center API (seed 003), whose clients read
 * `data.detail`: their errors carry it beside OpenAI's error object. */
#define OPS_CENTER_PREFIX "/api/v1/"

static int wants_detail(const struct ig_http_req *req)
{
    size_t n = sizeof OPS_CENTER_PREFIX - 1;
    return req->path && req->path_len >= n && memcmp(req->path, OPS_CENTER_PREFIX, n) == 0;
}

static void respond(struct ig_http_req *req, int status, const char *type, const char *code,
                    const char *param, const char *message)
{
    size_t len;
    char *body = ig_api_error_json(type, code, param, message, &len);
    if (body && wants_detail(req)) {
        /* {"error":{…},"detail":"message"} */
        struct ig_buf b;
        ig_buf_init(&b, len + 2 * strlen(message ? message : "") + 64);
        int rc = ig_buf_append(&b, body, len - 1);
        rc = rc ? rc : ig_buf_puts(&b, ",\"detail\":");
        rc = rc ? rc : quoted_or_null(&b, message ? message : "");
        rc = rc ? rc : ig_buf_puts(&b, "}");
        free(body);
        body = rc ? NULL : ig_buf_detach(&b, &len);
        if (rc)
            ig_buf_release(&b);
    }
    if (!body) {
        static const char fallback[] = "{\"error\":{\"message\":\"internal error\",\"type\":"
                                       "\"server_error\",\"param\":null,\"code\":null}}";
        ig_http_respond(req, status, "application/json", fallback, sizeof fallback - 1,
                        IG_BODY_STATIC);
        return;
    }
    ig_http_respond(req, status, "application/json", body, len, IG_BODY_FREE);
}

void ig_api_respond_error(struct ig_http_req *req, int status, const char *type, const char *code,
                          const char *param, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    respond(req, status, type, code, param, msg);
}

void ig_api_respond_gen_error(struct ig_http_req *req, const struct ig_gen_error *e)
{
    if (e->retry_after_s >= 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%ld", e->retry_after_s);
        ig_http_add_header(req, "Retry-After", ra);
    }
    respond(req, ig_api_error_status(e->kind), ig_api_error_type(e->kind), e->code,
            e->param[0] ? e->param : NULL, e->message);
}

void ig_api_refuse(struct ig_http_req *req, int status, const char *code, const char *message,
                   void *ud)
{
    (void)ud;
    respond(req, status, status >= 500 ? "server_error" : "invalid_request_error", code, NULL,
            message);
}
