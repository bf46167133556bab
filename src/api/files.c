/* files.c — GET /v1/files/{sha256}.{ext}?expires=…&sig=…: stored images by
 * signed, expiring URL, and GET /v1/thumbnails/{sha256}.webp?… their 256 px
 * WebP thumbnails, made when first asked for (on the pool) and kept in
 * memory (app->thumbnails) for the next views. The signature is the capability, so no API
 * key is needed; it covers the path (hash and extension) and the expiry. A tampered or expired link
 * answers 403, a valid link to a missing blob 404. The blob is read on the thread pool. */
#include "api/app.h"
#include "api/handlers.h"
#include "core/imgcache.h"
#include "core/signing.h"
#include "image/codec.h"
#include "image/thumbnail.h"
#include "util/clock.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct file_ctx {
    struct ig_app *app;
    char sha[65];
    int thumbnail; /* /v1/thumbnails/: the image's 256 px WebP */
    enum ig_format format;
    int64_t expires_in;
    int rc;
    struct ig_buf data;
};

/* The ETag of a file: its hash, and for a thumbnail its size too. */
static void etag_of(const char *sha, int thumbnail, char out[80])
{
    snprintf(out, 80, "\"%.64s%s\"", sha, thumbnail ? ".t256" : "");
}

static void read_work(void *p)
{
    struct file_ctx *c = p;
    if (c->thumbnail) {
        size_t len;
        char *kept = ig_bytecache_get(c->app->thumbnails, c->sha, &len);
        if (kept) {
            ig_buf_init(&c->data, len + 1);
            c->rc = ig_buf_append(&c->data, kept, len);
            free(kept);
            return;
        }
    }
    c->rc =
        ig_blob_read(&c->app->blobs.base, c->sha, (size_t)c->app->cfg->max_image_bytes, &c->data);
    if (c->rc == 0 && c->thumbnail) {
        struct ig_buf thumb;
        c->rc = ig_thumbnail_webp(c->data.data, c->data.len, IG_THUMBNAIL_SIDE,
                                  (size_t)c->app->cfg->max_input_pixels, &thumb);
        ig_buf_release(&c->data);
        c->data = thumb;
        if (c->rc == 0)
            ig_bytecache_put(c->app->thumbnails, c->sha, thumb.data, thumb.len);
    }
}

static void read_done(struct ig_http_req *req, void *p)
{
    struct file_ctx *c = p;
    if (c->rc == IG_ENOTFOUND) {
        ig_api_respond_error(req, 404, "invalid_request_error", "file_not_found", NULL,
                             "No such file.");
    } else if (c->rc == IG_ECODEC && c->thumbnail) {
        ig_api_respond_error(req, 422, "invalid_request_error", "thumbnail_unavailable", NULL,
                             "This image cannot be made into a thumbnail.");
    } else if (c->rc) {
        ig_api_respond_error(req, 500, "server_error", NULL, NULL, "cannot read the file");
    } else {
        char etag[80], cache[96];
        etag_of(c->sha, c->thumbnail, etag);
        snprintf(cache, sizeof cache, "private, max-age=%lld, immutable", (long long)c->expires_in);
        ig_http_add_header(req, "ETag", etag);
        ig_http_add_header(req, "Cache-Control", cache);
        ig_http_add_header(req, "X-Content-Type-Options", "nosniff");
        size_t len;
        char *body = ig_buf_detach(&c->data, &len);
        ig_http_respond(req, 200, ig_format_mime(c->format), body, len, IG_BODY_FREE);
    }
    ig_buf_release(&c->data);
    free(c);
}

static void serve(struct ig_app *app, struct ig_http_req *req, const char *param, int thumbnail)
{
    const char *dot = strchr(param, '.');
    enum ig_format fmt = dot ? ig_format_parse(dot + 1, strlen(dot + 1)) : IG_FMT_UNKNOWN;
    if (!dot || !ig_blobs_valid_name(param, (size_t)(dot - param)) || fmt == IG_FMT_UNKNOWN ||
        strcmp(dot + 1, ig_format_name(fmt)) != 0 || (thumbnail && fmt != IG_FMT_WEBP)) {
        ig_api_respond_error(req, 404, "invalid_request_error", "file_not_found", NULL,
                             "No such file.");
        return;
    }
    int64_t now = ig_unix_time(), exp = 0;
    int v = ig_verify_signed(app->secret, sizeof app->secret, req->path, req->path_len, req->query,
                             req->query_len, now, &exp);
    if (v) {
        ig_api_respond_error(req, 403, "permission_error",
                             v == IG_ERANGE ? "url_expired" : "invalid_signature", NULL,
                             v == IG_ERANGE ? "This link has expired."
                                            : "This link's signature is not valid.");
        return;
    }
    size_t n;
    char etag[80];
    etag_of(param, thumbnail, etag);
    const char *inm = ig_http_header(req, "if-none-match", &n);
    if (inm && n == strlen(etag) && memcmp(inm, etag, n) == 0) {
        ig_http_add_header(req, "ETag", etag);
        ig_http_respond(req, 304, NULL, "", 0, IG_BODY_STATIC);
        return;
    }
    struct file_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    c->app = app;
    memcpy(c->sha, param, 64);
    c->sha[64] = '\0';
    c->format = fmt;
    c->thumbnail = thumbnail;
    c->expires_in = exp > now ? exp - now : 0;
    ig_buf_init(&c->data, 0);
    if (ig_app_offload(req, read_work, read_done, c)) {
        free(c);
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "overloaded");
    }
}

void ig_api_files_get(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    serve(app, req, param, 0);
}

void ig_api_thumbnails_get(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    serve(app, req, param, 1);
}
