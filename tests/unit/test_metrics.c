#include "core/metrics.h"

#include <criterion/criterion.h>
#include <string.h>

Test(metrics, renders_counters_and_histogram)
{
    static const char *const names[] = {"unmatched", "healthz"};
    static struct ig_metrics m;
    ig_metrics_init(&m, names, 2);
    ig_metrics_request(&m, 1, 200, 50);
    ig_metrics_request(&m, 1, 200, 3000);
    ig_metrics_request(&m, 0, 404, 10);
    ig_metrics_request(&m, 1, 418, 10);
    atomic_store(&m.images_generated, 5);
    struct ig_buf b;
    ig_buf_init(&b, 1 << 20);
    cr_assert_eq(ig_metrics_render(&m, 7, &b), 0);
    cr_assert(
        strstr(b.data, "imagegate_http_requests_total{route=\"healthz\",status=\"200\"} 2\n"));
    cr_assert(strstr(b.data, "{route=\"unmatched\",status=\"404\"} 1\n"));
    cr_assert(strstr(b.data, "{route=\"healthz\",status=\"other\"} 1\n"));
    cr_assert(strstr(b.data, "imagegate_http_request_duration_seconds_bucket{le=\"0.0001\"} 3\n"));
    cr_assert(strstr(b.data, "imagegate_http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
    cr_assert(strstr(b.data, "imagegate_http_request_duration_seconds_count 4\n"));
    cr_assert(strstr(b.data, "imagegate_http_connections 7\n"));
    cr_assert(strstr(b.data, "imagegate_images_generated_total 5\n"));
    ig_buf_release(&b);
}
