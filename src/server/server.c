/* server.c — the HTTP server's threads: one libuv loop per worker with its
 * own SO_REUSEPORT listener (bound here, on the main thread, so a port of 0
 * resolves once for all workers), and a main loop for SIGTERM/SIGINT and
 * the workers' ready and done notices.
 *
 * Drain: on the first signal every worker closes its listener, closes its
 * idle connections and marks busy ones to close after their response; a
 * worker with no connections left reports done; when all have, run()
 * returns 0. If shutdown_timeout_ms passes first (or a second signal
 * comes), run() returns 1 and the caller exits without joining workers that
 * may still be inside requests. */
#include "server/http_internal.h"
#include "server/server.h"
#include "util/err.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- workers ---- */

static void worker_close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void worker_wake_cb(uv_async_t *a)
{
    struct ig_http_worker *w = a->data;
    if (!atomic_load(&w->server->draining) || w->draining)
        return;
    w->draining = 1;
    if (w->server->opt.worker_drain)
        w->server->opt.worker_drain(w, w->server->opt.ud);
    uv_close((uv_handle_t *)&w->listener, NULL);
    struct ig_conn *c = w->conns;
    while (c) {
        struct ig_conn *next = c->next;
        if (!c->handling && !c->in_message)
            ig_http__conn_close(c);
        else
            c->close_after = 1;
        c = next;
    }
    ig_http__worker_maybe_done(w);
}

static void housekeeping_cb(uv_timer_t *t)
{
    struct ig_http_worker *w = t->data;
    w->server->opt.housekeeping();
}

static void worker_main(void *arg)
{
    struct ig_http_worker *w = arg;
    struct ig_http_server *s = w->server;
    if (s->opt.worker_start)
        s->opt.worker_start(w, s->opt.ud);
    if (s->opt.housekeeping) {
        /* Unreferenced: it never keeps a draining loop alive. */
        uv_timer_init(&w->loop, &w->housekeeping);
        w->housekeeping.data = w;
        uv_timer_start(&w->housekeeping, housekeeping_cb, 1000, 1000);
        uv_unref((uv_handle_t *)&w->housekeeping);
    }
    int rc = uv_listen((uv_stream_t *)&w->listener, 4096, ig_http__on_connection);
    if (rc < 0)
        ig_error("worker %d cannot listen: %s", w->index, uv_strerror(rc));
    atomic_fetch_add(&s->workers_ready, 1);
    uv_async_send(&s->control);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* Anything left (timers of closed conns are closed already). */
    uv_walk(&w->loop, worker_close_walk_cb, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

/* ---- server ---- */

static int parse_host(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    if (strcmp(host, "localhost") == 0)
        return parse_host("127.0.0.1", port, ss, len);
    return IG_EINVAL;
}

static int bind_one(const char *host, int port, int *out_fd, int *out_port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (parse_host(host, port, &ss, &len)) {
        ig_error("cannot listen on '%s': not an IP address", host);
        return IG_EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return IG_EIO;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4096) < 0) {
        ig_error("cannot listen on '%s:%d': %s", host, port, strerror(errno));
        close(fd);
        return IG_EIO;
    }
    struct sockaddr_storage got;
    socklen_t glen = sizeof got;
    getsockname(fd, (struct sockaddr *)&got, &glen);
    *out_port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                               : ((struct sockaddr_in6 *)&got)->sin6_port);
    *out_fd = fd;
    return 0;
}

int ig_http_server_new(struct ig_http_server **out, const struct ig_http_server_options *o)
{
    ig_http__settings_init();

    if (ig_http__ids_init())
        return IG_ECRYPTO;
    struct ig_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return IG_ENOMEM;
    s->opt = *o;
    s->limits = o->limits;
    s->nworkers = o->workers > 0 ? o->workers : 1;
    if (s->nworkers > 256)
        s->nworkers = 256;
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    if (!s->workers) {
        free(s);
        return IG_ENOMEM;
    }
    int port = o->port;
    for (int i = 0; i < s->nworkers; i++) {
        struct ig_http_worker *w = &s->workers[i];
        w->server = s;
        w->index = i;
        int rc = bind_one(o->host, port, &s->fds[i], &port);
        if (rc) {
            for (int j = 0; j < i; j++)
                close(s->fds[j]);
            free(s->workers);
            free(s);
            return rc;
        }
        uv_loop_init(&w->loop);
        uv_tcp_init(&w->loop, &w->listener);
        uv_tcp_open(&w->listener, s->fds[i]);
        w->listener.data = w;
        uv_async_init(&w->loop, &w->wake, worker_wake_cb);
        w->wake.data = w;
    }
    s->port = port;
    *out = s;
    return 0;
}

