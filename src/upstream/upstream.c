/* upstream.c — libcurl multi_socket driven by a libuv loop.
 *
 * curl tells us which sockets to watch (socket callback → uv_poll) and when
 * to wake it (timer callback → uv_timer); both feed
 * curl_multi_socket_action, after which finished transfers are collected
 * from curl_multi_info_read and their callbacks run. A poll handle is
 * freed only in its close callback. Calls are tracked in a list so that
 * freeing the upstream can cancel them. */
#include "upstream/internal.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/num.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <sys/socket.h>

_Static_assert(IG_UPSTREAM_ERROR_SIZE >= CURL_ERROR_SIZE, "room for libcurl's error text");

/* Finished easy handles kept for the next call: curl_easy_init() and
 * cleanup cost more than a reset (curl's own advice is to reuse them). */
#define IDLE_EASY_MAX 64

struct ig_upstream {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct ig_upstream_call *calls;
    CURL *idle[IDLE_EASY_MAX];
    int nidle;
    long ncalls; /* in flight */
    long ncurl;  /* of which on libcurl */
    const struct ig_networks *allow;
    /* This host's own addresses, read again when older than
     * OWN_ADDRESSES_MS: the policy refuses them too. */
    struct ig_networks own;
    uint64_t own_read_at; /* uv_now() ms; 0 before the first read */
    struct ig_h1 *h1;     /* plain http://, when enabled; else NULL */
    /* Poll handles by socket, kept while the socket is open (see
     * socket_cb): socks[fd], nsocks slots. */
    struct sock_ctx **socks;
    size_t nsocks;
};

/* Above this many calls in flight, new calls open their own connection and
 * close it when done. libcurl (7.88) looks for a reusable connection by
 * walking every connection to the host, and trims its cache by walking
 * them all again, so with thousands held at once (a slow provider) each
 * new call costs O(calls) and the loop goes quadratic. At that concurrency
 * there is no idle connection to find anyway. */
#define REUSE_MAX_CALLS 256

/* How long a reading of this host's addresses is trusted (a DHCP lease or
 * an added interface changes them). */
#define OWN_ADDRESSES_MS 10000

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct ig_upstream *u;
};

