/* providers.c — the table of providers and the result type they share. */
#include "providers/provider.h"

#include <stdlib.h>
#include <string.h>

static const struct ig_provider *const providers[] = {
    &ig_provider_local,     &ig_provider_openai, &ig_provider_bfl,       &ig_provider_a1111,
    &ig_provider_stability, &ig_provider_fal,    &ig_provider_replicate, &ig_provider_leonardo};

const struct ig_provider *ig_provider_find(const char *name)
{
    for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
}

void ig_provider_result_release(struct ig_provider_result *r)
{
    for (size_t i = 0; i < r->nimages; i++) {
        free(r->images[i].bytes);
        json_decref(r->images[i].b64_json);
        free(r->images[i].b64_copy);
        free(r->images[i].url);
        free(r->images[i].revised_prompt);
    }
    memset(r->images, 0, sizeof r->images);
    r->nimages = 0;
    ig_upstream_request_release(&r->poll);
    ig_upstream_request_release(&r->cancel);
}
