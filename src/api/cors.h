/* cors.h — cross-origin requests from browsers (cors.allowed_origins).
 *
 * A request whose Origin is allowed gets Access-Control-Allow-Origin (the
 * origin itself, with Vary: Origin) and the gateway's own headers exposed
 * (request id, cost, credits, rate limits, Retry-After) on every answer,
 * errors included, so a page can read them. A preflight (OPTIONS with
 * Access-Control-Request-Method) is answered 204 before any key is asked
 * for — preflights carry none — or 403 when its origin is not allowed. No
 * origin is allowed by default. */
#ifndef IG_API_CORS_H
#define IG_API_CORS_H

#include "server/http.h"

#include <stddef.h>

#define IG_CORS_MAX_ORIGINS 16

struct ig_cors {
    int any; /* "*": every origin */
    int n;
    char origins[IG_CORS_MAX_ORIGINS][128]; /* "https://app.example.com" */
};

/* Parses "https://a.example, http://localhost:3000" (or "*"): 0, or
 * IG_EINVAL with why in err. */
int ig_cors_parse(const char *text, struct ig_cors *out, char *err, size_t err_size);
/* Adds the CORS headers to req's answer when its Origin is allowed. */
void ig_cors_apply(const struct ig_cors *c, struct ig_http_req *req);
/* Answers req when it is a preflight (1), else 0. */
int ig_cors_preflight(const struct ig_cors *c, struct ig_http_req *req);

#endif
