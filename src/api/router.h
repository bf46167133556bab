/* router.h — the route, auth and content-type stages in front of every
 * handler (router.c). */
#ifndef IG_ROUTER_H
#define IG_ROUTER_H

#include "api/app.h"

/* The server's admit hook (ud is the app), for a request with a body:
 * route, key, scope and content type from the headers alone, so nobody
 * without a key that may use the route costs the gateway its body; then
 * the body is read up to the route's limit (uploads
 * limits.max_upload_bytes, the rest limits.max_body_bytes). */
void ig_router_admit(struct ig_http_req *req, void *ud);
/* The server's handler (ud is the app): a request admitted with its body
 * goes to its route's handler (api/handlers.h); one without a body passes
 * the same checks first. */
void ig_router_handle(struct ig_http_req *req, void *ud);
/* Gives app's metrics the routes' names (indexed by ig_api_req.route_id);
 * once, after ig_app_init(). */
void ig_router_attach(struct ig_app *app);

#endif
