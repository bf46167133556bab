/* fuzz_models.h — the model registry the request harnesses check against:
 * the built-in models and those of the providers the environment would
 * configure (keys set here, so every provider's rules are exercised). */
#ifndef IG_FUZZ_MODELS_H
#define IG_FUZZ_MODELS_H

#include "core/models.h"
#include "providers/provider.h"

#include <stdlib.h>

static struct ig_models *fuzz_models(void)
{
    static const char *const keys[] = {"OPENAI_API_KEY", "BFL_API_KEY", "STABILITY_API_KEY",
                                       "OPENROUTER_API_KEY"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        setenv(keys[i], "sk-fuzz", 1);
    struct ig_models *m;
    char err[512];
    if (ig_models_new(&m) || ig_providers_add_builtin(m) ||
        ig_providers_add_from_env(m, err, sizeof err))
        abort();
    return m;
}

#endif
