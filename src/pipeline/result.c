/* result.c — a generation's result as OpenAI's images response:
 * {"created","data":[{"b64_json"|"url","revised_prompt"}],"size","quality",
 * "output_format","_metadata"}, or for a stream the data of the completed
 * event, which carries the first image's base64. Built on the thread pool
 * by the store step, so the loop only sends bytes; the same text will be
 * what a job's result and an idempotent replay return.
 *
 * The answer is written as text straight into one buffer (base64 needs no
 * escaping; jansson's dump would scan it character by character): its
 * opening and `data` items go in before the record is committed, and the
 * rest is appended in the same buffer afterwards, so the images are never
 * copied a second time. */
#include "pipeline/result.h"
#include "pipeline/stage.h"

#include "core/signing.h"
#include "providers/provider.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The signed URL of a stored image, into url. */
static void signed_url(const struct ig_generation *g, const struct ig_image_record *im, char *url,
                       size_t size)
{
    const struct ig_pipeline *p = g->pipeline;
    ig_signed_file_url(p->secret, p->secret_len, g->ctx.base_url, im->sha256, im->format,
                       ig_unix_time() + p->cfg->url_ttl_s, url, size);
}

int ig_result_open(struct ig_generation *g, struct ig_stored *s, size_t need)
{
    int rc = ig_buf_reserve(&s->items, need);
    if (!g->req.stream) {
        rc = rc ? rc : ig_buf_puts(&s->items, "{\"created\":");
        rc = rc ? rc : ig_buf_put_u64(&s->items, (unsigned long long)g->created);
        rc = rc ? rc : ig_buf_puts(&s->items, ",\"data\":[");
    }
    return rc ? IG_ENOMEM : 0;
}