int ig_http_server_port(const struct ig_http_server *s)
{
    return s->port;
}

int ig_http_server_draining(const struct ig_http_server *s)
{
    return atomic_load(&s->draining);
}

long ig_http_server_connections(const struct ig_http_server *s)
{
    return atomic_load(&s->connections);
}

static void begin_drain(struct ig_http_server *s)
{
    if (atomic_exchange(&s->draining, 1))
        return;
    ig_info("draining: no new connections; waiting up to %llu ms for requests in flight",
            (unsigned long long)s->limits.shutdown_timeout_ms);
    for (int i = 0; i < s->nworkers; i++)
        uv_async_send(&s->workers[i].wake);
}

static void deadline_cb(uv_timer_t *t)
{
    struct ig_http_server *s = t->data;
    s->deadline_passed = 1;
    ig_warn("shutdown deadline passed with requests still in flight");
    uv_stop(&s->main_loop);
}

static void signal_cb(uv_signal_t *sig, int signum)
{
    struct ig_http_server *s = sig->data;
    if (atomic_load(&s->draining)) {
        ig_warn("second signal %d: exiting now", signum);
        s->deadline_passed = 1;
        uv_stop(&s->main_loop);
        return;
    }
    begin_drain(s);
    uv_timer_start(&s->deadline, deadline_cb, s->limits.shutdown_timeout_ms, 0);
}

static void control_cb(uv_async_t *a)
{
    struct ig_http_server *s = a->data;
    if (atomic_load(&s->stop_requested) && !atomic_load(&s->draining)) {
        begin_drain(s);
        uv_timer_start(&s->deadline, deadline_cb, s->limits.shutdown_timeout_ms, 0);
    }
    if (!s->ready_reported && atomic_load(&s->workers_ready) == s->nworkers) {
        s->ready_reported = 1;
        if (s->on_ready)
            s->on_ready(s->ready_ud);
    }
    if (atomic_load(&s->workers_done) == s->nworkers)
        uv_stop(&s->main_loop);
}

int ig_http_server_run(struct ig_http_server *s, void (*on_ready)(void *), void *ud)
{
    s->on_ready = on_ready;
    s->ready_ud = ud;
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&s->main_loop);
    uv_signal_init(&s->main_loop, &s->sigterm);
    uv_signal_init(&s->main_loop, &s->sigint);
    s->sigterm.data = s->sigint.data = s;
    uv_signal_start(&s->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&s->sigint, signal_cb, SIGINT);
    uv_async_init(&s->main_loop, &s->control, control_cb);
    s->control.data = s;
    uv_timer_init(&s->main_loop, &s->deadline);
    s->deadline.data = s;

    for (int i = 0; i < s->nworkers; i++)
        uv_thread_create(&s->workers[i].thread, worker_main, &s->workers[i]);
    uv_run(&s->main_loop, UV_RUN_DEFAULT);

    if (s->deadline_passed)
        return 1; /* workers may still be busy: the caller exits without joining */
    for (int i = 0; i < s->nworkers; i++)
        uv_thread_join(&s->workers[i].thread);
    return 0;
}

void ig_http_server_stop(struct ig_http_server *s)
{
    atomic_store(&s->stop_requested, 1);
    uv_async_send(&s->control);
}

static void main_close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void ig_http_server_free(struct ig_http_server *s)
{
    if (!s)
        return;
    uv_walk(&s->main_loop, main_close_walk_cb, NULL);
    uv_run(&s->main_loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->main_loop);
    for (int i = 0; i < s->nworkers; i++)
        uv_loop_close(&s->workers[i].loop);
    free(s->workers);
    free(s);
}

uv_loop_t *ig_http_worker_loop(struct ig_http_worker *w)
{
    return &w->loop;
}

void ig_http_worker_set_data(struct ig_http_worker *w, void *data)
{
    w->app_data = data;
}

void *ig_http_worker_data(const struct ig_http_worker *w)
{
    return w->app_data;
}
