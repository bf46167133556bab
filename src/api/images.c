/* images.c — POST /v1/images/generations, /v1/images/edits and
 * /v1/images/variations.
 *
 * Edits and variations first parse their multipart form on the thread
 * pool (GMime; the body is bounded by limits.max_upload_bytes), then run
 * the same pipeline as a generation with the uploads in the request.
 *
 * The handler is a short pipeline whose stages park and resume:
 *   validate (on the loop) → admit (bounded count of pending renders, 503
 *   past it) → generate + store + record (one thread-pool task) → respond
 *   (on the loop).
 * Stages that later issues add (moderation, limits, idempotency, pricing,
 * cache, dispatch to network providers, settlement) slot in between admit
 * and generate without changing the ends.
 *
 * The store step, on the thread pool, writes each image to the
 * content-addressed store (rendering it first for the local provider),
 * records the generation and its images, and builds the response body, so
 * the loop only sends bytes. A failed generation is recorded too, with its
 * error. Network generations reach the store step through the worker's
 * batcher (core/batch.h): those that finish while a batch is being stored
 * go together, with one thread crossing each way and one store call (one
 * transaction) between them. Local renders are CPU-heavy and go one by one,
 * so they run side by side on the pool. */
#include "api/app.h"
#include "core/batch.h"
#include "core/dispatch.h"
#include "core/signing.h"
#include "image/codec.h"
#include "providers/common.h"
#include "providers/provider.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"
#include "util/sse.h"
#include "util/json.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct gen_ctx {
    struct ig_app *app;
    struct ig_http_req *req;
    struct ig_gen_request greq;
    char id[IG_ID_MAX];
    char key_id[IG_ID_MAX];
    char request_id[72];
    char base_url[300];
    uint64_t seed;
    int64_t created;
    uint64_t start_us;
    struct ig_dispatch *dispatch;
    struct ig_batch_item finish_item; /* in the worker's store-step batcher */
    /* Streaming (stream=true): the next partial to render and its event. */
    int streaming;
    int partial_next;
    char *event;
    /* Network models: what dispatch brought; allocated when it ends, so a
     * request held on a slow provider does not carry it meanwhile. */
    struct ig_dispatch_outcome *outcome;
    /* A provider's stream being relayed: bytes not yet split into events. */
    struct ig_buf sse;
    /* Uploads: the form's parse result (on the thread pool). */
    int parse_rc;
    struct ig_api_error *parse_err; /* only while the form is parsed */
    /* results */
    int rc;
    char *body;
    size_t body_len;
    int images;
    size_t bytes_created;
    int blobs_created;
};

/* Read through this: an empty outcome (not ok) until dispatch has ended. */
static const struct ig_dispatch_outcome no_outcome = {.retry_after_s = -1};

static const struct ig_dispatch_outcome *outcome_of(const struct gen_ctx *c)
{
    return c->outcome ? c->outcome : &no_outcome;
}

/* Frees a context and everything it owns. */
static void ctx_free(struct gen_ctx *c)
{
    free(c->body);
    ig_buf_release(&c->sse);
    if (c->outcome) {
        ig_provider_result_release(&c->outcome->result);
        free(c->outcome);
    }
    ig_gen_request_release(&c->greq);
    free(c);
}

/* The signed URL of a stored image, into url. */
static void signed_url(const struct gen_ctx *c, const struct ig_image_record *im, char *url,
                       size_t size)
{
    char path[160], sig[IG_SIG_HEX];
    int64_t expires = ig_unix_time() + c->app->cfg->url_ttl_s;
    int n = snprintf(path, sizeof path, "/v1/files/%s.%s", im->sha256, im->format);
    ig_sign_path(c->app->secret, sizeof c->app->secret, path, (size_t)n, expires, sig);
    snprintf(url, size, "%s%s?expires=%lld&sig=%s", c->base_url, path, (long long)expires, sig);
}

/* What the store step builds for one generation on the thread pool:
 * stored images, the answer's parts, the history record. */
struct finish {
    struct ig_image_record images[IG_MAX_IMAGES];
    int made;
    const char *error; /* static or in c->outcome; NULL on success */
    /* The answer's "data" items as JSON text, written directly: jansson
     * would scan a megabyte of base64 character by character to escape
     * it. first_b64 is where the first image's base64 starts in it. A
     * plain (not streamed) answer begins here, before the items, and
     * encode_answer finishes it in place rather than copying them. */
    struct ig_buf items;
    size_t first_b64, first_b64_len;
    char *params; /* the normalized request, for the record */
    struct ig_generation_record g;
};