int ig_result_add_item(struct ig_generation *g, struct ig_stored *s, const uint8_t *bytes,
                       size_t len, const char *b64, const struct ig_image_record *im,
                       const char *revised_prompt)
{
    struct ig_buf *b = &s->items;
    int rc = ig_buf_puts(b, s->made ? ",{" : "{");
    if (g->req.response_format == IG_RESP_B64) {
        size_t n = ig_base64_len(len);
        rc = rc ? rc : ig_buf_puts(b, "\"b64_json\":\"");
        rc = rc ? rc : ig_buf_reserve(b, n);
        if (rc == 0) {
            if (s->made == 0) {
                s->first_b64 = b->len;
                s->first_b64_len = n;
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
        signed_url(g, im, url, sizeof url);
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

int ig_result_from_cache(struct ig_generation *g, struct ig_stored *s,
                         const struct ig_cache_entry *e, int may_block)
{
    struct ig_bytecache *texts = g->pipeline->b64cache;
    size_t max_image = (size_t)g->pipeline->cfg->max_image_bytes;
    int b64 = g->req.response_format == IG_RESP_B64;
    size_t need = 4096;
    for (int i = 0; i < e->nimages; i++)
        need += (b64 ? ig_base64_len((size_t)e->images[i].bytes) : 0) + 1024;
    int rc = ig_result_open(g, s, need);
    for (int i = 0; rc == 0 && i < e->nimages; i++) {
        struct ig_image_record *im = &s->images[s->made];
        *im = e->images[i];
        im->index = s->made;
        size_t tlen = 0;
        char *text = b64 ? ig_bytecache_get(texts, im->sha256, &tlen) : NULL;
        if (text && tlen == ig_base64_len((size_t)im->bytes)) {
            rc = ig_result_add_item(g, s, NULL, (size_t)im->bytes, text, im, NULL);
        } else if (b64 && !may_block) {
            rc = IG_EAGAIN; /* its bytes are on disk: on the pool */
        } else {
            struct ig_buf bytes;
            ig_buf_init(&bytes, max_image);
            if (b64)
                rc = ig_blob_read(g->pipeline->blobs, im->sha256, max_image, &bytes);
            rc = rc ? rc
                    : ig_result_add_item(g, s, (const uint8_t *)bytes.data, bytes.len, NULL, im,
                                         NULL);
            if (rc == 0 && b64 && texts) {
                /* Kept for the next hit: encoded once more here, off the loop. */
                size_t n = ig_base64_len(bytes.len);
                char *enc = malloc(n + 1);
                if (enc) {
                    ig_base64_encode(bytes.data, bytes.len, enc);
                    ig_bytecache_put(texts, im->sha256, enc, n);
                    free(enc);
                }
            }
            ig_buf_release(&bytes);
        }
        free(text);
        if (rc == 0)
            s->made++;
    }
    return rc;
}

void ig_result_close(struct ig_generation *g, struct ig_stored *s, int recorded)
{
    if (s->error)
        return;
    if (recorded) {
        ig_error("generation %s: cannot record it (%s)", g->id, ig_strerror(recorded));
        ig_generation_fail_internal(g, recorded);
        return;
    }
    struct ig_gen_request *r = &g->req;
    const struct ig_dispatch_outcome *o = g->outcome; /* NULL: served from the cache */
    const struct ig_provider *prov = o ? ig_provider_find(o->deployment->provider) : NULL;
    int in_process = prov && prov->generate;
    const char *format = s->made ? s->images[0].format : "png";
    int streaming = r->stream;
    struct ig_buf out;
    int rc = 0;
    if (streaming) {
        ig_buf_init(&out, SIZE_MAX / 2);
        rc = ig_buf_reserve(&out, s->first_b64_len + 4096);
        /* The stream's last event carries the answer, as OpenAI's does. */
        const char *name = ig_generation_event_name(g, 1);
        rc = rc ? rc : ig_buf_printf(&out, "{\"type\":\"%s\",\"b64_json\":\"", name);
        rc = rc ? rc : ig_buf_append(&out, s->items.data + s->first_b64, s->first_b64_len);
        rc = rc ? rc : ig_buf_printf(&out, "\",\"created_at\":%lld,", (long long)g->created);
    } else {
        /* The answer's opening and items are already in s->items. */
        out = s->items;
        ig_buf_init(&s->items, 0);
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
    if (streaming)
        rc = rc ? rc
                : ig_buf_puts(&out, "\"background\":\"opaque\",\"usage\":{\"input_tokens\":0,"
                                    "\"output_tokens\":0,\"total_tokens\":0},");
    rc = rc ? rc : ig_buf_puts(&out, "\"_metadata\":");
    if (rc == 0) {
        struct ig_jw meta;
        ig_jw_begin(&meta, &out);
        ig_jw_str(&meta, "provider_used", o ? o->deployment->provider : "cache");
        ig_jw_str(&meta, "model", r->model->id);
        ig_jw_int(&meta, "images_generated", s->made);
        ig_jw_str(&meta, "size", r->size);
        ig_jw_str(&meta, "quality", r->quality);
        ig_jw_open(&meta, "seeds", '[');
        for (int i = 0; i < s->made; i++)
            if (s->images[i].seed >= 0)
                ig_jw_int(&meta, NULL, s->images[i].seed);
            else
                ig_jw_value(&meta, NULL, NULL);
        ig_jw_close(&meta, ']');
        ig_jw_str(&meta, "generation_id", g->id);
        if (in_process) {
            ig_jw_int(&meta, "seed", (long long)g->seed);
            ig_jw_str(&meta, "renderer", "procedural (not a diffusion model)");
        } else if (o) {
            ig_jw_int(&meta, "attempts", o->attempts);
            ig_jw_str(&meta, "upstream_model", o->deployment->model);
        }
        if (g->cache.outcome != IG_CACHE_NONE)
            ig_jw_str(&meta, "cache", ig_cache_outcome_name(g->cache.outcome));
        if (g->cache.entry)
            ig_jw_str(&meta, "cached_generation_id", g->cache.entry->generation_id);
        if (g->acct.accounted) {
            char cost[32], left[32];
            ig_credits_format(g->acct.cost, cost, sizeof cost);
            ig_credits_format(g->acct.balance, left, sizeof left);
            ig_jw_raw(&meta, "cost_incurred", cost);
            ig_jw_raw(&meta, "credits_remaining", g->acct.metered ? left : "null");
            ig_jw_str(&meta, "tier", g->acct.tier);
            ig_jw_raw(&meta, "byok", o && o->byok ? "true" : "false");
        }
        if (r->metadata)
            ig_jw_value(&meta, "metadata", r->metadata);
        if (r->op != IG_OP_GENERATE)
            ig_jw_str(&meta, "operation", ig_operation_name(r->op));
        rc = ig_jw_end(&meta);
    }
    rc = rc ? rc : ig_buf_puts(&out, "}");
    if (rc || (streaming && !s->made)) {
        ig_buf_release(&out);
        ig_error("generation %s: cannot encode the response", g->id);
        ig_generation_fail_internal(g, IG_ENOMEM);
        return;
    }
    g->result.body = ig_buf_detach(&out, &g->result.body_len);
    g->result.images = s->made;
}
