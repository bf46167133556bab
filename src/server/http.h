/* http.h — the HTTP/1.1 server: worker loops, listeners, connections,
 * requests and responses. It knows nothing of the application: the application gives
 * it one handler that is called for every complete request, and one
 * completion hook called after the response's last byte is handed to the
 * kernel (for logs and metrics).
 *
 * Threads: every worker thread runs its own libuv loop with its own
 * SO_REUSEPORT listener. A connection and its requests live on one worker
 * from accept to close; handlers run on that worker's loop and may park a
 * request (start async work and return), answering later from the same loop
 * with ig_http_respond().
 *
 * Pipelining: requests on one connection are handled one at a time, in
 * order; bytes of later requests wait (bounded) until the current response
 * is written. */
#ifndef IG_HTTP_H
#define IG_HTTP_H

#include "util/buf.h"

#include <http_parser.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct ig_http_server;
struct ig_http_worker;
struct ig_conn;

struct ig_http_header {
    const char *name;
    const char *value;
    size_t name_len;
    size_t value_len;
};

struct ig_http_limits {
    size_t max_header_bytes;
    size_t max_headers;
    size_t max_body_bytes;
    uint64_t header_timeout_ms;
    uint64_t body_timeout_ms;
    uint64_t idle_timeout_ms;
    long max_connections;
    /* Bytes that admitted bodies may hold at once, over all connections
     * (0: no bound). A body that would pass it is refused with 503 and
     * Retry-After before it is read. */
    size_t max_body_bytes_in_flight;
    uint64_t shutdown_timeout_ms;
};

enum ig_body_owner { IG_BODY_STATIC, IG_BODY_FREE };

/* One request. Owned by the server; a handler may keep the pointer until it
 * responds (or, when the client has gone, until ig_http_respond() is called
 * anyway — a parked request is always answered exactly once). */
struct ig_http_req {
    struct ig_conn *conn;
    struct ig_http_worker *worker;
    uv_loop_t *loop;
    unsigned method; /* enum http_method */
    const char *path;
    size_t path_len;
    const char *query; /* NULL when the target had no '?' */
    size_t query_len;
    struct ig_http_header *headers;
    size_t nheaders;
    struct ig_buf body;
    char request_id[72];
    uint64_t start_us;
    int keep_alive;
    int http_minor;
    int responded;
    int client_gone;   /* the connection closed while the request was parked */
    int streaming;     /* a chunked response has begun */
    int stream_writes; /* chunk writes still in the kernel's hands */
    int stream_ended;

    /* Response bookkeeping, for the completion hook. */
    int status;
    size_t bytes_out;
    struct ig_buf resp_headers; /* extra "Name: value\r\n" lines */

    /* The application's state for this request (opaque to the server),
     * freed with app_free when the request is. */
    void *app;
    void (*app_free)(void *);
    /* Called once, on the loop, when the client goes away while the request
     * is parked: the handler can stop its work. It must still answer the
     * request (ig_http_respond frees it) now or when its work ends. */
    void (*on_client_gone)(struct ig_http_req *req, void *arg);
    void *on_client_gone_arg;
    /* Optional: sees the answer (not a stream) as ig_http_respond sends
     * it, before anything is written (api/idempotency.c records it). */
    void (*on_respond)(struct ig_http_req *req, int status, const char *content_type,
                       const char *body, size_t len, void *arg);
    void *on_respond_arg;

    /* Private to the server. */
    struct ig_buf raw;    /* url and headers, bounded by max_header_bytes */
    struct ig_buf marks;  /* size_t offsets into raw: url end, then name/value ends */
    size_t body_reserved; /* counted in the server's body bytes in flight */
};

typedef void (*ig_http_handler_cb)(struct ig_http_req *req, void *ud);
typedef void (*ig_http_complete_cb)(struct ig_http_req *req, void *ud);

struct ig_http_server_options {
    const char *host;
    int port; /* 0 picks a free port, readable with ig_http_server_port() */
    int workers;
    struct ig_http_limits limits;
    ig_http_handler_cb handler;
    ig_http_complete_cb complete;
    void *ud;
    /* Called on each worker's loop once when it starts, and once when it
     * has drained and is about to stop: for per-worker state such as the
     * upstream client. */
    void (*worker_start)(struct ig_http_worker *w, void *ud);
    void (*worker_stop)(struct ig_http_worker *w, void *ud);
    /* Optional: called on each worker's loop once a drain begins (before
     * its connections close): for stopping work that outlives its
     * requests' clients. */
    void (*worker_drain)(struct ig_http_worker *w, void *ud);
    /* Optional: called once a second on every worker's loop, busy or idle:
     * for giving back memory freed on that thread. */
    void (*housekeeping)(void);
    /* Optional: called when the headers of a request that has a body are
     * in (path and headers readable, body empty), before any byte of the
     * body is read. The application decides whether the body is worth
     * reading (a known key, a route that takes one) and answers, now or
     * later from the loop, with either ig_http_admit() (read it, up to a
     * limit, then call handler) or ig_http_respond() (refused: the body is
     * never read and the connection closes after the answer). While it
     * decides, the connection reads nothing. NULL: every body is read, up
     * to limits.max_body_bytes. Requests without a body go to handler
     * directly. */
    void (*admit)(struct ig_http_req *req, void *ud);
    /* Optional: the answer to a request the server itself refuses
     * (malformed, too large, timed out, out of memory). code is a stable
     * word ("request_too_large"), message a sentence; it must answer with
     * ig_http_respond(). NULL: a plain-text body. */
    void (*refuse)(struct ig_http_req *req, int status, const char *code, const char *message,
                   void *ud);
};

/* The admit hook's go-ahead: read the body, at most body_limit bytes
 * (a larger Content-Length or chunk answers 413 at once), then call the
 * handler. Refused with 503 and Retry-After when the body would pass
 * limits.max_body_bytes_in_flight. On the request's loop, once. */
void ig_http_admit(struct ig_http_req *req, size_t body_limit);
/* 1 while req is with the admit hook (its body not yet read). */
int ig_http_admitting(const struct ig_http_req *req);

/* Case-insensitive header lookup; NULL when absent. */
const char *ig_http_header(const struct ig_http_req *req, const char *name, size_t *len);
/* How many times the header name appears (case-insensitive). */
size_t ig_http_header_count(const struct ig_http_req *req, const char *name);
/* Adds a response header line. Names and values must not hold CR or LF. */
int ig_http_add_header(struct ig_http_req *req, const char *name, const char *value);
/* Sends the response (status line, standard headers, the extra headers,
 * body) and finishes the request. body ownership passes to the server when
 * owner is IG_BODY_FREE. Must be called on the request's loop, once. */
void ig_http_respond(struct ig_http_req *req, int status, const char *content_type,
                     const char *body, size_t len, enum ig_body_owner owner);
const char *ig_http_status_text(int status);

/* Streaming responses (SSE and the like): the head goes out with
 * Transfer-Encoding: chunked (HTTP/1.0 clients get the body until close),
 * then any number of chunks, then the end, which finishes the request like
 * ig_http_respond(). Writes are queued in order; a client that has gone
 * makes them no-ops. All on the request's loop. */
int ig_http_stream_start(struct ig_http_req *req, int status, const char *content_type);
/* Queues one chunk; data is copied. */
int ig_http_stream_write(struct ig_http_req *req, const void *data, size_t len);
void ig_http_stream_end(struct ig_http_req *req);
/* The method as text ("GET"). */
const char *ig_http_method_name(const struct ig_http_req *req);

#endif
