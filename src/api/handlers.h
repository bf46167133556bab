/* handlers.h — the handlers of the routes, one file per resource (the
 * router's table calls them; none has a .c of this name). param is the
 * path parameter (or NULL). */
#ifndef IG_HANDLERS_H
#define IG_HANDLERS_H

#include "api/app.h"

void ig_api_healthz(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_readyz(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_metrics(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_models_list(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_models_get(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_generations(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_edits(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_variations(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_thumbnails_get(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_files_get(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_keys_create(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_keys_list(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_keys_revoke(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_accounts_create(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_accounts_list(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_account_credits(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_account_update(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_credits(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_estimate(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_history_list(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_history_get(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_usage(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_keys_update(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_admin_usage(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_audit(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_byok_keys(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_jobs_create(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_jobs_list(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_job(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_webhook_secret(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_webhook_secret_rotate(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_webhook_deliveries(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_webhook_endpoint(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_webhook_delivery(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_batch_create(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_batch_get(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_orch_generate(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_orch_generate_batch(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_orch_models(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_orch_model(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_orch_generations(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_tokens_create(struct ig_app *app, struct ig_http_req *req, const char *param);
void ig_api_byok_key_delete(struct ig_app *app, struct ig_http_req *req, const char *param);

#endif
