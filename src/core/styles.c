/* styles.c — the style catalogue; see styles.h. */
#include "core/styles.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STYLES   64
#define NAME_MAX_LEN 40

static const struct ig_style builtin[] = {
    {"photorealistic", "photographic", "PHOTOGRAPHY", "photorealistic, highly detailed photograph"},
    {"anime", "anime", "ANIME", "anime style"},
    {"digital-art", "digital-art", "ILLUSTRATION", "digital art"},
    {"cinematic", "cinematic", "CINEMATIC", "cinematic lighting, film still"},
    {"3d-render", "3d-model", "RENDER_3D", "3D render"},
    {"fantasy-art", "fantasy-art", "CREATIVE", "fantasy art"},
    {"comic-book", "comic-book", NULL, "comic book style"},
    {"pixel-art", "pixel-art", NULL, "pixel art"},
    {"line-art", "line-art", "SKETCH_BW", "line art"},
    {"watercolor", NULL, NULL, "watercolor painting"},
};

struct ig_styles {
    struct ig_style list[MAX_STYLES];
    size_t n;
    char *owned[MAX_STYLES * 4]; /* the strings the config gave */
    size_t nowned;
};

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct ig_style *)a)->name, ((const struct ig_style *)b)->name);
}

static const char *keep(struct ig_styles *s, const char *text)
{
    if (!text || s->nowned == sizeof s->owned / sizeof s->owned[0])
        return NULL;
    char *copy = strdup(text);
    if (copy)
        s->owned[s->nowned++] = copy;
    return copy;
}

static int valid_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-' ||
              n[i] == '_'))
            return 0;
    return 1;
}

static int load_entry(struct ig_styles *s, yaml_document_t *doc, yaml_node_t *n, const char *path,
                      char *err, size_t err_size)
{
    size_t line = n->start_mark.line + 1;
    static const char *const fields[] = {"name", "stability", "leonardo", "prompt_suffix", NULL};
    if (n->type != YAML_MAPPING_NODE) {
        snprintf(err, err_size, "%s:%zu: a style is {name, stability, leonardo, prompt_suffix}",
                 path, line);
        return IG_ECONFIG;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = ig_yaml_scalar(yaml_document_get_node(doc, p->key));
        int known = 0;
        for (size_t i = 0; k && fields[i]; i++)
            known |= strcmp(k, fields[i]) == 0;
        if (!known) {
            snprintf(err, err_size, "%s:%zu: unknown field '%s' in a style", path, line,
                     k ? k : "?");
            return IG_ECONFIG;
        }
    }
    const char *name = ig_yaml_scalar(ig_yaml_map_get(doc, n, "name"));
    const char *st = ig_yaml_scalar(ig_yaml_map_get(doc, n, "stability"));
    const char *le = ig_yaml_scalar(ig_yaml_map_get(doc, n, "leonardo"));
    const char *suffix = ig_yaml_scalar(ig_yaml_map_get(doc, n, "prompt_suffix"));
    if (!name || !valid_name(name)) {
        snprintf(err, err_size,
                 "%s:%zu: a style needs a name of 1 to %d lower-case letters, digits, '-' or '_'",
                 path, line, NAME_MAX_LEN);
        return IG_ECONFIG;
    }
    if (!suffix || !*suffix || strlen(suffix) > 200) {
        snprintf(err, err_size, "%s:%zu: style '%s' needs a prompt_suffix of 1 to 200 characters",
                 path, line, name);
        return IG_ECONFIG;
    }
    const struct ig_style *found = ig_styles_find(s, name);
    struct ig_style *e = found ? &s->list[found - s->list] : NULL;
    if (!e) {
        if (s->n == MAX_STYLES) {
            snprintf(err, err_size, "%s:%zu: more than %d styles", path, line, MAX_STYLES);
            return IG_ECONFIG;
        }
        e = &s->list[s->n++];
    }
    e->name = keep(s, name);
    e->stability = st && *st ? keep(s, st) : NULL;
    e->leonardo = le && *le ? keep(s, le) : NULL;
    e->suffix = keep(s, suffix);
    if (!e->name || !e->suffix)
        return IG_ENOMEM;
    qsort(s->list, s->n, sizeof s->list[0], by_name); /* find() is a binary search */
    return 0;
}

int ig_styles_load(const char *path, struct ig_styles **out, char *err, size_t err_size)
{
    struct ig_styles *s = calloc(1, sizeof *s);
    if (!s)
        return IG_ENOMEM;
    s->n = sizeof builtin / sizeof builtin[0];
    memcpy(s->list, builtin, sizeof builtin);
    qsort(s->list, s->n, sizeof s->list[0], by_name);
    int rc = 0;
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (path && !f) {
        snprintf(err, err_size, "cannot open '%s'", path);
        rc = IG_EIO;
    }
    if (f) {
        yaml_parser_t parser;
        yaml_document_t doc;
        yaml_parser_initialize(&parser);
        yaml_parser_set_input_file(&parser, f);
        if (!yaml_parser_load(&parser, &doc)) {
            snprintf(err, err_size, "%s:%zu: %s", path, parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "YAML syntax error");
            rc = IG_ECONFIG;
        } else {
            yaml_node_t *sec = ig_yaml_map_get(&doc, yaml_document_get_root_node(&doc), "styles");
            if (sec && sec->type == YAML_SEQUENCE_NODE) {
                for (yaml_node_item_t *it = sec->data.sequence.items.start;
                     rc == 0 && it < sec->data.sequence.items.top; it++)
                    rc =
                        load_entry(s, &doc, yaml_document_get_node(&doc, *it), path, err, err_size);
            } else if (sec && !(sec->type == YAML_SCALAR_NODE && !*ig_yaml_scalar(sec))) {
                snprintf(err, err_size,
                         "%s:%zu: 'styles' is a list of {name, stability, "
                         "leonardo, prompt_suffix}",
                         path, sec->start_mark.line + 1);
                rc = IG_ECONFIG;
            }
            yaml_document_delete(&doc);
        }
        yaml_parser_delete(&parser);
        fclose(f);
    }
    if (rc) {
        ig_styles_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void ig_styles_free(struct ig_styles *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nowned; i++)
        free(s->owned[i]);
    free(s);
}

const struct ig_style *ig_styles_find(const struct ig_styles *s, const char *name)
{
    if (!s || !name)
        return NULL;
    struct ig_style key = {.name = name};
    return bsearch(&key, s->list, s->n, sizeof s->list[0], by_name);
}

const struct ig_style *ig_styles_at(const struct ig_styles *s, size_t i)
{
    return s && i < s->n ? &s->list[i] : NULL;
}

void ig_styles_names(const struct ig_styles *s, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; s && i < s->n && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", s->list[i].name);
}