/* Fills f->g, the history record of the generation as f now stands. */
static void fill_record(struct gen_ctx *c, struct finish *f)
{
    struct ig_gen_request *r = &c->greq;
    struct ig_generation_record *g = &f->g;
    memset(g, 0, sizeof *g);
    ig_strlcpy(g->id, c->id, sizeof g->id);
    ig_strlcpy(g->key_id, c->key_id, sizeof g->key_id);
    ig_strlcpy(g->request_id, c->request_id, sizeof g->request_id);
    ig_strlcpy(g->model, r->model->id, sizeof g->model);
    ig_strlcpy(g->provider, r->model->provider, sizeof g->provider);
    f->params = ig_gen_request_normalized_json(r);
    g->prompt = r->prompt;
    g->params_json = f->params;
    g->n = r->n;
    g->width = r->width;
    g->height = r->height;
    g->status = f->error ? "failed" : "succeeded";
    g->error = f->error;
    g->created_ms = c->created * 1000;
    g->completed_ms = ig_unix_ms();
    g->latency_us = (int64_t)(ig_now_us() - c->start_us);
}

static void finish_release(struct finish *f)
{
    free(f->params);
    ig_buf_release(&f->items);
}

/* Appends one stored image to the answer's items: its base64 or signed
 * URL, and the revised prompt when there is one. */
static int add_item(struct gen_ctx *c, struct finish *f, const uint8_t *bytes, size_t len,
                    const char *b64, const struct ig_image_record *im, const char *revised_prompt)
{
    struct ig_buf *b = &f->items;
    int rc = ig_buf_puts(b, f->made ? ",{" : "{");
    if (c->greq.response_format == IG_RESP_B64) {
        size_t n = ig_base64_len(len);
        rc = rc ? rc : ig_buf_puts(b, "\"b64_json\":\"");
        rc = rc ? rc : ig_buf_reserve(b, n);
        if (rc == 0) {
            if (f->made == 0) {
                f->first_b64 = b->len;
                f->first_b64_len = n;
            }
            /* The alphabet needs no escapes. */
            if (b64)
                memcpy(b->data + b->len, b64, n);
            else
                ig_base64_encode(bytes, len, b->data + b->len);
            b->len += n;
        }
        rc = rc ? rc : ig_buf_puts(b, "\"");
    } else {
        char url[700];
        signed_url(c, im, url, sizeof url);
        rc = rc ? rc : ig_buf_puts(b, "\"url\":\"");
        rc = rc ? rc : ig_buf_json_escape(b, url, strlen(url));
        rc = rc ? rc : ig_buf_puts(b, "\"");
    }
    if (revised_prompt) {
        rc = rc ? rc : ig_buf_puts(b, ",\"revised_prompt\":\"");
        rc = rc ? rc : ig_buf_json_escape(b, revised_prompt, strlen(revised_prompt));
        rc = rc ? rc : ig_buf_puts(b, "\"");
    }
    rc = rc ? rc : ig_buf_puts(b, "}");
    return rc ? IG_ENOMEM : 0;
}

/* Stores one encoded image (its format and size read from its header) and
 * adds it to the answer; b64, when not NULL, is its base64 exactly as
 * ig_base64_encode would write it, handed out instead of encoding again. */
static int store_image(struct gen_ctx *c, struct finish *f, const uint8_t *bytes, size_t len,
                       const char *b64, int64_t seed, const char *revised_prompt)
{
    struct ig_image_record *im = &f->images[f->made];
    memset(im, 0, sizeof *im);
    im->index = f->made;
    enum ig_format fmt;
    if (ig_probe(bytes, len, &fmt, &im->width, &im->height))
        return IG_ECODEC;
    int created = 0;
    int rc = ig_blobs_put(&c->app->blobs, bytes, len, im->sha256, &created);
    if (rc)
        return rc;
    ig_strlcpy(im->format, ig_format_name(fmt), sizeof im->format);
    im->bytes = (int64_t)len;
    im->seed = seed;
    if (created) {
        c->blobs_created++;
        c->bytes_created += len;
    }
    return add_item(c, f, bytes, len, b64, im, revised_prompt);
}

/* A provider's image that is not one after all (its base64 or its header
 * is broken; dispatch only checked its first bytes): the provider's fault,
 * answered as dispatch answers a failed provider. */
static void provider_image_failed(struct gen_ctx *c, struct finish *f, int rc)
{
    struct ig_dispatch_outcome *o = c->outcome;
    o->ok = 0;
    o->status = 502;
    o->type = "server_error";
    o->code = "provider_error";
    o->retry_after_s = -1;
    snprintf(o->message, sizeof o->message, "The provider's image cannot be read: %s",
             rc == IG_EINVAL ? "its base64 is malformed" : "it is not a PNG, JPEG or WebP image");
    f->error = o->message;
    ig_warn("generation %s: %s", c->id, o->message);
}

