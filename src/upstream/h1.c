/* h1.c — the built-in HTTP/1.1 client for plain http:// upstreams
 * (self-hosted servers on the LAN, OpenAI-compatible servers, test fakes).
 *
 * Why not libcurl here as for https: one curl transfer costs about 40 us of
 * loop time even on a kept-alive connection (URL parsing, option copies,
 * connection-cache walks, a liveness poll, timer churn), more than the rest
 * of a generation's work on the loop. This client costs one write and one
 * read per call on a kept connection, with no allocation besides the
 * response. Parsing is http-parser's (the same library as the server's);
 * URLs are split by http_parser_parse_url (the last URL split is
 * remembered, since a deployment's calls all go to one).
 *
 * Connections are pooled by (host, port, address policy): a connection
 * opened for a deployment's own api_base (which may be private) is never
 * handed to a call that must not reach private addresses. A connection
 * carries one call at a time. Between calls it stays in its pool's idle
 * list, still reading, so a close by the server is noticed; it is closed
 * after IDLE_MS or when the pool already keeps IDLE_MAX.
 *
 * A call that finds a kept connection dead before any byte of the answer
 * (the server closed it as we wrote) is sent again once on a new
 * connection, as curl and browsers do. Each connection has one timer:
 * the call's deadline while busy (connect: at most CONNECT_MS), the idle
 * timeout while idle. Name resolution runs on libuv's thread pool;
 * address literals skip it. Every resolved address is checked against the
 * policy before connecting; refused ones are skipped, and when none is
 * left the call ends blocked.
 *
 * Ownership: a connection is freed in the close callback of its second
 * handle; the client is freed when it was asked to be and no connection
 * is left. Reads land in one buffer per client (the loop is one thread). */
#include "upstream/internal.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/timer.h"

#include <http_parser.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IDLE_MS            30000
#define IDLE_MAX           256
#define URL_CACHE_MAX      512
#define CONNECT_MS         10000
#define DEFAULT_TIMEOUT_MS 120000
#define MAX_ADDRS          8
#define HOST_MAX           256

struct h1_pool {
    struct ig_h1 *h;
    char host[HOST_MAX]; /* as in the URL, without brackets */
    char authority[HOST_MAX + 8];
    uint16_t port;
    int allow_private;
    const struct ig_networks *allow; /* the request's own allow-list, or NULL */
    struct ig_h1_conn *idle;         /* most recently used first */
    int nidle;
    int nconns;
    struct h1_pool *next;
};

enum conn_state { CONN_CONNECTING, CONN_BUSY, CONN_IDLE, CONN_CLOSED };

struct ig_h1_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;  /* connecting, the call, or idle: armed lazily (util/timer.h) */
    uint64_t deadline; /* loop time; 0: none */
    uv_connect_t connect_req;
    uv_write_t write_req;
    http_parser parser;
    struct h1_pool *pool;
    struct ig_upstream_call *call;
    struct ig_h1_conn *idle_prev, *idle_next;
    struct ig_buf head; /* the request line and headers, kept for reuse */
    enum conn_state state;
    int handles_open;
    int reused;          /* this call is not the connection's first */
    int got_bytes;       /* some of this call's answer arrived */
    int writing;         /* the request's write has not completed */
    int header_in_value; /* the parser last gave header value bytes */
    int complete;        /* the answer is whole */
};

struct ig_h1 {
    uv_loop_t *loop;
    ig_upstream_call_done_fn done; /* ends a call (upstream.c) */
    struct h1_pool *pools;
    int nconns;
    int freeing;
    /* Calls that ended inside ig_h1_start (refused address, failed write)
     * end on the next loop turn instead: a start never calls back. */
    int starting;
    struct ig_upstream_call *deferred;
    uv_timer_t defer;
    int defer_open;
    /* The last URL split, and how: a deployment's calls go to one URL,
     * and comparing it costs a fraction of parsing it again. */
    char last_url[URL_CACHE_MAX];
    struct ig_h1_target last_target;
    char rbuf[64 * 1024];
};

