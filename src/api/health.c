/* health.c — GET /healthz (the process answers), GET /readyz (it can serve:
 * not draining, and the store answers) and GET /metrics (Prometheus). */
#include "server/server.h"
#include "api/app.h"
#include "api/handlers.h"
#include "util/err.h"

#include <stdlib.h>

void ig_api_healthz(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)app;
    (void)param;
    static const char ok[] = "{\"status\":\"ok\"}";
    ig_http_respond(req, 200, "application/json", ok, sizeof ok - 1, IG_BODY_STATIC);
}

struct ready_ctx {
    struct ig_app *app;
    int rc;
};

static void ready_work(void *p)
{
    struct ready_ctx *c = p;
    c->rc = ig_store_ping(c->app->store);
}

static void ready_done(struct ig_http_req *req, void *p)
{
    struct ready_ctx *c = p;
    int draining = ig_http_server_draining(c->app->server);
    int rc = c->rc;
    free(c);
    if (draining) {
        ig_api_respond_error(req, 503, "server_error", "draining", NULL,
                             "The server is shutting down.");
    } else if (rc) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The store is not answering.");
    } else {
        static const char ok[] = "{\"status\":\"ready\"}";
        ig_http_respond(req, 200, "application/json", ok, sizeof ok - 1, IG_BODY_STATIC);
    }
}

void ig_api_readyz(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    if (ig_http_server_draining(app->server)) {
        ig_api_respond_error(req, 503, "server_error", "draining", NULL,
                             "The server is shutting down.");
        return;
    }
    struct ready_ctx *c = calloc(1, sizeof *c);
    if (c)
        c->app = app;
    if (!c || ig_app_offload(req, ready_work, ready_done, c)) {
        free(c);
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "overloaded");
    }
}

void ig_api_metrics(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct ig_buf b;
    ig_buf_init(&b, 1 << 20);
    if (ig_metrics_render(&app->metrics, ig_http_server_connections(app->server), &b)) {
        ig_buf_release(&b);
        ig_api_respond_error(req, 500, "server_error", NULL, NULL, "cannot render metrics");
        return;
    }
    size_t len;
    char *text = ig_buf_detach(&b, &len);
    ig_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, IG_BODY_FREE);
}