static char *sse_event(const char *name, json_t *data);

/* An event's framing: sse_begin, then the data (JSON on one line), then
 * SSE_END. */
#define SSE_END "\n\n"
static int sse_begin(struct ig_buf *b, const char *name)
{
    return ig_buf_printf(b, "event: %s\ndata: ", name);
}

/* OpenAI's event names: image_generation.* for generations, image_edit.*
 * for edits. */
static const char *event_name(const struct gen_ctx *c, int completed)
{
    if (c->greq.op == IG_OP_EDIT)
        return completed ? "image_edit.completed" : "image_edit.partial_image";
    return completed ? "image_generation.completed" : "image_generation.partial_image";
}

/* Room in the answer for what surrounds its items (_metadata included). */
#define ANSWER_ROOM (64 * 1024)

/* The store step's first half: the images (from dispatch, or rendered
 * here for the local provider) written to the blob store and added to the
 * answer, and the record filled. Sets c->rc and f->error on failure. */
static void store_images(struct gen_ctx *c, struct finish *f)
{
    struct ig_gen_request *r = &c->greq;
    const struct ig_provider *prov = ig_provider_find(r->model->provider);
    const struct ig_dispatch_outcome *o = outcome_of(c);
    /* Bounded by what the images can be: base64 of each, plus room for
     * the answer around them. */
    ig_buf_init(&f->items, IG_MAX_IMAGES * ((size_t)c->app->cfg->max_image_bytes / 3 * 4 + 8192) +
                               ANSWER_ROOM);
    /* A network model's answer in one allocation. */
    size_t need = 4096;
    for (size_t i = 0; r->model->ndeployments && i < o->result.nimages; i++)
        need +=
            (r->response_format == IG_RESP_B64 ? ig_base64_len(o->result.images[i].len) : 0) + 1024;
    int rc = ig_buf_reserve(&f->items, need);
    if (!c->streaming) {
        rc = rc ? rc : ig_buf_puts(&f->items, "{\"created\":");
        rc = rc ? rc : ig_buf_put_u64(&f->items, (unsigned long long)c->created);
        rc = rc ? rc : ig_buf_puts(&f->items, ",\"data\":[");
    }
    if (rc) {
        c->rc = IG_ENOMEM;
        f->error = "out of memory";
    }
    if (r->model->ndeployments) {
        /* Network model: dispatch already brought the bytes (or failed). */
        if (!o->ok) {
            c->rc = c->outcome ? IG_EIO : IG_ENOMEM;
            f->error = c->outcome ? o->message : "out of memory";
        }
        for (size_t i = 0; !f->error && i < o->result.nimages; i++) {
            struct ig_provider_image *pi = &c->outcome->result.images[i];
            c->rc = ig_provider_image_decode(pi);
            if (c->rc == 0)
                c->rc = store_image(c, f, pi->bytes, pi->len,
                                    ig_provider_image_b64_canonical(pi) ? pi->b64 : NULL, pi->seed,
                                    pi->revised_prompt);
            if (c->rc == IG_EINVAL || c->rc == IG_ECODEC)
                provider_image_failed(c, f, c->rc);
            else if (c->rc)
                f->error = "cannot store the image";
            else
                f->made++;
        }
    } else if (r->n > IG_MAX_IMAGES) {
        c->rc = IG_ERANGE;
        f->error = "too many images for one generation";
    } else if (!prov || !prov->generate) {
        c->rc = IG_ENOTFOUND;
        f->error = "provider unavailable";
    } else {
        for (int i = 0; !f->error && i < r->n; i++) {
            struct ig_image_out out;
            memset(&out, 0, sizeof out);
            uint64_t seed = (c->seed + (uint64_t)i) & 0xffffffffu;
            c->rc = prov->generate(r, i, seed, c->id, (size_t)c->app->cfg->max_image_bytes, &out);
            if (c->rc == 0)
                c->rc = store_image(c, f, (const uint8_t *)out.data.data, out.data.len, NULL,
                                    out.seed, NULL);
            ig_buf_release(&out.data);
            if (c->rc)
                f->error = "image generation failed";
            else
                f->made++;
        }
    }
    if (f->error) {
        f->made = 0; /* a failed generation is recorded without images */
        if (!r->model->ndeployments || o->ok)
            ig_error("generation %s failed: %s (%s)", c->id, f->error, ig_strerror(c->rc));
    }
    fill_record(c, f);
}

