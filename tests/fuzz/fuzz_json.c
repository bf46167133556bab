/* fuzz_json.c — ig_json_loadb (yajl-lexed) against jansson's own parser:
 * the two must accept the same documents and build equal values, and
 * what ig_json_dumps writes must read back equal. */
#include "util/json.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t flag_sets[] = {0, JSON_REJECT_DUPLICATES, JSON_DECODE_ANY,
                                       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY};
    if (size == 0)
        return 0;
    size_t flags = flag_sets[data[0] & 3];
    data++;
    size--;
    json_error_t e1, e2;
    json_t *a = ig_json_loadb((const char *)data, size, flags, &e1);
    json_t *b = json_loadb((const char *)data, size, flags, &e2);
    /* jansson takes a scalar followed by NUL ("1\0"); JSON does not, and
     * neither do we: texts with NUL bytes are only checked for crashes. */
    int comparable = memchr(data, '\0', size) == NULL;
    if (comparable && !a != !b)
        abort();
    if (comparable && a && !json_equal(a, b))
        abort();
    if (a) {
        size_t len;
        char *text = ig_json_dumps(a, &len);
        if (text) {
            json_t *c = ig_json_loadb(text, len, JSON_DECODE_ANY, NULL);
            if (!c || !json_equal(a, c))
                abort();
            json_decref(c);
            free(text);
        }
    }
    json_decref(a);
    json_decref(b);
    return 0;
}