struct ig_h1_resolve {
    uv_getaddrinfo_t req;
    struct ig_h1 *h;
    struct ig_upstream_call *call; /* NULL once cancelled */
};

static int start_connect(struct ig_h1 *h, struct h1_pool *pool, struct ig_upstream_call *call);
static void connect_next(struct ig_h1 *h, struct h1_pool *pool, struct ig_upstream_call *call);

static void defer_cb(uv_timer_t *t)
{
    struct ig_h1 *h = t->data;
    while (h->deferred) {
        struct ig_upstream_call *call = h->deferred;
        h->deferred = call->deferred_next;
        call->deferred_next = NULL;
        call->deferred = 0;
        h->done(call);
    }
}

/* Ends call with the result it holds: at once, or on the next loop turn
 * when this is still inside ig_h1_start. */
static void finish_call(struct ig_h1 *h, struct ig_upstream_call *call)
{
    if (!h->starting) {
        h->done(call);
        return;
    }
    call->deferred = 1;
    call->deferred_next = h->deferred;
    h->deferred = call;
    uv_timer_start(&h->defer, defer_cb, 0, 0);
}

static void free_if_done(struct ig_h1 *h)
{
    if (h->freeing && !h->nconns && !h->defer_open)
        free(h);
}

/* ---- URLs ---- */

static int split_url(struct ig_h1 *h, const char *url, struct ig_h1_target *t)
{
    size_t len = strlen(url);
    if (len && len < sizeof h->last_url && memcmp(url, h->last_url, len + 1) == 0) {
        *t = h->last_target; /* offsets into a text that is the same */
        return 0;
    }
    http_parser_url_init(&t->parts);
    if (http_parser_parse_url(url, len, 0, &t->parts))
        return IG_EINVAL;
    const struct http_parser_url *p = &t->parts;
    if (!(p->field_set & (1 << UF_SCHEMA)) || !(p->field_set & (1 << UF_HOST)) ||
        (p->field_set & (1 << UF_USERINFO)))
        return IG_EINVAL;
    if (p->field_data[UF_SCHEMA].len != 4 || strncasecmp(url, "http", 4) != 0)
        return IG_EINVAL;
    if (p->field_data[UF_HOST].len == 0 || p->field_data[UF_HOST].len >= HOST_MAX)
        return IG_EINVAL;
    t->port = (p->field_set & (1 << UF_PORT)) ? p->port : 80;
    if (!t->port)
        return IG_EINVAL;
    if (len < sizeof h->last_url) {
        memcpy(h->last_url, url, len + 1);
        h->last_target = *t;
    }
    return 0;
}

/* ---- pools ---- */

static struct h1_pool *pool_for(struct ig_h1 *h, const struct ig_upstream_call *call)
{
    const struct ig_h1_target *t = &call->target;
    const struct http_parser_url *p = &t->parts;
    int allow_private = call->req.allow_private;
    const char *host = call->req.url + p->field_data[UF_HOST].off;
    size_t host_len = p->field_data[UF_HOST].len;
    for (struct h1_pool *pool = h->pools; pool; pool = pool->next)
        if (pool->port == t->port && pool->allow_private == allow_private &&
            pool->allow == call->req.allow && strlen(pool->host) == host_len &&
            strncasecmp(pool->host, host, host_len) == 0)
            return pool;
    struct h1_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->h = h;
    memcpy(pool->host, host, host_len);
    pool->port = t->port;
    pool->allow_private = allow_private;
    pool->allow = call->req.allow;
    int v6 = strchr(pool->host, ':') != NULL;
    if (p->field_set & (1 << UF_PORT))
        snprintf(pool->authority, sizeof pool->authority, "%s%s%s:%u", v6 ? "[" : "", pool->host,
                 v6 ? "]" : "", (unsigned)pool->port);
    else
        snprintf(pool->authority, sizeof pool->authority, "%s%s%s", v6 ? "[" : "", pool->host,
                 v6 ? "]" : "");
    pool->next = h->pools;
    h->pools = pool;
    return pool;
}

