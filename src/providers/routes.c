/* routes.c — the `models:` section of the config; see routes.h. Read with
 * libyaml's document API (the section is a tree, not flat settings). */
#include "providers/routes.h"
#include "config.h"
#include "providers/provider.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/yaml.h"
#include "util/num.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPS   16
#define MAX_PRICES 16

static int check_keys(yaml_document_t *doc, yaml_node_t *map, const char *const *allowed,
                      const char *path, char *err, size_t err_size)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        const char *k = ig_yaml_scalar(kn);
        int ok = 0;
        for (const char *const *a = allowed; k && *a; a++)
            ok |= strcmp(*a, k) == 0;
        if (!ok) {
            snprintf(err, err_size, "%s:%zu: unknown field '%s' in models", path,
                     kn->start_mark.line + 1, k ? k : "?");
            return IG_ECONFIG;
        }
    }
    return 0;
}

static int int_field(yaml_document_t *doc, yaml_node_t *map, const char *key, int64_t min,
                     int64_t max, int64_t def, int64_t *out, const char *path, char *err,
                     size_t err_size)
{
    yaml_node_t *n = ig_yaml_map_get(doc, map, key);
    const char *v = ig_yaml_scalar(n);
    *out = def;
    if (!n)
        return 0;
    if (!v || ig_parse_i64(v, strlen(v), min, max, out)) {
        snprintf(err, err_size, "%s:%zu: '%s' must be a whole number from %lld to %lld", path,
                 n->start_mark.line + 1, key, (long long)min, (long long)max);
        return IG_ECONFIG;
    }
    return 0;
}

/* One price entry: a mapping {size?, quality?, per_image} (credits). */
static int price_entry(yaml_document_t *doc, yaml_node_t *n, struct ig_price *out, const char *path,
                       char *err, size_t err_size)
{
    static const char *const keys[] = {"size", "quality", "per_image", NULL};
    const char *v =
        n->type == YAML_MAPPING_NODE ? ig_yaml_scalar(ig_yaml_map_get(doc, n, "per_image")) : NULL;
    int rc = n->type == YAML_MAPPING_NODE ? check_keys(doc, n, keys, path, err, err_size) : 0;
    if (rc)
        return rc;
    if (!v || ig_credits_parse(v, &out->per_image)) {
        snprintf(err, err_size,
                 "%s:%zu: a price is {per_image: CREDITS} with an optional size and quality; "
                 "credits are a number with at most three decimals",
                 path, n->start_mark.line + 1);
        return IG_ECONFIG;
    }
    out->size = ig_yaml_scalar(ig_yaml_map_get(doc, n, "size"));
    out->quality = ig_yaml_scalar(ig_yaml_map_get(doc, n, "quality"));
    return 0;
}

/* `price:` — credits per image ("40"), one entry ({per_image: 40}), or a
 * list of entries by size and quality. *n is 0 when the node is absent. */
static int parse_prices(yaml_document_t *doc, yaml_node_t *node, struct ig_price *out, size_t *n,
                        const char *path, char *err, size_t err_size)
{
    *n = 0;
    if (!node)
        return 0;
    if (node->type == YAML_SCALAR_NODE) {
        memset(out, 0, sizeof *out);
        if (ig_credits_parse(ig_yaml_scalar(node), &out->per_image)) {
            snprintf(err, err_size, "%s:%zu: price must be credits per image (e.g. 40 or 0.5)",
                     path, node->start_mark.line + 1);
            return IG_ECONFIG;
        }
        *n = 1;
        return 0;
    }
    if (node->type == YAML_MAPPING_NODE) {
        *n = 1;
        return price_entry(doc, node, out, path, err, err_size);
    }
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top;
         it++) {
        if (*n == MAX_PRICES) {
            snprintf(err, err_size, "%s:%zu: at most %d prices", path, node->start_mark.line + 1,
                     MAX_PRICES);
            return IG_ECONFIG;
        }
        int rc = price_entry(doc, yaml_document_get_node(doc, *it), &out[*n], path, err, err_size);
        if (rc)
            return rc;
        ++*n;
    }
    return 0;
}

