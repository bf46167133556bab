/* Moderation rules: categories from YAML, case-insensitive UTF-8 matching,
 * whole words, the first category that matches, and rules that stop the
 * start with where they are wrong. */
#include "core/moderation.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static struct ig_moderation *load(const char *yaml, int want_rc, char *err, size_t err_size)
{
    snprintf(path, sizeof path, "/tmp/ig-mod-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    struct ig_moderation *m = NULL;
    err[0] = '\0';
    int rc = ig_moderation_load(path, &m, err, err_size);
    unlink(path);
    cr_assert_eq(rc, want_rc, "%s", err);
    return m;
}

Test(moderation, categories_patterns_and_words)
{
    char err[256];
    struct ig_moderation *m = load("moderation:\n"
                                   "  categories:\n"
                                   "    - name: violence\n"
                                   "      patterns: ['blood\\s*bath']\n"
                                   "      words: [gore, 'c++']\n"
                                   "    - name: drugs\n"
                                   "      words: [heroin, 'crème brûlée']\n",
                                   0, err, sizeof err);
    cr_assert_eq(ig_moderation_count(m), 2);
    cr_assert_str_eq(ig_moderation_check(m, "a Blood  Bath"), "violence");
    cr_assert_str_eq(ig_moderation_check(m, "GORE everywhere"), "violence");
    cr_assert_str_eq(ig_moderation_check(m, "write C++."), "violence", "non-word ends");
    cr_assert_null(ig_moderation_check(m, "gorey details"), "whole words only");
    cr_assert_null(ig_moderation_check(m, "abc++ code"), "a word character before");
    cr_assert_str_eq(ig_moderation_check(m, "CRÈME BRÛLÉE please"), "drugs", "UTF-8 caseless");
    cr_assert_null(ig_moderation_check(m, "a quiet lake"));
    cr_assert_null(ig_moderation_check(m, ""));
    cr_assert_null(ig_moderation_check(m, NULL));
    ig_moderation_free(m);
}

Test(moderation, no_section_no_rules)
{
    char err[256];
    struct ig_moderation *m = load("listen: 127.0.0.1:1\n", 0, err, sizeof err);
    cr_assert_eq(ig_moderation_count(m), 0);
    cr_assert_null(ig_moderation_check(m, "gore"));
    ig_moderation_free(m);
    cr_assert_eq(ig_moderation_load(NULL, &m, err, sizeof err), 0);
    cr_assert_eq(ig_moderation_count(m), 0);
    ig_moderation_free(m);
    cr_assert_null(ig_moderation_check(NULL, "gore"));
}

Test(moderation, bad_rules_say_where)
{
    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"moderation:\n  categories:\n    - name: x\n      patterns: ['(open']\n",
         ":3: category 'x': a pattern does not compile"},
        {"moderation:\n  categories:\n    - name: x\n      words: ['a\\E']\n", "without \\E"},
        {"moderation:\n  categories:\n    - name: x\n      words: 5\n", "must be a list"},
        {"moderation:\n  categories:\n    - name: x\n      words: ['']\n", "non-empty"},
        {"moderation:\n  categories:\n    - words: [a]\n", ":3: a category is"},
        {"moderation:\n  categories:\n    - name: x\n", "neither patterns nor words"},
        {"moderation:\n  other: 1\n", "unknown field 'other'"},
        {"moderation: 5\n", "'moderation' is {categories"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256];
        struct ig_moderation *m = load(bad[i].yaml, IG_ECONFIG, err, sizeof err);
        cr_assert_null(m);
        cr_assert(strstr(err, bad[i].want), "%zu: '%s' lacks '%s'", i, err, bad[i].want);
    }
}