/* The store step's second half, once the record is in (recorded: the
 * store's answer): the response body, or the completed event of a stream. */
static void encode_answer(struct gen_ctx *c, struct finish *f, int recorded)
{
    if (f->error)
        return;
    if (recorded) {
        c->rc = recorded;
        ig_error("generation %s: cannot record it (%s)", c->id, ig_strerror(recorded));
        return;
    }
    struct ig_gen_request *r = &c->greq;
    const struct ig_dispatch_outcome *o = outcome_of(c);
    const char *provider_used =
        r->model->ndeployments ? o->deployment->provider : r->model->provider;
    const char *format = f->made ? f->images[0].format : "png";
    struct ig_buf out;
    int rc = 0;
    if (c->streaming) {
        ig_buf_init(&out, SIZE_MAX / 2);
        rc = ig_buf_reserve(&out, f->first_b64_len + 4096);
        /* The stream's last event carries the answer, as OpenAI's does. */
        const char *name = event_name(c, 1);
        rc = rc ? rc : sse_begin(&out, name);
        rc = rc ? rc : ig_buf_printf(&out, "{\"type\":\"%s\",\"b64_json\":\"", name);
        rc = rc ? rc : ig_buf_append(&out, f->items.data + f->first_b64, f->first_b64_len);
        rc = rc ? rc : ig_buf_printf(&out, "\",\"created_at\":%lld,", (long long)c->created);
    } else {
        /* The answer's opening and items are already in f->items. */
        out = f->items;
        ig_buf_init(&f->items, 0);
        rc = ig_buf_puts(&out, "],");
    }
    /* size and quality are validated words, format a fixed name: no escapes. */
    rc = rc ? rc : ig_buf_puts(&out, "\"size\":\"");
    rc = rc ? rc : ig_buf_puts(&out, r->size);
    rc = rc ? rc : ig_buf_puts(&out, "\",\"quality\":\"");
    rc = rc ? rc : ig_buf_puts(&out, r->quality);
    rc = rc ? rc : ig_buf_puts(&out, "\",\"output_format\":\"");
    rc = rc ? rc : ig_buf_puts(&out, format);
    rc = rc ? rc : ig_buf_puts(&out, "\",");
    if (c->streaming)
        rc = rc ? rc
                : ig_buf_puts(&out, "\"background\":\"opaque\",\"usage\":{\"input_tokens\":0,"
                                    "\"output_tokens\":0,\"total_tokens\":0},");
    rc = rc ? rc : ig_buf_puts(&out, "\"_metadata\":");
    if (rc == 0) {
        struct ig_jw meta;
        ig_jw_begin(&meta, &out);
        ig_jw_str(&meta, "provider_used", provider_used);
        ig_jw_str(&meta, "model", r->model->id);
        ig_jw_int(&meta, "images_generated", f->made);
        ig_jw_str(&meta, "size", r->size);
        ig_jw_str(&meta, "quality", r->quality);
        ig_jw_open(&meta, "seeds", '[');
        for (int i = 0; i < f->made; i++)
            if (f->images[i].seed >= 0)
                ig_jw_int(&meta, NULL, f->images[i].seed);
            else
                ig_jw_value(&meta, NULL, NULL);
        ig_jw_close(&meta, ']');
        ig_jw_str(&meta, "generation_id", c->id);
        if (r->model->ndeployments) {
            ig_jw_int(&meta, "attempts", o->attempts);
            ig_jw_str(&meta, "upstream_model", o->deployment->model);
        } else {
            ig_jw_int(&meta, "seed", (long long)c->seed);
            ig_jw_str(&meta, "renderer", "procedural (not a diffusion model)");
        }
        if (r->metadata)
            ig_jw_value(&meta, "metadata", r->metadata);
        if (r->op != IG_OP_GENERATE)
            ig_jw_str(&meta, "operation", ig_operation_name(r->op));
        rc = ig_jw_end(&meta);
    }
    rc = rc ? rc : ig_buf_puts(&out, c->streaming ? "}" SSE_END : "}");
    if (rc || (c->streaming && !f->made)) {
        ig_buf_release(&out);
        c->rc = IG_ENOMEM;
        ig_error("generation %s: cannot encode the response", c->id);
        return;
    }
    if (c->streaming) {
        c->event = ig_buf_detach(&out, NULL);
    } else {
        c->body = ig_buf_detach(&out, &c->body_len);
    }
    c->images = f->made;
}

/* The whole store step of one generation, for the thread pool (a local
 * render, or a stream's last step). */
