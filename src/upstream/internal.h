/* internal.h — what the two transports of upstream.h share: the call
 * record, how a call ends, and the address policy. Not for other modules.
 *
 * A call runs on exactly one transport: libcurl (upstream.c; easy is set)
 * or the built-in HTTP/1.1 client (h1.c; easy is NULL). */
#ifndef IG_UPSTREAM_INTERNAL_H
#define IG_UPSTREAM_INTERNAL_H

#include "upstream/message.h"
#include "upstream/policy.h"
#include "upstream/upstream.h"

#include <curl/curl.h>
#include <http_parser.h>

struct ig_h1;
struct ig_h1_conn;
struct ig_h1_resolve;

/* A call's URL as the built-in client split it, once. */
struct ig_h1_target {
    struct http_parser_url parts; /* offsets into req.url */
    uint16_t port;
};

struct ig_upstream_call {
    struct ig_upstream *u;
    CURL *easy;                      /* libcurl transport, else NULL */
    struct curl_slist *curl_headers; /* its copy of req.headers */
    /* Built-in transport: the connection carrying the call (or NULL while
     * resolving), the resolution in flight, the addresses still to try,
     * and whether a dead kept-alive connection was already replaced. */
    struct ig_h1_target target;
    struct ig_h1_conn *conn;
    struct ig_h1_resolve *resolve;
    struct sockaddr_storage *addrs;
    int naddrs, next_addr, refused_addrs;
    int retried_stale;
    int deferred; /* ended inside the start; ends on the next loop turn */
    struct ig_upstream_call *deferred_next;
    uint64_t deadline; /* uv_now() ms */
    struct ig_upstream_request req;
    struct ig_upstream_result res;
    char refusal[IG_UPSTREAM_ERROR_SIZE]; /* the policy's last refusal, for res.error */
    /* The address policy's lists for this call: the request's allow-list
     * or else the client's, and this host's own addresses. */
    const struct ig_networks *allow, *own;
    ig_upstream_cb cb;
    void *ud;
    struct ig_upstream_call *prev, *next;
};

/* Ends a call that has its result: takes it out of the client's list, runs
 * its callback, frees it (upstream.c gives it to the built-in client). */
typedef void (*ig_upstream_call_done_fn)(struct ig_upstream_call *call);

/* 1 when the address policy refuses a connection to sa for this call,
 * with the reason written to call->refusal ("refused to connect to
 * ADDRESS: WHY"), which becomes the call's error when every address was
 * refused. */
static inline int ig_upstream_refuses(struct ig_upstream_call *call, const struct sockaddr *sa)
{
    return ig_address_refused(sa, call->req.allow_private, call->allow, call->own, call->refusal,
                              sizeof call->refusal);
}

/* ---- h1.c: plain http:// over kept-alive connections on the loop ---- */

/* done ends the calls it finishes. */
int ig_h1_new(struct ig_h1 **out, uv_loop_t *loop, ig_upstream_call_done_fn done);
/* Closes the idle connections and frees once every handle has closed.
 * Every call must have been cancelled or finished first. */
void ig_h1_free(struct ig_h1 *h);
/* Starts call (its request and result are set up). 0; IG_ENOTFOUND when
 * the built-in client does not speak its URL (it speaks http:// without
 * credentials), the call untouched; or another IG_E* with nothing
 * started. */
int ig_h1_start(struct ig_h1 *h, struct ig_upstream_call *call);
/* Detaches call from its connection or resolution (no callback), closing
 * the connection it was using. */
void ig_h1_cancel(struct ig_h1 *h, struct ig_upstream_call *call);

#endif
