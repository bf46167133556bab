/* num.c — bounded integer parsing for config values, sizes and headers,
 * and the string hash of in-memory tables. */
#include "util/num.h"
#include "util/err.h"

#include <string.h>

int ig_parse_i64(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (n == 0)
        return IG_EINVAL;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return IG_EINVAL;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return IG_EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return IG_ERANGE;
        v = v * 10 + d;
    }
    if (!neg && v > (uint64_t)INT64_MAX)
        return IG_ERANGE;
    if (neg && v > (uint64_t)INT64_MAX + 1)
        return IG_ERANGE;
    int64_t r = neg ? (int64_t)(0 - v) : (int64_t)v;
    if (r < min || r > max)
        return IG_ERANGE;
    *out = r;
    return 0;
}

int ig_parse_size(const char *s, int min, int max, int *w, int *h)
{
    const char *x = strchr(s, 'x');
    if (!x)
        x = strchr(s, 'X');
    if (!x)
        return IG_EINVAL;
    int64_t a, b;
    int rc = ig_parse_i64(s, (size_t)(x - s), min, max, &a);
    if (rc == 0)
        rc = ig_parse_i64(x + 1, strlen(x + 1), min, max, &b);
    if (rc)
        return rc;
    if (s[0] == '-' || s[0] == '+' || x[1] == '-' || x[1] == '+')
        return IG_EINVAL;
    *w = (int)a;
    *h = (int)b;
    return 0;
}

uint64_t ig_hash_str(const char *s, size_t *len)
{
    size_t n = strlen(s);
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t tail = 0;
    memcpy(&tail, s + i, n - i);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    *len = n;
    return h;
}

size_t ig_format_u64(uint64_t v, char *out)
{
    char digits[20];
    size_t k = 0;
    do
        digits[k++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (size_t i = 0; i < k; i++)
        out[i] = digits[k - 1 - i];
    out[k] = '\0';
    return k;
}
