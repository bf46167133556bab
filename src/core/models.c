/* models.c — the model registry. It knows no provider: providers add
 * their models (providers/providers.c), the static ones as they are, and
 * those made from the environment or the config as copies the registry
 * owns (struct, strings and deployments), freed with it. */
#include "core/models.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

#define MAX_MODELS 256

struct ig_models {
    const struct ig_model *list[MAX_MODELS];
    size_t n;
    const struct ig_model *chosen_default; /* NULL: the first added */
    void *owned[MAX_MODELS * 64];          /* copies: strings, deployments, prices */
    size_t nowned;
    struct {
        const char *prefix, *setting;
    } hints[64];
    size_t nhints;
    const struct ig_styles *styles; /* the catalogue (NULL: none) */
};

void ig_models_set_styles(struct ig_models *m, const struct ig_styles *styles)
{
    m->styles = styles;
}

const struct ig_styles *ig_models_styles(const struct ig_models *m)
{
    return m->styles;
}

int ig_models_new(struct ig_models **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : IG_ENOMEM;
}

void ig_models_free(struct ig_models *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nowned; i++)
        free(m->owned[i]);
    free(m);
}

static int add(struct ig_models *m, const struct ig_model *model)
{
    if (m->n >= MAX_MODELS)
        return IG_ETOOBIG;
    if (ig_models_find(m, model->id))
        return IG_EEXISTS;
    m->list[m->n++] = model;
    return 0;
}

int ig_models_add(struct ig_models *m, const struct ig_model *model)
{
    return add(m, model);
}

static const char *own_str(struct ig_models *m, const char *s);

int ig_models_add_hint(struct ig_models *m, const char *prefix, const char *setting)
{
    if (m->nhints >= sizeof m->hints / sizeof m->hints[0])
        return IG_ETOOBIG;
    m->hints[m->nhints].prefix = own_str(m, prefix);
    m->hints[m->nhints].setting = setting;
    if (!m->hints[m->nhints].prefix)
        return IG_ENOMEM;
    m->nhints++;
    return 0;
}

const char *ig_models_enabling_setting(const struct ig_models *m, const char *name)
{
    for (size_t i = 0; i < m->nhints; i++)
        if (strncmp(name, m->hints[i].prefix, strlen(m->hints[i].prefix)) == 0)
            return m->hints[i].setting;
    return NULL;
}

/* Remembers p to free with the registry; NULL stays NULL. */
static void *own(struct ig_models *m, void *p)
{
    if (!p)
        return NULL;
    if (m->nowned >= sizeof m->owned / sizeof m->owned[0]) {
        free(p);
        return NULL;
    }
    m->owned[m->nowned++] = p;
    return p;
}

static const char *own_str(struct ig_models *m, const char *s)
{
    return s ? own(m, strdup(s)) : NULL;
}

/* A copy of prices (strings included) that the registry owns. */
static const struct ig_price *own_prices(struct ig_models *m, const struct ig_price *prices,
                                         size_t n)
{
    struct ig_price *copy = own(m, calloc(n, sizeof *copy));
    for (size_t i = 0; copy && i < n; i++) {
        copy[i].per_image = prices[i].per_image;
        copy[i].size = own_str(m, prices[i].size);
        copy[i].quality = own_str(m, prices[i].quality);
        if ((prices[i].size && !copy[i].size) || (prices[i].quality && !copy[i].quality))
            return NULL;
    }
    return copy;
}

int ig_models_add_copy(struct ig_models *m, const struct ig_model *model, const char *id,
                       const char *const *aliases, const struct ig_deployment *deps, size_t ndeps)
{
    size_t naliases = 0;
    if (ig_models_find(m, id))
        return IG_EEXISTS;
    for (; aliases && aliases[naliases]; naliases++)
        if (naliases == IG_MAX_ALIASES || ig_models_find(m, aliases[naliases]) ||
            strcmp(aliases[naliases], id) == 0)
            return naliases == IG_MAX_ALIASES ? IG_ETOOBIG : IG_EEXISTS;
    struct ig_model *copy = own(m, malloc(sizeof *copy));
    struct ig_deployment *dcopy = ndeps ? own(m, calloc(ndeps, sizeof *dcopy)) : NULL;
    if (!copy || (ndeps && !dcopy))
        return IG_ENOMEM;
    *copy = *model;
    memset(copy->aliases, 0, sizeof copy->aliases);
    if (ndeps)
        copy->provider = own_str(m, deps[0].provider);
    copy->id = own_str(m, id);
    for (size_t a = 0; a < naliases; a++)
        if (!(copy->aliases[a] = own_str(m, aliases[a])))
            return IG_ENOMEM;
    for (size_t i = 0; i < ndeps; i++) {
        dcopy[i] = deps[i];
        dcopy[i].provider = own_str(m, deps[i].provider);
        dcopy[i].model = own_str(m, deps[i].model);
        dcopy[i].api_base = own_str(m, deps[i].api_base);
        dcopy[i].api_key = own_str(m, deps[i].api_key);
        if (deps[i].nprices && !(dcopy[i].prices = own_prices(m, deps[i].prices, deps[i].nprices)))
            return IG_ENOMEM;
    }
    copy->deployments = dcopy;
    copy->ndeployments = ndeps;
    if (!copy->id)
        return IG_ENOMEM;
    return add(m, copy);
}

const struct ig_model *ig_models_find(const struct ig_models *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct ig_model *model = m->list[i];
        if (strcmp(model->id, name) == 0)
            return model;
        for (int a = 0; a < IG_MAX_ALIASES && model->aliases[a]; a++)
            if (strcmp(model->aliases[a], name) == 0)
                return model;
    }
    return NULL;
}

size_t ig_models_count(const struct ig_models *m)
{
    return m->n;
}

const struct ig_model *ig_models_at(const struct ig_models *m, size_t i)
{
    return i < m->n ? m->list[i] : NULL;
}

const struct ig_model *ig_models_default(const struct ig_models *m)
{
    return m->chosen_default ? m->chosen_default : m->n ? m->list[0] : NULL;
}

int ig_models_set_default(struct ig_models *m, const char *name)
{
    const struct ig_model *model = ig_models_find(m, name);
    if (!model)
        return IG_ENOTFOUND;
    m->chosen_default = model;
    return 0;
}
