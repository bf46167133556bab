/* token.h — short-lived bearer tokens minted for an API key (POST
 * /v1/tokens), so a browser or mobile client never holds the long-lived
 * key:
 *
 *   igt_<key id>.<scopes>.<expires>.<signature>
 *
 * scopes is the bit set of store.h's IG_SCOPE_* (narrowed from the key's),
 * expires unix seconds, and the signature the hex HMAC-SHA256, under a key
 * derived from the instance secret, of "<key id>.<scopes>.<expires>". A
 * token is worth what its key is: it stops with its key's revocation. */
#ifndef IG_TOKEN_H
#define IG_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define IG_TOKEN_PREFIX  "igt_"
#define IG_TOKEN_MAX     192 /* the longest token, and a NUL */
#define IG_TOKEN_TTL_MAX (24 * 3600)

/* A token for key_id into out (IG_TOKEN_MAX bytes). IG_EINVAL for a key
 * id that cannot be in one (empty, too long, or with '.'). */
int ig_token_mint(const uint8_t *secret, size_t secret_len, const char *key_id, unsigned scopes,
                  int64_t expires, char out[IG_TOKEN_MAX]);
/* 1 when text (n bytes) starts like a token. */
int ig_token_like(const char *text, size_t n);
/* Checks a token at now: 0 with its key id (48 bytes), scopes and expiry;
 * IG_EINVAL when it is malformed or its signature is wrong; IG_ERANGE
 * when it has expired. Constant time in the signature. */
int ig_token_verify(const uint8_t *secret, size_t secret_len, const char *text, size_t n,
                    int64_t now, char key_id[48], unsigned *scopes, int64_t *expires);

#endif
