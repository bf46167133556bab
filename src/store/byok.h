/* byok.h — accounts' own provider keys (bring your own key), sealed at
 * rest: AES-256-GCM under a key derived from the instance secret
 * (HMAC-SHA256(secret, "imagegate byok v1")), with the account and the
 * provider bound in as associated data, so a sealed key copied to another
 * account's or provider's row does not open. The plain key is never
 * stored, returned or logged; only its last four characters are kept
 * beside it, to recognise it. */
#ifndef IG_STORE_BYOK_H
#define IG_STORE_BYOK_H

#include "store/store.h"

#define IG_BYOK_KEY_MAX 512 /* longest provider key accepted, bytes */
#define IG_BYOK_MAX     16  /* keys per account (one per provider) */

struct ig_byok_plain {
    char provider[32];
    char api_key[IG_BYOK_KEY_MAX + 1];
};

/* Seals api_key (1 to IG_BYOK_KEY_MAX bytes) and stores it as account_id's
 * key for provider, replacing any. 0, IG_EINVAL, IG_ECRYPTO, IG_EDB. */
int ig_byok_put(struct ig_store *s, const uint8_t *secret, size_t secret_len,
                const char *account_id, const char *provider, const char *api_key, int64_t now_s);
/* Opens every key of account_id into out (room for IG_BYOK_MAX); *n gets
 * how many. A key that does not open (the instance secret changed) is
 * left out and logged by provider name. The caller wipes out after use
 * (explicit_bzero). */
int ig_byok_load(struct ig_store *s, const uint8_t *secret, size_t secret_len,
                 const char *account_id, struct ig_byok_plain *out, size_t *n);

#endif
