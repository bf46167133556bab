/* fuzz_request.c — the JSON body of POST /v1/images/generations, decoded
 * and checked against every model the environment would configure. */
#include "core/request.h"
#include "fuzz_models.h"

#include <stdint.h>
#include <stdlib.h>

static struct ig_models *models;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    models = fuzz_models();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ig_gen_request req;
    struct ig_gen_error err;
    if (ig_gen_request_parse((const char *)data, size, models, &req, &err) == 0) {
        free(ig_gen_request_normalized_json(&req));
        ig_gen_request_release(&req);
    } else if (err.kind == IG_GERR_NONE || !err.message[0]) {
        abort(); /* every rejection says why */
    }
    return 0;
}
