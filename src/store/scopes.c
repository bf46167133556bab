/* scopes.c — API key scopes between their bit and text forms. */
#include "store/store.h"
#include "util/err.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    unsigned bit;
} scope_names[] = {{"generate", IG_SCOPE_GENERATE}, {"admin", IG_SCOPE_ADMIN}};

int ig_scopes_parse(const char *text, unsigned *out)
{
    unsigned scopes = 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++)
            if (strlen(scope_names[i].name) == n && strncmp(scope_names[i].name, p, n) == 0)
                bit = scope_names[i].bit;
        if (!bit)
            return IG_EINVAL;
        scopes |= bit;
        p += n;
        if (*p == ',')
            p++;
    }
    *out = scopes;
    return 0;
}

void ig_scopes_format(unsigned scopes, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++) {
        if (!(scopes & scope_names[i].bit))
            continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? "," : "", scope_names[i].name);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
}
