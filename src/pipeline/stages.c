/* stages.c — the stage table: the one map of the pipeline.
 *
 *   validate → admit → moderate → limit → byok → reserve → cache
 *     → enqueue → dispatch → store → settle → job → answer
 *
 * A durable job goes through it twice (pipeline/job.c): its submission
 * stops at enqueue, which commits it with its hold; its run (by a runner,
 * pipeline/runner.c) skips what the submission did (limit, reserve) and
 * ends in the job stage, which writes its end when its record did not.
 *
 * Adding a stage is one line here and its own file. (Idempotency-Key is not a stage: what
 * it replays is an HTTP answer, which the pipeline never sees; it runs in
 * api/idempotency.c before a generation starts.) The
 * table reaches the driver (pipeline/generation.c) through struct
 * ig_pipeline, so the driver knows no stage by name. A stage
 * that fails skips the rest except those marked IG_STAGE_ALWAYS. */
#include "pipeline/stage.h"

#include <unistd.h>

/* name, run, release, cancel, flags */
static const struct ig_stage stages[] = {
    {"validate", ig_stage_validate, NULL, NULL, 0},
    {"admit", ig_stage_admit, ig_stage_admit_release, NULL, 0},
    {"moderate", ig_stage_moderate, NULL, NULL, 0},
    {"limit", ig_stage_limit, ig_stage_limit_release, NULL, IG_STAGE_ALWAYS},
    {"byok", ig_stage_byok, ig_stage_byok_release, NULL, 0},
    {"reserve", ig_stage_reserve, NULL, NULL, 0},
    {"cache", ig_stage_cache, ig_stage_cache_release, ig_stage_cache_cancel, 0},
    {"enqueue", ig_stage_enqueue, NULL, NULL, 0},
    {"dispatch", ig_stage_dispatch, NULL, ig_stage_dispatch_cancel, 0},
    {"store", ig_stage_store, NULL, NULL, IG_STAGE_ALWAYS},
    {"settle", ig_stage_settle, NULL, NULL, IG_STAGE_ALWAYS},
    {"job", ig_stage_job, NULL, NULL, IG_STAGE_ALWAYS},
    {"answer", ig_stage_answer, NULL, NULL, IG_STAGE_ALWAYS},
};

void ig_pipeline_init(struct ig_pipeline *p)
{
    p->stages = stages;
    p->nstages = (int)(sizeof stages / sizeof stages[0]);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    p->max_renders =
        p->cfg->max_pending_renders ? p->cfg->max_pending_renders : 128 * (cores > 0 ? cores : 1);
    p->max_provider = p->cfg->max_provider_generations;
}
