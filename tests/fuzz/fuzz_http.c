/* fuzz_http.c — HTTP requests as the server reads them (server/http.c):
 * a real server on a loopback port in this process, and each input sent
 * on a new connection as a client would (pipelined requests, chunked
 * bodies, garbage), then the write side closed and every answer read.
 * The handler answers each request with its body's length, so bodies are
 * read whole. The admit hook decides by the path's second byte: "/d…" is
 * refused before its body, "/l…" admitted later from the loop (the client
 * may be gone by then), "/s…" admitted with a 1 KiB limit, the rest with
 * 64 KiB; bodies in flight are bounded too. ASan watches the server's
 * thread. */
#include "server/http.h"
#include "server/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ig_http_server *server;
static int port;

static void handle(struct ig_http_req *req, void *ud)
{
    (void)ud;
    size_t n = 0;
    (void)ig_http_header(req, "content-type", &n);
    char *body = malloc(32);
    if (!body) {
        ig_http_respond(req, 503, "text/plain", "no\n", 3, IG_BODY_STATIC);
        return;
    }
    int len = snprintf(body, 32, "%zu\n", req->body.len);
    ig_http_respond(req, 200, "text/plain", body, (size_t)len, IG_BODY_FREE);
}

struct later {
    uv_timer_t timer;
    struct ig_http_req *req;
};

static void later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void later_cb(uv_timer_t *t)
{
    struct later *l = t->data;
    ig_http_admit(l->req, 65536);
    uv_close((uv_handle_t *)&l->timer, later_closed);
}

static void admit(struct ig_http_req *req, void *ud)
{
    (void)ud;
    char kind = req->path_len > 1 ? req->path[1] : '\0';
    if (kind == 'd') {
        ig_http_respond(req, 401, "text/plain", "no\n", 3, IG_BODY_STATIC);
    } else if (kind == 'l') {
        struct later *l = malloc(sizeof *l);
        if (!l) {
            ig_http_respond(req, 503, "text/plain", "no\n", 3, IG_BODY_STATIC);
            return;
        }
        l->req = req;
        l->timer.data = l;
        uv_timer_init(req->loop, &l->timer);
        uv_timer_start(&l->timer, later_cb, 0, 0);
    } else {
        ig_http_admit(req, kind == 's' ? 1024 : 65536);
    }
}

static void *run(void *arg)
{
    (void)arg;
    ig_http_server_run(server, NULL, NULL);
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct ig_http_server_options o = {
        .host = "127.0.0.1",
        .port = 0,
        .workers = 1,
        .limits = {.max_header_bytes = 8192,
                   .max_headers = 64,
                   .max_body_bytes = 65536,
                   .header_timeout_ms = 2000,
                   .body_timeout_ms = 2000,
                   .idle_timeout_ms = 2000,
                   .max_connections = 64,
                   .shutdown_timeout_ms = 1000,
                   .max_body_bytes_in_flight = 100000},
        .handler = handle,
        .admit = admit,
    };
    if (ig_http_server_new(&server, &o))
        abort();
    port = ig_http_server_port(server);
    pthread_t t;
    if (pthread_create(&t, NULL, run, NULL))
        abort();
    pthread_detach(t);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        abort();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* The server may still be starting on its thread. */
    for (int i = 0; connect(fd, (struct sockaddr *)&a, sizeof a) < 0; i++) {
        if (i == 200)
            abort();
        usleep(10000);
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server refused and closed: fine */
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    char buf[65536];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    size_t got = 0;
    while (poll(&p, 1, 5000) > 0) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            break;
        /* Whatever came in, what goes out starts with a status line. */
        if (got == 0 && r >= 7 && memcmp(buf, "HTTP/1.", 7) != 0)
            abort();
        got += (size_t)r;
    }
    close(fd);
    return 0;
}