static void generate_work(void *p)
{
    struct gen_ctx *c = p;
    struct finish *f = calloc(1, sizeof *f);
    if (!f) {
        c->rc = IG_ENOMEM;
        return;
    }
    store_images(c, f);
    struct ig_generation_write w = {.g = &f->g, .images = f->images, .nimages = (size_t)f->made};
    ig_store_generation_insert(c->app->store, &w, 1);
    encode_answer(c, f, w.rc);
    finish_release(f);
    free(f);
}

#define CTX_OF_ITEM(it) ((struct gen_ctx *)((char *)(it)-offsetof(struct gen_ctx, finish_item)))

/* The store step of a batch of network generations on one pool thread:
 * each one's images stored, then all records in one store call (one
 * transaction), then each answer encoded. */
static void finish_batch_run(struct ig_batch_item *first, void *ud)
{
    struct ig_app *app = ud;
    size_t n = 0;
    for (struct ig_batch_item *it = first; it; it = it->next)
        n++;
    struct finish *fs = calloc(n, sizeof *fs);
    struct ig_generation_write *ws = calloc(n, sizeof *ws);
    if (!fs || !ws) {
        for (struct ig_batch_item *it = first; it; it = it->next)
            CTX_OF_ITEM(it)->rc = IG_ENOMEM;
        free(fs);
        free(ws);
        return;
    }
    size_t i = 0;
    for (struct ig_batch_item *it = first; it; it = it->next, i++) {
        store_images(CTX_OF_ITEM(it), &fs[i]);
        ws[i] = (struct ig_generation_write){
            .g = &fs[i].g, .images = fs[i].images, .nimages = (size_t)fs[i].made};
    }
    ig_store_generation_insert(app->store, ws, n);
    i = 0;
    for (struct ig_batch_item *it = first; it; it = it->next, i++) {
        encode_answer(CTX_OF_ITEM(it), &fs[i], ws[i].rc);
        finish_release(&fs[i]);
    }
    free(fs);
    free(ws);
}

static void generate_done(struct ig_http_req *req, void *p);

static void finish_batch_done(struct ig_batch_item *it, void *ud)
{
    (void)ud;
    struct gen_ctx *c = CTX_OF_ITEM(it);
    generate_done(c->req, c);
}

const struct ig_batch_ops ig_images_finish_ops = {
    .run = finish_batch_run,
    .done = finish_batch_done,
};

/* Hands a network generation whose dispatch has ended to its worker's
 * store-step batcher. */
static void finish_network(struct ig_http_req *req, struct gen_ctx *c)
{
    ig_batcher_submit(ig_app_worker_of(req)->finish, &c->finish_item);
}

/* ---- streaming: partial images, then the completed event ---- */

static char *sse_event(const char *name, json_t *data)
{
    size_t len;
    char *json = ig_json_dumps(data, &len);
    json_decref(data);
    if (!json)
        return NULL;
    struct ig_buf b;
    ig_buf_init(&b, len + 256);
    char *out = NULL;
    if (sse_begin(&b, name) == 0 && ig_buf_append(&b, json, len) == 0 &&
        ig_buf_puts(&b, SSE_END) == 0)
        out = ig_buf_detach(&b, NULL);
    ig_buf_release(&b);
    free(json);
    return out;
}

static void partial_work(void *p)
{
    struct gen_ctx *c = p;
    struct ig_gen_request *r = &c->greq;
    struct ig_image_out out;
    memset(&out, 0, sizeof out);
    float progress = (float)(c->partial_next + 1) / (float)(r->partial_images + 1);
    if (ig_local_render(r, c->seed, progress, c->id, (size_t)c->app->cfg->max_image_bytes, &out)) {
        ig_buf_release(&out.data);
        return;
    }
    size_t n = ig_base64_len(out.data.len);
    char *b64 = malloc(n + 1);
    if (b64) {
        ig_base64_encode(out.data.data, out.data.len, b64);
        const char *name = event_name(c, 0);
        json_t *ev =
            json_pack("{s:s, s:s%, s:i, s:I, s:s, s:s, s:s, s:s}", "type", name, "b64_json", b64, n,
                      "partial_image_index", c->partial_next, "created_at", (json_int_t)c->created,
                      "size", r->size, "quality", r->quality, "output_format",
                      ig_format_name(r->output_format), "background", "opaque");
        c->event = ev ? sse_event(name, ev) : NULL;
        free(b64);
    }
    ig_buf_release(&out.data);
}

static void generate_done(struct ig_http_req *req, void *p);
static void stream_next(struct ig_http_req *req, struct gen_ctx *c);

