/* moderate.c — the moderate stage: the operator's content rules (core/
 * moderation.h) on the prompt and the negative prompt, before anything is
 * counted or reserved. A block fails the generation 400
 * content_policy_violation naming the category; it costs nothing, and is
 * recorded in the audit trail (action "moderation.block": the category,
 * the field, the key and the generation — never the text) before the
 * answer, on the thread pool. A provider's own refusal is recorded the
 * same way ("provider.refusal") by the settle stage. */
#include "pipeline/stage.h"

#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct audit_job {
    uv_work_t work;
    struct ig_generation *g; /* NULL: nobody waits (fire and forget) */
    struct ig_store *store;
    char actor[48], account_id[48], action[32], target[48];
    char detail[256];
};

static void audit_work(uv_work_t *w)
{
    struct audit_job *j = w->data;
    struct ig_audit_record r = {.created_ms = ig_unix_ms(),
                                .actor = j->actor[0] ? j->actor : NULL,
                                .account_id = j->account_id[0] ? j->account_id : NULL,
                                .action = j->action,
                                .target = j->target,
                                .detail = j->detail};
    int rc = ig_store_audit_append(j->store, &r);
    if (rc)
        ig_error("audit: cannot record %s of %s: %s", j->action, j->target, ig_strerror(rc));
}

static void audit_done(uv_work_t *w, int status)
{
    (void)status;
    struct audit_job *j = w->data;
    if (j->g)
        ig_generation_resume(j->g);
    free(j);
}

int ig_generation_audit(struct ig_generation *g, const char *action, int wait, const char *fmt, ...)
{
    struct audit_job *j = calloc(1, sizeof *j);
    if (!j)
        return IG_ENOMEM;
    j->work.data = j;
    j->g = wait ? g : NULL;
    j->store = g->pipeline->store;
    ig_strlcpy(j->actor, g->ctx.key_id, sizeof j->actor);
    ig_strlcpy(j->account_id, g->ctx.account_id, sizeof j->account_id);
    ig_strlcpy(j->action, action, sizeof j->action);
    ig_strlcpy(j->target, g->id, sizeof j->target);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->detail, sizeof j->detail, fmt, ap);
    va_end(ap);
    if (uv_queue_work(g->worker->loop, &j->work, audit_work, audit_done)) {
        free(j);
        return IG_ENOMEM;
    }
    return 0;
}

enum ig_stage_rc ig_stage_moderate(struct ig_generation *g)
{
    const struct ig_moderation *m = g->pipeline->moderation;
    if (!ig_moderation_count(m))
        return IG_STAGE_NEXT;
    const char *field = "prompt";
    const char *category = ig_moderation_check(m, g->req.prompt);
    if (!category && g->req.negative_prompt) {
        field = "negative_prompt";
        category = ig_moderation_check(m, g->req.negative_prompt);
    }
    if (!category)
        return IG_STAGE_NEXT;
    ig_generation_fail(g, IG_GERR_REFUSED, "content_policy_violation", field,
                       "Your request was rejected by the content policy (category: %s).", category);
    /* Category names are the operator's (no quotes or backslashes: the
     * loader takes them as YAML scalars; JSON-escaped here regardless). */
    char esc[160];
    size_t o = 0;
    for (const char *p = category; *p && o + 2 < sizeof esc; p++) {
        if (*p == '"' || *p == '\\')
            esc[o++] = '\\';
        esc[o++] = (unsigned char)*p < 0x20 ? ' ' : *p;
    }
    esc[o] = '\0';
    if (ig_generation_audit(g, "moderation.block", 1,
                            "{\"category\":\"%s\",\"field\":\"%s\",\"model\":\"%s\"}", esc, field,
                            g->req.model ? g->req.model->id : ""))
        return IG_STAGE_NEXT;
    return IG_STAGE_PARKED;
}
