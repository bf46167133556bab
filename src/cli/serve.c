/* serve.c — `imagegate serve` and `imagegate config dump|doc`.
 *
 * Settings come from the built-in defaults, then the YAML file (--config),
 * then the command-line flags. The thread pool is sized before libuv first
 * uses it; the descriptor limit is raised to its hard maximum so the
 * connection limit, not the kernel, is what bounds clients. */
#include "server/server.h"
#include "api/app.h"
#include "api/router.h"
#include "cli/cli.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/num.h"
#include "util/pool.h"

#include <malloc.h>
#ifdef IG_WITH_MIMALLOC
#include <mimalloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const struct cli_option serve_options[] = {
    {"config", 'c', "FILE", "YAML configuration file"},
    {"listen", 'l', "HOST:PORT", "address to listen on (default 127.0.0.1:8080; port 0 picks one)"},
    {"data", 'd', "DIR", "data directory: SQLite database, blobs, secret (default ./data)"},
    {"workers", 'w', "N", "I/O worker threads (default: one per core)"},
};
enum { S_CONFIG, S_LISTEN, S_DATA, S_WORKERS, S_COUNT };

static const char serve_usage[] = "imagegate serve [--config FILE] [--listen HOST:PORT] "
                                  "[--data DIR] [--workers N]";

static int load_config(struct ig_config *cfg, const struct cli_args *a)
{
    char err[512];
    if (ig_config_init(cfg))
        return CLI_FAILURE;
    if (a->values[S_CONFIG] && ig_config_load_file(cfg, a->values[S_CONFIG], err, sizeof err)) {
        fprintf(stderr, "imagegate: %s\n", err);
        return CLI_USAGE;
    }
    static const char *const names[] = {NULL, "listen", "data_dir", "workers"};
    for (int i = S_LISTEN; i < S_COUNT; i++) {
        if (a->values[i] && ig_config_set(cfg, names[i], a->values[i], err, sizeof err)) {
            fprintf(stderr, "imagegate: %s\n", err);
            return CLI_USAGE;
        }
    }
    return 0;
}

static int split_listen(const char *listen, char *host, size_t hsize, int *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return IG_EINVAL;
    int64_t p;
    if (colon == listen || ig_parse_i64(colon + 1, strlen(colon + 1), 0, 65535, &p))
        return IG_EINVAL;
    size_t n = (size_t)(colon - listen);
    if (listen[0] == '[' && n >= 2 && listen[n - 1] == ']') {
        listen++;
        n -= 2;
    }
    if (n >= hsize)
        return IG_EINVAL;
    memcpy(host, listen, n);
    host[n] = '\0';
    *port = (int)p;
    return 0;
}

struct ready_state {
    struct ig_app *app;
    uint64_t start_us;
};