static void pool_drop_if_unused(struct h1_pool *pool)
{
    if (pool->nconns)
        return;
    struct h1_pool **pp = &pool->h->pools;
    while (*pp != pool)
        pp = &(*pp)->next;
    *pp = pool->next;
    free(pool);
}

static void idle_unlink(struct ig_h1_conn *c)
{
    struct h1_pool *pool = c->pool;
    if (c->idle_prev)
        c->idle_prev->idle_next = c->idle_next;
    else
        pool->idle = c->idle_next;
    if (c->idle_next)
        c->idle_next->idle_prev = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
    pool->nidle--;
}

/* ---- connection lifetime ---- */

static void conn_handle_closed(uv_handle_t *handle)
{
    struct ig_h1_conn *c = handle->data;
    if (--c->handles_open)
        return;
    struct ig_h1 *h = c->pool->h;
    struct h1_pool *pool = c->pool;
    ig_buf_release(&c->head);
    free(c);
    pool->nconns--;
    pool_drop_if_unused(pool);
    h->nconns--;
    free_if_done(h);
}

/* Closes c; its call (if any) must have been detached. */
static void conn_close(struct ig_h1_conn *c)
{
    if (c->state == CONN_CLOSED)
        return;
    if (c->state == CONN_IDLE)
        idle_unlink(c);
    c->state = CONN_CLOSED;
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static struct ig_upstream_call *conn_detach(struct ig_h1_conn *c)
{
    struct ig_upstream_call *call = c->call;
    c->call = NULL;
    if (call)
        call->conn = NULL;
    ig_timer_disarm(&c->deadline);
    return call;
}

static struct ig_h1_conn *conn_new(struct ig_h1 *h, struct h1_pool *pool)
{
    struct ig_h1_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (uv_tcp_init(h->loop, &c->tcp)) {
        free(c);
        return NULL;
    }
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    c->pool = pool;
    c->state = CONN_CONNECTING;
    ig_buf_init(&c->head, 64 * 1024);
    pool->nconns++;
    h->nconns++;
    return c;
}

static uint64_t remaining_ms(struct ig_h1 *h, const struct ig_upstream_call *call)
{
    uint64_t now = uv_now(h->loop);
    return call->deadline > now ? call->deadline - now : 1;
}

/* Ends c's call with a transport failure and closes c. A kept connection
 * that died before any of the answer came is replaced once instead. */
static void conn_fail(struct ig_h1_conn *c, const char *why, int timed_out)
{
    struct ig_upstream_call *call = conn_detach(c);
    struct ig_h1 *h = c->pool->h;
    int stale = c->reused && !c->got_bytes && !timed_out;
    conn_close(c);
    if (!call)
        return;
    if (stale && !call->retried_stale) {
        call->retried_stale = 1;
        int rc = start_connect(h, c->pool, call);
        if (rc == 0)
            return;
        snprintf(call->res.error, sizeof call->res.error, "reconnecting to the upstream: %s",
                 ig_strerror(rc));
    }
    call->res.transport_error = call->res.too_large ? IG_ETOOBIG : IG_EIO;
    call->res.timed_out = timed_out;
    if (!call->res.error[0])
        ig_strlcpy(call->res.error, why, sizeof call->res.error);
    finish_call(h, call);
}

static void timer_cb(uv_timer_t *t)
{
    struct ig_h1_conn *c = t->data;
    if (!ig_timer_due(t, &c->deadline, timer_cb))
        return;
    if (c->state == CONN_IDLE) {
        conn_close(c);
    } else if (c->call) {
        char why[96];
        snprintf(why, sizeof why, "%s timed out",
                 c->state == CONN_CONNECTING ? "connecting to the upstream" : "the upstream call");
        conn_fail(c, why, 1);
    }
}

/* ---- the answer ---- */

static int on_message_begin(http_parser *p)
{
    struct ig_h1_conn *c = p->data;
    ig_buf_reset(&c->call->res.headers);
    c->header_in_value = 0;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct ig_h1_conn *c = p->data;
    struct ig_buf *b = &c->call->res.headers;
    if (c->header_in_value && ig_buf_append(b, "\r\n", 2))
        return -1;
    c->header_in_value = 0;
    return ig_buf_append(b, at, len) ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct ig_h1_conn *c = p->data;
    struct ig_buf *b = &c->call->res.headers;
    if (!c->header_in_value && ig_buf_append(b, ": ", 2))
        return -1;
    c->header_in_value = 1;
    return ig_buf_append(b, at, len) ? -1 : 0;
}

static int on_headers_complete(http_parser *p)
{
    struct ig_h1_conn *c = p->data;
    struct ig_upstream_call *call = c->call;
    if (c->header_in_value && ig_buf_append(&call->res.headers, "\r\n", 2))
        return -1;
    c->header_in_value = 0;
    /* Content-Length is known before any of the body: refuse or size the
     * buffer once (ULLONG_MAX when absent). */
    if (p->content_length != ULLONG_MAX && p->status_code >= 200) {
        if (p->content_length > call->res.body.max) {
            call->res.too_large = 1;
            return -1;
        }
        if (ig_buf_reserve(&call->res.body, (size_t)p->content_length))
            return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct ig_h1_conn *c = p->data;
    struct ig_upstream_call *call = c->call;
    if (p->status_code < 200)
        return 0;
    if (ig_buf_append(&call->res.body, at, len)) {
        call->res.too_large = 1;
        return -1;
    }
    if (call->req.on_data && p->status_code >= 200 && p->status_code < 300)
        call->req.on_data(call->req.on_data_ud, at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct ig_h1_conn *c = p->data;
    if (p->status_code < 200) /* 1xx: the real answer follows */
        return 0;
    c->complete = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* The answer is whole: the call ends and the connection goes back to its
 * pool when the answer allows and nothing is left over. */
static void conn_complete(struct ig_h1_conn *c, int leftover)
{
    struct ig_upstream_call *call = conn_detach(c);
    call->res.status = c->parser.status_code;
    struct h1_pool *pool = c->pool;
    struct ig_h1 *h = pool->h;
    if (!leftover && !c->writing && http_should_keep_alive(&c->parser) && pool->nidle < IDLE_MAX) {
        c->state = CONN_IDLE;
        c->idle_prev = NULL;
        c->idle_next = pool->idle;
        if (pool->idle)
            pool->idle->idle_prev = c;
        pool->idle = c;
        pool->nidle++;
        ig_timer_arm(&c->timer, &c->deadline, IDLE_MS, timer_cb);
    } else {
        conn_close(c);
    }
    h->done(call);
}

static void conn_input(struct ig_h1_conn *c, const char *data, size_t len)
{
    c->got_bytes = 1;
    size_t n = http_parser_execute(&c->parser, &settings, data, len);
    enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
    if (c->complete) {
        http_parser_pause(&c->parser, 0);
        conn_complete(c, n < len);
        return;
    }
    if (err != HPE_OK) {
        char why[128];
        if (c->call->res.too_large)
            snprintf(why, sizeof why, "the answer is larger than %zu bytes", c->call->res.body.max);
        else
            snprintf(why, sizeof why, "malformed HTTP answer: %s", http_errno_description(err));
        conn_fail(c, why, 0);
    }
}

static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct ig_h1_conn *c = handle->data;
    *buf = uv_buf_init(c->pool->h->rbuf, sizeof c->pool->h->rbuf);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct ig_h1_conn *c = stream->data;
    if (nread == 0 || c->state == CONN_CLOSED)
        return;
    if (c->state != CONN_BUSY) { /* idle: the server closed it, or talks out of turn */
        conn_close(c);
        return;
    }
    if (nread > 0) {
        conn_input(c, buf->base, (size_t)nread);
        return;
    }
    if (nread == UV_EOF && c->got_bytes) { /* an answer that ends with the connection */
        http_parser_execute(&c->parser, &settings, NULL, 0);
        if (c->complete) {
            http_parser_pause(&c->parser, 0);
            conn_complete(c, 1);
            return;
        }
    }
    conn_fail(c,
              nread == UV_EOF ? "the upstream closed the connection before the answer was complete"
                              : uv_strerror((int)nread),
              0);
}

/* ---- the request ---- */

static int build_head(struct ig_h1_conn *c, const struct ig_upstream_call *call)
{
    const struct ig_upstream_request *req = &call->req;
    const struct http_parser_url *p = &call->target.parts;
    struct ig_buf *b = &c->head;
    ig_buf_reset(b);
    int rc = ig_buf_puts(b, req->method);
    rc = rc ? rc : ig_buf_append(b, " ", 1);
    if (p->field_set & (1 << UF_PATH))
        rc = rc ? rc
                : ig_buf_append(b, req->url + p->field_data[UF_PATH].off,
                                p->field_data[UF_PATH].len);
    else
        rc = rc ? rc : ig_buf_append(b, "/", 1);
    if (p->field_set & (1 << UF_QUERY)) {
        rc = rc ? rc : ig_buf_append(b, "?", 1);
        rc = rc ? rc
                : ig_buf_append(b, req->url + p->field_data[UF_QUERY].off,
                                p->field_data[UF_QUERY].len);
    }
    rc = rc ? rc : ig_buf_puts(b, " HTTP/1.1\r\nHost: ");
    rc = rc ? rc : ig_buf_puts(b, c->pool->authority);
    rc = rc ? rc : ig_buf_puts(b, "\r\nUser-Agent: imagegate/0.1\r\n");
    size_t accept_len;
    if (!ig_header_lines_find(&req->headers, "Accept", &accept_len))
        rc = rc ? rc : ig_buf_puts(b, "Accept: */*\r\n");
    if (req->headers.len)
        rc = rc ? rc : ig_buf_append(b, req->headers.data, req->headers.len);
    if (req->body || strcmp(req->method, "GET") != 0) {
        rc = rc ? rc : ig_buf_puts(b, "Content-Length: ");
        rc = rc ? rc : ig_buf_put_u64(b, req->body ? req->body_len : 0);
        rc = rc ? rc : ig_buf_append(b, "\r\n", 2);
    }
    return rc ? rc : ig_buf_append(b, "\r\n", 2);
}

static void write_cb(uv_write_t *w, int status)
{
    struct ig_h1_conn *c = w->data;
    c->writing = 0;
    if (status < 0 && status != UV_ECANCELED && c->call && c->state == CONN_BUSY)
        conn_fail(c, uv_strerror(status), 0);
}

/* Sends call's request on c (connected, or taken from the idle list). */
static void conn_send(struct ig_h1_conn *c, struct ig_upstream_call *call)
{
    struct ig_h1 *h = c->pool->h;
    c->state = CONN_BUSY;
    c->call = call;
    call->conn = c;
    c->got_bytes = c->complete = c->header_in_value = 0;
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    ig_timer_arm(&c->timer, &c->deadline, remaining_ms(h, call), timer_cb);
    if (build_head(c, call)) {
        conn_fail(c, "the request could not be written (a header is too large)", 0);
        return;
    }
    uv_buf_t bufs[2] = {uv_buf_init(c->head.data, (unsigned)c->head.len),
                        uv_buf_init(call->req.body, (unsigned)call->req.body_len)};
    unsigned nbufs = call->req.body ? 2 : 1, first = 0;
    /* Most requests fit the socket buffer: written at once, they need no
     * write request (whose completion costs libuv an epoll_ctl). */
    int rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
    if (rc == UV_EAGAIN)
        rc = 0;
    if (rc < 0) {
        conn_fail(c, uv_strerror(rc), 0);
        return;
    }
    size_t skip = (size_t)rc;
    while (first < nbufs && skip >= bufs[first].len)
        skip -= bufs[first++].len;
    if (first == nbufs)
        return;
    bufs[first].base += skip;
    bufs[first].len -= skip;
    c->write_req.data = c;
    rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs + first, nbufs - first, write_cb);
    if (rc < 0) {
        conn_fail(c, uv_strerror(rc), 0);
        return;
    }
    c->writing = 1;
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct ig_h1_conn *c = req->data;
    if (c->state == CONN_CLOSED) /* cancelled or timed out meanwhile */
        return;
    struct ig_upstream_call *call = c->call;
    if (status < 0) {
        snprintf(call->res.error, sizeof call->res.error, "connecting to the upstream: %s",
                 uv_strerror(status));
        conn_detach(c);
        conn_close(c);
        connect_next(c->pool->h, c->pool, call);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    if (rc < 0) {
        conn_fail(c, uv_strerror(rc), 0);
        return;
    }
    conn_send(c, call);
}

/* Connects call to the next address the policy allows; when none is left
 * the call ends (blocked when the policy refused them all). */
static void connect_next(struct ig_h1 *h, struct h1_pool *pool, struct ig_upstream_call *call)
{
    while (call->next_addr < call->naddrs) {
        const struct sockaddr *sa = (const struct sockaddr *)&call->addrs[call->next_addr++];
        if (ig_upstream_refuses(call, sa)) {
            call->refused_addrs++;
            continue;
        }
        struct ig_h1_conn *c = conn_new(h, pool);
        if (!c) {
            snprintf(call->res.error, sizeof call->res.error, "out of memory");
            break;
        }
        c->call = call;
        call->conn = c;
        c->connect_req.data = c;
        uint64_t ms = remaining_ms(h, call);
        ig_timer_arm(&c->timer, &c->deadline, ms < CONNECT_MS ? ms : CONNECT_MS, timer_cb);
        int rc = uv_tcp_connect(&c->connect_req, &c->tcp, sa, connect_cb);
        if (rc == 0)
            return;
        snprintf(call->res.error, sizeof call->res.error, "connecting to the upstream: %s",
                 uv_strerror(rc));
        conn_detach(c);
        conn_close(c);
    }
    call->res.transport_error = IG_EIO;
    if (call->naddrs && call->refused_addrs == call->naddrs) {
        call->res.blocked = 1;
        ig_strlcpy(call->res.error, call->refusal, sizeof call->res.error);
    } else if (!call->res.error[0]) {
        snprintf(call->res.error, sizeof call->res.error, "could not connect to the upstream");
    }
    pool_drop_if_unused(pool);
    finish_call(h, call);
}

static void resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct ig_h1_resolve *r = req->data;
    struct ig_upstream_call *call = r->call;
    if (call) {
        call->resolve = NULL;
        free(call->addrs);
        call->next_addr = call->refused_addrs = 0;
        int n = 0;
        for (struct addrinfo *ai = res; ai && n < MAX_ADDRS; ai = ai->ai_next)
            if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
                ai->ai_addrlen <= sizeof(struct sockaddr_storage))
                n++;
        call->addrs = n ? calloc((size_t)n, sizeof *call->addrs) : NULL;
        call->naddrs = 0;
        for (struct addrinfo *ai = res; call->addrs && ai && call->naddrs < n; ai = ai->ai_next)
            if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
                ai->ai_addrlen <= sizeof(struct sockaddr_storage))
                memcpy(&call->addrs[call->naddrs++], ai->ai_addr, ai->ai_addrlen);
        if (status < 0)
            snprintf(call->res.error, sizeof call->res.error, "resolving the upstream host: %s",
                     uv_strerror(status));
        struct h1_pool *pool = pool_for(r->h, call);
        if (pool) {
            connect_next(r->h, pool, call);
        } else {
            call->res.transport_error = IG_ENOMEM;
            snprintf(call->res.error, sizeof call->res.error, "out of memory");
            finish_call(r->h, call);
        }
    }
    uv_freeaddrinfo(res);
    free(r);
}

