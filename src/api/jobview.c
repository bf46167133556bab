/* jobview.c — a job as the API shows it; see jobview.h. */
#include "api/jobview.h"
#include "api/history.h"
#include "pipeline/runner.h"
#include "util/json.h"
#include "util/num.h"

#include <stdio.h>
#include <string.h>

/* OpenAI's error object from the domain error a job keeps. */
static json_t *error_object(const char *kept)
{
    json_error_t jerr;
    json_t *e = kept ? ig_json_loadb(kept, strlen(kept), 0, &jerr) : NULL;
    if (!e)
        return json_null();
    const char *kind = json_string_value(json_object_get(e, "kind"));
    enum ig_gen_error_kind k = IG_GERR_INTERNAL;
    for (int i = 0; kind && i < IG_GERR_COUNT; i++)
        if (strcmp(ig_gen_error_kind_name((enum ig_gen_error_kind)i), kind) == 0)
            k = (enum ig_gen_error_kind)i;
    json_t *o = json_pack("{s:O, s:s, s:O, s:O}", "message", json_object_get(e, "message"), "type",
                          ig_api_error_type(k), "param", json_object_get(e, "param"), "code",
                          json_object_get(e, "code"));
    json_decref(e);
    return o ? o : json_null();
}

json_t *ig_api_job_json(const struct ig_app *app, const struct ig_job_record *j, json_t *result)
{
    json_error_t jerr;
    json_t *req = ig_json_loadb(j->request, strlen(j->request), 0, &jerr);
    const char *name = json_string_value(json_object_get(req, "model"));
    const struct ig_model *m =
        name ? ig_models_find(app->models, name) : ig_models_default(app->models);
    json_t *model = m ? json_string(m->id) : name ? json_string(name) : json_null();
    json_t *prompt = json_object_get(req, "prompt");
    char self[128], events[160], cancel[160];
    snprintf(self, sizeof self, "/v1/images/jobs/%s", j->id);
    snprintf(events, sizeof events, "%s/events", self);
    snprintf(cancel, sizeof cancel, "%s/cancel", self);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:o, s:O, s:{s:i, s:b}, s:o, s:o, s:{s:s, s:s, s:s}}", "id", j->id,
        "object", "image.job", "status", j->status, "created", (json_int_t)(j->created_ms / 1000),
        "model", model ? model : json_null(), "prompt", prompt ? prompt : json_null(), "progress",
        "attempts", j->attempts, "provider_job", j->upstream != NULL, "result",
        result ? json_incref(result) : json_null(), "error", error_object(j->error), "links",
        "self", self, "events", events, "cancel", cancel);
    json_decref(req);
    if (!o)
        return NULL;
    json_object_set_new(o, "started_at",
                        j->started_ms ? json_integer(j->started_ms / 1000) : json_null());
    json_object_set_new(o, "finished_at",
                        j->finished_ms ? json_integer(j->finished_ms / 1000) : json_null());
    json_object_set_new(o, "generation_id",
                        j->generation_id[0] ? json_string(j->generation_id) : json_null());
    json_object_set_new(o, "webhook_url",
                        j->webhook_url ? json_string(j->webhook_url) : json_null());
    /* What the provider said of it while it ran: queue_position (0:
     * running) and percent, where it says. */
    json_t *progress = json_object_get(o, "progress");
    json_t *said = j->progress ? ig_json_loadb(j->progress, strlen(j->progress), 0, &jerr) : NULL;
    json_object_set(progress, "queue_position",
                    json_object_get(said, "queue_position")
                        ? json_object_get(said, "queue_position")
                        : json_null());
    json_object_set(progress, "percent",
                    json_object_get(said, "percent") ? json_object_get(said, "percent")
                                                     : json_null());
    json_decref(said);
    if (j->cancel_requested && strcmp(j->status, "running") == 0)
        json_object_set_new(o, "cancel_requested", json_true());
    if (j->batch_id[0])
        json_object_set_new(o, "batch_id", json_string(j->batch_id));
    /* The names clients of other job APIs poll (seed 004's: state, and
     * output[0].url). */
    json_object_set_new(o, "state", json_string(j->status));
    json_t *data = json_object_get(json_object_get(o, "result"), "data");
    json_object_set_new(o, "output", data ? json_incref(data) : json_array());
    return o;
}

struct result_ctx {
    const struct ig_app *app;
    const char *base_url;
    json_t *result;
};

static int result_row(const struct ig_history_row *r, void *ud)
{
    struct result_ctx *c = ud;
    json_t *links = ig_api_image_links(c->app, c->base_url, r->images_json);
    json_t *data = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(links, i, l)
    {
        json_array_append_new(data, json_pack("{s:O}", "url", json_object_get(l, "url")));
    }
    json_decref(links);
    c->result =
        json_pack("{s:I, s:o}", "created", (json_int_t)(r->created_ms / 1000), "data", data);
    return 1;
}

json_t *ig_api_job_json_read(struct ig_app *app, const struct ig_job_record *j)
{
    struct result_ctx c = {app, j->base_url, NULL};
    if (strcmp(j->status, "succeeded") == 0 && j->generation_id[0]) {
        struct ig_history_query q = {
            .account_id = j->account_id, .id = j->generation_id, .limit = 1};
        ig_store_generation_history(app->store, &q, result_row, &c);
    }
    json_t *o = ig_api_job_json(app, j, c.result);
    json_decref(c.result);
    return o;
}

void ig_api_job_queued(struct ig_http_req *req, const struct ig_generation *g)
{
    struct ig_app *app = ig_api_req_of(req)->app;
    struct ig_job_record j = {.request = g->job.body, .webhook_url = g->job.webhook_url};
    ig_strlcpy(j.id, g->job.id, sizeof j.id);
    ig_strlcpy(j.status, "queued", sizeof j.status);
    j.created_ms = (int64_t)g->created * 1000;
    ig_strlcpy(j.batch_id, g->job.batch_id, sizeof j.batch_id);
    json_t *o = ig_api_job_json(app, &j, NULL);
    if (!o) {
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    char location[128];
    snprintf(location, sizeof location, "/v1/images/jobs/%s", g->job.id);
    ig_http_add_header(req, "Location", location);
    if (g->acct.accounted && g->acct.metered) {
        char held[32];
        ig_credits_format(g->acct.held, held, sizeof held);
        ig_http_add_header(req, "x-imagegate-held", held);
    }
    ig_app_respond_json(req, 202, o);
    ig_job_runner_wake(atomic_load(&app->runner));
}
