/* dispatch.c — the dispatch stage: the images from the model's
 * deployments (pipeline/dispatcher.h does the work: in-process renders,
 * provider calls, retries, fallback, polls, downloads).
 *
 * With stream=true, partial images reach the waiters as they come: a
 * provider's own partial-image events are split out of its streamed answer
 * (util/sse.h) and passed on as they are; an in-process provider's
 * partials are rendered first and made into the same events here. Once a
 * provider's partials have been passed on, a failure is final (the client
 * saw part of that attempt). The completed event is never relayed: the
 * store step makes the gateway's own, with _metadata. */
#include "pipeline/result.h"
#include "pipeline/stage.h"

#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"
#include "util/sse.h"

#include <stdlib.h>
#include <string.h>

/* A provider's streamed answer: passes its partial-image events on; the
 * rest is left for the adapter's parse of the whole body. */
static int relay_stream(void *ud, const char *data, size_t len)
{
    struct ig_generation *g = ud;
    if (ig_buf_append(&g->sse, data, len)) {
        ig_buf_reset(&g->sse); /* an event beyond bounds: not relayed */
        return g->relaying;
    }
    size_t off = 0, used;
    struct ig_sse_event ev;
    while ((used = ig_sse_next(g->sse.data + off, g->sse.len - off, &ev)) > 0) {
        off += used;
        if (!ig_sse_name_ends(&ev, ".partial_image"))
            continue;
        struct ig_gen_partial p = {ev.name, ev.name_len, ev.data, ev.data_len};
        g->relaying = 1;
        ig_generation_emit_partial(g, &p);
    }
    if (off) {
        memmove(g->sse.data, g->sse.data + off, g->sse.len - off);
        g->sse.len -= off;
        g->sse.data[g->sse.len] = '\0';
    }
    return g->relaying;
}

/* An in-process provider's partial image, made into OpenAI's event. */
static void local_partial(void *ud, int index, const struct ig_image_out *img)
{
    struct ig_generation *g = ud;
    struct ig_buf b;
    ig_buf_init(&b, SIZE_MAX / 2);
    const char *name = ig_generation_event_name(g, 0);
    size_t n = ig_base64_len(img->data.len);
    struct ig_gen_request *r = &g->req;
    int rc = ig_buf_reserve(&b, n + 512);
    rc = rc ? rc : ig_buf_printf(&b, "{\"type\":\"%s\",\"b64_json\":\"", name);
    if (rc == 0) {
        ig_base64_encode(img->data.data, img->data.len, b.data + b.len);
        b.len += n;
        b.data[b.len] = '\0';
    }
    rc = rc ? rc
            : ig_buf_printf(&b,
                            "\",\"partial_image_index\":%d,\"created_at\":%lld,\"size\":\"%s\","
                            "\"quality\":\"%s\",\"output_format\":\"%s\","
                            "\"background\":\"opaque\"}",
                            index, (long long)g->created, r->size, r->quality,
                            ig_format_name(r->output_format));
    if (rc == 0) {
        struct ig_gen_partial p = {name, strlen(name), b.data, b.len};
        ig_generation_emit_partial(g, &p);
    }
    ig_buf_release(&b);
}

static void dispatch_done(struct ig_dispatch *d, struct ig_dispatch_outcome *o, void *ud)
{
    (void)d;
    struct ig_generation *g = ud;
    g->dispatch = NULL;
    g->outcome = malloc(sizeof *g->outcome);
    if (!g->outcome) {
        ig_generation_fail_internal(g, IG_ENOMEM);
    } else {
        *g->outcome = *o;
        memset(&o->result, 0, sizeof o->result); /* the images are ours now */
        if (!o->ok && g->state != IG_GEN_FAILED) {
            g->state = IG_GEN_FAILED;
            g->error = o->error;
            if (o->error.kind == IG_GERR_INTERNAL) {
                size_t used = strlen(g->error.message);
                snprintf(g->error.message + used, sizeof g->error.message - used,
                         " Generation id: %s.", g->id);
            }
        }
    }
    ig_generation_resume(g);
}

enum ig_stage_rc ig_stage_dispatch(struct ig_generation *g)
{
    const struct ig_config *cfg = g->pipeline->cfg;
    if (g->job.mode == IG_GEN_SUBMIT || g->cache.entry)
        return IG_STAGE_NEXT; /* committed as a job, or served from the cache */
    struct ig_dispatch_options opts = {
        .breakers = g->pipeline->breakers,
        .capacity = g->pipeline->capacity,
        .capacity_notifier = g->worker->capacity_notifier,
        .max_attempts = (int)cfg->upstream_max_attempts,
        .base_delay_ms = (long)cfg->upstream_base_delay_ms,
        .max_delay_ms = (long)cfg->upstream_max_delay_ms,
        .deadline_ms = (long)cfg->upstream_deadline_ms,
        .max_image_bytes = (size_t)cfg->max_image_bytes,
        .seed = g->seed,
        .stream_ud = g,
    };
    opts.byok = ig_generation_byok_keys(g, &opts.nbyok);
    ig_generation_job_dispatch(g, &opts);
    g->dispatched = 1;
    g->t.dispatch_us = ig_now_us();
    if (g->req.stream) {
        /* Bounded: one event holds at most a partial image's base64. */
        ig_buf_init(&g->sse, (size_t)cfg->max_image_bytes * 2);
        opts.on_stream = relay_stream;
        opts.on_partial = local_partial;
    }
    struct ig_upstream *up = g->worker->upstream;
    if (!up || ig_dispatch_start(up, g->worker->loop, &g->req, g->req.model, &opts, dispatch_done,
                                 g, &g->dispatch)) {
        g->dispatch = NULL;
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "overloaded", NULL,
                           "The server is overloaded; try again.");
        return IG_STAGE_NEXT;
    }
    return IG_STAGE_PARKED;
}

void ig_stage_dispatch_cancel(struct ig_generation *g)
{
    if (!g->dispatch)
        return;
    if (ig_dispatch_rendering(g->dispatch)) {
        /* The render reads the request until it is back: it stops after
         * its current image, and the dispatch ends cancelled then. */
        ig_dispatch_stop_render(g->dispatch);
        return;
    }
    ig_dispatch_cancel(g->dispatch);
    g->dispatch = NULL;
    ig_generation_fail(g, IG_GERR_CANCELED, "client_closed_request", NULL,
                       "the client closed the connection; upstream work was cancelled");
    ig_generation_resume(g);
}
