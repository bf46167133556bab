/* crypto.c — thin wrappers over OpenSSL's EVP, HMAC, RAND and base64 so the
 * rest of the code never sees OpenSSL types. Key generation draws 32 bytes
 * and writes them as a fixed-width base62 number, so every key has the same
 * length and carries the full 256 bits. */
#include "util/crypto.h"
#include "util/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* OpenSSL 3 looks an algorithm up by name on every implicit use
 * (EVP_sha256()), and EVP_Digest makes and frees two contexts per call
 * (344 ns for a key's 40 bytes, 207 ns with a context kept). The digest is
 * fetched once, and each thread keeps one context in a thread-specific
 * key, reinitialized per hash and freed by the key's destructor when the
 * thread ends. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha256_ctx_key;

static void free_sha256_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256_md && pthread_key_create(&sha256_ctx_key, free_sha256_ctx) != 0) {
        EVP_MD_free(sha256_md);
        sha256_md = NULL;
    }
}

/* This thread's context, ready for a SHA-256; NULL when it cannot be had. */
static EVP_MD_CTX *thread_sha256_ctx(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    if (!sha256_md)
        return NULL;
    EVP_MD_CTX *ctx = pthread_getspecific(sha256_ctx_key);
    if (!ctx) {
        ctx = EVP_MD_CTX_new();
        if (!ctx || pthread_setspecific(sha256_ctx_key, ctx) != 0) {
            EVP_MD_CTX_free(ctx);
            return NULL;
        }
    }
    return EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1 ? ctx : NULL;
}

void ig_sha256(const void *data, size_t n, uint8_t out[IG_SHA256_LEN])
{
    unsigned int len = IG_SHA256_LEN;
    EVP_MD_CTX *ctx = thread_sha256_ctx();
    if (ctx && EVP_DigestUpdate(ctx, data, n) == 1 && EVP_DigestFinal_ex(ctx, out, &len) == 1)
        return;
    EVP_Digest(data, n, out, &len, EVP_sha256(), NULL);
}

void ig_hmac_sha256(const void *key, size_t key_len, const void *data, size_t n,
                    uint8_t out[IG_SHA256_LEN])
{
    unsigned int len = IG_SHA256_LEN;
    HMAC(EVP_sha256(), key, (int)key_len, data, n, out, &len);
}

int ig_random_bytes(void *buf, size_t n)
{
    return RAND_bytes(buf, (int)n) == 1 ? 0 : IG_ECRYPTO;
}

#define FAST_POOL 512

int ig_random_fast(void *buf, size_t n)
{
    static _Thread_local uint8_t pool[FAST_POOL];
    static _Thread_local size_t left;
    if (n > FAST_POOL)
        return ig_random_bytes(buf, n);
    if (n > left) {
        if (ig_random_bytes(pool, sizeof pool))
            return IG_ECRYPTO;
        left = sizeof pool;
    }
    memcpy(buf, pool + (FAST_POOL - left), n);
    explicit_bzero(pool + (FAST_POOL - left), n); /* handed out once */
    left -= n;
    return 0;
}

