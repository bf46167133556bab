/* fuzz_h1.c — the built-in HTTP/1.1 client's answer parsing
 * (upstream/h1.c): each input is what an upstream server sends back, from
 * a listener on the same loop, to one call through the real upstream
 * client. The call must end exactly once, with a status and a bounded
 * body or a transport error. */
#include "upstream/upstream.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static uv_tcp_t listener;
static struct ig_upstream *up;
static int port;
static const uint8_t *answer;
static size_t answer_len;
static int ended;

struct peer {
    uv_tcp_t tcp;
    uv_write_t w;
    uv_shutdown_t sd;
    char buf[4096];
};

static void peer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void shut_cb(uv_shutdown_t *sd, int status)
{
    (void)status;
    uv_close((uv_handle_t *)sd->handle, peer_closed);
}

static void written(uv_write_t *w, int status)
{
    (void)status;
    struct peer *p = w->data;
    if (uv_shutdown(&p->sd, (uv_stream_t *)&p->tcp, shut_cb))
        uv_close((uv_handle_t *)&p->tcp, peer_closed);
}

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)n;
    struct peer *p = h->data;
    *b = uv_buf_init(p->buf, sizeof p->buf);
}

/* The request is read and dropped; the answer goes out at its first bytes. */
static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct peer *p = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)s, peer_closed);
        return;
    }
    if (n == 0 || p->w.data)
        return;
    uv_read_stop(s);
    p->w.data = p;
    uv_buf_t out = uv_buf_init((char *)(uintptr_t)answer, (unsigned)answer_len);
    if (uv_write(&p->w, s, &out, 1, written))
        uv_close((uv_handle_t *)s, peer_closed);
}

static void on_conn(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct peer *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    uv_tcp_init(&loop, &p->tcp);
    p->tcp.data = p;
    if (uv_accept(server, (uv_stream_t *)&p->tcp) == 0)
        uv_read_start((uv_stream_t *)&p->tcp, alloc_cb, read_cb);
    else
        uv_close((uv_handle_t *)&p->tcp, peer_closed);
}

static void done_cb(struct ig_upstream_call *call, struct ig_upstream_result *res, void *ud)
{
    (void)call;
    (void)ud;
    ended++;
    if (!res->transport_error && (res->status < 100 || res->status > 999))
        abort();
    if (res->body.len > res->body.max)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &listener);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    if (uv_tcp_bind(&listener, (struct sockaddr *)&a, 0) ||
        uv_listen((uv_stream_t *)&listener, 128, on_conn))
        abort();
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&listener, (struct sockaddr *)&ss, &len);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    struct ig_upstream_options o = {.builtin_http = 1};
    if (ig_upstream_new(&up, &loop, &o))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    answer = data;
    answer_len = size;
    ended = 0;
    struct ig_upstream_request r;
    memset(&r, 0, sizeof r);
    snprintf(r.method, sizeof r.method, "GET");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
    r.url = strdup(url);
    r.timeout_ms = 1000;
    r.max_response_bytes = 1 << 16;
    r.allow_private = 1;
    struct ig_upstream_call *call;
    if (!r.url || ig_upstream_start(up, &r, done_cb, NULL, &call))
        abort();
    while (!ended)
        uv_run(&loop, UV_RUN_ONCE);
    if (ended != 1)
        abort();
    /* Let the peer's side finish closing. */
    uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
