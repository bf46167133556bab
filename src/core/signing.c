/* signing.c — HMAC-signed image URLs; see signing.h. */
#include "core/signing.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/num.h"

#include <stdio.h>
#include <string.h>

void ig_sign_path(const uint8_t *secret, size_t secret_len, const char *path, size_t path_len,
                  int64_t expires, char sig[IG_SIG_HEX])
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%.*s\n%lld", (int)path_len, path, (long long)expires);
    uint8_t mac[IG_SHA256_LEN];
    ig_hmac_sha256(secret, secret_len, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1,
                   mac);
    ig_hex(mac, sizeof mac, sig);
}

/* Finds name=value in a query string: 1 when name is there exactly once
 * (a repeated one is refused: which copy a cache or a proxy in front
 * honours is anyone's guess). The value is not decoded (ours never need
 * decoding: digits and hex). */
static int query_param(const char *q, size_t qlen, const char *name, const char **val, size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = q, *end = q + qlen;
    int found = 0;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) >= nlen && memcmp(p, name, nlen) == 0 &&
            (p + nlen == stop || p[nlen] == '=')) {
            if (found++)
                return 0;
            *val = p + nlen + (p + nlen < stop);
            *vlen = (size_t)(stop - *val);
        }
        p = stop + 1;
    }
    return found;
}

int ig_verify_signed(const uint8_t *secret, size_t secret_len, const char *path, size_t path_len,
                     const char *query, size_t query_len, int64_t now, int64_t *expires_out)
{
    const char *ev, *sv;
    size_t elen, slen;
    int64_t expires;
    if (!query || !query_param(query, query_len, "expires", &ev, &elen) ||
        !query_param(query, query_len, "sig", &sv, &slen) || slen != IG_SIG_HEX - 1 ||
        ig_parse_i64(ev, elen, 0, INT64_MAX / 2, &expires))
        return IG_EINVAL;
    char want[IG_SIG_HEX];
    ig_sign_path(secret, secret_len, path, path_len, expires, want);
    if (!ig_ct_equal(want, sv, IG_SIG_HEX - 1))
        return IG_EINVAL;
    if (expires_out)
        *expires_out = expires;
    if (now > expires)
        return IG_ERANGE;
    return 0;
}

static void signed_url(const uint8_t *secret, size_t secret_len, const char *base_url,
                       const char *dir, const char *sha256, const char *format, int64_t expires,
                       char *out, size_t size)
{
    char path[160], sig[IG_SIG_HEX];
    int n = snprintf(path, sizeof path, "%s%s.%s", dir, sha256, format);
    if (n < 0 || (size_t)n >= sizeof path)
        n = (int)strlen(path);
    ig_sign_path(secret, secret_len, path, (size_t)n, expires, sig);
    snprintf(out, size, "%s%s?expires=%lld&sig=%s", base_url, path, (long long)expires, sig);
}

void ig_signed_file_url(const uint8_t *secret, size_t secret_len, const char *base_url,
                        const char *sha256, const char *format, int64_t expires, char *out,
                        size_t size)
{
    signed_url(secret, secret_len, base_url, "/v1/files/", sha256, format, expires, out, size);
}

void ig_signed_thumbnail_url(const uint8_t *secret, size_t secret_len, const char *base_url,
                             const char *sha256, int64_t expires, char *out, size_t size)
{
    signed_url(secret, secret_len, base_url, "/v1/thumbnails/", sha256, "webp", expires, out, size);
}
