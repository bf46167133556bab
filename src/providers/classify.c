/* classify.c — the classification table; see classify.h. */
#include "providers/classify.h"
#include "util/num.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum ig_error_class ig_classify_status(long status)
{
    switch (status) {
    case 400:
    case 413:
    case 415:
    case 422:
        return IG_ERRC_CLIENT;
    case 401:
    case 403:
        return IG_ERRC_AUTH;
    case 402:
        return IG_ERRC_QUOTA;
    case 404:
        return IG_ERRC_NOT_FOUND;
    default:
        return IG_ERRC_RETRYABLE; /* 408, 409, 425, 429, 5xx, and anything unexpected */
    }
}

const char *ig_error_class_name(enum ig_error_class c)
{
    static const char *const names[] = {"client",    "auth",           "quota",   "not_found",
                                        "retryable", "content_policy", "refused", "internal"};
    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "unknown";
}

long ig_retry_after_ms(const struct ig_upstream_result *res, long now_unix)
{
    char v[128];
    int64_t n;
    const long cap = 3600L * 1000;
    if (ig_upstream_result_header(res, "retry-after-ms", v, sizeof v) &&
        ig_parse_i64(v, strlen(v), 0, cap, &n) == 0)
        return (long)n;
    if (!ig_upstream_result_header(res, "retry-after", v, sizeof v))
        return -1;
    if (ig_parse_i64(v, strlen(v), 0, 3600, &n) == 0)
        return (long)n * 1000;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end)
        return -1;
    long when = (long)timegm(&tm);
    long ms = (when - now_unix) * 1000;
    return ms < 0 ? 0 : (ms > cap ? cap : ms);
}

void ig_classify_failure(const struct ig_upstream_result *res, struct ig_provider_result *out)
{
    out->outcome = IG_OUTCOME_ERROR;
    out->upstream_status = res->status;
    out->retry_after_ms = -1;
    if (res->transport_error) {
        out->error_class = IG_ERRC_RETRYABLE;
        snprintf(out->message, sizeof out->message, "%s",
                 res->timed_out   ? "the provider did not answer in time"
                 : res->too_large ? "the provider's answer was too large"
                 : res->error[0]  ? res->error
                                  : "connection failed");
        if (res->blocked || res->too_large)
            out->error_class = IG_ERRC_REFUSED;
        return;
    }
    out->error_class = ig_classify_status(res->status);
    out->retry_after_ms = ig_retry_after_ms(res, (long)time(NULL));
    snprintf(out->message, sizeof out->message, "the provider answered HTTP %ld", res->status);
}
