/* fuzz_multipart.c — an edit's multipart form: parsed by GMime
 * (util/formdata.c), then read as an edit request, uploads probed and
 * checked. The input is "Content-Type line\n" then the body; without a
 * newline, a fixed boundary is used. */
#include "core/models.h"
#include "core/request.h"
#include "providers/provider.h"
#include "util/formdata.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct ig_models *models;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("OPENAI_API_KEY", "sk-fuzz", 1);
    if (ig_models_new(&models) || ig_providers_add_builtin(models) ||
        ig_providers_add_from_env(models))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *ct = "multipart/form-data; boundary=XyZ";
    size_t ct_len = strlen(ct);
    const uint8_t *nl = memchr(data, '\n', size < 200 ? size : 200);
    if (nl) {
        ct = (const char *)data;
        ct_len = (size_t)(nl - data);
        size -= ct_len + 1;
        data = nl + 1;
    }
    struct ig_form form;
    char why[256];
    if (ig_formdata_parse(ct, ct_len, data, size, 48, &form, why, sizeof why))
        return 0;
    for (int op = IG_OP_EDIT; op <= IG_OP_VARIATION; op++) {
        struct ig_gen_request req;
        memset(&req, 0, sizeof req);
        req.op = (enum ig_operation)op;
        struct ig_gen_error err;
        if (ig_edit_request_parse(&form, req.op, 1 << 22, models, &req, &err) == 0)
            ig_gen_request_release(&req);
        break; /* the parse moves the uploads out of the form: once */
    }
    ig_form_release(&form);
    return 0;
}