static void partial_done(struct ig_http_req *req, void *p)
{
    struct gen_ctx *c = p;
    if (c->event) {
        ig_http_stream_write(req, c->event, strlen(c->event));
        free(c->event);
        c->event = NULL;
    }
    c->partial_next++;
    if (req->client_gone)
        c->partial_next = c->greq.partial_images; /* no one to show them to */
    stream_next(req, c);
}

static void stream_next(struct ig_http_req *req, struct gen_ctx *c)
{
    int rc = c->partial_next < c->greq.partial_images
                 ? ig_app_offload(req, partial_work, partial_done, c)
                 : ig_app_offload(req, generate_work, generate_done, c);
    if (rc) {
        c->rc = IG_ENOMEM;
        generate_done(req, c);
    }
}

/* The completed event generate_work built, or an error event. */
static void stream_finish(struct ig_http_req *req, struct gen_ctx *c)
{
    char *ev = c->event;
    c->event = NULL;
    if (c->rc) {
        free(ev);
        ev = NULL;
    }
    if (!ev) {
        const struct ig_dispatch_outcome *o = outcome_of(c);
        int upstream = c->greq.model->ndeployments && !o->ok && o->code;
        json_t *err =
            json_pack("{s:s, s:{s:s, s:s, s:n, s:s}}", "type", "error", "error", "message",
                      upstream ? o->message : "The image could not be generated.", "type",
                      upstream ? o->type : "server_error", "param", "code",
                      upstream ? o->code : "generation_failed");
        ev = err ? sse_event("error", err) : NULL;
    }
    if (ev)
        ig_http_stream_write(req, ev, strlen(ev));
    free(ev);
    ig_http_stream_end(req);
}

static void generate_done(struct ig_http_req *req, void *p)
{
    struct gen_ctx *c = p;
    struct ig_app *app = c->app;
    atomic_fetch_sub(&app->pending_renders, 1);
    if (c->streaming) {
        if (c->rc)
            atomic_fetch_add_explicit(&app->metrics.generations_failed, 1, memory_order_relaxed);
        else
            atomic_fetch_add_explicit(&app->metrics.images_generated, 1, memory_order_relaxed);
        req->images = c->rc ? 0 : 1;
        stream_finish(req, c);
        ctx_free(c);
        return;
    }
    if (c->rc && c->greq.model->ndeployments && c->outcome && !c->outcome->ok) {
        atomic_fetch_add_explicit(&app->metrics.generations_failed, 1, memory_order_relaxed);
        const struct ig_dispatch_outcome *o = c->outcome;
        if (o->retry_after_s >= 0) {
            char ra[24];
            snprintf(ra, sizeof ra, "%ld", o->retry_after_s);
            ig_http_add_header(req, "Retry-After", ra);
        }
        ig_http_respond_error(req, o->status, o->type, o->code, o->status == 400 ? "prompt" : NULL,
                              "%s", o->message);
    } else if (c->rc) {
        atomic_fetch_add_explicit(&app->metrics.generations_failed, 1, memory_order_relaxed);
        ig_http_respond_error(req, 500, "server_error", "generation_failed", NULL,
                              "The image could not be generated (%s). Generation id: %s.",
                              ig_strerror(c->rc), c->id);
    } else {
        req->images = c->images;
        atomic_fetch_add_explicit(&app->metrics.images_generated, (unsigned long long)c->images,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&app->metrics.bytes_stored, c->bytes_created,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&app->metrics.blobs_created, (unsigned long long)c->blobs_created,
                                  memory_order_relaxed);
        ig_http_respond(req, 200, "application/json", c->body, c->body_len, IG_BODY_FREE);
        c->body = NULL;
    }
    ctx_free(c);
}

/* The client left while providers were being asked: stop asking (curl
 * closes those connections), record the abandoned generation, answer into
 * the void. Once the store step has started it simply runs to the end. */
static void client_gone_cb(struct ig_http_req *req, void *arg)
{
    struct gen_ctx *c = arg;
    req->on_client_gone = NULL;
    if (!c->dispatch)
        return;
    ig_dispatch_cancel(c->dispatch);
    c->dispatch = NULL;
    c->outcome = calloc(1, sizeof *c->outcome); /* NULL: recorded as out of memory */
    if (c->outcome) {
        c->outcome->status = 499;
        c->outcome->type = "invalid_request_error";
        c->outcome->code = "client_closed_request";
        c->outcome->retry_after_s = -1;
        snprintf(c->outcome->message, sizeof c->outcome->message,
                 "the client closed the connection; upstream work was cancelled");
    }
    ig_info("generation %s: client gone, upstream work cancelled", c->id);
    finish_network(req, c);
}

