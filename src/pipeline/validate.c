/* validate.c — the first stage: what the generation is, before anything is
 * spent on it. The request was decoded and checked against the model by
 * its entry point (core/request.c); here it gets its id, its creation
 * time and its seed (the request's, or a random one), and a stream's
 * answer is fixed to base64, as OpenAI's completed event carries it. */
#include "pipeline/stage.h"

#include "util/clock.h"
#include "util/crypto.h"

enum ig_stage_rc ig_stage_validate(struct ig_generation *g)
{
    struct ig_gen_request *r = &g->req;
    g->created = ig_unix_time();
    if (ig_time_ordered_id("gen_", (uint64_t)ig_unix_ms(), g->id, sizeof g->id)) {
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "overloaded", NULL,
                           "The server is overloaded; try again.");
        return IG_STAGE_NEXT;
    }
    if (r->seed >= 0) {
        g->seed = (uint64_t)r->seed;
    } else {
        uint32_t s = 0;
        ig_random_fast(&s, sizeof s);
        g->seed = s;
    }
    if (r->stream)
        r->response_format = IG_RESP_B64;
    r->provenance_prompt = g->pipeline->cfg->provenance_prompt;
    if (!r->model || r->model->ndeployments == 0)
        ig_generation_fail(g, IG_GERR_UNAVAILABLE, "no_provider", "model",
                           "No deployment of this model is available.");
    return IG_STAGE_NEXT;
}
