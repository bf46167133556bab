/* http_internal.h — what server/http.c (connections, parsing, responses)
 * and server/server.c (workers, listeners, signals, drain) share. Not a
 * public surface: only those two files include it. */
#ifndef IG_HTTP_INTERNAL_H
#define IG_HTTP_INTERNAL_H

#include "server/http.h"

#include <stdatomic.h>

#define READ_BUF_SIZE 16384 /* also what a connection parked before admission holds of its body */
#define LINGER_MS     2000

enum parse_state { PS_NONE, PS_URL, PS_FIELD, PS_VALUE };

struct ig_http_worker {
    struct ig_http_server *server;
    int index;
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wake;
    uv_timer_t housekeeping; /* opt.housekeeping, once a second */
    uv_thread_t thread;
    struct ig_conn *conns;
    long nconns;
    int draining;
    int stopped;
    void *app_data;
    char date[64];
    int64_t date_sec;
    char read_buf[READ_BUF_SIZE];
};

struct ig_http_server {
    struct ig_http_server_options opt;
    struct ig_http_limits limits;
    struct ig_http_worker *workers;
    int nworkers;
    int port;
    int fds[256];
    atomic_long connections;
    atomic_size_t body_bytes; /* reserved by admitted bodies in flight */
    atomic_int draining;
    atomic_int workers_ready;
    atomic_int workers_done;
    uv_loop_t main_loop;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_async_t control; /* ready, done and stop notices from other threads */
    atomic_int stop_requested;
    uv_timer_t deadline;
    int deadline_passed;
    int ready_reported;
    void (*on_ready)(void *);
    void *ready_ud;
};

struct ig_conn {
    uv_tcp_t tcp;      /* first: handle->data is not needed to find the conn */
    uv_timer_t timer;  /* armed lazily: see conn_arm() in http.c */
    uint64_t deadline; /* loop time when the current phase times out; 0: none */
    struct ig_http_worker *w;
    http_parser parser;
    struct ig_http_req *req; /* being parsed or handled */
    struct ig_buf pending;   /* received, not yet parsed */
    enum parse_state ps;
    int handling;  /* req is with the application */
    int admitting; /* req's headers are with the application's admit hook */
    int has_body;  /* req announced a body (Content-Length > 0 or chunked) */
    int dispatching;
    int in_message; /* some bytes of a request have arrived */
    int closing;
    int close_after; /* close once the current response is written */
    int lingering;
    int reading;
    int open_handles;
    int error_status; /* set by a callback that rejects the request */
    int over_budget;  /* error_status 503: the bound on bodies in flight */
    unsigned served;
    struct ig_conn *prev, *next;
};

struct write_ctx {
    uv_write_t w;
    struct ig_http_req *req;
    char *head;
    const char *body;
    int body_owned;
};

/* http.c, for server.c */
void ig_http__settings_init(void);
/* Draws the random prefix of request ids (once). 0 or IG_ECRYPTO. */
int ig_http__ids_init(void);
void ig_http__conn_close(struct ig_conn *c);
void ig_http__on_connection(uv_stream_t *listener, int status);
/* server.c, for http.c: a worker with no connections left while draining
 * stops and reports to the main loop. */
void ig_http__worker_maybe_done(struct ig_http_worker *w);
/* The cached Date header of a worker (second resolution). */
const char *ig_http__worker_date(struct ig_http_worker *w);

#endif
