/* metrics.h — process-wide counters, rendered in the Prometheus text
 * format. Every update is one relaxed atomic add, so workers never lock. */
#ifndef IG_METRICS_H
#define IG_METRICS_H

#include "util/buf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define IG_METRICS_MAX_ROUTES 32
#define IG_METRICS_NSTATUS    24
#define IG_METRICS_NBUCKETS   14

struct ig_metrics {
    const char *const *route_names;
    size_t nroutes;
    atomic_ullong requests[IG_METRICS_MAX_ROUTES][IG_METRICS_NSTATUS];
    atomic_ullong latency_buckets[IG_METRICS_NBUCKETS];
    atomic_ullong latency_count;
    atomic_ullong latency_sum_us;
    atomic_llong in_flight;
    atomic_ullong images_generated;
    atomic_ullong bytes_stored;
    atomic_ullong blobs_created;
    atomic_ullong generations_failed;
    atomic_ullong cache_hits;      /* served from the cache (pipeline/cache.c) */
    atomic_ullong cache_coalesced; /* served a twin's images that were in flight */
};

/* route_names (nroutes ≤ IG_METRICS_MAX_ROUTES) must outlive the metrics. */
void ig_metrics_init(struct ig_metrics *m, const char *const *route_names, size_t nroutes);
void ig_metrics_request(struct ig_metrics *m, int route, int status, uint64_t latency_us);
/* Appends the text exposition; connections is the current open count. */
int ig_metrics_render(struct ig_metrics *m, long connections, struct ig_buf *out);

#endif
