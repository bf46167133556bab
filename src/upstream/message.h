/* message.h — what a call to a provider or a webhook carries: the
 * request a caller builds, the result it gets back, and the header lines
 * both keep ("Name: value" lines in one buffer). Shared by the two
 * transports (upstream.c's libcurl, h1.c's built-in client) and their
 * callers; no transport of its own. */
#ifndef IG_UPSTREAM_MESSAGE_H
#define IG_UPSTREAM_MESSAGE_H

/* Room for a transport error's text (libcurl's CURL_ERROR_SIZE). */
#define IG_UPSTREAM_ERROR_SIZE 256

#include "upstream/policy.h"
#include "util/buf.h"

#include <stddef.h>

/* One request header line, name and value, at most. */
#define IG_HEADER_LINE_MAX 8192

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

/* The value of the first line whose name is name (case-insensitive),
 * trimmed, its length in *len; NULL when absent. */
const char *ig_header_lines_find(const struct ig_buf *lines, const char *name, size_t *len);

#endif
