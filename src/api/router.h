/* router.h — the route, auth and content-type stages in front of every
 * handler (router.c). */
#ifndef IG_ROUTER_H
#define IG_ROUTER_H

#include "api/app.h"

/* The server's handler (ud is the app): route, auth, content type, then
 * the route's handler (api/handlers.h). */
void ig_router_handle(struct ig_http_req *req, void *ud);
/* The body limit for a request (server option body_limit): uploads may
 * take limits.max_upload_bytes, everything else limits.max_body_bytes. */
size_t ig_router_body_limit(const struct ig_http_req *req, void *ud);
/* Gives app's metrics the routes' names (indexed by ig_api_req.route_id);
 * once, after ig_app_init(). */
void ig_router_attach(struct ig_app *app);

#endif
