/* token.c — bearer tokens; see token.h. */
#include "core/token.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/num.h"

#include <stdio.h>
#include <string.h>

static void derive(const uint8_t *secret, size_t secret_len, uint8_t key[32])
{
    static const char label[] = "imagegate token v1";
    ig_hmac_sha256(secret, secret_len, label, sizeof label - 1, key);
}

static void sign(const uint8_t *secret, size_t secret_len, const char *body, size_t n, char hex[65])
{
    uint8_t key[32], mac[32];
    derive(secret, secret_len, key);
    ig_hmac_sha256(key, sizeof key, body, n, mac);
    ig_hex(mac, sizeof mac, hex);
    explicit_bzero(key, sizeof key);
}

int ig_token_mint(const uint8_t *secret, size_t secret_len, const char *key_id, unsigned scopes,
                  int64_t expires, char out[IG_TOKEN_MAX])
{
    size_t idlen = strlen(key_id);
    if (idlen == 0 || idlen >= 48 || strchr(key_id, '.'))
        return IG_EINVAL;
    char body[96], hex[65];
    int n = snprintf(body, sizeof body, "%s.%u.%lld", key_id, scopes, (long long)expires);
    if (n < 0 || (size_t)n >= sizeof body)
        return IG_EINVAL;
    sign(secret, secret_len, body, (size_t)n, hex);
    snprintf(out, IG_TOKEN_MAX, IG_TOKEN_PREFIX "%s.%s", body, hex);
    return 0;
}

int ig_token_like(const char *text, size_t n)
{
    return n > 4 && memcmp(text, IG_TOKEN_PREFIX, 4) == 0;
}

int ig_token_verify(const uint8_t *secret, size_t secret_len, const char *text, size_t n,
                    int64_t now, char key_id[48], unsigned *scopes, int64_t *expires)
{
    if (!ig_token_like(text, n) || n >= IG_TOKEN_MAX)
        return IG_EINVAL;
    const char *body = text + 4;
    size_t blen = n - 4;
    /* The signature is after the last '.', 64 hex digits. */
    if (blen < 66 || body[blen - 65] != '.')
        return IG_EINVAL;
    size_t signed_len = blen - 65;
    char hex[65];
    sign(secret, secret_len, body, signed_len, hex);
    if (!ig_ct_equal(hex, body + signed_len + 1, 64))
        return IG_EINVAL;
    /* Signed by this instance: its fields are as minted. */
    char copy[IG_TOKEN_MAX];
    memcpy(copy, body, signed_len);
    copy[signed_len] = '\0';
    char *dot1 = strchr(copy, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || (size_t)(dot1 - copy) >= 48)
        return IG_EINVAL;
    *dot1 = *dot2 = '\0';
    int64_t s = 0, e = 0;
    if (ig_parse_i64(dot1 + 1, strlen(dot1 + 1), 0, 0xffff, &s) ||
        ig_parse_i64(dot2 + 1, strlen(dot2 + 1), 0, INT64_MAX, &e))
        return IG_EINVAL;
    memcpy(key_id, copy, (size_t)(dot1 - copy) + 1);
    *scopes = (unsigned)s;
    *expires = e;
    return e <= now ? IG_ERANGE : 0;
}