static curl_socket_t open_socket_cb(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct ig_upstream_call *call = ud;
    (void)purpose;
    if (ig_upstream_refuses(call, &addr->addr)) {
        call->res.blocked = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* ---- body and header sinks ---- */

static size_t body_cb(char *data, size_t size, size_t n, void *ud)
{
    struct ig_upstream_call *call = ud;
    size_t len = size * n;
    if (ig_buf_append(&call->res.body, data, len)) {
        call->res.too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (call->req.on_data) {
        long status = 0;
        curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300)
            call->req.on_data(call->req.on_data_ud, data, len);
    }
    return len;
}

static size_t header_cb(char *data, size_t size, size_t n, void *ud)
{
    struct ig_upstream_call *call = ud;
    size_t len = size * n;
    /* A new status line starts a new header block (after 100 Continue). */
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
        ig_buf_reset(&call->res.headers);
    if (ig_buf_append(&call->res.headers, data, len))
        return 0;
    return len;
}

/* ---- the multi loop ---- */

static void call_link(struct ig_upstream_call *call)
{
    struct ig_upstream *u = call->u;
    u->ncalls++;
    call->prev = NULL;
    call->next = u->calls;
    if (u->calls)
        u->calls->prev = call;
    u->calls = call;
}

static void call_unlink(struct ig_upstream_call *call)
{
    struct ig_upstream *u = call->u;
    u->ncalls--;
    if (call->prev)
        call->prev->next = call->next;
    else
        u->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
}

/* Returns a handle to the idle list (reset: no option of this call
 * survives into the next), or frees it when the list is full. */
static void easy_release(struct ig_upstream *u, CURL *e)
{
    if (u->nidle < IDLE_EASY_MAX) {
        curl_easy_reset(e);
        u->idle[u->nidle++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

static void call_free(struct ig_upstream_call *call)
{
    if (call->easy) {
        curl_multi_remove_handle(call->u->multi, call->easy);
        easy_release(call->u, call->easy);
        call->u->ncurl--;
    }
    free(call->addrs);
    curl_slist_free_all(call->curl_headers);
    ig_upstream_request_release(&call->req);
    ig_buf_release(&call->res.body);
    ig_buf_release(&call->res.headers);
    free(call);
}

static void call_done(struct ig_upstream_call *call);

static void check_done(struct ig_upstream *u)
{
    CURLMsg *msg;
    int pending;
    while ((msg = curl_multi_info_read(u->multi, &pending))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct ig_upstream_call *call = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)(void *)&call);
        CURLcode code = msg->data.result;
        if (code == CURLE_OK) {
            curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &call->res.status);
        } else {
            call->res.transport_error = IG_EIO;
            call->res.timed_out = code == CURLE_OPERATION_TIMEDOUT;
            if (call->res.too_large)
                call->res.transport_error = IG_ETOOBIG;
            if (call->res.blocked)
                ig_strlcpy(call->res.error, call->refusal, sizeof call->res.error);
            else if (!call->res.error[0])
                ig_strlcpy(call->res.error, curl_easy_strerror(code), sizeof call->res.error);
        }
        call_done(call);
    }
}

static void call_done(struct ig_upstream_call *call)
{
    call_unlink(call);
    call->cb(call, &call->res, call->ud);
    call_free(call);
}

static void poll_cb(uv_poll_t *poll, int status, int events)
{
    struct sock_ctx *ctx = poll->data;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    struct ig_upstream *u = ctx->u;
    curl_multi_socket_action(u->multi, ctx->fd, flags, &running);
    check_done(u);
}

static void sock_close_cb(uv_handle_t *h)
{
    free(h->data);
}

static struct sock_ctx *sock_lookup(const struct ig_upstream *u, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < u->nsocks ? u->socks[fd] : NULL;
}

static int sock_remember(struct ig_upstream *u, struct sock_ctx *ctx)
{
    size_t fd = (size_t)ctx->fd;
    if (fd >= u->nsocks) {
        size_t n = u->nsocks ? u->nsocks : 64;
        while (n <= fd)
            n *= 2;
        struct sock_ctx **t = realloc(u->socks, n * sizeof *t);
        if (!t)
            return IG_ENOMEM;
        memset(t + u->nsocks, 0, (n - u->nsocks) * sizeof *t);
        u->socks = t;
        u->nsocks = n;
    }
    u->socks[fd] = ctx;
    return 0;
}

static void sock_forget(struct ig_upstream *u, struct sock_ctx *ctx)
{
    u->socks[ctx->fd] = NULL;
    uv_close((uv_handle_t *)&ctx->poll, sock_close_cb);
}

/* curl says which sockets to watch. A keep-alive connection is watched only
 * while a transfer uses it (curl says REMOVE in between), but its poll
 * handle is kept until the socket closes (close_socket_cb): making one per
 * transfer cost an ioctl and three epoll_ctl calls each time. */
static int socket_cb(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp)
{
    (void)easy;
    struct ig_upstream *u = userp;
    struct sock_ctx *ctx = socketp;
    if (action == CURL_POLL_REMOVE) {
        if (ctx) {
            uv_poll_stop(&ctx->poll);
            curl_multi_assign(u->multi, fd, NULL);
        }
        return 0;
    }
    if (!ctx)
        ctx = sock_lookup(u, fd);
    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx)
            return -1;
        ctx->fd = fd;
        ctx->u = u;
        if (uv_poll_init_socket(u->loop, &ctx->poll, fd) < 0) {
            free(ctx);
            return -1;
        }
        ctx->poll.data = ctx;
        if (sock_remember(u, ctx)) {
            uv_close((uv_handle_t *)&ctx->poll, sock_close_cb);
            return -1;
        }
    }
    curl_multi_assign(u->multi, fd, ctx);
    int events = 0;
    if (action & CURL_POLL_IN)
        events |= UV_READABLE;
    if (action & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&ctx->poll, events, poll_cb);
    return 0;
}

/* curl closes a socket it opened through open_socket_cb: its poll handle
 * goes first (uv_close takes it out of epoll at once). */
static int close_socket_cb(void *ud, curl_socket_t fd)
{
    struct ig_upstream *u = ud;
    struct sock_ctx *ctx = sock_lookup(u, fd);
    if (ctx)
        sock_forget(u, ctx);
    return close(fd);
}

static void timer_fire_cb(uv_timer_t *t)
{
    struct ig_upstream *u = t->data;
    int running;
    curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(u);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct ig_upstream *u = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&u->timer);
    else
        uv_timer_start(&u->timer, timer_fire_cb, (uint64_t)timeout_ms, 0);
    return 0;
}

int ig_upstream_new(struct ig_upstream **out, uv_loop_t *loop,
                    const struct ig_upstream_options *opt)
{
    struct ig_upstream *u = calloc(1, sizeof *u);
    if (!u)
        return IG_ENOMEM;
    u->loop = loop;
    u->allow = opt->allow;
    u->multi = curl_multi_init();
    if (!u->multi || (opt->builtin_http && ig_h1_new(&u->h1, loop, call_done))) {
        if (u->multi)
            curl_multi_cleanup(u->multi);
        free(u);
        return IG_ENOMEM;
    }
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    /* No cap per host: concurrency is bounded by deployments' max_concurrency
     * and limits.max_pending_renders, not by a hidden pool size. */
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 1024L);
    *out = u;
    return 0;
}

