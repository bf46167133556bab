/* fuzz_token.c — verifying a bearer token (core/token.h): the input is
 * the presented token; it must never verify unless it is exactly what
 * ig_token_mint makes for the key id, scopes and expiry it names. */
#include "core/token.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t secret[32] = {5, 4, 3};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char key_id[48];
    unsigned scopes = 0;
    int64_t expires = 0;
    int rc = ig_token_verify(secret, sizeof secret, (const char *)data, size, 1700000000, key_id,
                             &scopes, &expires);
    if (rc == 0) {
        char again[IG_TOKEN_MAX];
        if (ig_token_mint(secret, sizeof secret, key_id, scopes, expires, again) ||
            strlen(again) != size || memcmp(again, data, size) != 0 || expires <= 1700000000)
            abort();
    }
    return 0;
}
