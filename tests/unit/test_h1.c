/* The built-in HTTP/1.1 client (upstream/h1.c), through the upstream
 * client it serves, against a server on the test's own loop that answers
 * from a script: kept-alive reuse, a dead kept-alive connection replaced
 * once, chunked answers, bounds, the address policy, and a timeout. */
#include "upstream/upstream.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uv_loop_t loop;
static uv_tcp_t listener;
static struct ig_upstream *up;
static int port;
static int accepts;
/* What the server answers to each request, in order, and whether it then
 * closes the connection. */
static const char *answers[8];
static int close_after[8];
static int next_answer;

struct peer {
    uv_tcp_t tcp;
    char buf[8192];
    size_t len;
};

static void peer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)n;
    struct peer *p = h->data;
    *b = uv_buf_init(p->buf + p->len, (unsigned)(sizeof p->buf - p->len));
}

/* Answers each complete request (the client sends no bodies here). */
static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct peer *p = s->data;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, peer_closed);
        return;
    }
    p->len += (size_t)n;
    char *end;
    while ((end = memmem(p->buf, p->len, "\r\n\r\n", 4)) != NULL) {
        size_t used = (size_t)(end + 4 - p->buf);
        memmove(p->buf, p->buf + used, p->len - used);
        p->len -= used;
        int i = next_answer++;
        const char *a = i < 8 && answers[i] ? answers[i] : NULL;
        if (!a)
            return; /* silence: the client's timeout */
        uv_write_t *w = malloc(sizeof *w);
        w->data = p;
        uv_buf_t out = uv_buf_init((char *)(uintptr_t)a, (unsigned)strlen(a));
        uv_write(w, s, &out, 1, written);
        if (close_after[i]) {
            uv_read_stop(s);
            uv_close((uv_handle_t *)s, peer_closed);
            return;
        }
    }
}

static void on_conn(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct peer *p = calloc(1, sizeof *p);
    uv_tcp_init(&loop, &p->tcp);
    p->tcp.data = p;
    accepts++;
    if (uv_accept(server, (uv_stream_t *)&p->tcp) == 0)
        uv_read_start((uv_stream_t *)&p->tcp, alloc_cb, read_cb);
    else
        uv_close((uv_handle_t *)&p->tcp, peer_closed);
}

static void setup(void)
{
    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_tcp_init(&loop, &listener);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    cr_assert_eq(uv_tcp_bind(&listener, (struct sockaddr *)&a, 0), 0);
    cr_assert_eq(uv_listen((uv_stream_t *)&listener, 16, on_conn), 0);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&listener, (struct sockaddr *)&ss, &len);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    struct ig_upstream_options o = {.builtin_http = 1};
    cr_assert_eq(ig_upstream_new(&up, &loop, &o), 0);
    accepts = next_answer = 0;
    memset(answers, 0, sizeof answers);
    memset(close_after, 0, sizeof close_after);
}

/* What is left (the server's side of kept connections) closes with the
 * loop; a peer's memory goes with its close callback. */
static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_TCP && h != (uv_handle_t *)&listener ? peer_closed : NULL);
}

static void teardown(void)
{
    ig_upstream_free(up);
    uv_close((uv_handle_t *)&listener, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_walk(&loop, walk_close, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
}

TestSuite(h1, .init = setup, .fini = teardown, .timeout = 30);

struct outcome {
    int calls;
    int transport_error, blocked, too_large, timed_out;
    long status;
    char body[256];
};

static void done_cb(struct ig_upstream_call *call, struct ig_upstream_result *res, void *ud)
{
    (void)call;
    struct outcome *o = ud;
    o->calls++;
    o->transport_error = res->transport_error;
    o->blocked = res->blocked;
    o->too_large = res->too_large;
    o->timed_out = res->timed_out;
    o->status = res->status;
    snprintf(o->body, sizeof o->body, "%.*s", (int)res->body.len,
             res->body.data ? res->body.data : "");
}

static void tick_cb(uv_timer_t *t)
{
    (void)t;
}

static void call(const char *host, int allow_private, long timeout_ms, size_t max,
                 struct outcome *o)
{
    memset(o, 0, sizeof *o);
    struct ig_upstream_request r;
    memset(&r, 0, sizeof r);
    snprintf(r.method, sizeof r.method, "GET");
    char url[96];
    snprintf(url, sizeof url, "http://%s:%d/x", host, port);
    r.url = strdup(url);
    r.timeout_ms = timeout_ms;
    r.max_response_bytes = max;
    r.allow_private = allow_private;
    struct ig_upstream_call *c;
    cr_assert_eq(ig_upstream_start(up, &r, done_cb, o, &c), 0);
    /* A tick keeps each turn short: a turn that runs the call's callback
     * from its timers would otherwise go on to wait for I/O (the
     * listener's) that never comes. */
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, tick_cb, 10, 10);
    while (!o->calls)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(o->calls, 1);
}

#define OK_ANSWER "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

Test(h1, kept_alive_connections_are_reused)
{
    answers[0] = answers[1] = answers[2] = OK_ANSWER;
    struct outcome o;
    for (int i = 0; i < 3; i++) {
        call("127.0.0.1", 1, 2000, 1024, &o);
        cr_assert_eq(o.status, 200);
        cr_assert_str_eq(o.body, "ok");
    }
    cr_assert_eq(accepts, 1, "one connection for three calls");
}

Test(h1, a_dead_kept_alive_connection_is_replaced_once)
{
    answers[0] = OK_ANSWER;
    close_after[0] = 1; /* the server closes the kept connection */
    answers[1] = OK_ANSWER;
    struct outcome o;
    call("127.0.0.1", 1, 2000, 1024, &o);
    cr_assert_eq(o.status, 200);
    /* Let the close arrive, or not: either way the next call succeeds. */
    uv_run(&loop, UV_RUN_NOWAIT);
    call("127.0.0.1", 1, 2000, 1024, &o);
    cr_assert_eq(o.transport_error, 0, "the dead connection is not the caller's failure");
    cr_assert_eq(o.status, 200);
    cr_assert_eq(accepts, 2);
}

Test(h1, chunked_answers_are_assembled)
{
    answers[0] = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\n\r\n";
    struct outcome o;
    call("127.0.0.1", 1, 2000, 1024, &o);
    cr_assert_eq(o.status, 201);
    cr_assert_str_eq(o.body, "abcdefg");
}

Test(h1, an_answer_past_the_bound_is_refused)
{
    answers[0] = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n";
    struct outcome o;
    call("127.0.0.1", 1, 2000, 1024, &o);
    cr_assert(o.too_large, "refused on its Content-Length, before the body");
    cr_assert_neq(o.transport_error, 0);
}

Test(h1, the_address_policy_refuses_loopback_unless_allowed)
{
    answers[0] = OK_ANSWER;
    struct outcome o;
    call("127.0.0.1", 0, 2000, 1024, &o);
    cr_assert(o.blocked, "a loopback address is refused for a URL not the deployment's own");
    cr_assert_eq(accepts, 0, "no connection was made");
}

Test(h1, a_silent_server_times_out)
{
    answers[0] = NULL; /* never answers */
    struct outcome o;
    call("127.0.0.1", 1, 200, 1024, &o);
    cr_assert(o.timed_out);
    cr_assert_neq(o.transport_error, 0);
}

Test(h1, garbage_is_a_transport_error_not_a_status)
{
    answers[0] = "HTTTP/1.1 2x0\r\n\r\n";
    struct outcome o;
    call("127.0.0.1", 1, 2000, 1024, &o);
    cr_assert_neq(o.transport_error, 0);
    cr_assert_eq(o.status, 0);
}
