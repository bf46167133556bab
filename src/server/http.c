/* http.c — HTTP/1.1 connections on libuv loops, parsed by http-parser.
 *
 * Design. Each worker thread (server/server.c) owns a loop, a SO_REUSEPORT
 * listener bound by the main thread, and the connections it accepts. Reads land in one
 * per-worker buffer and are parsed at once, so an idle connection holds no
 * read buffer. When a request is complete the parser is paused and the
 * request handed to the application; bytes that arrive meanwhile (pipelined
 * requests) wait in a bounded per-connection buffer and are parsed after the
 * response is written, which keeps responses in request order.
 *
 * Limits are checked before memory is committed: header bytes and count
 * while parsing (431), Content-Length before the body is read (413), body
 * bytes as they arrive (413). Each connection has one timer, re-armed for
 * the phase it is in: header timeout from a request's first byte (and for a
 * new connection's first request), body timeout once headers are in, idle
 * timeout between keep-alive requests. Errors that leave the stream
 * unparseable answer and then close with a short lingering read, so the
 * client sees the response instead of a reset.
 *
 * Ownership. A request is freed after its response is written, or — when the
 * client went away while the request was parked — when the handler finally
 * answers it. A connection is freed only in the close callback of its last
 * handle. */
#include "server/http_internal.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static http_parser_settings parser_settings;