/* Relays a provider's partial-image events to the client as they arrive
 * (starting the event stream with the first); the completed event is not
 * relayed: the gateway stores the image and sends its own, with _metadata. */
static int relay_stream(void *ud, const char *data, size_t len)
{
    struct gen_ctx *c = ud;
    if (ig_buf_append(&c->sse, data, len)) {
        ig_buf_reset(&c->sse); /* an event beyond bounds: not relayed */
        return c->streaming;
    }
    size_t off = 0, used;
    struct ig_sse_event ev;
    while ((used = ig_sse_next(c->sse.data + off, c->sse.len - off, &ev)) > 0) {
        off += used;
        if (!ig_sse_name_ends(&ev, ".partial_image"))
            continue;
        if (!c->streaming) {
            if (ig_http_stream_start(c->req, 200, "text/event-stream"))
                continue;
            c->streaming = 1;
        }
        ig_http_stream_write(c->req, ev.block, ev.block_len);
        ig_http_stream_write(c->req, "\n\n", 2);
    }
    if (off) {
        memmove(c->sse.data, c->sse.data + off, c->sse.len - off);
        c->sse.len -= off;
        c->sse.data[c->sse.len] = '\0';
    }
    return c->streaming;
}

static void dispatch_done(struct ig_dispatch *d, struct ig_dispatch_outcome *o, void *ud)
{
    (void)d;
    struct gen_ctx *c = ud;
    struct ig_http_req *req = c->req;
    req->on_client_gone = NULL;
    c->dispatch = NULL;
    c->outcome = malloc(sizeof *c->outcome); /* NULL: answered as out of memory */
    if (c->outcome) {
        *c->outcome = *o;
        memset(&o->result, 0, sizeof o->result); /* the images are ours now */
    }
    if (c->greq.stream && !c->streaming && o->ok &&
        ig_http_stream_start(req, 200, "text/event-stream") == 0)
        c->streaming = 1; /* no partials came (or none were asked for) */
    if (c->streaming)
        c->greq.response_format = IG_RESP_B64; /* the completed event carries the image */
    finish_network(req, c);
}

/* Everything after a request has been parsed into c->greq. */
static void begin(struct ig_app *app, struct ig_http_req *req, struct gen_ctx *c)
{
    req->model = c->greq.model->id; /* static: outlives the request */
    if (app->cfg->log_prompts) {
        /* The operator asked for prompts in the log; bounded to 1 KiB. */
        struct ig_buf extra;
        ig_buf_init(&extra, 8192);
        size_t n = strlen(c->greq.prompt);
        if (ig_buf_puts(&extra, ",\"prompt\":\"") == 0 &&
            ig_buf_json_escape(&extra, c->greq.prompt, n > 1024 ? 1024 : n) == 0 &&
            ig_buf_puts(&extra, "\"") == 0)
            req->log_extra = ig_buf_detach(&extra, NULL);
        ig_buf_release(&extra);
    }

    long pending = atomic_fetch_add(&app->pending_renders, 1);
    if (pending >= app->cfg->max_pending_renders) {
        atomic_fetch_sub(&app->pending_renders, 1);
        ig_gen_request_release(&c->greq);
        free(c);
        ig_http_add_header(req, "Retry-After", "1");
        ig_http_respond_error(req, 503, "server_error", "overloaded", NULL,
                              "Too many generations are in progress; retry shortly.");
        return;
    }

    c->app = app;
    c->created = ig_unix_time();
    c->start_us = req->start_us;
    ig_strlcpy(c->key_id, req->key_id, sizeof c->key_id);
    ig_strlcpy(c->request_id, req->request_id, sizeof c->request_id);
    ig_app_base_url(app, req, c->base_url, sizeof c->base_url);
    if (c->greq.seed >= 0) {
        c->seed = (uint64_t)c->greq.seed;
    } else {
        uint32_t s = 0;
        ig_random_fast(&s, sizeof s);
        c->seed = s;
    }
    c->req = req;
    int rc = ig_time_ordered_id("gen_", (uint64_t)ig_unix_ms(), c->id, sizeof c->id);
    if (rc == 0 && c->greq.model->ndeployments) {
        struct ig_upstream *up = ig_app_worker_of(req)->upstream;
        const struct ig_config *cfg = app->cfg;
        struct ig_dispatch_options opts = {
            .breakers = app->breakers,
            .capacity = app->capacity,
            .max_attempts = (int)cfg->upstream_max_attempts,
            .base_delay_ms = (long)cfg->upstream_base_delay_ms,
            .max_delay_ms = (long)cfg->upstream_max_delay_ms,
            .deadline_ms = (long)cfg->upstream_deadline_ms,
            .max_image_bytes = (size_t)cfg->max_image_bytes,
        };
        if (c->greq.stream) {
            /* Bounded: one event holds at most a partial image's base64. */
            ig_buf_init(&c->sse, (size_t)cfg->max_image_bytes * 2);
            opts.on_stream = relay_stream;
            opts.stream_ud = c;
        }
        req->on_client_gone = client_gone_cb;
        req->on_client_gone_arg = c;
        if (!up || ig_dispatch_start(up, req->loop, &c->greq, c->greq.model, &opts, dispatch_done,
                                     c, &c->dispatch)) {
            req->on_client_gone = NULL;
            rc = IG_ENOMEM;
        }
        if (rc == 0)
            return;
    }
    if (rc == 0 && c->greq.stream) {
        /* The answer is an event stream: partials, then the completed image
         * (as base64, as OpenAI's stream carries it). */
        c->streaming = 1;
        c->greq.response_format = IG_RESP_B64;
        if (ig_http_stream_start(req, 200, "text/event-stream") == 0) {
            stream_next(req, c);
            return;
        }
        rc = IG_ENOMEM;
    }
    if (rc || ig_app_offload(req, generate_work, generate_done, c)) {
        atomic_fetch_sub(&app->pending_renders, 1);
        ig_gen_request_release(&c->greq);
        free(c);
        ig_http_respond_error(req, 503, "server_error", "overloaded", NULL,
                              "The server is overloaded; try again.");
    }
}

