/* fuzz_multipart.c — an edit's multipart form: parsed by GMime
 * (util/formdata.c), then read as an edit or a variation, uploads probed and
 * checked. The input is "Content-Type line\n" then the body; without a
 * newline, a fixed boundary is used. */
#include "core/request.h"
#include "fuzz_models.h"
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
    models = fuzz_models();
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
    /* An edit or a variation, as the body's length says (the parse moves
     * the uploads out of the form, so one parse per form). */
    struct ig_gen_request req;
    struct ig_gen_error err;
    enum ig_operation op = size % 2 ? IG_OP_VARIATION : IG_OP_EDIT;
    if (ig_edit_request_parse(&form, op, 1 << 22, models, &req, &err) == 0)
        ig_gen_request_release(&req);
    ig_form_release(&form);
    return 0;
}