static void conn_input(struct ig_conn *c, const char *data, size_t len);
static void conn_resume(struct ig_conn *c);
static void start_reading(struct ig_conn *c);
static void conn_arm(struct ig_conn *c, uint64_t ms);
static void conn_disarm(struct ig_conn *c);
static int body_admit(struct ig_conn *c, size_t limit);
static void refuse(struct ig_http_req *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finish_request(struct ig_http_req *req);
static void conn_finish_close(struct ig_conn *c);

/* ---- status texts and small helpers ---- */

const char *ig_http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 499:
        return "Client Closed Request"; /* nginx's: for the access log only */
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

const char *ig_http_method_name(const struct ig_http_req *req)
{
    return http_method_str((enum http_method)req->method);
}

const char *ig_http__worker_date(struct ig_http_worker *w)
{
    int64_t now = ig_unix_time();
    if (now != w->date_sec) {
        struct tm tm;
        time_t t = (time_t)now;
        gmtime_r(&t, &tm);
        strftime(w->date, sizeof w->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        w->date_sec = now;
    }
    return w->date;
}

size_t ig_http_header_count(const struct ig_http_req *req, const char *name)
{
    size_t n = 0, len = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++)
        n += req->headers[i].name_len == len && strncasecmp(req->headers[i].name, name, len) == 0;
    return n;
}

const char *ig_http_header(const struct ig_http_req *req, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct ig_http_header *h = &req->headers[i];
        if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
            if (len)
                *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

int ig_http_add_header(struct ig_http_req *req, const char *name, const char *value)
{
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return IG_EINVAL;
    int rc = ig_buf_puts(&req->resp_headers, name);
    rc = rc ? rc : ig_buf_append(&req->resp_headers, ": ", 2);
    rc = rc ? rc : ig_buf_puts(&req->resp_headers, value);
    return rc ? rc : ig_buf_append(&req->resp_headers, "\r\n", 2);
}

/* ---- requests ---- */

static struct ig_http_req *req_new(struct ig_conn *c)
{
    struct ig_http_req *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    const struct ig_http_limits *l = &c->w->server->limits;
    req->conn = c;
    req->worker = c->w;
    req->loop = &c->w->loop;
    req->start_us = ig_now_us();
    req->http_minor = 1;
    ig_buf_init(&req->raw, l->max_header_bytes + 2 * l->max_headers + 2);
    ig_buf_init(&req->marks, (2 * l->max_headers + 2) * sizeof(size_t));
    ig_buf_init(&req->body, l->max_body_bytes);
    ig_buf_init(&req->resp_headers, 16384);
    return req;
}

static void req_free(struct ig_http_req *req)
{
    if (req->body_reserved)
        atomic_fetch_sub(&req->worker->server->body_bytes, req->body_reserved);
    if (req->app_free)
        req->app_free(req->app);
    ig_buf_release(&req->raw);
    ig_buf_release(&req->marks);
    ig_buf_release(&req->body);
    ig_buf_release(&req->resp_headers);
    free(req->headers);
    free(req);
}

static int mark(struct ig_http_req *req)
{
    size_t off = req->raw.len;
    return ig_buf_append(&req->marks, &off, sizeof off);
}

/* Ends the current token (url, name or value) with a NUL in raw. */
static int end_token(struct ig_http_req *req)
{
    return ig_buf_append(&req->raw, "", 1);
}

/* Turns raw + marks into the headers array once all headers are in. */
static int build_headers(struct ig_http_req *req)
{
    const size_t *m = (const size_t *)(void *)req->marks.data;
    size_t nmarks = req->marks.len / sizeof(size_t);
    /* marks: [0] url end; then pairs (name start, value start). */
    size_t nh = nmarks > 0 ? (nmarks - 1) / 2 : 0;
    req->nheaders = nh;
    if (nh) {
        req->headers = calloc(nh, sizeof *req->headers);
        if (!req->headers)
            return IG_ENOMEM;
    }
    for (size_t i = 0; i < nh; i++) {
        size_t ns = m[1 + 2 * i], vs = m[2 + 2 * i];
        size_t end = i + 1 < nh ? m[1 + 2 * (i + 1)] : req->raw.len;
        struct ig_http_header *h = &req->headers[i];
        h->name = req->raw.data + ns;
        h->name_len = vs - 1 - ns;
        h->value = req->raw.data + vs;
        h->value_len = end - 1 - vs;
        /* Trim trailing whitespace http-parser leaves in obs-fold cases. */
        while (h->value_len &&
               (h->value[h->value_len - 1] == ' ' || h->value[h->value_len - 1] == '\t'))
            h->value_len--;
    }
    /* Split the target into path and query. */
    size_t url_end = nmarks ? m[0] : req->raw.len;
    const char *url = req->raw.data ? req->raw.data : "";
    size_t url_len = url_end ? url_end - 1 : 0;
    const char *q = memchr(url, '?', url_len);
    req->path = url;
    req->path_len = q ? (size_t)(q - url) : url_len;
    if (q) {
        req->query = q + 1;
        req->query_len = url_len - req->path_len - 1;
    }
    return 0;
}

/* ---- parser callbacks ---- */

static int on_message_begin(http_parser *p)
{
    struct ig_conn *c = p->data;
    c->in_message = 1;
    c->ps = PS_URL;
    c->req = req_new(c);
    /* Room for a typical request's line and headers in one allocation. */
    if (!c->req || ig_buf_reserve(&c->req->raw, 1024) ||
        ig_buf_reserve(&c->req->marks, 32 * sizeof(size_t))) {
        c->error_status = 503;
        return 1;
    }
    conn_arm(c, c->w->server->limits.header_timeout_ms);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct ig_conn *c = p->data;
    if (ig_buf_append(&c->req->raw, at, len)) {
        c->error_status = 414;
        return 1;
    }
    return 0;
}

/* Errors return -1: for on_headers_complete, 1 would mean "no body". */
static int header_overflow(struct ig_conn *c)
{
    c->error_status = 431;
    return -1;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct ig_conn *c = p->data;
    struct ig_http_req *req = c->req;
    if (c->ps != PS_FIELD) {
        if (c->ps == PS_URL && (end_token(req) || mark(req)))
            return header_overflow(c);
        if (c->ps == PS_VALUE && end_token(req))
            return header_overflow(c);
        if (req->marks.len / sizeof(size_t) >= 1 + 2 * c->w->server->limits.max_headers)
            return header_overflow(c);
        if (mark(req))
            return header_overflow(c);
        c->ps = PS_FIELD;
    }
    if (ig_buf_append(&req->raw, at, len))
        return header_overflow(c);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct ig_conn *c = p->data;
    struct ig_http_req *req = c->req;
    if (c->ps != PS_VALUE) {
        if (end_token(req) || mark(req))
            return header_overflow(c);
        c->ps = PS_VALUE;
    }
    if (ig_buf_append(&req->raw, at, len))
        return header_overflow(c);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct ig_conn *c = p->data;
    struct ig_http_req *req = c->req;
    const struct ig_http_limits *l = &c->w->server->limits;
    if (c->ps == PS_URL && (end_token(req) || mark(req)))
        return header_overflow(c);
    if (c->ps == PS_VALUE && end_token(req))
        return header_overflow(c);
    if (build_headers(req)) {
        c->error_status = 503;
        return -1;
    }
    if (p->http_major != 1) {
        c->error_status = 505;
        return -1;
    }
    req->method = p->method;
    req->http_minor = p->http_minor;
    req->keep_alive = http_should_keep_alive(p);
    c->has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length);
    if (c->has_body && c->w->server->opt.admit) {
        c->admitting = 1; /* conn_input asks the application */
        http_parser_pause(p, 1);
        return 0;
    }
    int status = body_admit(c, l->max_body_bytes);
    if (status) {
        c->error_status = status;
        return -1;
    }
    return 0;
}

/* Counts n more bytes of req's body in the server's bound on bodies in
 * flight; -1 (nothing counted) when they would pass it. */
static int reserve_body(struct ig_conn *c, size_t n)
{
    struct ig_http_server *s = c->w->server;
    size_t max = s->limits.max_body_bytes_in_flight;
    if (!max)
        return 0;
    size_t before = atomic_fetch_add(&s->body_bytes, n);
    if (before + n > max || before + n < before) {
        atomic_fetch_sub(&s->body_bytes, n);
        return -1;
    }
    c->req->body_reserved += n;
    return 0;
}

/* Readies req's body for reading, at most limit bytes: 0, or the status
 * that refuses it (413 for a Content-Length over the limit, 503 when the
 * bound on bodies in flight is reached; c->over_budget tells which 503).
 * A chunked body is counted chunk by chunk (on_chunk_header). */
static int body_admit(struct ig_conn *c, size_t limit)
{
    struct ig_http_req *req = c->req;
    const http_parser *p = &c->parser;
    req->body.max = limit;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > limit)
        return 413;
    if (!c->has_body)
        return 0;
    if ((p->flags & F_CONTENTLENGTH) && reserve_body(c, (size_t)p->content_length)) {
        c->over_budget = 1;
        return 503;
    }
    size_t n;
    const char *expect = ig_http_header(req, "expect", &n);
    if (expect && n == 12 && strncasecmp(expect, "100-continue", 12) == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        uv_buf_t b = uv_buf_init(ig_mutable(cont), sizeof cont - 1);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    }
    conn_arm(c, c->w->server->limits.body_timeout_ms);
    return 0;
}

