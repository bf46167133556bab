/* byok.c — accounts' own provider keys, sealed; see byok.h. */
#include "store/byok.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

static void derive(const uint8_t *secret, size_t secret_len, uint8_t key[32])
{
    static const char label[] = "imagegate byok v1";
    ig_hmac_sha256(secret, secret_len, label, sizeof label - 1, key);
}

/* "account\0provider": what a sealed key is bound to. */
static size_t aad_of(const char *account_id, const char *provider, char *out, size_t size)
{
    size_t a = strlen(account_id), p = strlen(provider);
    if (a + 1 + p > size)
        return 0;
    memcpy(out, account_id, a);
    out[a] = '\0';
    memcpy(out + a + 1, provider, p);
    return a + 1 + p;
}

int ig_byok_put(struct ig_store *s, const uint8_t *secret, size_t secret_len,
                const char *account_id, const char *provider, const char *api_key, int64_t now_s)
{
    size_t n = strlen(api_key);
    char aad[IG_ID_MAX + 40];
    size_t aad_len = aad_of(account_id, provider, aad, sizeof aad);
    if (n == 0 || n > IG_BYOK_KEY_MAX || !aad_len || strlen(provider) >= 32)
        return IG_EINVAL;
    uint8_t key[32], sealed[IG_BYOK_KEY_MAX + IG_AEAD_OVERHEAD];
    derive(secret, secret_len, key);
    int rc = ig_aead_seal(key, aad, aad_len, api_key, n, sealed);
    explicit_bzero(key, sizeof key);
    if (rc)
        return rc;
    struct ig_byok_record r = {
        .created_at = now_s, .sealed = sealed, .sealed_len = n + IG_AEAD_OVERHEAD};
    ig_strlcpy(r.account_id, account_id, sizeof r.account_id);
    ig_strlcpy(r.provider, provider, sizeof r.provider);
    ig_strlcpy(r.last4, api_key + (n > 4 ? n - 4 : 0), sizeof r.last4);
    return ig_store_byok_put(s, &r);
}

struct load_args {
    uint8_t key[32];
    struct ig_byok_plain *out;
    size_t n;
};

static int open_one(const struct ig_byok_record *r, void *ud)
{
    struct load_args *a = ud;
    if (a->n == IG_BYOK_MAX)
        return 1;
    char aad[IG_ID_MAX + 40];
    size_t aad_len = aad_of(r->account_id, r->provider, aad, sizeof aad);
    struct ig_byok_plain *p = &a->out[a->n];
    if (!aad_len || r->sealed_len < IG_AEAD_OVERHEAD ||
        r->sealed_len - IG_AEAD_OVERHEAD > IG_BYOK_KEY_MAX ||
        ig_aead_open(a->key, aad, aad_len, r->sealed, r->sealed_len, (uint8_t *)p->api_key)) {
        ig_warn("account %s: its BYOK key for %s does not open (was the instance secret "
                "changed?); it is not used",
                r->account_id, r->provider);
        return 0;
    }
    p->api_key[r->sealed_len - IG_AEAD_OVERHEAD] = '\0';
    ig_strlcpy(p->provider, r->provider, sizeof p->provider);
    a->n++;
    return 0;
}

int ig_byok_load(struct ig_store *s, const uint8_t *secret, size_t secret_len,
                 const char *account_id, struct ig_byok_plain *out, size_t *n)
{
    struct load_args a = {.out = out};
    derive(secret, secret_len, a.key);
    int rc = ig_store_byok_list(s, account_id, open_one, &a);
    explicit_bzero(a.key, sizeof a.key);
    *n = a.n;
    return rc;
}
