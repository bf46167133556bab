/* byok.c — the byok stage: an account's own provider keys, opened for
 * this generation. Only accounts that have any (the key's cache entry
 * says so) pay for it: their keys are read and opened on the thread pool
 * (store/byok.h), then the reserve stage prices those providers'
 * deployments at 0 and the dispatch stage calls them with the account's
 * keys. The opened keys live in the generation until its end, then are
 * wiped. A store failure fails the generation (503): going on without the
 * keys would spend the operator's keys where the account asked for its
 * own. */
#include "pipeline/stage.h"

#include "store/byok.h"
#include "util/err.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

struct ig_gen_byok {
    uv_work_t work;
    struct ig_generation *g;
    int rc;
    size_t n;
    struct ig_byok_plain plain[IG_BYOK_MAX];
    struct ig_byok_key keys[IG_BYOK_MAX];
    const char *providers[IG_BYOK_MAX + 1]; /* NULL-terminated */
};

static void load_work(uv_work_t *w)
{
    struct ig_gen_byok *b = w->data;
    struct ig_pipeline *p = b->g->pipeline;
    b->rc = ig_byok_load(p->store, p->secret, p->secret_len, b->g->ctx.account_id, b->plain, &b->n);
}

static void load_done(uv_work_t *w, int status)
{
    (void)status;
    struct ig_gen_byok *b = w->data;
    struct ig_generation *g = b->g;
    if (b->rc) {
        ig_error("generation %s: the account's BYOK keys cannot be read: %s", g->id,
                 ig_strerror(b->rc));
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "store_unavailable", NULL,
                           "This account's own provider keys cannot be read; try again.");
        g->error.retry_after_s = 1;
    }
    for (size_t i = 0; i < b->n; i++) {
        b->keys[i].provider = b->plain[i].provider;
        b->keys[i].api_key = b->plain[i].api_key;
        b->providers[i] = b->plain[i].provider;
    }
    ig_generation_resume(g);
}

enum ig_stage_rc ig_stage_byok(struct ig_generation *g)
{
    if (!g->ctx.has_byok || !g->ctx.account_id[0])
        return IG_STAGE_NEXT;
    struct ig_gen_byok *b = calloc(1, sizeof *b);
    if (!b) {
        ig_generation_fail_internal(g, IG_ENOMEM);
        return IG_STAGE_NEXT;
    }
    b->work.data = b;
    b->g = g;
    g->byok = b;
    if (uv_queue_work(g->worker->loop, &b->work, load_work, load_done)) {
        ig_generation_fail_internal(g, IG_ENOMEM);
        return IG_STAGE_NEXT;
    }
    return IG_STAGE_PARKED;
}

void ig_stage_byok_release(struct ig_generation *g)
{
    if (g->byok) {
        explicit_bzero(g->byok->plain, sizeof g->byok->plain);
        free(g->byok);
        g->byok = NULL;
    }
}

const char *const *ig_generation_byok_providers(const struct ig_generation *g)
{
    return g->byok && g->byok->n ? g->byok->providers : NULL;
}

const struct ig_byok_key *ig_generation_byok_keys(const struct ig_generation *g, size_t *n)
{
    *n = g->byok ? g->byok->n : 0;
    return g->byok ? g->byok->keys : NULL;
}