static int load_model(struct ig_models *m, yaml_document_t *doc, yaml_node_t *item,
                      const char *path, char *err, size_t err_size)
{
    static const char *const model_keys[] = {"name", "deployments", "price", "aliases", NULL};
    static const char *const dep_keys[] = {"provider",        "model",  "api_base", "api_key",
                                           "priority",        "weight", "price",    "timeout_ms",
                                           "max_concurrency", NULL};
    size_t line = item->start_mark.line + 1;
    if (item->type != YAML_MAPPING_NODE) {
        snprintf(err, err_size, "%s:%zu: each model is a mapping with name and deployments", path,
                 line);
        return IG_ECONFIG;
    }
    int rc = check_keys(doc, item, model_keys, path, err, err_size);
    if (rc)
        return rc;
    const char *name = ig_yaml_scalar(ig_yaml_map_get(doc, item, "name"));
    yaml_node_t *deps = ig_yaml_map_get(doc, item, "deployments");
    if (!name || !*name || strlen(name) > 120) {
        snprintf(err, err_size, "%s:%zu: a model needs a name (1 to 120 characters)", path, line);
        return IG_ECONFIG;
    }
    if (!deps || deps->type != YAML_SEQUENCE_NODE ||
        deps->data.sequence.items.top == deps->data.sequence.items.start) {
        snprintf(err, err_size, "%s:%zu: model '%s' needs a list of deployments", path, line, name);
        return IG_ECONFIG;
    }
    struct ig_deployment list[MAX_DEPS];
    char keys[MAX_DEPS][512];
    size_t n = 0;
    /* Prices: a deployment's own, else the model's, else its provider's
     * list prices for its upstream model. */
    static struct ig_price model_prices[MAX_PRICES], dep_prices[MAX_DEPS][MAX_PRICES];
    size_t nmodel_prices;
    rc = parse_prices(doc, ig_yaml_map_get(doc, item, "price"), model_prices, &nmodel_prices, path,
                      err, err_size);
    if (rc)
        return rc;
    for (yaml_node_item_t *it = deps->data.sequence.items.start; it < deps->data.sequence.items.top;
         it++) {
        yaml_node_t *dn = yaml_document_get_node(doc, *it);
        size_t dline = dn->start_mark.line + 1;
        if (n == MAX_DEPS) {
            snprintf(err, err_size, "%s:%zu: at most %d deployments per model", path, dline,
                     MAX_DEPS);
            return IG_ECONFIG;
        }
        if (dn->type != YAML_MAPPING_NODE) {
            snprintf(err, err_size, "%s:%zu: a deployment is a mapping", path, dline);
            return IG_ECONFIG;
        }
        if ((rc = check_keys(doc, dn, dep_keys, path, err, err_size)))
            return rc;
        struct ig_deployment *d = &list[n];
        memset(d, 0, sizeof *d);
        d->provider = ig_yaml_scalar(ig_yaml_map_get(doc, dn, "provider"));
        d->model = ig_yaml_scalar(ig_yaml_map_get(doc, dn, "model"));
        if (!d->provider || !d->model) {
            snprintf(err, err_size, "%s:%zu: a deployment needs provider and model", path, dline);
            return IG_ECONFIG;
        }
        yaml_node_t *base_node = ig_yaml_map_get(doc, dn, "api_base");
        d->api_base = ig_yaml_scalar(base_node);
        if (d->api_base && strncmp(d->api_base, "http://", 7) &&
            strncmp(d->api_base, "https://", 8)) {
            snprintf(err, err_size, "%s:%zu: api_base must be an http(s) URL", path, dline);
            return IG_ECONFIG;
        }
        if (d->api_base) {
            char where[300];
            snprintf(where, sizeof where, "%s:%zu", path, (size_t)base_node->start_mark.line + 1);
            if (ig_provider_base_check(d->api_base, where, err, err_size))
                return IG_ECONFIG;
        }
        if (!d->api_base)
            d->api_base = ig_provider_default_base(d->provider);
        const char *key = ig_yaml_scalar(ig_yaml_map_get(doc, dn, "api_key"));
        if (key && strncmp(key, "env:", 4) == 0) {
            const char *v = ig_config_env(key + 4);
            key = v && *v ? v : NULL;
        } else if (!key) {
            key = ig_provider_env_key(d->provider);
        }
        if (key)
            ig_strlcpy(keys[n], key, sizeof keys[n]);
        d->api_key = key ? keys[n] : NULL;
        int64_t prio, weight, timeout, conc;
        if ((rc = int_field(doc, dn, "priority", 0, 1000, 0, &prio, path, err, err_size)) ||
            (rc = int_field(doc, dn, "weight", 1, 1000, 1, &weight, path, err, err_size)) ||
            (rc = int_field(doc, dn, "timeout_ms", 100, 3600000, 120000, &timeout, path, err,
                            err_size)) ||
            (rc = int_field(doc, dn, "max_concurrency", 0, 100000, 0, &conc, path, err, err_size)))
            return rc;
        size_t nprices;
        if ((rc = parse_prices(doc, ig_yaml_map_get(doc, dn, "price"), dep_prices[n], &nprices,
                               path, err, err_size)))
            return rc;
        /* List prices only for a model the provider's table names: a
         * fallback's rules fit an unknown model, its price may not. */
        const struct ig_model *own = ig_provider_template(d->provider, d->model);
        int listed = strcmp(own->id, d->model) == 0;
        d->prices = nprices         ? dep_prices[n]
                    : nmodel_prices ? model_prices
                    : listed        ? own->prices
                                    : NULL;
        d->nprices = nprices ? nprices : nmodel_prices ? nmodel_prices : listed ? own->nprices : 0;
        d->max_concurrency = (int)conc;
        d->priority = (int)prio;
        d->weight = (int)weight;
        d->timeout_ms = (long)timeout;
        if (!ig_provider_find(d->provider) || !ig_provider_find(d->provider)->prepare)
            fprintf(stderr,
                    "imagegate: %s:%zu: provider '%s' has no adapter in this build; model '%s' "
                    "will not use this deployment\n",
                    path, dline, d->provider, name);
        n++;
    }
    /* aliases: other names clients may use ("stable-diffusion-xl"). */
    const char *aliases[IG_MAX_ALIASES + 1] = {0};
    yaml_node_t *an = ig_yaml_map_get(doc, item, "aliases");
    if (an) {
        size_t k = 0;
        int ok = an->type == YAML_SEQUENCE_NODE;
        for (yaml_node_item_t *it = ok ? an->data.sequence.items.start : NULL;
             ok && it < an->data.sequence.items.top; it++) {
            const char *a = ig_yaml_scalar(yaml_document_get_node(doc, *it));
            ok = a && *a && strlen(a) <= 120 && k < IG_MAX_ALIASES;
            if (ok)
                aliases[k++] = a;
        }
        if (!ok) {
            snprintf(err, err_size, "%s:%zu: aliases is a list of at most %d names", path,
                     an->start_mark.line + 1, IG_MAX_ALIASES);
            return IG_ECONFIG;
        }
    }
    const struct ig_model *tmpl = ig_provider_template(list[0].provider, list[0].model);
    rc = ig_models_add_copy(m, tmpl, name, aliases, list, n);
    if (rc == IG_EEXISTS)
        snprintf(err, err_size, "%s:%zu: model '%s' or one of its aliases is defined twice", path,
                 line, name);
    return rc;
}

int ig_routes_load(struct ig_models *m, const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "cannot open '%s'", path);
        return IG_EIO;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int rc = 0;
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, err_size, "%s:%zu: %s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "YAML syntax error");
        yaml_parser_delete(&parser);
        fclose(f);
        return IG_ECONFIG;
    }
    yaml_node_t *models = ig_yaml_map_get(&doc, yaml_document_get_root_node(&doc), "models");
    if (models && models->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = models->data.sequence.items.start;
             rc == 0 && it < models->data.sequence.items.top; it++)
            rc = load_model(m, &doc, yaml_document_get_node(&doc, *it), path, err, err_size);
    } else if (models && !(models->type == YAML_SCALAR_NODE && !*ig_yaml_scalar(models))) {
        snprintf(err, err_size, "%s:%zu: 'models' must be a list", path,
                 models->start_mark.line + 1);
        rc = IG_ECONFIG;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}