void ig_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int ig_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ig_unhex(const char *in, size_t hex_len, uint8_t *out)
{
    if (hex_len % 2)
        return IG_EINVAL;
    for (size_t i = 0; i < hex_len; i += 2) {
        int hi = ig_hex_value(in[i]), lo = ig_hex_value(in[i + 1]);
        if (hi < 0 || lo < 0)
            return IG_EINVAL;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int ig_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

int ig_key_generate(char out[IG_KEY_LEN + 1])
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint8_t num[32];
    if (ig_random_bytes(num, sizeof num))
        return IG_ECRYPTO;
    /* 62^43 > 2^256, so 43 digits always hold the number. Long division of
     * the big-endian number by 62, least significant digit first. */
    char digits[43];
    for (int d = 42; d >= 0; d--) {
        unsigned rem = 0;
        for (size_t i = 0; i < sizeof num; i++) {
            unsigned cur = rem << 8 | num[i];
            num[i] = (uint8_t)(cur / 62);
            rem = cur % 62;
        }
        digits[d] = alphabet[rem];
    }
    memcpy(out, "ig_", 3);
    memcpy(out + 3, digits, sizeof digits);
    out[IG_KEY_LEN] = '\0';
    return 0;
}

/* prefix, then the hex of nbytes bytes: the first ntime of them the big-endian
 * low bytes of time_ms, the rest random. */
static int make_id(const char *prefix, size_t nbytes, uint64_t time_ms, size_t ntime, char *out,
                   size_t out_size)
{
    uint8_t raw[32];
    size_t plen = strlen(prefix);
    if (nbytes > sizeof raw || ntime > nbytes || out_size < plen + 2 * nbytes + 1)
        return IG_EINVAL;
    for (size_t i = 0; i < ntime; i++)
        raw[i] = (uint8_t)(time_ms >> (8 * (ntime - 1 - i)));
    if (ig_random_fast(raw + ntime, nbytes - ntime))
        return IG_ECRYPTO;
    memcpy(out, prefix, plen);
    ig_hex(raw, nbytes, out + plen);
    return 0;
}

int ig_random_id(const char *prefix, size_t nbytes, char *out, size_t out_size)
{
    return make_id(prefix, nbytes, 0, 0, out, out_size);
}

int ig_time_ordered_id(const char *prefix, uint64_t unix_ms, char *out, size_t out_size)
{
    return make_id(prefix, IG_TIME_ID_BYTES, unix_ms, 6, out, out_size);
}

size_t ig_base64_len(size_t n)
{
    return 4 * ((n + 2) / 3);
}

size_t ig_base64_encode(const void *in, size_t n, char *out)
{
    /* EVP_EncodeBlock takes an int length; encode in slices to stay safe
     * for any size_t. Slices are multiples of 3 so no padding falls inside. */
    const unsigned char *p = in;
    size_t written = 0;
    const size_t slice = (size_t)3 << 20;
    while (n > 0) {
        size_t take = n < slice ? n : slice;
        written += (size_t)EVP_EncodeBlock((unsigned char *)out + written, p, (int)take);
        p += take;
        n -= take;
    }
    out[written] = '\0';
    return written;
}

long ig_base64_decode(const char *in, size_t n, uint8_t *out)
{
    if (n % 4 || n > (size_t)1 << 30)
        return IG_EINVAL;
    if (n == 0)
        return 0;
    int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (len < 0)
        return IG_EINVAL;
    /* EVP_DecodeBlock counts padding as zero bytes; take them back off. */
    if (in[n - 1] == '=')
        len--;
    if (in[n - 2] == '=')
        len--;
    return len;
}

int ig_aead_seal(const uint8_t key[32], const void *aad, size_t aad_len, const void *plain,
                 size_t n, uint8_t *out)
{
    if (n > INT_MAX - IG_AEAD_OVERHEAD || aad_len > INT_MAX || ig_random_bytes(out, 12))
        return IG_ECRYPTO;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, out) == 1 &&
                      EVP_EncryptUpdate(c, NULL, &len, aad, (int)aad_len) == 1 &&
                      EVP_EncryptUpdate(c, out + 12, &len, plain, (int)n) == 1 &&
                      EVP_EncryptFinal_ex(c, out + 12 + len, &len) == 1 &&
                      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + n) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : IG_ECRYPTO;
}

int ig_aead_open(const uint8_t key[32], const void *aad, size_t aad_len, const uint8_t *sealed,
                 size_t n, uint8_t *out)
{
    if (n < IG_AEAD_OVERHEAD || n > INT_MAX || aad_len > INT_MAX)
        return IG_ECRYPTO;
    size_t plain = n - IG_AEAD_OVERHEAD;
    uint8_t tag[16];
    memcpy(tag, sealed + n - 16, 16);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, sealed) == 1 &&
                      EVP_DecryptUpdate(c, NULL, &len, aad, (int)aad_len) == 1 &&
                      EVP_DecryptUpdate(c, out, &len, sealed + 12, (int)plain) == 1 &&
                      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
                      EVP_DecryptFinal_ex(c, out + len, &len) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok)
        explicit_bzero(out, plain);
    return ok ? 0 : IG_ECRYPTO;
}
