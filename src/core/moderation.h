/* moderation.h — the operator's content rules: categories of PCRE2
 * patterns and word lists, from the `moderation:` section of the config:
 *
 *   moderation:
 *     categories:
 *       - name: violence
 *         patterns: ["\\bbeheading\\b", "blood\\s*bath"]
 *         words: [gore, massacre]
 *
 * Matching is case-insensitive and UTF-8 aware; a word matches as a whole
 * word. Patterns are compiled once (with the JIT where the machine has
 * one) and shared by every thread. */
#ifndef IG_MODERATION_H
#define IG_MODERATION_H

#include <stddef.h>

struct ig_moderation;

/* Reads the section from the YAML file at path (NULL: no rules). A
 * pattern that does not compile stops the start, naming the file, line
 * and the pattern's problem. 0, IG_ECONFIG (why in err), IG_EIO, IG_ENOMEM. */
int ig_moderation_load(const char *path, struct ig_moderation **out, char *err, size_t err_size);
void ig_moderation_free(struct ig_moderation *m);
/* The number of categories (0 when m is NULL). */
size_t ig_moderation_count(const struct ig_moderation *m);
/* The name of the first category text falls in, or NULL when none does
 * (or m is NULL). Thread-safe. */
const char *ig_moderation_check(const struct ig_moderation *m, const char *text);

#endif