/* A chunk that would pass the body's limit is refused when its size line
 * arrives, not after the client has spent the body timeout sending it. */
static int on_chunk_header(http_parser *p)
{
    struct ig_conn *c = p->data;
    struct ig_http_req *req = c->req;
    if (p->content_length > req->body.max - req->body.len) {
        c->error_status = 413;
        return -1;
    }
    if (p->content_length && !(p->flags & F_CONTENTLENGTH) &&
        reserve_body(c, (size_t)p->content_length)) {
        c->error_status = 503;
        c->over_budget = 1;
        return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct ig_conn *c = p->data;
    if (ig_buf_append(&c->req->body, at, len)) {
        c->error_status = 413;
        return 1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct ig_conn *c = p->data;
    c->in_message = 0;
    conn_disarm(c);
    http_parser_pause(p, 1);
    return 0;
}

/* ---- request ids ---- */

static int sane_request_id(const char *v, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '-' || ch == '_' || ch == '.' || ch == ':'))
            return 0;
    }
    return 1;
}

/* Request ids: a random 64-bit process prefix drawn once, mixed with a
 * counter through splitmix64, then the counter itself: unique within the
 * process, unpredictable across processes, and no CSPRNG call per request.
 * They are labels for logs, not secrets. */
static uint64_t request_id_prefix;
static atomic_uint_fast64_t request_id_counter;

