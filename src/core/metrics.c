/* metrics.c — counters and their Prometheus rendering. Statuses map to a
 * small fixed table; anything else is counted under "other". */
#include "core/metrics.h"

#include <stdio.h>
#include <string.h>

static const int status_codes[IG_METRICS_NSTATUS - 1] = {
    200, 201, 202, 204, 304, 400, 401, 402, 403, 404, 405, 408,
    409, 413, 414, 415, 422, 429, 431, 500, 502, 503, 504,
};

/* Upper bounds in microseconds. */
static const uint64_t bucket_us[IG_METRICS_NBUCKETS] = {
    100,   250,   500,    1000,   2500,    5000,    10000,
    25000, 50000, 100000, 250000, 1000000, 5000000, 30000000,
};

void ig_metrics_init(struct ig_metrics *m, const char *const *route_names, size_t nroutes)
{
    memset(m, 0, sizeof *m);
    m->route_names = route_names;
    m->nroutes = nroutes < IG_METRICS_MAX_ROUTES ? nroutes : IG_METRICS_MAX_ROUTES;
}

static int status_slot(int status)
{
    for (int i = 0; i < IG_METRICS_NSTATUS - 1; i++)
        if (status_codes[i] == status)
            return i;
    return IG_METRICS_NSTATUS - 1;
}

void ig_metrics_request(struct ig_metrics *m, int route, int status, uint64_t latency_us)
{
    if (route < 0 || (size_t)route >= m->nroutes)
        route = 0;
    atomic_fetch_add_explicit(&m->requests[route][status_slot(status)], 1, memory_order_relaxed);
    for (int b = 0; b < IG_METRICS_NBUCKETS; b++) {
        if (latency_us <= bucket_us[b]) {
            atomic_fetch_add_explicit(&m->latency_buckets[b], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&m->latency_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_us, latency_us, memory_order_relaxed);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

int ig_metrics_render(struct ig_metrics *m, long connections, struct ig_buf *out)
{
    int rc = ig_buf_puts(out, "# HELP imagegate_http_requests_total HTTP requests answered, by "
                              "route and status.\n# TYPE imagegate_http_requests_total counter\n");
    for (size_t r = 0; r < m->nroutes && rc == 0; r++) {
        for (int s = 0; s < IG_METRICS_NSTATUS && rc == 0; s++) {
            unsigned long long v = LOAD(m->requests[r][s]);
            if (!v)
                continue;
            char status[8];
            if (s < IG_METRICS_NSTATUS - 1)
                snprintf(status, sizeof status, "%d", status_codes[s]);
            else
                snprintf(status, sizeof status, "other");
            rc = ig_buf_printf(out,
                               "imagegate_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                               m->route_names[r], status, v);
        }
    }
    if (rc == 0)
        rc = ig_buf_puts(out, "# HELP imagegate_http_request_duration_seconds Time from a "
                              "request's first byte to its response.\n"
                              "# TYPE imagegate_http_request_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (int b = 0; b < IG_METRICS_NBUCKETS && rc == 0; b++) {
        cum += LOAD(m->latency_buckets[b]);
        rc = ig_buf_printf(out, "imagegate_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                           (double)bucket_us[b] / 1e6, cum);
    }
    if (rc == 0)
        rc = ig_buf_printf(out,
                           "imagegate_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                           "imagegate_http_request_duration_seconds_sum %.6f\n"
                           "imagegate_http_request_duration_seconds_count %llu\n",
                           LOAD(m->latency_count), (double)LOAD(m->latency_sum_us) / 1e6,
                           LOAD(m->latency_count));
    if (rc == 0)
        rc = ig_buf_printf(
            out,
            "# HELP imagegate_http_requests_in_flight Requests received and not yet answered.\n"
            "# TYPE imagegate_http_requests_in_flight gauge\n"
            "imagegate_http_requests_in_flight %lld\n"
            "# HELP imagegate_http_connections Open client connections.\n"
            "# TYPE imagegate_http_connections gauge\n"
            "imagegate_http_connections %ld\n"
            "# HELP imagegate_images_generated_total Images delivered to clients.\n"
            "# TYPE imagegate_images_generated_total counter\n"
            "imagegate_images_generated_total %llu\n"
            "# HELP imagegate_generations_failed_total Generations that failed.\n"
            "# TYPE imagegate_generations_failed_total counter\n"
            "imagegate_generations_failed_total %llu\n"
            "# HELP imagegate_image_bytes_stored_total Bytes of new blobs written to the store.\n"
            "# TYPE imagegate_image_bytes_stored_total counter\n"
            "imagegate_image_bytes_stored_total %llu\n"
            "# HELP imagegate_blobs_created_total New blobs written (identical images are "
            "stored once).\n"
            "# TYPE imagegate_blobs_created_total counter\n"
            "imagegate_blobs_created_total %llu\n"
            "# HELP imagegate_cache_hits_total Generations served from the cache.\n"
            "# TYPE imagegate_cache_hits_total counter\n"
            "imagegate_cache_hits_total %llu\n"
            "# HELP imagegate_cache_coalesced_total Generations served the images of an "
            "identical one in flight.\n"
            "# TYPE imagegate_cache_coalesced_total counter\n"
            "imagegate_cache_coalesced_total %llu\n",
            (long long)LOAD(m->in_flight), connections, LOAD(m->images_generated),
            LOAD(m->generations_failed), LOAD(m->bytes_stored), LOAD(m->blobs_created),
            LOAD(m->cache_hits), LOAD(m->cache_coalesced));
    return rc;
}
