/* crypto.h — the few primitives imagegate needs, all from OpenSSL libcrypto:
 * SHA-256, HMAC-SHA256, a CSPRNG, base64, and the encodings built on them
 * (hex, base62 API keys, random ids). Thread-safe. */
#ifndef IG_CRYPTO_H
#define IG_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define IG_SHA256_LEN 32
#define IG_SHA256_HEX 65 /* 64 hex digits and a NUL */

void ig_sha256(const void *data, size_t n, uint8_t out[IG_SHA256_LEN]);
void ig_hmac_sha256(const void *key, size_t key_len, const void *data, size_t n,
                    uint8_t out[IG_SHA256_LEN]);
/* Fills buf with n bytes from the CSPRNG; IG_ECRYPTO if it cannot. */
int ig_random_bytes(void *buf, size_t n);
/* The same CSPRNG's bytes, drawn 512 at a time per thread and handed out
 * from that batch: for ids, seeds, boundaries and jitter, where a
 * RAND_bytes call per request showed in profiles. Not for secrets (keys,
 * the instance secret): the batch stays in memory until used. */
int ig_random_fast(void *buf, size_t n);
/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void ig_hex(const uint8_t *in, size_t n, char *out);
/* The value of one hex digit (either case), or -1. */
int ig_hex_value(char c);
/* Decodes 2n hex digits; IG_EINVAL on anything else. */
int ig_unhex(const char *in, size_t hex_len, uint8_t *out);
/* Constant-time equality of two n-byte buffers: 1 when equal. */
int ig_ct_equal(const void *a, const void *b, size_t n);
/* A new API key: "ig_" and 43 base62 characters (256 random bits).
 * out must hold IG_KEY_LEN + 1 bytes. */
#define IG_KEY_LEN 46
int ig_key_generate(char out[IG_KEY_LEN + 1]);
/* A random id (ig_random_fast): prefix and 2*nbytes hex digits,
 * NUL-terminated in out. */
int ig_random_id(const char *prefix, size_t nbytes, char *out, size_t out_size);
/* A random id that sorts by creation time: prefix and 32 hex digits, the
 * first 12 the unix time in milliseconds (48 bits), the other 20 random (80
 * bits, ig_random_fast). Rows keyed by such ids are appended to their
 * B-tree indexes instead of landing on a random page, so a database
 * transaction of many of them writes few pages. */
#define IG_TIME_ID_BYTES 16
int ig_time_ordered_id(const char *prefix, uint64_t unix_ms, char *out, size_t out_size);
/* Base64 (standard alphabet, padded, no newlines). The encoded length is
 * ig_base64_len(n); out must hold that plus a NUL. */
size_t ig_base64_len(size_t n);
size_t ig_base64_encode(const void *in, size_t n, char *out);
/* Decodes base64 into out (room for 3*(n/4) bytes); returns the length or
 * a negative IG_EINVAL. */
long ig_base64_decode(const char *in, size_t n, uint8_t *out);

/* AES-256-GCM with a random 96-bit nonce. Sealed text is nonce (12) ||
 * ciphertext (n) || tag (16): IG_AEAD_OVERHEAD bytes more than the plain
 * text. aad is bound in but not stored. */
#define IG_AEAD_OVERHEAD 28
int ig_aead_seal(const uint8_t key[32], const void *aad, size_t aad_len, const void *plain,
                 size_t n, uint8_t *out);
/* Opens sealed text of n bytes into out (n - IG_AEAD_OVERHEAD bytes):
 * 0, or IG_ECRYPTO when it was not sealed under key with aad (altered,
 * truncated, another key or another aad). */
int ig_aead_open(const uint8_t key[32], const void *aad, size_t aad_len, const uint8_t *sealed,
                 size_t n, uint8_t *out);

#endif