static void upstream_timer_close_cb(uv_handle_t *h)
{
    struct ig_upstream *u = h->data;
    curl_multi_cleanup(u->multi);             /* closes the kept connections */
    for (size_t fd = 0; fd < u->nsocks; fd++) /* sockets curl closed itself */
        if (u->socks[fd])
            sock_forget(u, u->socks[fd]);
    free(u->socks);
    free(u);
}

void ig_upstream_free(struct ig_upstream *u)
{
    if (!u)
        return;
    while (u->calls)
        ig_upstream_cancel(u->calls);
    while (u->nidle)
        curl_easy_cleanup(u->idle[--u->nidle]);
    ig_h1_free(u->h1);
    uv_close((uv_handle_t *)&u->timer, upstream_timer_close_cb);
}

/* The request's header lines as libcurl's list, with "Expect:" (which
 * stops curl waiting for 100 Continue on large bodies). NULL when out of
 * memory. */
static struct curl_slist *curl_headers(const struct ig_buf *headers)
{
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    const char *p = headers->data, *end = p ? p + headers->len : NULL;
    while (list && p && p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
        char line[IG_HEADER_LINE_MAX];
        memcpy(line, p, n);
        line[n] = '\0';
        struct curl_slist *l = curl_slist_append(list, line);
        if (!l) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = l;
        p += n + 2;
    }
    return list;
}

int ig_upstream_start(struct ig_upstream *u, struct ig_upstream_request *req, ig_upstream_cb cb,
                      void *ud, struct ig_upstream_call **out)
{
    struct ig_upstream_call *call = calloc(1, sizeof *call);
    if (!call) {
        ig_upstream_request_release(req);
        return IG_ENOMEM;
    }
    call->u = u;
    uint64_t now = uv_now(u->loop);
    if (u->own_read_at == 0 || now - u->own_read_at >= OWN_ADDRESSES_MS) {
        if (ig_networks_of_host(&u->own) == IG_EIO)
            ig_warn("reading this host's addresses failed: %s", strerror(errno));
        u->own_read_at = now ? now : 1;
    }
    call->req = *req;
    memset(req, 0, sizeof *req);
    call->cb = cb;
    call->ud = ud;
    call->allow = call->req.allow ? call->req.allow : u->allow;
    call->own = &u->own;
    ig_buf_init(&call->res.body,
                call->req.max_response_bytes ? call->req.max_response_bytes : (size_t)64 << 20);
    ig_buf_init(&call->res.headers, 64 * 1024);
    if (u->h1) {
        call_link(call);
        int rc = ig_h1_start(u->h1, call);
        if (rc == 0) {
            if (out)
                *out = call;
            return 0;
        }
        call_unlink(call);
        if (rc != IG_ENOTFOUND) {
            call_free(call);
            return rc;
        }
    }
    CURL *e = call->easy = u->nidle ? u->idle[--u->nidle] : curl_easy_init();
    if (!e)
        goto fail;
    call->curl_headers = curl_headers(&call->req.headers);
    if (!call->curl_headers)
        goto fail;
    curl_easy_setopt(e, CURLOPT_URL, call->req.url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, call->req.method);
    if (strcmp(call->req.method, "GET") == 0)
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    else if (call->req.body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->req.body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->req.body_len);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->curl_headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, call);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, call->u);
    curl_easy_setopt(e, CURLOPT_PRIVATE, call);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->res.error);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     call->req.timeout_ms > 0 ? call->req.timeout_ms : 120000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "imagegate/0.1");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    /* curl's default 16 KiB receive buffer is held by every call in flight;
     * 8 KiB halves that at no cost for answers that come in pieces anyway. */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);
    if (call->req.max_response_bytes)
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)call->req.max_response_bytes);
    if (u->ncurl >= REUSE_MAX_CALLS) {
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    }
    if (curl_multi_add_handle(u->multi, e) != CURLM_OK)
        goto fail;
    u->ncurl++;
    call_link(call);
    if (out)
        *out = call;
    return 0;
fail:
    ig_upstream_request_release(&call->req);
    ig_buf_release(&call->res.body);
    ig_buf_release(&call->res.headers);
    curl_slist_free_all(call->curl_headers);
    if (call->easy)
        easy_release(u, call->easy);
    free(call);
    return IG_ENOMEM;
}

void ig_upstream_cancel(struct ig_upstream_call *call)
{
    if (!call->easy)
        ig_h1_cancel(call->u->h1, call);
    call_unlink(call);
    call_free(call);
}