int ig_http__ids_init(void)
{
    if (request_id_prefix)
        return 0;
    return ig_random_bytes(&request_id_prefix, sizeof request_id_prefix);
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void assign_request_id(struct ig_http_req *req)
{
    size_t n;
    const char *v = ig_http_header(req, "x-request-id", &n);
    if (v && sane_request_id(v, n)) {
        memcpy(req->request_id, v, n);
        req->request_id[n] = '\0';
        return;
    }
    uint64_t count = atomic_fetch_add_explicit(&request_id_counter, 1, memory_order_relaxed);
    /* "req_", then 16 and 8 hex digits: the mixed and the plain count. */
    uint64_t mixed = mix64(request_id_prefix + count);
    uint8_t raw[12];
    for (int i = 0; i < 8; i++)
        raw[i] = (uint8_t)(mixed >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        raw[8 + i] = (uint8_t)(count >> (24 - 8 * i));
    memcpy(req->request_id, "req_", 4);
    ig_hex(raw, sizeof raw, req->request_id + 4);
}

/* ---- responses ---- */

static void write_done(struct write_ctx *wc)
{
    free(wc->head);
    if (wc->body_owned)
        free(ig_mutable(wc->body));
    struct ig_http_req *req = wc->req;
    free(wc);
    finish_request(req);
}

static void write_cb(uv_write_t *w, int status)
{
    struct write_ctx *wc = (struct write_ctx *)w;
    if (status < 0 && wc->req->conn) {
        wc->req->conn->close_after = 1;
        wc->req->client_gone = 1;
    }
    write_done(wc);
}

void ig_http_respond(struct ig_http_req *req, int status, const char *content_type,
                     const char *body, size_t len, enum ig_body_owner owner)
{
    if (req->responded || req->streaming) {
        /* A streamed response ends with ig_http_stream_end(); an error
         * mid-stream can only end it. */
        if (owner == IG_BODY_FREE)
            free(ig_mutable(body));
        if (req->streaming)
            ig_http_stream_end(req);
        return;
    }
    req->responded = 1;
    req->status = status;
    req->bytes_out = len;
    if (req->on_respond)
        req->on_respond(req, status, content_type, body, len, req->on_respond_arg);
    struct ig_conn *c = req->conn;
    if (!c) {
        /* The client is gone: nothing to write, just account and free. */
        if (owner == IG_BODY_FREE)
            free(ig_mutable(body));
        finish_request(req);
        return;
    }
    struct ig_http_server *s = c->w->server;
    if (c->admitting) {
        /* Refused before its body was read: the body is never read. The
         * connection closes after the answer, lingering so the client
         * sees the answer rather than a reset. */
        c->admitting = 0;
        req->keep_alive = 0;
        c->lingering = 1;
    }
    if (!req->keep_alive || atomic_load(&s->draining) || status == 408 || status == 413 ||
        status == 414 || status == 431 || status == 505 || (status == 400 && c->error_status))
        c->close_after = 1;
    if (req->request_id[0] == '\0')
        assign_request_id(req);

    struct ig_buf head;
    ig_buf_init(&head, 65536);
    /* Built from appends, not printf: this runs for every response. */
    int rc = ig_buf_reserve(&head, 384 + req->resp_headers.len);
    rc = rc ? rc : ig_buf_puts(&head, req->http_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
    rc = rc ? rc : ig_buf_put_u64(&head, (unsigned)status);
    rc = rc ? rc : ig_buf_puts(&head, " ");
    rc = rc ? rc : ig_buf_puts(&head, ig_http_status_text(status));
    rc = rc ? rc : ig_buf_puts(&head, "\r\nServer: imagegate\r\nDate: ");
    rc = rc ? rc : ig_buf_puts(&head, ig_http__worker_date(c->w));
    if (status != 204) { /* 204 has no body, and says no length (RFC 9110, 8.6) */
        rc = rc ? rc : ig_buf_puts(&head, "\r\nContent-Length: ");
        rc = rc ? rc : ig_buf_put_u64(&head, len);
    }
    rc = rc ? rc : ig_buf_puts(&head, "\r\nx-request-id: ");
    rc = rc ? rc : ig_buf_puts(&head, req->request_id);
    rc = rc ? rc : ig_buf_puts(&head, "\r\n");
    if (rc == 0 && content_type) {
        rc = ig_buf_puts(&head, "Content-Type: ");
        rc = rc ? rc : ig_buf_puts(&head, content_type);
        rc = rc ? rc : ig_buf_puts(&head, "\r\n");
    }
    if (rc == 0 && req->resp_headers.len)
        rc = ig_buf_append(&head, req->resp_headers.data, req->resp_headers.len);
    if (rc == 0) {
        if (c->close_after)
            rc = ig_buf_puts(&head, "Connection: close\r\n\r\n");
        else if (req->http_minor == 0)
            rc = ig_buf_puts(&head, "Connection: keep-alive\r\n\r\n");
        else
            rc = ig_buf_puts(&head, "\r\n");
    }
    if (rc) {
        ig_buf_release(&head);
        if (owner == IG_BODY_FREE)
            free(ig_mutable(body));
        c->close_after = 1;
        req->status = 500;
        finish_request(req);
        return;
    }
    /* HEAD answers carry the length of what GET would send, but no body. */
    size_t send_len = req->method == HTTP_HEAD ? 0 : len;
    uv_buf_t bufs[2] = {uv_buf_init(head.data, (unsigned)head.len),
                        uv_buf_init(ig_mutable(body), (unsigned)send_len)};
    int nbufs = send_len ? 2 : 1;
    int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)nbufs);
    size_t total = head.len + send_len;
    if (n >= 0 && (size_t)n == total) {
        ig_buf_release(&head);
        if (owner == IG_BODY_FREE)
            free(ig_mutable(body));
        finish_request(req);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    struct write_ctx *wc = calloc(1, sizeof *wc);
    if (!wc) {
        ig_buf_release(&head);
        if (owner == IG_BODY_FREE)
            free(ig_mutable(body));
        c->close_after = 1;
        finish_request(req);
        return;
    }
    wc->req = req;
    wc->head = ig_buf_detach(&head, NULL);
    wc->body = body;
    wc->body_owned = owner == IG_BODY_FREE;
    uv_buf_t rest[2];
    int nrest = 0;
    if (done < bufs[0].len) {
        rest[nrest++] = uv_buf_init(wc->head + done, (unsigned)(bufs[0].len - done));
        if (send_len)
            rest[nrest++] = uv_buf_init(ig_mutable(body), (unsigned)send_len);
    } else {
        size_t off = done - bufs[0].len;
        rest[nrest++] = uv_buf_init((char *)ig_mutable(body) + off, (unsigned)(send_len - off));
    }
    if (uv_write(&wc->w, (uv_stream_t *)&c->tcp, rest, (unsigned)nrest, write_cb) < 0) {
        c->close_after = 1;
        write_done(wc);
    }
}

/* The server's own refusals: the application's answer when it gave a
 * hook, plain text otherwise. */
static void refuse(struct ig_http_req *req, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const struct ig_http_server_options *o = &req->worker->server->opt;
    if (o->refuse) {
        o->refuse(req, status, code, msg, o->ud);
        return;
    }
    size_t len = strlen(msg);
    msg[len < sizeof msg - 1 ? len++ : len - 1] = '\n';
    char *body = malloc(len);
    if (!body) {
        ig_http_respond(req, status, "text/plain", "error\n", 6, IG_BODY_STATIC);
        return;
    }
    memcpy(body, msg, len);
    ig_http_respond(req, status, "text/plain", body, len, IG_BODY_FREE);
}

/* ---- streaming ---- */

struct stream_write {
    uv_write_t w;
    struct ig_http_req *req;
    size_t len;
    char data[];
};

static void stream_maybe_finish(struct ig_http_req *req)
{
    if (req->stream_ended && req->stream_writes == 0)
        finish_request(req);
}

static void stream_write_cb(uv_write_t *w, int status)
{
    struct stream_write *sw = (struct stream_write *)w;
    struct ig_http_req *req = sw->req;
    req->stream_writes--;
    if (status < 0 && req->conn) {
        req->conn->close_after = 1;
        req->client_gone = 1;
    }
    free(sw);
    stream_maybe_finish(req);
}

/* Queues bytes on the connection in order (uv_write keeps order). */
static int stream_raw(struct ig_http_req *req, const char *prefix, size_t plen, const void *data,
                      size_t len, const char *suffix, size_t slen)
{
    if (!req->conn)
        return 0; /* the client is gone: nothing to write */
    struct stream_write *sw = malloc(sizeof *sw + plen + len + slen);
    if (!sw)
        return IG_ENOMEM;
    sw->req = req;
    sw->len = plen + len + slen;
    memcpy(sw->data, prefix, plen);
    if (len)
        memcpy(sw->data + plen, data, len);
    memcpy(sw->data + plen + len, suffix, slen);
    uv_buf_t b = uv_buf_init(sw->data, (unsigned)sw->len);
    if (uv_write(&sw->w, (uv_stream_t *)&req->conn->tcp, &b, 1, stream_write_cb) < 0) {
        free(sw);
        req->conn->close_after = 1;
        return IG_EIO;
    }
    req->stream_writes++;
    req->bytes_out += len;
    return 0;
}

int ig_http_stream_start(struct ig_http_req *req, int status, const char *content_type)
{
    if (req->responded || req->streaming)
        return IG_EINVAL;
    req->streaming = 1;
    req->status = status;
    struct ig_conn *c = req->conn;
    if (!c)
        return 0;
    if (req->request_id[0] == '\0')
        assign_request_id(req);
    int chunked = req->http_minor > 0;
    if (!chunked || !req->keep_alive || atomic_load(&c->w->server->draining))
        c->close_after = 1;
    struct ig_buf head;
    ig_buf_init(&head, 65536);
    int rc = ig_buf_printf(&head,
                           "HTTP/1.%d %d %s\r\nServer: imagegate\r\nDate: %s\r\n"
                           "x-request-id: %s\r\nContent-Type: %s\r\nCache-Control: no-cache\r\n",
                           chunked ? 1 : 0, status, ig_http_status_text(status),
                           ig_http__worker_date(c->w), req->request_id, content_type);
    if (rc == 0 && req->resp_headers.len)
        rc = ig_buf_append(&head, req->resp_headers.data, req->resp_headers.len);
    if (rc == 0)
        rc = ig_buf_puts(&head, chunked ? "Transfer-Encoding: chunked\r\n" : "");
    if (rc == 0)
        rc = ig_buf_puts(&head, c->close_after ? "Connection: close\r\n\r\n" : "\r\n");
    if (rc == 0)
        rc = stream_raw(req, head.data, head.len, NULL, 0, "", 0);
    ig_buf_release(&head);
    return rc;
}

int ig_http_stream_write(struct ig_http_req *req, const void *data, size_t len)
{
    if (!req->streaming || req->stream_ended || len == 0)
        return req->streaming ? 0 : IG_EINVAL;
    if (req->http_minor == 0)
        return stream_raw(req, "", 0, data, len, "", 0);
    char size[24];
    int n = snprintf(size, sizeof size, "%zx\r\n", len);
    return stream_raw(req, size, (size_t)n, data, len, "\r\n", 2);
}

void ig_http_stream_end(struct ig_http_req *req)
{
    if (!req->streaming || req->stream_ended)
        return;
    req->stream_ended = 1;
    req->responded = 1;
    if (req->http_minor > 0)
        stream_raw(req, "0\r\n\r\n", 5, NULL, 0, "", 0);
    stream_maybe_finish(req);
}

/* Called when the response is fully handed over (or the client is gone). */
static void finish_request(struct ig_http_req *req)
{
    struct ig_conn *c = req->conn;
    struct ig_http_server *s = req->worker->server;
    if (s->opt.complete)
        s->opt.complete(req, s->opt.ud);
    struct ig_http_worker *w = req->worker;
    req_free(req);
    if (!c) {
        ig_http__worker_maybe_done(w);
        return;
    }
    c->req = NULL;
    c->handling = 0;
    c->served++;
    if (c->close_after || c->closing) {
        conn_finish_close(c);
        return;
    }
    http_parser_pause(&c->parser, 0);
    if (!c->dispatching)
        conn_resume(c);
}

/* ---- connections ---- */

static void conn_free_cb(uv_handle_t *h)
{
    struct ig_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    struct ig_http_worker *w = c->w;
    ig_buf_release(&c->pending);
    free(c);
    atomic_fetch_sub(&w->server->connections, 1);
    w->nconns--;
    ig_http__worker_maybe_done(w);
}

void ig_http__conn_close(struct ig_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (c->req) {
        if (c->handling) {
            /* Parked: the handler still owns it and will answer into the void;
             * it hears of the departure so it can stop its work. */
            struct ig_http_req *req = c->req;
            req->conn = NULL;
            req->client_gone = 1;
            c->req = NULL;
            if (req->on_client_gone && !req->responded)
                req->on_client_gone(req, req->on_client_gone_arg);
        } else {
            req_free(c->req);
        }
        c->req = NULL;
    }
    uv_close((uv_handle_t *)&c->timer, conn_free_cb);
    uv_close((uv_handle_t *)&c->tcp, conn_free_cb);
}

static void timer_cb(uv_timer_t *t)
{
    struct ig_conn *c = t->data;
    if (!ig_timer_due(t, &c->deadline, timer_cb))
        return;
    if (c->lingering || c->handling || !c->in_message || !c->req) {
        ig_http__conn_close(c);
        return;
    }
    /* A request began but did not arrive in time. */
    c->in_message = 0;
    c->handling = 1;
    c->close_after = 1;
    assign_request_id(c->req);
    refuse(c->req, 408, "request_timeout", "the request was not received in time");
}

/* The connection's phases (headers, body, idle, linger) each end on a
 * deadline of their own; the timer is armed lazily (util/timer.h). */
static void conn_arm(struct ig_conn *c, uint64_t ms)
{
    ig_timer_arm(&c->timer, &c->deadline, ms, timer_cb);
}

/* No deadline while a request is with the handler. */
static void conn_disarm(struct ig_conn *c)
{
    ig_timer_disarm(&c->deadline);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct ig_conn *c = h->data;
    buf->base = c->w->read_buf;
    buf->len = READ_BUF_SIZE;
}

static void linger_shutdown_cb(uv_shutdown_t *sr, int status)
{
    (void)status;
    free(sr);
}

/* Rejects the request being parsed with c->error_status (or 400). The
 * stream cannot be trusted after this, so the connection closes after the
 * answer, lingering briefly to read what the client still sends. */
static void reject_unparseable(struct ig_conn *c, enum http_errno err)
{
    int status = c->error_status ? c->error_status : 400;
    if (!c->req) {
        c->req = req_new(c);
        if (!c->req) {
            ig_http__conn_close(c);
            return;
        }
    }
    struct ig_http_req *req = c->req;
    req->keep_alive = 0;
    c->close_after = 1;
    c->lingering = 1;
    c->handling = 1;
    c->in_message = 0;
    conn_disarm(c);
    assign_request_id(req);
    switch (status) {
    case 413:
        refuse(req, 413, "request_too_large", "request body is larger than %zu bytes",
               req->body.max);
        break;
    case 414:
        refuse(req, 414, "uri_too_long", "the request line exceeds %zu bytes",
               c->w->server->limits.max_header_bytes);
        break;
    case 431:
        refuse(req, status, "headers_too_large",
               "request line or headers exceed %zu bytes or %zu fields",
               c->w->server->limits.max_header_bytes, c->w->server->limits.max_headers);
        break;
    case 503:
        if (c->over_budget) {
            ig_http_add_header(req, "Retry-After", "1");
            refuse(req, 503, "overloaded", "too many request bodies in flight; try again");
        } else {
            refuse(req, 503, "overloaded", "out of memory for this request");
        }
        break;
    case 505:
        refuse(req, 505, "http_version_not_supported",
               "only HTTP/1.0 and HTTP/1.1 are spoken here");
        break;
    default:
        refuse(req, 400, "malformed_http", "malformed HTTP request: %s",
               http_errno_description(err));
        break;
    }
}

static void dispatch(struct ig_conn *c)
{
    struct ig_http_req *req = c->req;
    struct ig_http_server *s = c->w->server;
    c->handling = 1;
    c->dispatching = 1;
    assign_request_id(req);
    s->opt.handler(req, s->opt.ud);
    if (!c->closing)
        c->dispatching = 0;
}

/* Hands a request's headers to the admit hook. While it decides, the
 * connection reads nothing more: what this read brought stays in pending
 * (at most one read buffer), and the rest of the body waits in the
 * kernel, or is never read at all when the answer is a refusal. */
static void ask_admission(struct ig_conn *c)
{
    struct ig_http_server *s = c->w->server;
    c->handling = 1;
    c->dispatching = 1;
    conn_disarm(c);
    assign_request_id(c->req);
    s->opt.admit(c->req, s->opt.ud);
    if (c->closing)
        return;
    c->dispatching = 0;
    if (c->admitting && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

void ig_http_admit(struct ig_http_req *req, size_t body_limit)
{
    struct ig_conn *c = req->conn;
    if (!c) {
        /* The client left while the application decided. */
        req->responded = 1;
        req->status = 499;
        finish_request(req);
        return;
    }
    int status = body_admit(c, body_limit);
    if (status == 413) {
        refuse(req, 413, "request_too_large", "request body is larger than %zu bytes", body_limit);
        return;
    }
    if (status) {
        ig_http_add_header(req, "Retry-After", "1");
        refuse(req, 503, "overloaded", "too many request bodies in flight; try again");
        return;
    }
    c->admitting = 0;
    c->handling = 0;
    http_parser_pause(&c->parser, 0);
    /* Reading again at once, not only when conn_resume gets to it: a
     * request dispatched from pending must still hear its client leave. */
    start_reading(c);
    if (!c->dispatching)
        conn_resume(c);
}

int ig_http_admitting(const struct ig_http_req *req)
{
    return req->conn && req->conn->admitting;
}

static void store_pending(struct ig_conn *c, const char *data, size_t len)
{
    const struct ig_http_limits *l = &c->w->server->limits;
    if (c->pending.max == 0)
        ig_buf_init(&c->pending, l->max_header_bytes + l->max_body_bytes + 2 * READ_BUF_SIZE);
    if (ig_buf_append(&c->pending, data, len)) {
        /* More pipelined bytes than any request may have: stop reading
         * until the backlog is parsed. The bytes that did not fit are kept
         * by keeping the connection unread; here we must drop them, so
         * close instead of corrupting the stream. */
        c->close_after = 1;
        return;
    }
    if (c->reading && c->pending.len > l->max_header_bytes + l->max_body_bytes) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void start_reading(struct ig_conn *c)
{
    if (!c->reading && !c->closing) {
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
        c->reading = 1;
    }
}

/* Parses data; dispatches each complete request in turn. Bytes left when a
 * request is parked are kept in c->pending. */
static void conn_input(struct ig_conn *c, const char *data, size_t len)
{
    while (len > 0 && !c->closing && !c->lingering) {
        if (c->handling) {
            store_pending(c, data, len);
            return;
        }
        size_t n = http_parser_execute(&c->parser, &parser_settings, data, len);
        if (c->closing)
            return;
        enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
        data += n;
        len -= n;
        if (err == HPE_PAUSED && c->admitting) {
            ask_admission(c);
            if (c->closing)
                return;
            continue; /* answered: the body or the next request; parked: pending */
        }
        if (err == HPE_PAUSED) {
            dispatch(c);
            if (c->closing)
                return;
            if (c->handling)
                continue; /* parked: the rest goes to pending */
            continue;
        }
        if (err != HPE_OK) {
            reject_unparseable(c, err);
            return;
        }
        if (n == 0)
            break;
    }
}

static void conn_resume(struct ig_conn *c)
{
    while (!c->closing && !c->handling && c->pending.len) {
        struct ig_buf local = c->pending;
        ig_buf_init(&c->pending, local.max);
        c->dispatching = 1;
        conn_input(c, local.data, local.len);
        if (!c->closing)
            c->dispatching = 0;
        ig_buf_release(&local);
    }
    if (c->closing || c->handling)
        return;
    start_reading(c);
    if (!c->in_message) {
        if (atomic_load(&c->w->server->draining)) {
            ig_http__conn_close(c);
            return;
        }
        conn_arm(c, c->w->server->limits.idle_timeout_ms);
    }
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct ig_conn *c = stream->data;
    (void)buf;
    if (nread == 0)
        return;
    if (nread < 0) {
        /* EOF or error. A parked request's client is gone: its handler
         * finds req->conn == NULL and the work can be abandoned. */
        ig_http__conn_close(c);
        return;
    }
    if (c->lingering)
        return; /* discard what a rejected client still sends */
    c->dispatching = 1;
    conn_input(c, c->w->read_buf, (size_t)nread);
    if (c->closing)
        return;
    c->dispatching = 0;
    if (!c->handling && !c->in_message && !c->close_after) {
        if (c->pending.len)
            conn_resume(c);
        else
            conn_arm(c, c->w->server->limits.idle_timeout_ms);
    }
}

static void begin_linger(struct ig_conn *c)
{
    uv_shutdown_t *sr = malloc(sizeof *sr);
    if (!sr || uv_shutdown(sr, (uv_stream_t *)&c->tcp, linger_shutdown_cb) < 0) {
        free(sr);
        ig_http__conn_close(c);
        return;
    }
    start_reading(c);
    conn_arm(c, LINGER_MS);
}

void ig_http__on_connection(uv_stream_t *listener, int status)
{
    struct ig_http_worker *w = listener->data;
    struct ig_http_server *s = w->server;
    if (status < 0 || w->draining)
        return;
    struct ig_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->w = w;
    uv_tcp_init(&w->loop, &c->tcp);
    uv_timer_init(&w->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    atomic_fetch_add(&s->connections, 1);
    w->nconns++;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
        ig_http__conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (atomic_load(&s->connections) > s->limits.max_connections) {
#define BUSY_BODY                                                                                  \
    "{\"error\":{\"message\":\"too many open connections\",\"type\":\"server_error\","             \
    "\"param\":null,\"code\":\"too_many_connections\"}}"
        char busy[512];
        int n = snprintf(busy, sizeof busy,
                         "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                         "Retry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                         sizeof BUSY_BODY - 1, BUSY_BODY);
        uv_buf_t b = uv_buf_init(busy, (unsigned)n);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        ig_http__conn_close(c);
        return;
    }
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    start_reading(c);
    /* A new connection must start its first request within the header
     * timeout; a silent one is closed. */
    conn_arm(c, s->limits.header_timeout_ms);
}

/* Once a response with close_after is written, the connection either closes
 * at once or, after an unparseable request, lingers. */
static void conn_finish_close(struct ig_conn *c)
{
    if (c->lingering)
        begin_linger(c);
    else
        ig_http__conn_close(c);
}

void ig_http__settings_init(void)
{
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_body = on_body;
    parser_settings.on_chunk_header = on_chunk_header;
    parser_settings.on_message_complete = on_message_complete;
}

/* A draining worker with no connections left stops: the application's
 * worker hook, then the notice to the main thread. */
void ig_http__worker_maybe_done(struct ig_http_worker *w)
{
    if (!w->draining || w->stopped || w->nconns > 0)
        return;
    w->stopped = 1;
    if (w->server->opt.worker_stop)
        w->server->opt.worker_stop(w, w->server->opt.ud);
    uv_close((uv_handle_t *)&w->wake, NULL);
    atomic_fetch_add(&w->server->workers_done, 1);
    uv_async_send(&w->server->control);
}
