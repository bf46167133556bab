/* models.c — GET /v1/models and GET /v1/models/{id}, in OpenAI's list and
 * model shapes, with what imagegate knows about each model under
 * "imagegate". Ids with a slash work raw or percent-encoded. */
#include "api/app.h"
#include "api/handlers.h"

#include <string.h>

static json_t *string_list(const char *const *list)
{
    json_t *a = json_array();
    for (; list && *list; list++)
        json_array_append_new(a, json_string(*list));
    return a;
}

static json_t *model_json(const struct ig_model *m)
{
    json_t *aliases = json_array();
    for (int i = 0; i < IG_MAX_ALIASES && m->aliases[i]; i++)
        json_array_append_new(aliases, json_string(m->aliases[i]));
    json_t *formats = json_array();
    if (m->formats & IG_FMTBIT_PNG)
        json_array_append_new(formats, json_string("png"));
    if (m->formats & IG_FMTBIT_JPEG)
        json_array_append_new(formats, json_string("jpeg"));
    if (m->formats & IG_FMTBIT_WEBP)
        json_array_append_new(formats, json_string("webp"));
    char def[32];
    snprintf(def, sizeof def, "%dx%d", m->default_width, m->default_height);
    json_t *extra = json_pack(
        "{s:s, s:s, s:o, s:{s:i, s:i, s:s}, s:i, s:i, s:o, s:o, s:o, s:{s:b, s:b, s:b, s:b}, "
        "s:n}",
        "provider", m->provider, "description", m->description, "aliases", aliases, "sizes",
        "min_side", m->min_side, "max_side", m->max_side, "default", def, "max_n", m->max_n,
        "max_prompt_chars", m->max_prompt_chars, "qualities", string_list(m->qualities), "styles",
        string_list(m->styles), "output_formats", formats, "supports", "negative_prompt",
        m->supports_negative_prompt, "seed", m->supports_seed, "steps", m->supports_steps,
        "guidance", m->supports_guidance, "price");
    json_t *ops = json_pack("[s]", "generation");
    if (m->operations & IG_OPBIT_EDIT)
        json_array_append_new(ops, json_string("edit"));
    if (m->operations & IG_OPBIT_VARIATION)
        json_array_append_new(ops, json_string("variation"));
    json_object_set_new(extra, "operations", ops);
    if (m->operations)
        json_object_set_new(extra, "edits",
                            json_pack("{s:i, s:b, s:b}", "max_input_images", m->max_input_images,
                                      "mask", m->supports_mask, "strength", m->supports_strength));
    return json_pack("{s:s, s:s, s:i, s:s, s:o}", "id", m->id, "object", "model", "created",
                     m->created, "owned_by", m->owned_by, "imagegate", extra);
}

void ig_api_models_list(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    json_t *data = json_array();
    for (size_t i = 0; i < ig_models_count(app->models); i++)
        json_array_append_new(data, model_json(ig_models_at(app->models, i)));
    ig_app_respond_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

void ig_api_models_get(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    const struct ig_model *m = ig_models_find(app->models, param);
    if (!m) {
        ig_api_respond_error(req, 404, "invalid_request_error", "model_not_found", "model",
                             "The model '%.128s' does not exist.", param);
        return;
    }
    ig_app_respond_json(req, 200, model_json(m));
}
