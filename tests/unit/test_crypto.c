#include "util/crypto.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

Test(crypto, sha256_known_vector)
{
    uint8_t d[32];
    char hex[65];
    ig_sha256("abc", 3, d);
    ig_hex(d, 32, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* FIPS 180-2's vectors, over and over on one thread's reused context and
 * on several threads at once. */
static const struct {
    const char *text;
    const char *hex;
} sha_vectors[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void *hash_vectors(void *rounds)
{
    for (long r = 0; r < (long)(intptr_t)rounds; r++)
        for (size_t i = 0; i < sizeof sha_vectors / sizeof sha_vectors[0]; i++) {
            uint8_t d[32];
            char hex[65];
            ig_sha256(sha_vectors[i].text, strlen(sha_vectors[i].text), d);
            ig_hex(d, 32, hex);
            if (strcmp(hex, sha_vectors[i].hex) != 0)
                return (void *)(intptr_t)(i + 1); /* which vector hashed wrong */
        }
    return NULL;
}

Test(crypto, sha256_context_reused_and_per_thread)
{
    cr_assert_null(hash_vectors((void *)(intptr_t)3), "one thread, one context, reused");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, hash_vectors, (void *)(intptr_t)2000), 0);
    for (int i = 0; i < 4; i++) {
        void *bad = t;
        cr_assert_eq(pthread_join(t[i], &bad), 0);
        cr_assert_null(bad, "thread %d hashed a vector wrong", i);
    }
}

Test(crypto, hmac_known_vector)
{
    /* RFC 4231 test case 2. */
    uint8_t d[32];
    char hex[65];
    ig_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
    ig_hex(d, 32, hex);
    cr_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

Test(crypto, keys_have_fixed_shape_and_differ)
{
    char a[IG_KEY_LEN + 1], b[IG_KEY_LEN + 1];
    cr_assert_eq(ig_key_generate(a), 0);
    cr_assert_eq(ig_key_generate(b), 0);
    cr_assert_eq(strlen(a), IG_KEY_LEN);
    cr_assert_eq(strncmp(a, "ig_", 3), 0);
    for (size_t i = 3; i < IG_KEY_LEN; i++)
        cr_assert(strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", a[i]));
    cr_assert_str_neq(a, b);
}

Test(crypto, base64_roundtrip)
{
    const char *inputs[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *expect[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[32];
        uint8_t back[32];
        size_t n = ig_base64_encode(inputs[i], strlen(inputs[i]), out);
        cr_assert_eq(n, ig_base64_len(strlen(inputs[i])));
        cr_assert_str_eq(out, expect[i]);
        long m = ig_base64_decode(out, n, back);
        cr_assert_eq(m, (long)strlen(inputs[i]));
        cr_assert_eq(memcmp(back, inputs[i], (size_t)m), 0);
    }
    uint8_t junk[16];
    cr_assert_lt(ig_base64_decode("abc", 3, junk), 0);
    cr_assert_lt(ig_base64_decode("a$c=", 4, junk), 0);
}

Test(crypto, unhex_rejects_bad_digits)
{
    uint8_t out[2];
    cr_assert_eq(ig_unhex("0aFf", 4, out), 0);
    cr_assert_eq(out[0], 0x0a);
    cr_assert_eq(out[1], 0xff);
    cr_assert_neq(ig_unhex("0g", 2, out), 0);
    cr_assert_neq(ig_unhex("abc", 3, out), 0);
}

Test(crypto, random_fast_hands_out_distinct_bytes_across_refills)
{
    /* 3 KiB in 24-byte draws crosses several 512-byte batches; no two
     * draws may repeat (a reused batch would). */
    enum { DRAWS = 128, N = 24 };
    static uint8_t seen[DRAWS][N];
    for (int i = 0; i < DRAWS; i++) {
        cr_assert_eq(ig_random_fast(seen[i], N), 0);
        for (int j = 0; j < i; j++)
            cr_assert_neq(memcmp(seen[i], seen[j], N), 0, "draws %d and %d repeat", i, j);
    }
    uint8_t big[2048], zero[2048] = {0};
    cr_assert_eq(ig_random_fast(big, sizeof big), 0, "larger than a batch: drawn directly");
    cr_assert_neq(memcmp(big, zero, sizeof big), 0);
}

Test(crypto, aead_round_trip_and_every_alteration_refused)
{
    uint8_t key[32], other[32];
    memset(key, 7, sizeof key);
    memset(other, 8, sizeof other);
    const char plain[] = "sk-tenant-secret";
    size_t n = sizeof plain - 1;
    uint8_t sealed[sizeof plain + IG_AEAD_OVERHEAD], back[sizeof plain];
    cr_assert_eq(ig_aead_seal(key, "acct\0openai", 11, plain, n, sealed), 0);
    cr_assert_null(memmem(sealed, n + IG_AEAD_OVERHEAD, plain, n), "no plain text in it");
    cr_assert_eq(ig_aead_open(key, "acct\0openai", 11, sealed, n + IG_AEAD_OVERHEAD, back), 0);
    cr_assert_eq(memcmp(back, plain, n), 0);
    cr_assert_eq(ig_aead_open(other, "acct\0openai", 11, sealed, n + IG_AEAD_OVERHEAD, back),
                 IG_ECRYPTO, "another key");
    cr_assert_eq(ig_aead_open(key, "acct\0fal", 8, sealed, n + IG_AEAD_OVERHEAD, back), IG_ECRYPTO,
                 "another provider");
    for (size_t i = 0; i < n + IG_AEAD_OVERHEAD; i++) {
        sealed[i] ^= 1;
        cr_assert_eq(ig_aead_open(key, "acct\0openai", 11, sealed, n + IG_AEAD_OVERHEAD, back),
                     IG_ECRYPTO, "byte %zu altered", i);
        sealed[i] ^= 1;
    }
    cr_assert_eq(ig_aead_open(key, "acct\0openai", 11, sealed, n + IG_AEAD_OVERHEAD - 1, back),
                 IG_ECRYPTO, "truncated");
    cr_assert_eq(ig_aead_open(key, "", 0, sealed, 10, back), IG_ECRYPTO, "too short");
    uint8_t again[sizeof sealed];
    cr_assert_eq(ig_aead_seal(key, "acct\0openai", 11, plain, n, again), 0);
    cr_assert_neq(memcmp(again, sealed, 12), 0, "a fresh nonce each time");
}
