/* fuzz_signed_url.c — verifying a signed file URL's query: the input is
 * the query string; it must never verify unless it carries the right
 * signature, which the harness also makes for the same path. */
#include "core/signing.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t secret[32] = {7, 7, 7};
static const char path[] =
    "/v1/files/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.png";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t expires = 0;
    int rc = ig_verify_signed(secret, sizeof secret, path, sizeof path - 1, (const char *)data,
                              size, 1700000000, &expires);
    if (rc == 0) {
        /* Only a query carrying the signature of (path, expires) passes. */
        char sig[IG_SIG_HEX];
        ig_sign_path(secret, sizeof secret, path, sizeof path - 1, expires, sig);
        if (!memmem(data, size, sig, IG_SIG_HEX - 1) || expires < 1700000000)
            abort();
    }
    return 0;
}