/* Finds the call's addresses: a literal at once, a name on the pool. */
static int start_connect(struct ig_h1 *h, struct h1_pool *pool, struct ig_upstream_call *call)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&ss;
    if (uv_inet_pton(AF_INET, pool->host, &in4->sin_addr) == 0) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(pool->port);
    } else if (uv_inet_pton(AF_INET6, pool->host, &in6->sin6_addr) == 0) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(pool->port);
    } else {
        struct ig_h1_resolve *r = calloc(1, sizeof *r);
        if (!r)
            return IG_ENOMEM;
        r->h = h;
        r->call = call;
        r->req.data = r;
        char port[8];
        snprintf(port, sizeof port, "%u", (unsigned)pool->port);
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        if (uv_getaddrinfo(h->loop, &r->req, resolved_cb, pool->host, port, &hints)) {
            free(r);
            return IG_EIO;
        }
        call->resolve = r;
        return 0;
    }
    free(call->addrs);
    call->next_addr = call->refused_addrs = 0;
    call->addrs = malloc(sizeof *call->addrs);
    if (!call->addrs)
        return IG_ENOMEM;
    call->addrs[0] = ss;
    call->naddrs = 1;
    connect_next(h, pool, call);
    return 0;
}

/* ---- interface ---- */

int ig_h1_new(struct ig_h1 **out, uv_loop_t *loop, ig_upstream_call_done_fn done)
{
    struct ig_h1 *h = calloc(1, sizeof *h);
    if (!h)
        return IG_ENOMEM;
    h->loop = loop;
    h->done = done;
    uv_timer_init(loop, &h->defer);
    h->defer.data = h;
    h->defer_open = 1;
    *out = h;
    return 0;
}