void ig_api_generations(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct gen_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        ig_http_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    struct ig_api_error err;
    if (ig_gen_request_parse(req->body.data ? req->body.data : "", req->body.len, app->models,
                             &c->greq, &err)) {
        free(c);
        ig_app_respond_api_error(req, &err);
        return;
    }
    begin(app, req, c);
}

/* ---- uploads: edits and variations ---- */

/* Most parts a form may have: 16 images, a mask and every text field. */
#define MAX_FORM_FIELDS 48

static void upload_parse_work(void *p)
{
    struct gen_ctx *c = p;
    struct ig_http_req *req = c->req;
    struct ig_form form;
    char why[256];
    size_t ct_len = 0;
    const char *ct = ig_http_header(req, "content-type", &ct_len);
    c->parse_rc = ig_formdata_parse(ct ? ct : "", ct_len, req->body.data ? req->body.data : "",
                                    req->body.len, MAX_FORM_FIELDS, &form, why, sizeof why);
    if (c->parse_rc) {
        struct ig_api_error *e = c->parse_err;
        e->status = c->parse_rc == IG_EINVAL ? 400 : 503;
        e->type = c->parse_rc == IG_EINVAL ? "invalid_request_error" : "server_error";
        e->code = c->parse_rc == IG_EINVAL ? "invalid_multipart" : "overloaded";
        snprintf(e->message, sizeof e->message, "The multipart form cannot be read: %s.",
                 c->parse_rc == IG_EINVAL ? why : "out of memory");
        return;
    }
    c->parse_rc = ig_edit_request_parse(&form, c->greq.op, (size_t)c->app->cfg->max_input_pixels,
                                        c->app->models, &c->greq, c->parse_err);
    ig_form_release(&form);
}

static void upload_parse_done(struct ig_http_req *req, void *p)
{
    struct gen_ctx *c = p;
    if (c->parse_rc)
        ig_app_respond_api_error(req, c->parse_err);
    free(c->parse_err);
    c->parse_err = NULL;
    if (c->parse_rc) {
        free(c);
        return;
    }
    ig_buf_release(&req->body); /* the uploads live in the request now */
    begin(c->app, req, c);
}

static void start_upload(struct ig_app *app, struct ig_http_req *req, enum ig_operation op)
{
    struct gen_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        ig_http_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    c->app = app;
    c->req = req;
    c->greq.op = op;
    c->parse_err = calloc(1, sizeof *c->parse_err);
    if (!c->parse_err || ig_app_offload(req, upload_parse_work, upload_parse_done, c)) {
        free(c->parse_err);
        free(c);
        ig_http_respond_error(req, 503, "server_error", "overloaded", NULL,
                              "The server is overloaded; try again.");
    }
}

void ig_api_edits(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    start_upload(app, req, IG_OP_EDIT);
}

void ig_api_variations(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    start_upload(app, req, IG_OP_VARIATION);
}