static void on_ready(void *ud)
{
    struct ready_state *rs = ud;
    struct ig_app *app = rs->app;
    int port = ig_http_server_port(app->server);
    double ms = (double)(ig_now_us() - rs->start_us) / 1000.0;
    const char *host = app->listen_host;
    int v6 = strchr(host, ':') != NULL;
    printf("imagegate listening on http://%s%s%s:%d (ready in %.1f ms)\n", v6 ? "[" : "", host,
           v6 ? "]" : "", port, ms);
    fflush(stdout);
    ig_info("ready on %s:%d in %.1f ms", host, port, ms);
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* The process's allocator, named in size bytes for the log.
 *
 * Built with mimalloc (the default): its per-thread free lists serve the
 * loop's many small allocations without locks, and a block freed by
 * another thread (a generation's buffers go from the loop to the pool and
 * back) goes back to its owner's list instead of through a shared arena.
 * glibc's malloc was about a sixth of the worker loop's time under load.
 * Linked ahead of the C library, mimalloc's malloc is every library's;
 * checked here, since a link that lost it would fall back silently.
 *
 * With glibc's (sanitizer builds, -Dallocator=system): it hands the free
 * top of each thread's arena back to the kernel as soon as it passes a
 * threshold that adapts to the sizes freed, and under load the pool's
 * arenas shrank and grew again hundreds of times a second (a page fault
 * every two generations, and each madvise interrupting the loop's core to
 * flush its TLB). A fixed 64 MB threshold keeps what a busy server has
 * used and still returns memory after a burst far past it. */
/* Memory freed on a worker loop goes back to the kernel within a second or
 * two even when the loop then idles. mimalloc decommits a thread's freed
 * pages after a delay, but only when that thread next allocates or frees,
 * so after a burst an idle loop kept everything it had held (1 GB a minute
 * after 1,000 connections closed); mi_collect without force runs the
 * delayed decommits and nothing else. glibc's trims at its threshold. */
static void allocator_housekeeping(void)
{
#ifdef IG_WITH_MIMALLOC
    mi_collect(false);
#endif
}

static void allocator_setup(char *name, size_t size)
{
#ifdef IG_WITH_MIMALLOC
    void *probe = malloc(64);
    int overridden = probe && mi_is_in_heap_region(probe);
    free(probe);
    if (overridden) {
        int v = mi_version();
        snprintf(name, size, "mimalloc %d.%d.%d", v / 100, v / 10 % 10, v % 10);
        return;
    }
    ig_warn("built with mimalloc, but malloc is not mimalloc's: glibc's is in use");
#endif
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    snprintf(name, size, "glibc");
}

int cli_serve(int argc, char **argv)
{
    uint64_t start = ig_now_us();
    struct cli_args a;
    int rc = cli_parse(argc, argv, 2, serve_usage, serve_options, S_COUNT, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (a.npositional) {
        fprintf(stderr, "imagegate: serve takes no arguments (see --help)\n");
        return CLI_USAGE;
    }
    struct ig_config cfg;
    if ((rc = load_config(&cfg, &a))) {
        ig_config_release(&cfg);
        return rc;
    }
    enum ig_log_level level = IG_LOG_INFO;
    if (strcmp(cfg.log_level, "debug") == 0)
        level = IG_LOG_DEBUG;
    else if (strcmp(cfg.log_level, "warn") == 0)
        level = IG_LOG_WARN;
    else if (strcmp(cfg.log_level, "error") == 0)
        level = IG_LOG_ERROR;
    ig_log_setup(level, 2);

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    int workers = cfg.workers ? (int)cfg.workers : (int)cores;
    char pool[16];
    long pool_size = cfg.threadpool_size ? cfg.threadpool_size : (cores > 4 ? cores : 4);
    snprintf(pool, sizeof pool, "%ld", pool_size);
    setenv("UV_THREADPOOL_SIZE", pool, 1);
    ig_pool_set_nice((int)cfg.threadpool_nice);
    raise_fd_limit();
    char allocator[32];
    allocator_setup(allocator, sizeof allocator);
    ig_info("allocator: %s", allocator);

    struct ig_app app;
    int port;
    char host[256];
    if (split_listen(cfg.listen, host, sizeof host, &port)) {
        fprintf(stderr, "imagegate: setting 'listen': '%s' is not HOST:PORT\n", cfg.listen);
        ig_config_release(&cfg);
        return CLI_USAGE;
    }
    if (ig_app_init(&app, &cfg, stdout)) {
        fprintf(stderr, "imagegate: cannot start (see the log above)\n");
        ig_config_release(&cfg);
        return CLI_FAILURE;
    }
    ig_router_attach(&app);
    ig_strlcpy(app.listen_host, host, sizeof app.listen_host);
    struct ig_http_server_options o = {
        .host = host,
        .port = port,
        .workers = workers,
        .limits =
            {
                .max_header_bytes = (size_t)cfg.max_header_bytes,
                .max_headers = (size_t)cfg.max_headers,
                .max_body_bytes = (size_t)cfg.max_body_bytes,
                .header_timeout_ms = (uint64_t)cfg.header_timeout_ms,
                .body_timeout_ms = (uint64_t)cfg.body_timeout_ms,
                .idle_timeout_ms = (uint64_t)cfg.idle_timeout_ms,
                .max_connections = (long)cfg.max_connections,
                .max_body_bytes_in_flight = (size_t)cfg.max_body_bytes_in_flight,
                .shutdown_timeout_ms = (uint64_t)cfg.shutdown_timeout_ms,
            },
        .handler = ig_router_handle,
        .complete = ig_app_complete,
        .worker_start = ig_app_worker_start,
        .worker_stop = ig_app_worker_stop,
        .worker_drain = ig_app_worker_drain,
        .admit = ig_router_admit,
        .housekeeping = allocator_housekeeping,
        .refuse = ig_api_refuse,
        .ud = &app,
    };
    if (ig_http_server_new(&app.server, &o)) {
        fprintf(stderr, "imagegate: cannot listen on '%s'\n", cfg.listen);
        ig_app_release(&app);
        ig_config_release(&cfg);
        return CLI_FAILURE;
    }
    app.listen_port = ig_http_server_port(app.server);
    struct ready_state rs = {&app, start};
    int abandoned = ig_http_server_run(app.server, on_ready, &rs);
    if (abandoned) {
        /* Workers may still be inside requests: leave without tearing down
         * what they use. The store's WAL keeps committed work. */
        ig_warn("stopped with requests still in flight");
        fflush(stdout);
        _exit(0);
    }
    ig_info("stopped cleanly");
    ig_http_server_free(app.server);
    ig_app_release(&app);
    ig_config_release(&cfg);
    return CLI_OK;
}

static const struct cli_option config_options[] = {
    {"config", 'c', "FILE", "YAML configuration file to read first"},
};

int cli_config(int argc, char **argv)
{
    static const char usage[] = "imagegate config dump [--config FILE] | config doc";
    struct cli_args a;
    int rc = cli_parse(argc, argv, 2, usage, config_options, 1, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (a.npositional != 1 ||
        (strcmp(a.positional[0], "dump") != 0 && strcmp(a.positional[0], "doc") != 0)) {
        fprintf(stderr, "usage: %s\n", usage);
        return CLI_USAGE;
    }
    if (strcmp(a.positional[0], "doc") == 0) {
        ig_config_document(stdout);
        return CLI_OK;
    }
    struct ig_config cfg;
    char err[512];
    ig_config_init(&cfg);
    if (a.values[0] && ig_config_load_file(&cfg, a.values[0], err, sizeof err)) {
        fprintf(stderr, "imagegate: %s\n", err);
        ig_config_release(&cfg);
        return CLI_USAGE;
    }
    ig_config_dump(&cfg, stdout);
    ig_config_release(&cfg);
    return CLI_OK;
}