int ig_h1_start(struct ig_h1 *h, struct ig_upstream_call *call)
{
    if (!call->req.url || split_url(h, call->req.url, &call->target))
        return IG_ENOTFOUND;
    long timeout = call->req.timeout_ms > 0 ? call->req.timeout_ms : DEFAULT_TIMEOUT_MS;
    call->deadline = uv_now(h->loop) + (uint64_t)timeout;
    struct h1_pool *pool = pool_for(h, call);
    if (!pool)
        return IG_ENOMEM;
    struct ig_h1_conn *c = pool->idle;
    h->starting = 1;
    int rc = 0;
    if (c) {
        idle_unlink(c);
        c->reused = 1;
        conn_send(c, call);
    } else if ((rc = start_connect(h, pool, call))) {
        pool_drop_if_unused(pool);
    }
    h->starting = 0;
    return rc;
}

void ig_h1_cancel(struct ig_h1 *h, struct ig_upstream_call *call)
{
    if (call->deferred) {
        struct ig_upstream_call **pp = &h->deferred;
        while (*pp != call)
            pp = &(*pp)->deferred_next;
        *pp = call->deferred_next;
        call->deferred = 0;
    }
    if (call->resolve) {
        call->resolve->call = NULL;
        uv_cancel((uv_req_t *)&call->resolve->req);
        call->resolve = NULL;
    }
    if (call->conn) {
        struct ig_h1_conn *c = call->conn;
        conn_detach(c);
        conn_close(c);
    }
}

static void defer_closed(uv_handle_t *handle)
{
    struct ig_h1 *h = handle->data;
    h->defer_open = 0;
    free_if_done(h);
}

void ig_h1_free(struct ig_h1 *h)
{
    if (!h)
        return;
    h->freeing = 1;
    for (struct h1_pool *pool = h->pools, *next; pool; pool = next) {
        next = pool->next;
        while (pool->idle)
            conn_close(pool->idle);
        pool_drop_if_unused(pool);
    }
    uv_close((uv_handle_t *)&h->defer, defer_closed);
}
