/* providers.c — the table of providers, what the registry learns from it
 * (their models, templates, environment and hints), and the result type
 * they share. Adding a provider is its own file plus one line here. */
#include "config.h"
#include "providers/provider.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct ig_provider *const providers[] = {
    &ig_provider_local,     &ig_provider_openai,    &ig_provider_bfl,
    &ig_provider_a1111,     &ig_provider_stability, &ig_provider_fal,
    &ig_provider_replicate, &ig_provider_leonardo,  &ig_provider_openrouter};

const char *const ig_plain_qualities[] = {"auto", "standard", NULL};

#define NPROVIDERS (sizeof providers / sizeof providers[0])

const struct ig_provider *ig_provider_find(const char *name)
{
    for (size_t i = 0; i < NPROVIDERS; i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
}

const struct ig_provider *ig_provider_at(size_t i)
{
    return i < NPROVIDERS ? providers[i] : NULL;
}

const struct ig_model *ig_provider_template(const char *provider, const char *model)
{
    const struct ig_provider *p = ig_provider_find(provider);
    for (size_t i = 0; p && i < p->nmodels; i++)
        if (strcmp(p->models[i].id, model) == 0)
            return &p->models[i];
    if (p && p->fallback)
        return p->fallback;
    return ig_provider_openai.fallback;
}

const char *ig_provider_default_base(const char *provider)
{
    const struct ig_provider *p = ig_provider_find(provider);
    if (!p || !p->default_base)
        return "";
    const char *b = p->base_env ? ig_config_env(p->base_env) : NULL;
    return b ? b : p->default_base;
}

static const char *env_key(const struct ig_provider *p)
{
    const char *v = p->key_env ? ig_config_env(p->key_env) : NULL;
    return v ? v : p->key_env_also ? ig_config_env(p->key_env_also) : NULL;
}

const char *ig_provider_env_key(const char *provider)
{
    const struct ig_provider *p = ig_provider_find(provider);
    return p ? env_key(p) : NULL;
}

int ig_providers_add_builtin(struct ig_models *m)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < NPROVIDERS; i++) {
        const struct ig_provider *p = providers[i];
        for (size_t k = 0; rc == 0 && p->generate && k < p->nmodels; k++)
            rc = ig_models_add(m, &p->models[k]);
        const char *setting = p->enabling_setting ? p->enabling_setting : p->key_env;
        if (!setting)
            continue;
        char own[40];
        snprintf(own, sizeof own, "%s/", p->name);
        rc = rc ? rc : ig_models_add_hint(m, own, setting);
        for (size_t k = 0; rc == 0 && p->hint_prefixes && p->hint_prefixes[k]; k++)
            rc = ig_models_add_hint(m, p->hint_prefixes[k], setting);
    }
    return rc;
}

/* Adds provider/<model> (and the bare name when the provider says so) for
 * its first n models, served by one deployment from the environment. */
static int add_env_provider(struct ig_models *m, const struct ig_provider *p, size_t n)
{
    const char *key = env_key(p);
    struct ig_deployment d = {
        .provider = p->name,
        .api_base = ig_provider_default_base(p->name),
        .api_key = key,
        .weight = 1,
        .timeout_ms = 120000,
    };
    for (size_t i = 0; i < n; i++) {
        char id[128];
        snprintf(id, sizeof id, "%s/%s", p->name, p->models[i].id);
        d.model = p->models[i].id;
        d.prices = p->models[i].prices; /* the provider's list prices */
        d.nprices = p->models[i].nprices;
        const char *bare[] = {p->models[i].id, NULL};
        int rc = ig_models_add_copy(m, &p->models[i], id, p->alias_bare ? bare : NULL, &d, 1);
        if (rc)
            return rc;
    }
    return 0;
}

/* A base URL that resolves to a cloud metadata service would be sent the
 * provider's key: refused at start, naming where it was written. */
int ig_provider_base_check(const char *base, const char *where, char *err, size_t err_size)
{
    char addr[64];
    if (!base || !ig_url_metadata_address(base, addr, sizeof addr))
        return 0;
    snprintf(err, err_size,
             "%s: api_base %.200s resolves to %s, a cloud metadata service; it would be sent the "
             "provider key",
             where, base, addr);
    return IG_ECONFIG;
}

int ig_providers_add_from_env(struct ig_models *m, char *err, size_t err_size)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < NPROVIDERS; i++) {
        const struct ig_provider *p = providers[i];
        if (p->generate || !p->base_env)
            continue;
        rc = ig_provider_base_check(ig_config_env(p->base_env), p->base_env, err, err_size);
        if (rc)
            break;
        int on = ig_config_env(p->base_env) || (!p->env_needs_base && env_key(p));
        if (on)
            rc = add_env_provider(m, p, p->env_models ? p->env_models : p->nmodels);
    }
    return rc;
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
