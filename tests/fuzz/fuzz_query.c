/* fuzz_query.c — a request's query string as the API reads it
 * (ig_app_query_param, ig_app_page_query): the input is the query. A
 * parameter found is decoded within its bound and without NUL, one absent
 * has no "name=" segment, and what was decoded survives a round trip
 * through percent-encoding; a page's limit is in range or named bad. */
#include "api/app.h"
#include "server/http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when some '&'-separated segment of q starts with "name=". */
static int has_segment(const char *q, size_t n, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < n;) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t stop = amp ? (size_t)(amp - q) : n;
        if (stop - i > nlen && memcmp(q + i, name, nlen) == 0 && q[i + nlen] == '=')
            return 1;
        i = stop + 1;
    }
    return 0;
}

static void check_param(const char *q, size_t n, const char *name, size_t out_size)
{
    struct ig_http_req req = {.query = q, .query_len = n};
    char out[64];
    memset(out, 'X', sizeof out);
    int rc = ig_app_query_param(&req, name, out, out_size);
    if (rc < -1 || rc > 1)
        abort();
    if (rc == 0 && has_segment(q, n, name))
        abort(); /* present but called absent */
    if (rc != 1)
        return;
    size_t len = strnlen(out, out_size);
    if (len >= out_size || len > n || out[out_size] != 'X')
        abort(); /* unterminated, longer than its source, or past its bound */
    /* Round trip: every byte percent-encoded decodes to the same value. */
    char encoded[sizeof out * 3 + 16];
    int w = snprintf(encoded, sizeof encoded, "%s=", name);
    for (size_t i = 0; i < len; i++)
        w += snprintf(encoded + w, sizeof encoded - (size_t)w, "%%%02X", (unsigned char)out[i]);
    struct ig_http_req again = {.query = encoded, .query_len = (size_t)w};
    char back[64];
    if (ig_app_query_param(&again, name, back, out_size) != 1 || strcmp(back, out) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *q = (const char *)data;
    check_param(q, size, "limit", 16);
    check_param(q, size, "cursor", 48);
    check_param(q, size, "start_date", 11);
    check_param(q, size, "a", 2);

    struct ig_http_req req = {.query = size ? q : NULL, .query_len = size};
    int64_t limit = -1;
    char cursor[48];
    const char *bad = ig_app_page_query(&req, 20, 100, &limit, cursor, sizeof cursor);
    if (!bad && (limit < 1 || limit > 100 || strnlen(cursor, sizeof cursor) >= sizeof cursor))
        abort();
    if (bad && strcmp(bad, "limit") != 0 && strcmp(bad, "cursor") != 0)
        abort();
    return 0;
}
