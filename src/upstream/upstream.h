/* upstream.h — outgoing HTTP(S) on a worker's libuv loop: https (and
 * http when so configured) through libcurl's multi_socket interface (never
 * curl_easy_perform on a loop thread), plain http through the built-in
 * HTTP/1.1 client of h1.c. Callers see one interface and one result.
 *
 * One struct ig_upstream per worker loop. A call is started with a request
 * the caller builds (method, URL, headers, body, limits) and ends in
 * exactly one callback on the same loop — unless it is cancelled first, in
 * which case there is no callback. Response bodies are bounded before they
 * are stored. Only http and https are spoken; redirects are not followed.
 *
 * Address policy: unless a request sets allow_private, a connection to a
 * loopback, private, link-local, unique-local, CGNAT or metadata address is
 * refused at connect time (after DNS, so a hostname cannot smuggle one in)
 * and the result says blocked. */
#ifndef IG_UPSTREAM_H
#define IG_UPSTREAM_H

#include "upstream/message.h"
#include "upstream/policy.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

struct ig_upstream;
struct ig_upstream_call;

typedef void (*ig_upstream_cb)(struct ig_upstream_call *call, struct ig_upstream_result *res,
                               void *ud);

struct ig_upstream_options {
    /* Private networks the address policy lets through; may be NULL, and
     * must outlive the client. */
    const struct ig_networks *allow;
    /* Plain http:// URLs (without credentials) go through the built-in
     * HTTP/1.1 client (h1.c) instead of libcurl; https always uses curl. */
    int builtin_http;
};

int ig_upstream_new(struct ig_upstream **out, uv_loop_t *loop,
                    const struct ig_upstream_options *opt);
/* Cancels every call (no callbacks) and frees once the loop has closed
 * the handles; call from the loop's thread. */
void ig_upstream_free(struct ig_upstream *u);

/* Takes ownership of req's url, headers and body (also on failure). */
int ig_upstream_start(struct ig_upstream *u, struct ig_upstream_request *req, ig_upstream_cb cb,
                      void *ud, struct ig_upstream_call **out);
/* Stops a call in flight; its callback will not run. */
void ig_upstream_cancel(struct ig_upstream_call *call);

#endif
