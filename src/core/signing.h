/* signing.h — signed, expiring URLs for stored images.
 *
 * signature = hex(HMAC-SHA256(secret, path "\n" expires)), where path is the
 * URL path (/v1/files/<sha256>.<ext>) and expires unix seconds. The query
 * carries ?expires=…&sig=…. Verification is constant-time. */
#ifndef IG_SIGNING_H
#define IG_SIGNING_H

#include <stddef.h>
#include <stdint.h>

#define IG_SIG_HEX 65

void ig_sign_path(const uint8_t *secret, size_t secret_len, const char *path, size_t path_len,
                  int64_t expires, char sig[IG_SIG_HEX]);
/* The signed URL of a stored image: base_url (scheme://host[:port]) +
 * /v1/files/SHA.FORMAT?expires=…&sig=…, into out. */
void ig_signed_file_url(const uint8_t *secret, size_t secret_len, const char *base_url,
                        const char *sha256, const char *format, int64_t expires, char *out,
                        size_t size);
/* The signed URL of a stored image's thumbnail (256 px WebP): base_url +
 * /v1/thumbnails/SHA.webp?expires=…&sig=…. */
void ig_signed_thumbnail_url(const uint8_t *secret, size_t secret_len, const char *base_url,
                             const char *sha256, int64_t expires, char *out, size_t size);
/* 0 when valid; IG_EINVAL for a bad or missing signature, IG_ERANGE when
 * expired. query is the raw query string (without '?'). *expires (may be
 * NULL) receives the signed expiry when the signature is good. */
int ig_verify_signed(const uint8_t *secret, size_t secret_len, const char *path, size_t path_len,
                     const char *query, size_t query_len, int64_t now, int64_t *expires);

#endif
