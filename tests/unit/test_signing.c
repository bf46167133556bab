#include "core/signing.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const uint8_t secret[32] = {1, 2, 3};

static int verify(const char *path, const char *query, int64_t now)
{
    int64_t exp;
    return ig_verify_signed(secret, sizeof secret, path, strlen(path), query,
                            query ? strlen(query) : 0, now, &exp);
}

Test(signing, valid_tampered_expired)
{
    const char *path = "/v1/files/abc.png";
    char sig[IG_SIG_HEX], q[200];
    ig_sign_path(secret, sizeof secret, path, strlen(path), 1000, sig);
    snprintf(q, sizeof q, "expires=1000&sig=%s", sig);
    cr_assert_eq(verify(path, q, 999), 0);
    cr_assert_eq(verify(path, q, 1000), 0);
    cr_assert_eq(verify(path, q, 1001), IG_ERANGE);
    cr_assert_eq(verify("/v1/files/abd.png", q, 999), IG_EINVAL, "other path");
    snprintf(q, sizeof q, "expires=2000&sig=%s", sig);
    cr_assert_eq(verify(path, q, 999), IG_EINVAL, "extended expiry");
    snprintf(q, sizeof q, "sig=%s&expires=1000", sig);
    cr_assert_eq(verify(path, q, 999), 0, "parameter order does not matter");
    sig[0] = sig[0] == 'a' ? 'b' : 'a';
    snprintf(q, sizeof q, "expires=1000&sig=%s", sig);
    cr_assert_eq(verify(path, q, 999), IG_EINVAL, "flipped signature");
    cr_assert_eq(verify(path, NULL, 999), IG_EINVAL);
    cr_assert_eq(verify(path, "expires=1000", 999), IG_EINVAL);
    cr_assert_eq(verify(path, "expires=x&sig=00", 999), IG_EINVAL);
}

Test(signing, a_repeated_parameter_is_refused)
{
    const char *path = "/v1/files/abc.png";
    char sig[IG_SIG_HEX], q[300];
    ig_sign_path(secret, sizeof secret, path, strlen(path), 1000, sig);
    snprintf(q, sizeof q, "expires=1000&sig=%s&x=1", sig);
    cr_assert_eq(verify(path, q, 999), 0, "other parameters are ignored");
    snprintf(q, sizeof q, "expires=1000&sig=%s&sig=%s", sig, sig);
    cr_assert_eq(verify(path, q, 999), IG_EINVAL, "sig twice, even the same");
    snprintf(q, sizeof q, "expires=1000&expires=1000&sig=%s", sig);
    cr_assert_eq(verify(path, q, 999), IG_EINVAL, "expires twice");
    snprintf(q, sizeof q, "expires=1000&sig=%s&expires", sig);
    cr_assert_eq(verify(path, q, 999), IG_EINVAL, "a bare repeated name counts");
    snprintf(q, sizeof q, "expires=1000&sig=%s&sigx=1&expiresy=2", sig);
    cr_assert_eq(verify(path, q, 999), 0, "longer names are other parameters");
}
