/* moderation.c — see moderation.h. Each category is one compiled
 * alternation: its patterns as written, and its words quoted (\Q…\E)
 * with no word character either side. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/moderation.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/yaml.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CATEGORIES 64

struct category {
    char name[64];
    pcre2_code *re;
};

struct ig_moderation {
    struct category cats[MAX_CATEGORIES];
    size_t n;
};

/* Appends the list's items to the alternation: patterns as they are,
 * words quoted between boundaries. */
static int add_items(yaml_document_t *doc, yaml_node_t *list, int words, struct ig_buf *re,
                     const char *path, char *err, size_t err_size)
{
    if (!list)
        return 0;
    if (list->type != YAML_SEQUENCE_NODE) {
        snprintf(err, err_size, "%s:%zu: '%s' must be a list of strings", path,
                 list->start_mark.line + 1, words ? "words" : "patterns");
        return IG_ECONFIG;
    }
    for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top;
         it++) {
        yaml_node_t *n = yaml_document_get_node(doc, *it);
        const char *v = ig_yaml_scalar(n);
        if (!v || !*v || (words && strstr(v, "\\E"))) {
            snprintf(err, err_size, "%s:%zu: each of '%s' must be a non-empty string%s", path,
                     n ? n->start_mark.line + 1 : 0, words ? "words" : "patterns",
                     words ? " without \\E" : "");
            return IG_ECONFIG;
        }
        int rc = ig_buf_puts(re, re->len ? "|" : "");
        if (words)
            rc = rc ? rc : ig_buf_printf(re, "(?<!\\w)\\Q%s\\E(?!\\w)", v);
        else
            rc = rc ? rc : ig_buf_printf(re, "(?:%s)", v);
        if (rc)
            return rc;
    }
    return 0;
}

static int load_category(struct ig_moderation *m, yaml_document_t *doc, yaml_node_t *item,
                         const char *path, char *err, size_t err_size)
{
    size_t line = item ? item->start_mark.line + 1 : 0;
    const char *name = ig_yaml_scalar(ig_yaml_map_get(doc, item, "name"));
    if (!item || item->type != YAML_MAPPING_NODE || !name || !*name ||
        strlen(name) >= sizeof m->cats[0].name) {
        snprintf(err, err_size,
                 "%s:%zu: a category is {name, patterns, words} with a name of 1 "
                 "to 63 characters",
                 path, line);
        return IG_ECONFIG;
    }
    if (m->n == MAX_CATEGORIES) {
        snprintf(err, err_size, "%s:%zu: at most %d categories", path, line, MAX_CATEGORIES);
        return IG_ECONFIG;
    }
    struct ig_buf re;
    ig_buf_init(&re, 1 << 20);
    int rc = add_items(doc, ig_yaml_map_get(doc, item, "patterns"), 0, &re, path, err, err_size);
    rc = rc ? rc : add_items(doc, ig_yaml_map_get(doc, item, "words"), 1, &re, path, err, err_size);
    if (rc == 0 && re.len == 0) {
        snprintf(err, err_size, "%s:%zu: category '%s' has neither patterns nor words", path, line,
                 name);
        rc = IG_ECONFIG;
    }
    if (rc) {
        ig_buf_release(&re);
        return rc;
    }
    int code;
    PCRE2_SIZE at;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re.data, re.len,
                                  PCRE2_CASELESS | PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
    ig_buf_release(&re);
    if (!c) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, err_size, "%s:%zu: category '%s': a pattern does not compile: %s", path, line,
                 name, (const char *)msg);
        return IG_ECONFIG;
    }
    pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* the interpreter serves where JIT cannot */
    struct category *cat = &m->cats[m->n++];
    ig_strlcpy(cat->name, name, sizeof cat->name);
    cat->re = c;
    return 0;
}

int ig_moderation_load(const char *path, struct ig_moderation **out, char *err, size_t err_size)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return IG_ENOMEM;
    if (!path)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "cannot open '%s'", path);
        ig_moderation_free(*out);
        *out = NULL;
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
        rc = IG_ECONFIG;
    } else {
        yaml_node_t *sec = ig_yaml_map_get(&doc, yaml_document_get_root_node(&doc), "moderation");
        yaml_node_t *cats = ig_yaml_map_get(&doc, sec, "categories");
        if (sec && sec->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *p = sec->data.mapping.pairs.start;
                 rc == 0 && p < sec->data.mapping.pairs.top; p++) {
                const char *k = ig_yaml_scalar(yaml_document_get_node(&doc, p->key));
                if (!k || strcmp(k, "categories") != 0) {
                    snprintf(err, err_size, "%s:%zu: unknown field '%s' in moderation", path,
                             yaml_document_get_node(&doc, p->key)->start_mark.line + 1,
                             k ? k : "?");
                    rc = IG_ECONFIG;
                }
            }
        }
        if (rc == 0 && cats && cats->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = cats->data.sequence.items.start;
                 rc == 0 && it < cats->data.sequence.items.top; it++)
                rc = load_category(*out, &doc, yaml_document_get_node(&doc, *it), path, err,
                                   err_size);
        } else if (rc == 0 && sec && !(sec->type == YAML_SCALAR_NODE && !*ig_yaml_scalar(sec))) {
            snprintf(err, err_size, "%s:%zu: 'moderation' is {categories: [...]}", path,
                     sec->start_mark.line + 1);
            rc = IG_ECONFIG;
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    if (rc) {
        ig_moderation_free(*out);
        *out = NULL;
    }
    return rc;
}

void ig_moderation_free(struct ig_moderation *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        pcre2_code_free(m->cats[i].re);
    free(m);
}

size_t ig_moderation_count(const struct ig_moderation *m)
{
    return m ? m->n : 0;
}

/* Whether a text matches is all that is asked: one pair of offsets, made
 * once per thread and freed when the thread ends. */
static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_free(void *md)
{
    pcre2_match_data_free(md);
}

static void md_key_make(void)
{
    pthread_key_create(&md_key, md_free);
}

static pcre2_match_data *thread_match_data(void)
{
    pthread_once(&md_once, md_key_make);
    pcre2_match_data *md = pthread_getspecific(md_key);
    if (!md && (md = pcre2_match_data_create(1, NULL)) && pthread_setspecific(md_key, md)) {
        pcre2_match_data_free(md);
        md = NULL;
    }
    return md;
}

const char *ig_moderation_check(const struct ig_moderation *m, const char *text)
{
    if (!m || !text || !*text)
        return NULL;
    pcre2_match_data *md = thread_match_data();
    if (!md)
        return m->cats[0].name; /* out of memory: refuse rather than let it through */
    size_t len = strlen(text);
    for (size_t i = 0; i < m->n; i++) {
        int rc = pcre2_match(m->cats[i].re, (PCRE2_SPTR)text, len, 0, 0, md, NULL);
        if (rc >= 0 || (rc < 0 && rc != PCRE2_ERROR_NOMATCH))
            return m->cats[i].name; /* a match, or a text the rules cannot judge */
    }
    return NULL;
}
