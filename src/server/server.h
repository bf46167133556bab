/* server.h — the server's process side: worker threads with their
 * loops and listeners, start, drain and stop (server.c). Requests and
 * responses are in http.h. */
#ifndef IG_SERVER_H
#define IG_SERVER_H

#include "server/http.h"

/* The worker's loop, and a slot for the application's per-worker state. */
uv_loop_t *ig_http_worker_loop(struct ig_http_worker *w);
void ig_http_worker_set_data(struct ig_http_worker *w, void *data);
void *ig_http_worker_data(const struct ig_http_worker *w);

/* Binds every worker's listener. 0, or IG_EIO with errno-style detail in the
 * log. The server does not run until ig_http_server_run(). */
int ig_http_server_new(struct ig_http_server **out, const struct ig_http_server_options *o);
int ig_http_server_port(const struct ig_http_server *s);
/* Runs the workers and blocks until a SIGTERM/SIGINT drain has finished or
 * ig_http_server_stop() was called. Returns 0 on a clean drain, 1 when the
 * shutdown deadline passed with requests still in flight. on_ready (may be
 * NULL) is called once every worker accepts. */
int ig_http_server_run(struct ig_http_server *s, void (*on_ready)(void *), void *ud);
/* Asks a running server to drain and stop, from any thread. */
void ig_http_server_stop(struct ig_http_server *s);
void ig_http_server_free(struct ig_http_server *s);
/* 1 once a drain has begun (readyz answers 503 then). */
int ig_http_server_draining(const struct ig_http_server *s);
long ig_http_server_connections(const struct ig_http_server *s);

#endif
