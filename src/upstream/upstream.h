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

/* Room for a transport error's text (libcurl's CURL_ERROR_SIZE). */
#define IG_UPSTREAM_ERROR_SIZE 256

#include "upstream/policy.h"
#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

struct ig_upstream;
struct ig_upstream_call;

struct ig_upstream_request {
    char method[8];
    char *url; /* owned */
    /* "Name: value\r\n" lines, added by ig_upstream_request_header (a
     * zeroed request has none); owned. */
    struct ig_buf headers;
    char *body; /* owned; may be NULL */
    size_t body_len;
    long timeout_ms;
    size_t max_response_bytes;
    int allow_private;
    /* Optional: the private networks this request may reach, instead of
     * the client's allow-list (webhook deliveries have their own); must
     * outlive the call. */
    const struct ig_networks *allow;
    /* Optional, for streamed answers (SSE): called on the loop with each
     * piece of a 2xx answer's body as it arrives. The body is collected
     * all the same, so parse() sees the whole of it. */
    void (*on_data)(void *ud, const char *data, size_t len);
    void *on_data_ud;
};

struct ig_upstream_result {
    int transport_error; /* 0 when an HTTP answer arrived; else a negative IG_E* */
    int timed_out;
    int blocked;   /* refused by the address policy */
    int too_large; /* the answer was larger than max_response_bytes */
    long status;
    struct ig_buf body;
    struct ig_buf headers; /* the final response's header lines */
    char error[IG_UPSTREAM_ERROR_SIZE];
};

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

/* A deep copy of src (for requests that are sent more than once, such as
 * polls). 0 or IG_ENOMEM. */
int ig_upstream_request_dup(struct ig_upstream_request *dst, const struct ig_upstream_request *src);
/* Frees what a request owns (for requests never started). */
void ig_upstream_request_release(struct ig_upstream_request *req);
/* Appends "Name: value" to req's headers: 0, IG_EINVAL for a CR or LF in
 * either or a line past 8 KiB, IG_ENOMEM. */
int ig_upstream_request_header(struct ig_upstream_request *req, const char *name,
                               const char *value);
/* A header of the final response (case-insensitive); NULL when absent.
 * The value is copied into out (bounded). */
const char *ig_upstream_result_header(const struct ig_upstream_result *r, const char *name,
                                      char *out, size_t out_size);

#endif
